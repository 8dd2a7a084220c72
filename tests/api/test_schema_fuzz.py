"""Property-based run of schemathesis against the live schema, as different roles.

Every generated request — valid and deliberately invalid, for every operation in the schema,
authenticated as an investigator, prosecutor, court clerk, supervisor, auditor, detention officer
or nobody — must answer without a 5xx, with a status code, content type, headers and body the
schema documents. The default run is small and derandomized (same requests every time); the
``slow`` run is larger.
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import contextmanager

import hypothesis.strategies as st
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from casehub.api.credentials import issue_personal_token
from tests.dossier import files

pytestmark = pytest.mark.django_db

ROLES = ("investigator", "police_supervisor", "prosecutor", "court_clerk", "auditor", "detention_officer",
         "police_admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture
def fuzz_world(district, other_district, theft_case, settings, tmp_path):
    """Data for the generated requests to find: cases, persons, a document, audit events."""
    from casehub.dossier import services as dossier

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    path = files.write(tmp_path, "doc.pdf", files.text_pdf(1))
    dossier.ingest_upload(case=theft_case, acting_user=district.investigator, uploaded_file_or_path=path,
                          title="笔录", category="evidence")
    tokens = {role: issue_personal_token(acting_user=district.users[role], name="fuzz").token for role in ROLES}
    tokens["stranger"] = issue_personal_token(acting_user=other_district.investigator, name="fuzz").token
    tokens["anonymous"] = None
    return tokens


@contextmanager
def _keep_test_connection():
    """Calling the WSGI app directly fires request_started/finished, whose close_old_connections
    would close the test's database connection (and its transaction) on PostgreSQL. Django's own
    test client disconnects it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def run_fuzz(tokens: dict[str, str | None], examples: int) -> Counter:
    from casehub.wsgi import application

    with _keep_test_connection():  # loading the schema is a request too
        return _run(schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application), tokens, examples)


def _run(schema, tokens: dict[str, str | None], examples: int) -> Counter:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 60  # every resource and every generated workflow action
    strategy = st.one_of(*[
        op.as_strategy(generation_mode=mode)
        for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ])
    statuses: Counter = Counter()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, role=st.sampled_from(sorted(tokens)))
    def exercise(case, role):
        headers = {"Authorization": f"Bearer {tokens[role]}"} if tokens[role] else {}
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        statuses[f"{case.method} {case.path}"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    exercise()
    return statuses


def test_generated_requests_get_documented_answers_and_no_5xx(fuzz_world):
    statuses = run_fuzz(fuzz_world, examples=int(os.environ.get("CASEHUB_FUZZ_EXAMPLES", "150")))
    codes = {k: v for k, v in statuses.items() if isinstance(k, int)}
    operations = {k for k in statuses if isinstance(k, str)}
    print(sorted(codes.items()), len(operations))
    assert sum(codes.values()) >= 150
    assert not [s for s in codes if s >= 500]
    assert any(200 <= s < 300 for s in codes), codes  # some requests got through, not only errors
    assert len(operations) >= 30  # the run spreads over the API, not one endpoint


@pytest.mark.slow
def test_generated_requests_long_run(fuzz_world):
    statuses = run_fuzz(fuzz_world, examples=int(os.environ.get("CASEHUB_FUZZ_EXAMPLES_SLOW", "600")))
    assert not [s for s in statuses if isinstance(s, int) and s >= 500]
