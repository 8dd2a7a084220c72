#!/usr/bin/env bash
# casehub restore: load a backup made by deploy/backup.sh onto a FRESH database and object store,
# then prove it: verify_storage (every object re-hashed), verify_audit (chain + signed checkpoints),
# and the row counts and audit head recorded in the backup's MANIFEST.json.
#
#   deploy/restore.sh BACKUP_DIR
#
# Target = the environment (DATABASE_URL, CASEHUB_STORAGE_URL, plus SECRET_KEY and
# CASEHUB_KEY_ENCRYPTION_KEY of the platform the backup came from — they are NOT in the backup).
# The target database must be empty (PostgreSQL: a freshly created database; SQLite: no file yet).
# Exit status: 0 restored and verified; 1 verification failed; 2 refused (target not empty, bad backup).
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
IN="${1:?usage: deploy/restore.sh BACKUP_DIR}"
[ -f "$IN/MANIFEST.json" ] || { echo "restore: $IN/MANIFEST.json missing: not a casehub backup" >&2; exit 2; }

eval "$("$PY" - <<'EOF'
import os, shlex
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
import django
django.setup()
from django.conf import settings
db = settings.DATABASES["default"]
print(f"DB_ENGINE={shlex.quote(db['ENGINE'].rsplit('.', 1)[-1])}")
print(f"DB_NAME={shlex.quote(str(db['NAME']))}")
print(f"STORAGE_URL={shlex.quote(settings.CASEHUB_STORAGE_URL)}")
EOF
)"

# The dump must be the one the manifest describes (a truncated copy is refused before loading).
"$PY" - "$IN" <<'EOF' || exit 2
import hashlib, json, os, sys
folder = sys.argv[1]
manifest = json.load(open(os.path.join(folder, "MANIFEST.json")))
digest = hashlib.sha256(open(os.path.join(folder, manifest["dump"]), "rb").read()).hexdigest()
if digest != manifest["dump_sha256"]:
    sys.exit(f"restore: {manifest['dump']} does not match MANIFEST.json (sha256 {digest})")
EOF

echo "restore: database ($DB_ENGINE) <- $IN"
case "$DB_ENGINE" in
  postgresql)
    "$PY" - "$IN/db.dump" <<'EOF' || exit 2
import os, subprocess, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
import django
django.setup()
from django.conf import settings
from django.db import connection
with connection.cursor() as cur:
    cur.execute("select count(*) from information_schema.tables where table_schema = 'public'")
    if cur.fetchone()[0]:
        sys.exit("restore: the target database is not empty; create a fresh one")
connection.close()
db = settings.DATABASES["default"]
env = dict(os.environ, PGPASSWORD=db.get("PASSWORD") or "")
args = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
        "--host", db.get("HOST") or "127.0.0.1", "--port", str(db.get("PORT") or 5432), "--dbname", db["NAME"]]
if db.get("USER"):
    args += ["--username", db["USER"]]
subprocess.run(args + [sys.argv[1]], env=env, check=True)
EOF
    ;;
  sqlite3)
    if [ -s "$DB_NAME" ]; then echo "restore: $DB_NAME exists; restore onto a fresh file" >&2; exit 2; fi
    mkdir -p "$(dirname "$DB_NAME")"
    "$PY" - "$IN/db.sqlite3" "$DB_NAME" <<'EOF'
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
with dst:
    src.backup(dst)
dst.close(); src.close()
EOF
    ;;
  *) echo "restore: unsupported database engine $DB_ENGINE" >&2; exit 2 ;;
esac

echo "restore: objects -> ${STORAGE_URL%%\?*}"
"$PY" - "$IN/objects" "$STORAGE_URL" <<'EOF'
import pathlib, sys
from storage import open_store
from storage.base import sha256_from_key
source = open_store(pathlib.Path(sys.argv[1]).resolve().as_uri())
target = open_store(sys.argv[2])
copied = 0
for key in source.iter_keys():
    sha = sha256_from_key(key)
    if sha is None or target.exists(sha):
        continue
    ref = source.stat(sha)
    with source.open(sha) as reader:  # re-hashed while copied: a damaged backup copy fails here
        target.put(reader, content_type=ref.content_type, size=ref.size)
    copied += 1
print(f"restore: {copied} objects copied")
EOF

# The schema must be the code's (a backup of an older release is migrated forward here).
"$PY" manage.py migrate --noinput >/dev/null

status=0
# Counts first: verify_storage itself records a sweep and an audit event.
echo "restore: row counts and audit head against MANIFEST.json"
"$PY" - "$IN/MANIFEST.json" <<'EOF' || status=1
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
import django
django.setup()
from django.apps import apps
from casehub.audit.models import AuditHead
manifest = json.load(open(sys.argv[1]))
problems = []
head = AuditHead.objects.filter(pk=1).values("sequence", "hash").first()
if head != manifest["audit_head"]:
    problems.append(f"audit head {head} != {manifest['audit_head']}")
for label, expected in manifest["row_counts"].items():
    actual = apps.get_model(label)._default_manager.count()
    if actual != expected:
        problems.append(f"{label}: {actual} rows, backup had {expected}")
for p in problems:
    print(f"  {p}")
sys.exit(1 if problems else 0)
EOF
echo "restore: verify_storage"
"$PY" manage.py verify_storage || status=1
echo "restore: verify_audit"
"$PY" manage.py verify_audit --no-record || status=1
if [ "$status" -eq 0 ]; then echo "restore: done, verified"; else echo "restore: VERIFICATION FAILED" >&2; fi
exit "$status"
