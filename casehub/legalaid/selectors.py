"""Who sees which legal-aid notices, and what assigned counsel may read (STYLE.md §2: 404 otherwise).

* The agencies that may see the case see its notices on the case page.
* The justice bureau sees the notices addressed to it — who, why, which case and its numbers — not
  the case page, the persons' identity numbers or the dossier.
* The assigned lawyer reads, for each assignment, exactly what CPL art. 40 gives counsel (and SPP
  Rules art. 269 a duty lawyer): the case file 案卷材料 *from the day the procuratorate accepted the
  case for review for prosecution*. That is the main file 正卷 as it reached the procuratorate or
  the court in a package they accepted (or that was delivered to them), plus the main-file documents
  the procuratorate and the court filed themselves. Never the work file 副卷 of any agency (the
  police's investigation work file stays with the police), never a document still only with the
  police, and nothing before the review stage. A lawyer is not a member of any agency that holds the
  case: ``casehub.cases.selectors.visible_cases`` gives them no case, so every case, dossier and
  clock page answers 404 to them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from casehub.agencies import permissions as p
from casehub.agencies.models import AgencyKind
from casehub.dossier.models import Document, Part
from casehub.legalaid.models import LegalAidRequest, RequestStatus
from casehub.transfers.selectors import RECEIVED
from workflows.models import Transfer, TransferKind

READING_AGENCIES = (AgencyKind.PROCURATORATE, AgencyKind.COURT)
# Packages whose acceptance starts (or continues) the review for prosecution and the trial.
REVIEW_PACKAGES = (TransferKind.REVIEW_TRANSFER, TransferKind.INDICTMENT)


def case_requests(case: Any) -> QuerySet[LegalAidRequest]:
    """The case's notices; ``case`` must come from ``get_visible_case``."""
    return (LegalAidRequest.objects.filter(case=case)
            .select_related("person", "from_agency", "bureau", "counsel", "notice_clock", "assignment_clock")
            .order_by("sent_at", "id"))


def bureau_requests(user: Any) -> QuerySet[LegalAidRequest]:
    if not p.has_capability(user, p.ASSIGN_COUNSEL) or user.agency_id is None:
        return LegalAidRequest.objects.none()
    return (LegalAidRequest.objects.filter(bureau_id=user.agency_id)
            .select_related("case", "person", "from_agency", "assignment_clock", "notice_clock")
            .order_by("status", "-sent_at", "-id"))


def get_bureau_request(user: Any, pk: Any) -> LegalAidRequest:
    try:
        return bureau_requests(user).get(pk=pk)
    except (LegalAidRequest.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def counsel_assignments(user: Any) -> QuerySet[LegalAidRequest]:
    if not p.has_capability(user, p.READ_AS_COUNSEL):
        return LegalAidRequest.objects.none()
    return (LegalAidRequest.objects.filter(counsel=user, status=RequestStatus.ASSIGNED)
            .select_related("case", "person", "from_agency", "bureau").order_by("-assigned_at", "-id"))


def get_assignment(user: Any, pk: Any) -> LegalAidRequest:
    try:
        return counsel_assignments(user).get(pk=pk)
    except (LegalAidRequest.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def _received_by_reading_agencies(case_id: int) -> QuerySet[Transfer]:
    return Transfer.objects.filter(case_id=case_id, status__in=RECEIVED,
                                   to_agency__kind__in=READING_AGENCIES)


def review_started(case_id: int) -> bool:
    """Whether the procuratorate has accepted the case for review for prosecution (CPL art. 40)."""
    return _received_by_reading_agencies(case_id).filter(kind__in=REVIEW_PACKAGES).exists()


def counsel_documents(assignment: LegalAidRequest) -> QuerySet[Document]:
    """The case file counsel may read for ``assignment`` (from ``get_assignment``); see the module."""
    if not review_started(assignment.case_id):
        return Document.objects.none()
    received = Transfer.documents.through.objects.filter(
        transfer__in=_received_by_reading_agencies(assignment.case_id)).values("document_id")
    return (Document.objects.filter(case_id=assignment.case_id, part=Part.MAIN)
            .filter(Q(pk__in=received) | Q(owner_agency__kind__in=READING_AGENCIES))
            .select_related("author_agency", "stored")
            .order_by("uploaded_at", "id"))


def get_counsel_document(user: Any, assignment_pk: Any, pk: Any) -> tuple[LegalAidRequest, Document]:
    assignment = get_assignment(user, assignment_pk)
    try:
        return assignment, counsel_documents(assignment).get(pk=pk)
    except (Document.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
