#!/usr/bin/env bash
# A throwaway, single-node Ceph RADOS Gateway (a real S3 server with Object Lock) for tests and
# benchmarks. Not a production deployment: one monitor, one in-memory OSD, one copy of everything.
#
#   deploy/rgw-test-gateway.sh install        # Debian packages, only those missing (needs root)
#   eval "$(deploy/rgw-test-gateway.sh start)" # start; prints the export lines below
#   deploy/rgw-test-gateway.sh stop DIR       # stop exactly the daemons started in DIR, remove DIR
#
# `start` prints
#   export CASEHUB_TEST_RGW_ENDPOINT=127.0.0.1:PORT CASEHUB_TEST_RGW_ACCESS_KEY=… CASEHUB_TEST_RGW_SECRET_KEY=…
#   export CASEHUB_TEST_RGW_DIR=/tmp/casehub-rgw.XXXX
# and returns only once an anonymous GET / answers ListAllMyBucketsResult (S3 is really up).
# The keys are random for each start. Ports: CASEHUB_RGW_PORT (S3, default 7480) and
# CASEHUB_RGW_MON_PORT (monitor, default 3300); the OSD picks its own in 6800-7300.
# The daemons' PIDs are recorded in DIR/pids; `stop` signals those PIDs only, after checking that
# each still runs the program that was started (a recycled PID is left alone).
set -euo pipefail

PACKAGES=(radosgw ceph-mon ceph-osd ceph-common)
START_TIMEOUT=${CASEHUB_RGW_START_TIMEOUT:-90}

log() { echo "rgw-test-gateway: $*" >&2; }
die() { log "$*"; exit 1; }

cmd_install() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# Start a daemon in the foreground of a background job; record "pid program" so stop can check it.
spawn() {
  local dir=$1 name=$2
  shift 2
  "$@" >"$dir/log/$name.out" 2>&1 </dev/null &
  echo "$! $1" >>"$dir/pids"
}

wait_for() {
  local what=$1 dir=$2 deadline=$((SECONDS + START_TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "timed out waiting for $what"
      exit 1
    fi
    sleep 0.2
  done
}

# An anonymous GET / answered with a bucket list: S3 is really serving (bash's /dev/tcp, no curl needed).
s3_answers() (
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$1" >&3
  reply=$(timeout 2 cat <&3) || exit 1
  [[ $reply == *ListAllMyBucketsResult* ]]
)

cmd_start() {
  local dir=${1:-} port=${CASEHUB_RGW_PORT:-7480} mon_port=${CASEHUB_RGW_MON_PORT:-3300}
  for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
    command -v "$tool" >/dev/null || die "$tool not found: run '$0 install' first"
  done
  local p
  for p in "$port" "$mon_port"; do
    # Fail now, not after a start timeout, when another server holds the port.
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && die "port $p on 127.0.0.1 is in use (set CASEHUB_RGW_PORT / CASEHUB_RGW_MON_PORT)"
  done
  if [ -z "$dir" ]; then dir=$(mktemp -d /tmp/casehub-rgw.XXXXXX); else mkdir -p "$dir"; fi
  [ -e "$dir/pids" ] && die "$dir already holds a gateway (stop it first)"
  mkdir -p "$dir"/{log,run,mon,osd/osd.0,rgw}
  # Whatever fails from here on, stop what was already started and leave nothing behind.
  trap 'status=$?; [ $status -ne 0 ] && { log "start failed; logs:"; tail -n 15 "$dir"/log/*.out >&2; cmd_stop "$dir"; }' EXIT
  local fsid conf=$dir/ceph.conf keyring=$dir/keyring
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = false
mon warn on pool no redundancy = false
# A throwaway monitor on a busy disk: do not shut down at the default 5 % free.
mon data avail warn = 5
mon data avail crit = 1
mon max pg per osd = 1000
mon osd down out interval = 0
osd max object name len = 256
osd max object namespace len = 64
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
# Production gateways sit behind TLS; allow the encryption headers over this loopback HTTP.
rgw crypt require ssl = false
EOF
  # One keyring for every daemon; ceph-mon --mkfs imports all of its entities into the auth database.
  ceph-authtool --create-keyring "$keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' >/dev/null
  ceph-authtool "$keyring" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
  ceph-authtool "$keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$keyring" 2>>"$dir/log/mkfs.out"
  spawn "$dir" mon ceph-mon -c "$conf" -f -i a
  local ceph=(ceph -c "$conf" --connect-timeout 5)
  wait_for "the monitor" "$dir" "${ceph[@]}" mon stat

  local osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  "${ceph[@]}" osd new "$osd_uuid" 0 >/dev/null
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/mkfs.out" 2>&1
  spawn "$dir" osd ceph-osd -c "$conf" -f -i 0
  wait_for "the OSD" "$dir" bash -c "${ceph[*]} osd stat | grep -q '1 up'"

  spawn "$dir" rgw radosgw -c "$conf" -f -n client.rgw.a
  wait_for "S3 on 127.0.0.1:$port" "$dir" s3_answers "$port"

  local access secret
  access=casehub$(random_hex 6)
  secret=$(random_hex 20)
  radosgw-admin -c "$conf" -n client.admin user create --uid=casehub-test --display-name="casehub test" \
    --access-key="$access" --secret-key="$secret" >/dev/null 2>>"$dir/log/mkfs.out"
  cat >"$dir/env.sh" <<EOF
export CASEHUB_TEST_RGW_ENDPOINT=127.0.0.1:$port CASEHUB_TEST_RGW_ACCESS_KEY=$access CASEHUB_TEST_RGW_SECRET_KEY=$secret
export CASEHUB_TEST_RGW_DIR=$dir
EOF
  trap - EXIT
  log "S3 (Ceph RGW) on http://127.0.0.1:$port, state in $dir (stop: $0 stop $dir)"
  cat "$dir/env.sh"
}

cmd_stop() {
  local dir=${1:-${CASEHUB_TEST_RGW_DIR:-}} pid program pids=()
  [ -n "$dir" ] || die "usage: $0 stop DIR"
  [ -d "$dir" ] || return 0
  if [ -f "$dir/pids" ]; then
    # Gateway first, monitor last: the reverse of the start order.
    while read -r pid program; do
      # Only a PID that still runs the program started here (not a recycled one).
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1 | grep -qx "$program"; then
        kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
      fi
    done < <(tac "$dir/pids")
    local deadline=$((SECONDS + 10))
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
  fi
  # Only ever remove a directory this script made (it holds our ceph.conf).
  if [ -f "$dir/ceph.conf" ] && grep -q '^osd objectstore = memstore$' "$dir/ceph.conf"; then
    rm -rf "$dir"
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 install | start [DIR] | stop DIR" >&2; exit 2 ;;
esac
