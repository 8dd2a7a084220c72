#!/usr/bin/env bash
# casehub restore: load a backup made by deploy/backup.sh onto a FRESH database and object store,
# then prove it: verify_storage (every object re-hashed), verify_audit (chain + signed checkpoints),
# and the row counts and audit head recorded in the backup's MANIFEST.json.
#
#   deploy/restore.sh BACKUP_DIR
#
# Target = the environment (DATABASE_URL, CASEHUB_STORAGE_URL, plus SECRET_KEY and
# CASEHUB_KEY_ENCRYPTION_KEY of the platform the backup came from — they are NOT in the backup;
# MANIFEST.json holds only a fingerprint of the key, to refuse a wrong one).
# The target database must be empty (PostgreSQL: a freshly created database; SQLite: no file yet).
# Exit status: 0 restored and verified; 1 verification failed; 2 refused (configuration the platform
# would not start with, wrong or missing key-encryption key, target not empty, bad backup, or
# private keys that do not decrypt after loading) — always with one line saying why.
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
IN="${1:?usage: deploy/restore.sh BACKUP_DIR}"
[ -f "$IN/MANIFEST.json" ] || { echo "restore: $IN/MANIFEST.json missing: not a casehub backup" >&2; exit 2; }

# The resolved target settings; a configuration the platform would refuse to start with (e.g.
# production without CASEHUB_KEY_ENCRYPTION_KEY) is refused here: one line, exit 2.
resolved="$("$PY" deploy/resolve_settings.py restore)" || exit 2
eval "$resolved"

# The key-encryption key must be the one the backup's private keys were stored under, or the
# restored platform could not sign (checked before anything is loaded; proven again after).
"$PY" - "$IN/MANIFEST.json" "$KEK_FINGERPRINT" "$KEK_SOURCE" <<'EOF' || exit 2
import json, sys
manifest = json.load(open(sys.argv[1]))
expected, actual, source = manifest.get("kek_fingerprint"), sys.argv[2], sys.argv[3]
if manifest.get("signing_keys_open") is False:
    sys.exit("restore: refused: the backed-up platform's own signing keys did not decrypt when the backup was "
             "taken (see the backup's warning); its restore could not sign")
if expected and expected != actual:
    if source == "generated":
        sys.exit(f"restore: refused: CASEHUB_KEY_ENCRYPTION_KEY is not set (DATA_DIR/kek holds another key, "
                 f"fingerprint {actual}); this backup needs the key-encryption key with fingerprint {expected}")
    sys.exit(f"restore: refused: CASEHUB_KEY_ENCRYPTION_KEY (fingerprint {actual}) is not the key-encryption key "
             f"of this backup (fingerprint {expected}); set the backed-up platform's key")
EOF

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

# Prove the restored platform can sign: every private key it signs with decrypts under the key it
# was given (also catches a backup from before key fingerprints were recorded).
if ! check="$("$PY" manage.py casehub_pki check-keys 2>&1)"; then
  echo "restore: refused: the restored platform cannot sign: ${check#CommandError: }" >&2
  echo "restore: the database is loaded but unusable for signing; restore again onto a fresh database with the right key" >&2
  exit 2
fi
echo "restore: $check"

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
