"""One error shape for the whole API.

Every error answers::

    {"code": "validation_error", "message": "…", "errors": [{"field": "title", "code": "required", "message": "…"}]}

``code`` is stable and machine-readable (clients branch on it); ``message`` is for people and
follows ``Accept-Language`` (zh-hans by default, en). ``errors`` is present for validation errors
and names each offending field (dotted path for nested fields, e.g. ``persons.0.name``;
``non_field_errors`` for errors about the whole request).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django import db
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from storage import StorageUnavailable

logger = logging.getLogger("casehub.api")

# The codes a client may see, with what they mean. docs/api.md lists the same table.
ERROR_CODES: dict[str, str] = {
    "validation_error": "400: the request body or a query parameter is invalid; see `errors`.",
    "parse_error": "400: the body is not valid JSON/multipart.",
    "not_authenticated": "401: no credentials were sent.",
    "authentication_failed": "401: the token is unknown, expired or revoked, or the session is not verified.",
    "permission_denied": "403: your role lacks the capability for this action.",
    "not_found": "404: no such object, or it belongs to another agency.",
    "method_not_allowed": "405",
    "not_acceptable": "406",
    "conflict": "409: the object changed under you (e.g. another user fired a transition first).",
    "case_changed": "409: the case moved on (another user acted first) or `expected_version` is stale.",
    "guard_failed": "409: the law's conditions for this transition are not met; `errors` lists why.",
    "idempotency_key_reused": "409: this Idempotency-Key was used with a different request body.",
    "idempotency_in_progress": "409: the first request with this Idempotency-Key is still running.",
    "unsupported_media_type": "415",
    "throttled": "429: too many requests for this client; retry after `Retry-After` seconds.",
    "side_effect_failed": "503: the object store, the signer or the message broker is down; nothing changed — "
                          "retry after `Retry-After`.",
    "not_stalled": "409: the task is still moving (or finished); only stalled work can be retried.",
    "storage_unavailable": "503: the document store cannot be reached; nothing changed, retry after `Retry-After`.",
    "database_unavailable": "503: the database connection was lost; nothing changed, retry after `Retry-After`.",
    "internal_error": "500: a bug (logged under `incident`, given in the body); nothing changed and retrying "
                      "will not help.",
    "object_corrupt": "503: the stored file no longer matches its SHA-256; nothing of it is sent (restore from backup).",
}


class StorageDown(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("存储服务暂不可用，请稍后重试。")
    default_code = "storage_unavailable"
    wait = 30


class DatabaseDown(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("数据库连接中断，请稍后重试。")
    default_code = "database_unavailable"
    wait = 5


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("对象已被他人修改，请刷新后重试。")
    default_code = "conflict"


class InternalError(exceptions.APIException):
    """A bug, answered as 500 with the incident id under which the traceback was logged."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = _("系统内部错误，已记录，请联系系统管理员。")
    default_code = "internal_error"

    def __init__(self, detail: Any = None, *, incident: str) -> None:
        super().__init__(detail)
        self.incident = incident


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail → a flat list of {field, code, message}."""
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, name))
    elif isinstance(detail, list):
        if detail and all(isinstance(item, (dict, list)) for item in detail):
            for index, item in enumerate(detail):
                out.extend(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        else:
            for item in detail:
                out.extend(_flatten(item, prefix))
    else:
        out.append({
            "field": prefix or "non_field_errors",
            "code": getattr(detail, "code", None) or "invalid",
            "message": str(detail),
        })
    return out


def error_body(code: str, message: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return body


def _django_validation_detail(exc: DjangoValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        return {
            (field if field != "__all__" else "non_field_errors"): [
                exceptions.ErrorDetail(m, code=e.code or "invalid") for e in errs for m in e.messages
            ]
            for field, errs in exc.error_dict.items()
        }
    return [exceptions.ErrorDetail(m, code=exc.code or "invalid") for m in exc.messages]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: map every expected error onto the shape above."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args) if exc.args else exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, SuspiciousOperation):
        # Django's request limits (DATA_UPLOAD_MAX_NUMBER_FIELDS, ..._MEMORY_SIZE): a bad request,
        # answered in the API's shape instead of Django's HTML 400 page.
        exc = exceptions.ParseError(gettext("请求体过大或字段过多。"))
    elif isinstance(exc, StorageUnavailable):
        logger.warning("API: object store unavailable: %s", exc)
        exc = StorageDown()
    elif isinstance(exc, (db.OperationalError, db.InterfaceError)):
        # A lost connection (database restart, failover): nothing was committed by this request.
        logger.warning("API: database unavailable: %s", exc)
        exc = DatabaseDown()

    if not isinstance(exc, exceptions.APIException):
        return None  # a bug outside the engine: Django logs it and answers the JSON 500 (server_error)

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        body = error_body("validation_error", gettext("请求数据有误，请检查标出的字段。"), errors)
    else:
        detail = exc.detail
        if isinstance(detail, (list, dict)):  # an APIException raised with structured detail
            errors = _flatten(detail)
            code = errors[0]["code"] if errors else exc.default_code
            body = error_body(str(code), errors[0]["message"] if errors else str(exc.default_detail), errors)
        else:
            body = error_body(str(getattr(detail, "code", None) or exc.default_code), str(detail))
    if getattr(exc, "incident", ""):
        body["incident"] = exc.incident
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


@csrf_exempt  # it changes nothing; without this a POST with a cookie would get the HTML CSRF page
def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown paths under /api/v1/ answer the API's JSON 404, not the UI's HTML page."""
    return JsonResponse(error_body("not_found", gettext("未找到。")), status=404)


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """handler500: an unexpected error anywhere (a view, a middleware, the database going away
    before DRF saw the request) still answers the API's JSON shape under /api/; the UI keeps
    Django's page. Called inside the exception handler, so the exception is at hand."""
    if not request.path.startswith("/api/"):
        return defaults.server_error(request)
    exc = sys.exc_info()[1]
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        response = JsonResponse(error_body("database_unavailable", gettext("数据库连接中断，请稍后重试。")), status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse(error_body("internal_error", gettext("服务器内部错误，已记录。请稍后重试。")), status=500)
