"""Serializers that refuse what they do not know (THREAT_MODEL T8, mass assignment).

DRF ignores unknown keys in a request body: a client that misspells ``expected_version`` or
tries ``"stage": "judged"`` gets a 200 and believes something happened. Every serializer of the
API derives from :class:`StrictSerializer` or :class:`StrictModelSerializer`, which answer 400
``unknown_field`` naming each key that is not a writable field — nested serializers included
(``persons.0.nickname``). Query-string filters derive from :class:`QueryFilter` instead: the
query string also carries pagination and format parameters that are not the filter's.
``tests/api/test_unknown_fields.py`` keeps every serializer of the project on one of these bases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError


class StrictInputMixin:
    """Refuse body keys that are not writable fields of the serializer (400 ``unknown_field``)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise ValidationError({key: [ErrorDetail(str(_("未知字段或只读字段，请求未被执行。")),
                                                         code="unknown_field")] for key in unknown})
        return super().to_internal_value(data)


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    pass


class QueryFilter(serializers.Serializer):
    """Validates query-string filters; other query parameters (cursor, format) pass through."""
