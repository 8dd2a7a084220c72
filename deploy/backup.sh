#!/usr/bin/env bash
# casehub backup: database dump + object store copy, with a manifest to check the restore against.
#
#   deploy/backup.sh BACKUP_DIR
#
# Reads the same environment as the platform (DATABASE_URL, CASEHUB_STORAGE_URL, CASEHUB_DATA_DIR;
# see casehub/env.py). Run it from the project directory with the platform's Python (PYTHON=...).
# docs/operations.md describes the procedure, the S3 side and what is deliberately NOT in here.
#
# Order matters: the database is dumped FIRST and the objects copied AFTER. Objects are written
# to the store before the row that references them and are never deleted, so every object a
# dumped row points at already exists when the copy starts. (The other order could miss the
# objects of uploads that finished in between.)
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
OUT="${1:?usage: deploy/backup.sh BACKUP_DIR}"
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
  echo "backup: $OUT exists and is not empty; refusing to mix two backups" >&2
  exit 2
fi
# The resolved settings (defaults applied exactly as the platform applies them); a configuration
# the platform would refuse to start with is refused here too (one line, exit 2).
resolved="$("$PY" deploy/resolve_settings.py backup)" || exit 2
eval "$resolved"

umask 077  # dumps hold personal data and encrypted keys: owner only (the directory too)
mkdir -p "$OUT"
chmod 700 "$OUT"  # also when it already existed (empty) with looser permissions

echo "backup: database ($DB_ENGINE) -> $OUT"
case "$DB_ENGINE" in
  postgresql)
    # Custom format: compressed, restorable table by table; triggers (append-only audit) come back
    # in the post-data section, after the rows are loaded.
    "$PY" - "$OUT/db.dump" <<'EOF'
import os, subprocess, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
import django
django.setup()
from django.conf import settings
db = settings.DATABASES["default"]
env = dict(os.environ, PGPASSWORD=db.get("PASSWORD") or "")
args = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", sys.argv[1],
        "--host", db.get("HOST") or "127.0.0.1", "--port", str(db.get("PORT") or 5432)]
if db.get("USER"):
    args += ["--username", db["USER"]]
subprocess.run(args + [db["NAME"]], env=env, check=True)
EOF
    ;;
  sqlite3)
    # SQLite's online backup API: a consistent copy of the live file, triggers included.
    "$PY" - "$DB_NAME" "$OUT/db.sqlite3" <<'EOF'
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
with dst:
    src.backup(dst)
dst.close(); src.close()
EOF
    ;;
  *) echo "backup: unsupported database engine $DB_ENGINE" >&2; exit 2 ;;
esac

echo "backup: objects from ${STORAGE_URL%%\?*} -> $OUT/objects"
# Content-addressed and write-once: copying object by object through the store's verifying
# reader both copies and checks every byte. Works for the directory and the S3 backend alike.
"$PY" - "$STORAGE_URL" "$OUT/objects" <<'EOF'
import sys
from storage import open_store
from storage.base import sha256_from_key
source = open_store(sys.argv[1])
target = open_store(__import__("pathlib").Path(sys.argv[2]).resolve().as_uri())
copied = 0
for key in source.iter_keys():
    sha = sha256_from_key(key)
    if sha is None or target.exists(sha):  # not an object of ours, or already copied
        continue
    ref = source.stat(sha)
    with source.open(sha) as reader:
        target.put(reader, content_type=ref.content_type, size=ref.size)
    copied += 1
print(f"backup: {copied} objects copied")
EOF

# What the restore must give back: the audit head and per-table row counts.
"$PY" - "$OUT/MANIFEST.json" "$DB_ENGINE" <<'EOF'
import hashlib, json, os, sys
from datetime import datetime, timezone
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
import django
django.setup()
from django.apps import apps
from casehub.audit.models import AuditHead
from casehub.pki.services import kek_fingerprint, keys_needed_for_signing, keys_that_do_not_open
out = sys.argv[1]
folder = os.path.dirname(out)
dump = next(p for p in ("db.dump", "db.sqlite3") if os.path.exists(os.path.join(folder, p)))
digest = hashlib.sha256(open(os.path.join(folder, dump), "rb").read()).hexdigest()
head = AuditHead.objects.filter(pk=1).values("sequence", "hash").first()
counts = {m._meta.label: m._default_manager.count() for m in apps.get_models()
          if m._meta.managed and not m._meta.proxy and m._meta.app_label in {
              "agencies", "cases", "dossier", "transfers", "custody", "clocks", "audit", "objectstore", "pki"}}
# Which key-encryption key the dumped private keys need (a fingerprint, never the key): the restore
# refuses a different key before loading anything. A platform whose keys do not open with its own
# key is still backed up (the data matters more), but loudly.
unopened = keys_that_do_not_open()
if unopened:
    print(f"backup: WARNING: {len(unopened)} private key(s) needed for signing do not decrypt with the configured "
          f"CASEHUB_KEY_ENCRYPTION_KEY ({', '.join(unopened)}); a restore of this backup will be refused",
          file=sys.stderr)
json.dump({"created_at": datetime.now(timezone.utc).isoformat(), "database": sys.argv[2], "dump": dump,
           "dump_sha256": digest, "audit_head": head, "row_counts": counts,
           "kek_fingerprint": kek_fingerprint(), "signing_keys": len(keys_needed_for_signing()),
           "signing_keys_open": not unopened}, open(out, "w"), indent=2, sort_keys=True)
EOF
echo "backup: done ($OUT/MANIFEST.json)"
