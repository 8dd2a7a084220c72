"""OpenAPI generation: every operation documents its errors, ``Idempotency-Key`` and language.

drf-spectacular derives request/response bodies from the serializers; this schema class adds
what is the same for every endpoint, so no view can forget it: the error responses in the one
error shape (:mod:`casehub.api.errors`) with an example each, the ``Idempotency-Key`` header on
creating POSTs, and ``Accept-Language``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from casehub.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from casehub.api.strict import StrictSerializer


class FieldErrorSerializer(StrictSerializer):
    field = serializers.CharField(help_text="Dotted path of the field, e.g. `persons.0.name`, or `non_field_errors`.")
    code = serializers.CharField(help_text="Machine-readable reason, e.g. `required`, `invalid`, `max_length`.")
    message = serializers.CharField(help_text="Human-readable, in the language of Accept-Language.")


class ErrorSerializer(StrictSerializer):
    code = serializers.CharField(help_text="Stable machine-readable error code (see docs/api.md).")
    message = serializers.CharField(help_text="Human-readable message (zh-hans or en by Accept-Language).")
    errors = FieldErrorSerializer(many=True, required=False, help_text="Present on validation errors.")


def _example(name: str, code: str, message: str, errors: list[dict[str, str]] | None = None) -> OpenApiExample:
    value: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        value["errors"] = errors
    return OpenApiExample(name, value=value, response_only=True)


ERROR_RESPONSES: dict[str, OpenApiResponse] = {
    "400": OpenApiResponse(ErrorSerializer, "Invalid request; `errors` names each field.", [
        _example("validation_error", "validation_error", "请求数据有误，请检查标出的字段。",
                 [{"field": "title", "code": "required", "message": "该字段是必填项。"}]),
    ]),
    "401": OpenApiResponse(ErrorSerializer, "No credentials, or unknown/expired/revoked token.", [
        _example("authentication_failed", "authentication_failed", "令牌无效、已过期或已被吊销。"),
    ]),
    "403": OpenApiResponse(ErrorSerializer, "The caller's role lacks the capability.", [
        _example("permission_denied", "permission_denied", "您的角色无权执行此操作。"),
    ]),
    "404": OpenApiResponse(ErrorSerializer, "No such object, or another agency's.", [
        _example("not_found", "not_found", "未找到。"),
    ]),
    "409": OpenApiResponse(ErrorSerializer, "Idempotency-Key reused with another body, or the object changed.", [
        _example("idempotency_key_reused", "idempotency_key_reused", "该 Idempotency-Key 已用于另一个不同的请求。"),
    ]),
    "415": OpenApiResponse(ErrorSerializer, "Unsupported media type.", [
        _example("unsupported_media_type", "unsupported_media_type", "不支持请求中的媒体类型 “text/plain”。"),
    ]),
    "429": OpenApiResponse(ErrorSerializer, "Rate limit of this client exceeded; see Retry-After.", [
        _example("throttled", "throttled", "请求超过了限速。"),
    ]),
}

ACCEPT_LANGUAGE = OpenApiParameter(
    "Accept-Language", str, OpenApiParameter.HEADER, required=False, enum=["zh-hans", "en"],
    description="Language of human-readable messages (default zh-hans).",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, required=False,
    description="Repeat a creating POST safely: the same key and body returns the first result and creates "
                "nothing; the same key with a different body answers 409. Keys are kept 24 hours.",
    examples=[OpenApiExample("uuid", value="5f0c6a0e-8a52-4c3e-9a37-5b8b2f0e6d11")],
)


class CasehubAutoSchema(AutoSchema):
    def _handler(self) -> Any:
        action = getattr(self.view, "action", None)
        return getattr(self.view, action or self.method.lower(), None)

    def is_idempotent_create(self) -> bool:
        return self.method == "POST" and bool(getattr(self._handler(), "idempotent", False))

    def get_override_parameters(self) -> list[Any]:
        params = [ACCEPT_LANGUAGE]
        if self.is_idempotent_create():
            params.append(IDEMPOTENCY_KEY)
        return params

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = ["401", "403", "429"]
        if "{" in self.path:
            codes.append("404")
        # Every operation may get 400: query parameters are validated too, and so is Idempotency-Key.
        codes.append("400")
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        if self.is_idempotent_create() or self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ERROR_RESPONSES[code], code, direction=direction)
        return responses


# --- names for choice sets that several transitions share ----------------------------------------
# drf-spectacular names an enum after its field; a set used under two field names, or two sets
# under one field name, needs a name of its own (settings.SPECTACULAR_SETTINGS
# ["ENUM_NAME_OVERRIDES"] points here). The values come from the workflow definition itself, so a
# changed choice set cannot leave a stale name behind: the deploy check would warn again.

def _values(choices: Any) -> list[str]:
    return [str(value) for value, _label in choices]


def yes_no_choices() -> list[str]:
    """Every yes/no choice of a transition input (e.g. 当庭宣判, 一年有期徒刑以下)."""
    return ["yes", "no"]


def recommended_procedure_choices() -> list[str]:
    """The trial procedure a prosecutor recommends with an indictment (建议适用的审判程序)."""
    from workflows.definition import PROCEDURE

    return _values(PROCEDURE.choices)


def higher_extension_ground_choices() -> list[str]:
    """Grounds for a trial extension the court above approves (延长审理期限的事由)."""
    from workflows.trial import HIGHER_GROUNDS

    return _values(HIGHER_GROUNDS)


def withdrawal_ground_choices() -> list[str]:
    """Grounds for withdrawing a prosecution (撤回起诉的情形, SPP Rules 2019 art. 424(1))."""
    from workflows.court_door import WITHDRAWAL_GROUNDS

    return _values(WITHDRAWAL_GROUNDS)


def measure_decision_choices() -> list[str]:
    """A bail or surveillance decided anew, or lifted (CPL art. 79; SPC Interpretation art. 162)."""
    from workflows.measures import MEASURE_CHOICES

    return _values(MEASURE_CHOICES)


def executor_choices() -> list[str]:
    """The executing authority a court hands a judgment to (执行机关, arts. 264, 269)."""
    from workflows.appeal import EXECUTORS

    return _values(EXECUTORS)


def correction_executor_choices() -> list[str]:
    """The community-correction body a court notifies (社区矫正机构, Community Correction Law art. 20)."""
    from workflows.definition import BY_NAME

    spec = BY_NAME["notify_community_correction"]
    return _values(next(i for i in spec.inputs if i.name == "executor").choices)
