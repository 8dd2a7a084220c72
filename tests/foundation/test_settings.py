"""Production settings refuse to start without real secrets and pass `check --deploy` cleanly."""

import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from casehub import env

ROOT = Path(__file__).resolve().parents[2]


def _run(args, extra_env, tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in {v.name for v in env.VARIABLES}}
    environ.update({"CASEHUB_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "casehub.settings"})
    environ.update(extra_env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


def _production_env(tmp_path):
    return {
        "CASEHUB_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "CASEHUB_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "casehub.example.gov.cn",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    }


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    prod = _production_env(tmp_path)
    del prod["SECRET_KEY"]
    result = _run(["manage.py", "check"], prod, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_a_weak_secret_key(tmp_path):
    prod = _production_env(tmp_path) | {"SECRET_KEY": "django-insecure-" + "a" * 60}
    result = _run(["manage.py", "check"], prod, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_key_encryption_key(tmp_path):
    prod = _production_env(tmp_path)
    del prod["CASEHUB_KEY_ENCRYPTION_KEY"]
    result = _run(["manage.py", "check"], prod, tmp_path)
    assert result.returncode != 0
    assert "CASEHUB_KEY_ENCRYPTION_KEY" in result.stderr


def test_check_deploy_is_clean_in_production(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_embedded_default_generates_and_keeps_its_secret(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = _run(["-c", f"import django; django.setup(); {code}"], {}, tmp_path)
    second = _run(["-c", f"import django; django.setup(); {code}"], {}, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_every_environment_variable_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table_names = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.M))
    assert {v.name for v in env.VARIABLES} <= table_names


def test_settings_read_only_declared_variables():
    source = (ROOT / "casehub" / "settings.py").read_text(encoding="utf-8")
    assert "os.environ" not in source  # everything goes through casehub.env
