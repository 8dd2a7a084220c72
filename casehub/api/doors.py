"""The API side of the one rule for 404 and 403 (:mod:`casehub.agencies.doors`).

A viewset names its ``door`` and, in ``door_actions``, which of its actions need which of the
door's actions. Its ``get_queryset`` for a single object is ``door.visible(user)``, so
``get_object`` answers 404 for an object the user may not see; :class:`DoorPermission` then
answers 403, with the door's reason, when the user may see it but not do the action.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission, IsAuthenticated


class DoorPermission(BasePermission):
    """403 with the door's reason for a visible object the user may not act on."""

    message = ""

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        action = getattr(view, "door_actions", {}).get(getattr(view, "action", None))
        if action is None:
            return True
        reason = view.door.refusal(request.user, obj, action)
        if reason:
            self.message = reason
            return False
        return True


DOOR_PERMISSIONS = [IsAuthenticated, DoorPermission]
