"""Response headers every dynamic answer of casehub carries."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response a view produced, unless the view chose otherwise.

    Pages and API answers carry case particulars and personal data (PIPL): no browser, shared
    proxy or back button may keep a copy. A view that serves data fit for caching (aggregate
    metrics charts) sets its own ``Cache-Control``; static files never reach this middleware
    (WhiteNoise answers them first).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response
