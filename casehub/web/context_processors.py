from typing import Any

from django.http import HttpRequest

from casehub.web.navigation import entries_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {"nav_entries": entries_for(user) if user is not None else []}
