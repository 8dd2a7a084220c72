"""Property-based run of schemathesis against the live schema, as different roles.

Every generated request — valid and deliberately invalid, for every operation in the schema,
authenticated as an investigator, prosecutor, court clerk, supervisor, auditor, detention officer
or nobody — must answer without a 5xx, with a status code, content type, headers and body the
schema documents. Each operation gets a few requests of each kind in the default run
(derandomized: the same requests every time); the ``slow`` run gives each many more.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from contextlib import contextmanager

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
    settings.CASEHUB_API_AUTH_FAILURES_PER_MINUTE = 10**9  # generated requests may carry bad tokens
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


def run_fuzz(tokens: dict[str, str | None], per_operation: int) -> Counter:
    from casehub.wsgi import application

    with _keep_test_connection():  # loading the schema is a request too
        schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
        return _run(schema, tokens, per_operation)


def _run(schema, tokens: dict[str, str | None], per_operation: int) -> Counter:
    """Every operation, valid and invalid data, ``per_operation`` requests each (derandomized)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 60  # every resource and every generated workflow action
    statuses: Counter = Counter()
    # Identities take turns (hypothesis would otherwise start every operation with the same one).
    roles = sorted(tokens)
    turn = itertools.count()

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=per_operation, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case):
                role = roles[next(turn) % len(roles)]
                headers = {"Authorization": f"Bearer {tokens[role]}"} if tokens[role] else {}
                response = case.call(headers=headers)
                statuses[response.status_code] += 1
                statuses[f"{case.method} {case.path}"] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            exercise()
    return statuses


def test_generated_requests_get_documented_answers_and_no_5xx(fuzz_world):
    statuses = run_fuzz(fuzz_world, per_operation=int(os.environ.get("CASEHUB_FUZZ_PER_OPERATION", "2")))
    codes = {k: v for k, v in statuses.items() if isinstance(k, int)}
    operations = {k for k in statuses if isinstance(k, str)}
    print(f"schemathesis: {sum(codes.values())} requests, {len(operations)} operations, {sorted(codes.items())}")
    assert sum(codes.values()) >= 200  # a few hundred requests
    assert not [s for s in codes if s >= 500]
    assert sum(v for s, v in codes.items() if 200 <= s < 300) >= 10, codes  # not only errors
    assert len(operations) >= 60  # every operation was exercised


@pytest.mark.slow
def test_generated_requests_long_run(fuzz_world):
    # 12 requests per operation and mode under `make test-slow` (hypothesis profile "long"), 3 in CI.
    full = settings.default.max_examples >= 1000
    per_operation = int(os.environ.get("CASEHUB_FUZZ_PER_OPERATION_SLOW") or (12 if full else 3))
    statuses = run_fuzz(fuzz_world, per_operation=per_operation)
    assert not [s for s in statuses if isinstance(s, int) and s >= 500]
