"""What every API view shares: capability checks with a message, and the task answer for long work."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response

from casehub.agencies.permissions import require_capability
from casehub.api.models import ApiTask
from casehub.api.serializers import TaskSerializer


def require_any(user: Any, *capabilities: str, message: str | None = None) -> None:
    """:func:`casehub.agencies.permissions.require_capability` with the API's default message."""
    require_capability(user, *capabilities, message=message or _("您的角色无权执行此操作。"))


def accepted(task: ApiTask, request: Any) -> Response:
    """202 Accepted with the task resource and its URL in ``Location``."""
    url = reverse("api:task-detail", kwargs={"pk": task.pk})
    body = TaskSerializer(task, context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": request.build_absolute_uri(url)})
