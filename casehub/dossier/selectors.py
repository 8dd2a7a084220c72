"""Permission-filtered reads of documents and volumes (STYLE.md §2).

A document or volume is reachable only through a case the user's agency may see
(``casehub.cases.selectors.visible_cases``), and then only if the agency filed it or received it in
a package (the permission table of docs/workflow.md: never another agency's work file 副卷, never
what a later agency added unless it was sent back). Anything else answers 404, never 403, so its
existence is not disclosed.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404

from casehub.agencies.permissions import READ_DOSSIER, has_capability
from casehub.cases.selectors import visible_cases
from casehub.dossier.models import Document, Volume
from casehub.transfers.selectors import document_access_filter, volume_access_filter


def _readable(user: Any) -> bool:
    return has_capability(user, READ_DOSSIER) and user.agency_id is not None


def get_visible_document(user: Any, pk: Any) -> Document:
    if not _readable(user):
        raise Http404
    try:
        return (
            Document.objects.select_related("case", "stored", "author_agency", "uploaded_by", "volume", "supersedes")
            .filter(case__in=visible_cases(user))
            .filter(document_access_filter(user.agency_id))
            .get(pk=pk)
        )
    except (Document.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def get_visible_volume(user: Any, pk: Any) -> Volume:
    if not _readable(user):
        raise Http404
    try:
        return (
            Volume.objects.select_related("case", "agency", "assembled")
            .filter(case__in=visible_cases(user))
            .filter(volume_access_filter(user.agency_id))
            .get(pk=pk)
        )
    except (Volume.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def readable_versions(user: Any, doc: Document, *, limit: int = 100) -> list[Document]:
    """Every version in ``doc``'s correction chain that the user may read, newest first.

    The chain is walked over ids (older through ``supersedes``, newer through what supersedes),
    then passed through the same access filter as the documents themselves: a version the
    reader's agency never filed nor received (a police draft corrected before the package left)
    shows neither its title, file name, uploader, hash nor size. ``doc`` itself came from
    :func:`get_visible_document`.
    """
    links = dict(Document.objects.filter(case_id=doc.case_id).values_list("pk", "supersedes_id"))
    newer: dict[int, list[int]] = {}
    for pk, older in links.items():
        if older is not None:
            newer.setdefault(older, []).append(pk)
    chain, todo = set(), [doc.pk]
    while todo and len(chain) < limit:
        pk = todo.pop()
        if pk in chain:
            continue
        chain.add(pk)
        if links.get(pk) is not None:
            todo.append(links[pk])
        todo.extend(newer.get(pk, []))
    return list(
        Document.objects.select_related("uploaded_by").filter(pk__in=chain)
        .filter(document_access_filter(user.agency_id)).order_by("-uploaded_at", "-pk")
    )
