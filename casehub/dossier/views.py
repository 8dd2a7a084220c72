"""Dossier views (being built)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse


@login_required
def case_dossier(request: HttpRequest, case_pk: int) -> HttpResponse:
    raise Http404
