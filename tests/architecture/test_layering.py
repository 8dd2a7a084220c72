"""The layering of casehub is checked by import-linter (.importlinter), as part of the test suite.

The contracts: ``storage`` and ``signing`` import no Django and nothing of casehub; nothing below
the API imports ``casehub.api``; no two packages import each other, directly or round a cycle,
through module-level imports (docs/architecture.md, "Imports").
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), str(REPO)])}
    return subprocess.run([LINT_IMPORTS, "--no-cache", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_repository_keeps_every_import_contract():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), "utf-8")


CONFIG = """
[importlinter]
root_packages =
    shop
contract_types =
    module_level_acyclic: tests.architecture.contracts.ModuleLevelAcyclicContract

[importlinter:contract:cycles]
name = no cycles
type = module_level_acyclic
containers =
    shop
"""


def test_a_module_level_cycle_between_two_packages_breaks_the_contract_and_is_named(tmp_path):
    _write(tmp_path, {
        ".importlinter": CONFIG,
        "shop/__init__.py": "",
        "shop/orders/__init__.py": "",
        "shop/orders/models.py": "from shop.billing.invoices import Invoice\n",
        "shop/billing/__init__.py": "",
        "shop/billing/invoices.py": "from shop.orders import models\nInvoice = object\n",
    })
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Module-level import cycle between shop.billing, shop.orders" in result.stdout
    assert "shop.orders.models:1 imports shop.billing.invoices" in result.stdout
    assert "shop.billing.invoices:1 imports shop.orders.models" in result.stdout


def test_an_import_inside_a_function_does_not_count_as_a_module_level_cycle(tmp_path):
    _write(tmp_path, {
        ".importlinter": CONFIG,
        "shop/__init__.py": "",
        "shop/orders/__init__.py": "",
        "shop/orders/models.py": "from shop.billing.invoices import Invoice\n",
        "shop/billing/__init__.py": "",
        "shop/billing/invoices.py": """
            Invoice = object

            def order_of(invoice):
                from shop.orders import models
                return models
        """,
    })
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_casehub_package_below_the_api_is_bound_by_the_api_contract():
    import configparser

    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter", encoding="utf-8")
    sources = set(config["importlinter:contract:api-on-top"]["source_modules"].split())
    packages = {f"casehub.{p.name}" for p in (REPO / "casehub").iterdir()
                if (p / "__init__.py").exists()} - {"casehub.api"}
    missing = packages - sources
    assert not missing, f"add {sorted(missing)} to source_modules of api-on-top in .importlinter"
