from tests.workflow.conftest import _fresh_pki_cache, case, drive, make_case  # noqa: F401 - shared fixtures
