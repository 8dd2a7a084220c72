"""The resolved settings deploy/backup.sh and deploy/restore.sh work with, as shell assignments.

    eval "$(python deploy/resolve_settings.py backup)"

Prints DB_ENGINE, DB_NAME, STORAGE_URL, KEK_FINGERPRINT (see casehub.pki.services.kek_fingerprint)
and KEK_SOURCE (``env``: CASEHUB_KEY_ENCRYPTION_KEY; ``generated``: the development default in
DATA_DIR/kek), with defaults applied exactly as the platform applies them. A configuration the
platform itself would refuse to start with (production without a key, a key that is not base64 of
32 bytes …) is a refusal: one line on stderr naming the problem, exit status 2, no traceback.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path


def main(tool: str) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    try:
        import django

        django.setup()
        from django.conf import settings

        from casehub import env
        from casehub.pki.services import kek_fingerprint

        db = settings.DATABASES["default"]
        values = {
            "DB_ENGINE": db["ENGINE"].rsplit(".", 1)[-1],
            "DB_NAME": str(db["NAME"]),
            "STORAGE_URL": settings.CASEHUB_STORAGE_URL,
            "KEK_FINGERPRINT": kek_fingerprint(),
            "KEK_SOURCE": "env" if env.get("CASEHUB_KEY_ENCRYPTION_KEY") else "generated",
        }
    except Exception as exc:  # noqa: BLE001 - every way the configuration fails is one line for the operator
        message = " ".join(str(exc).split()) or exc.__class__.__name__
        print(f"{tool}: refused: {message}", file=sys.stderr)
        return 2
    for name, value in values.items():
        print(f"{name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "casehub"))
