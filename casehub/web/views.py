"""The UI shell: home page per role."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from casehub.web.inboxes import inboxes_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "web/home.html",
        {
            "agency": user.agency,
            "roles": sorted(user.roles),
            "role_labels": [label for value, label in _role_choices() if value in user.roles],
            "inboxes": inboxes_for(user),
        },
    )


def _role_choices():
    from casehub.agencies.models import Role

    return Role.choices
