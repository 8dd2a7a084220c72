"""Generated cross-agency test: every URL in the URL conf, every user without the right.

THREAT_MODEL.md threats E1 (another agency's case), E2 (role without the right), I1 (leak of
case particulars). The test walks ``get_resolver()`` (UI, API, everything mounted), fills each
pattern with real ids from a case of district A, and requests it as

* every user of an unrelated district X (all roles, including its administrator and auditor), and
* every user of district A whose role does not have the right,

asserting 403 or 404 — never a success, never the case title, suspect name, case number or ID
number in the body. Users that *do* have the right must get a non-error answer (positive control,
so a wrongly filled URL cannot make the test pass vacuously). An endpoint without a rule in
``RULES`` or ``EXEMPT`` fails the test: a new URL needs a reviewed rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from tests.security.urlmap import Endpoint, endpoints

pytestmark = pytest.mark.django_db

ALL = "*"  # every logged-in user may use it (it shows their own data): only the leak check applies

# District-A users by what they may do with a case held by its police agency (stage 侦查).
POLICE_READERS = frozenset({"investigator", "police_supervisor"})
CASE_LIST_ROLES = frozenset({"investigator", "police_supervisor", "prosecutor", "procuratorate_supervisor",
                             "court_clerk", "judge", "court_supervisor"})
CLOCK_ROLES = CASE_LIST_ROLES
AUDITORS = frozenset({"auditor"})
ADMINS = frozenset({"police_admin"})
DETENTION = frozenset({"detention_officer"})
# The sent case: the sending police and the receiving procuratorate.
SENDER_AND_RECEIVER = POLICE_READERS | frozenset({"prosecutor", "procuratorate_supervisor"})
# Roles with view_person_id (full ID numbers; casehub.cases.identity).
ID_READERS = frozenset({"investigator", "prosecutor", "court_clerk", "judge", "detention_officer"})
# Who may see district A's case particulars in a page body at all.
MAY_SEE_CASE = POLICE_READERS | AUDITORS
# Who may see the docketed case: every agency that held it, and the auditor.
TRIAL_READERS = CASE_LIST_ROLES | AUDITORS
# Who reads its own agency's change feed: every role that works on cases or custody.
FEED_ROLES = frozenset({"investigator", "police_supervisor", "prosecutor", "procuratorate_supervisor", "court_clerk",
                        "judge", "court_supervisor", "detention_officer"})


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str] | str  # district-A user keys with the right, or ALL
    kwargs: Callable[[Any], dict[str, Any]] | None = None  # fills the pattern from the scenario
    get: bool = True  # False: the endpoint only takes POST (GET answers 405 to everyone)
    may_see_case: frozenset[str] = MAY_SEE_CASE
    names_object: bool | None = None  # default: the pattern has parameters, so it names an A object
    query: str = ""  # query string the endpoint needs to do anything
    static: bool = False  # same bytes for every user (no data): one user per district is enough
    # A body the right user's write would succeed with: the denied users' writes send it, so that
    # nothing but the permission check can refuse them (an empty body could be refused by
    # validation first and hide a missing check). test_write_payloads_are_valid proves each works.
    payload: Callable[[Any], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.names_object is None:
            object.__setattr__(self, "names_object", self.kwargs is not None)


def _current_root_fingerprint() -> str:
    from casehub.pki.models import CertificateAuthority

    return CertificateAuthority.objects.get(is_current=True).fingerprint


def _case(pk="pk"):
    return lambda sc: {pk: sc.case.pk}


def _in_days(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() + timedelta(days=days)).isoformat()


# Valid bodies for the object-level writes (see Rule.payload).
NEW_PERSON = {"role": "suspect", "name": "越权添加的人", "sex": "M", "custody_status": "not_detained"}
REVIEW_INPUTS = {"facts": "越权移送的事实", "evidence": "越权移送的证据"}


def _register_custody(sc) -> dict[str, Any]:
    return {"action": "register", "person": sc.person.pk, "detention_centre": sc.district.detention.pk,
            "measure": "detained", "since": f"{_in_days(-1)}T09:00"}


def _notice(sc) -> dict[str, Any]:
    return {"kind": "extension", "reason": "越权延长羁押期限"}  # the end is the clock's (workflows.engine)


def _ingest_job(sc):
    from casehub.dossier.models import IngestJob

    return IngestJob.objects.filter(case=sc.case).earliest("created_at")


RULES: dict[str, Rule] = {
    # --- UI ------------------------------------------------------------------------------------------
    "home": Rule(ALL),
    "login": Rule(ALL),  # logged in: redirects home
    "password_change": Rule(ALL),
    "password_change_done": Rule(ALL),
    "otp-verify": Rule(ALL),
    "agency-settings": Rule(ADMINS),
    "cases:list": Rule(CASE_LIST_ROLES),
    "cases:register": Rule(frozenset({"investigator"})),
    "cases:detail": Rule(POLICE_READERS, _case()),
    # Legal aid (casehub.legalaid): the holder notifies, the bureau assigns, the lawyer reads.
    "legalaid:request": Rule(frozenset({"investigator"}), _case("case_pk"), payload=lambda sc: {
        "person": sc.person.pk, "kind": "duty_lawyer", "ground": "no_counsel"}),
    "legalaid:inbox": Rule(frozenset({"legal_aid_officer", "lawyer"})),
    "legalaid:detail": Rule(frozenset({"legal_aid_officer"}), lambda sc: {"pk": sc.legal_aid.pk},
                            may_see_case=frozenset({"legal_aid_officer"})),
    "legalaid:counsel": Rule(frozenset({"lawyer"}), lambda sc: {"pk": sc.legal_aid.pk},
                             may_see_case=frozenset({"lawyer"})),
    "legalaid:counsel_document": Rule(frozenset({"lawyer"}), lambda sc: {"pk": sc.legal_aid.pk,
                                                                          "doc_pk": sc.counsel_document.pk},
                                      may_see_case=frozenset({"lawyer"})),
    "cases:person_add": Rule(frozenset({"investigator"}), _case(), payload=lambda sc: NEW_PERSON),
    "dossier:case": Rule(POLICE_READERS, _case("case_pk")),
    "dossier:jobs": Rule(POLICE_READERS, _case("case_pk")),
    "dossier:clear_jobs": Rule(POLICE_READERS, _case("case_pk"), get=False),
    "dossier:upload": Rule(frozenset({"investigator"}), _case("case_pk"), get=False),
    "dossier:chunked_start": Rule(frozenset({"investigator"}), _case("case_pk"), get=False),
    "dossier:assemble": Rule(frozenset({"investigator"}), _case("case_pk"), get=False),
    "dossier:retry_job": Rule(frozenset({"investigator"}), lambda sc: {"kind": "ingest", "pk": _ingest_job(sc).pk}, get=False),
    "dossier:chunk": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.chunked.pk}),
    "dossier:chunk_complete": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.chunked.pk}, get=False),
    "dossier:reorder": Rule(frozenset({"investigator"}), lambda sc: {"volume_pk": sc.volume.pk}, get=False,
                            payload=lambda sc: {"order": [sc.document.pk]}),
    "dossier:document": Rule(POLICE_READERS, lambda sc: {"pk": sc.document.pk}),
    # Changing or withdrawing a draft document: its agency's uploaders only, while it is a draft.
    "dossier:document_edit": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.document.pk},
                                  payload=lambda sc: {"title": "越权改名", "category": "other"}),
    "dossier:document_withdraw": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.document.pk}, get=False,
                                      payload=lambda sc: {"reason": "越权撤回"}),
    "dossier:document_file": Rule(POLICE_READERS, lambda sc: {"pk": sc.document.pk}),
    "dossier:volume": Rule(POLICE_READERS, lambda sc: {"pk": sc.volume.pk}),
    # An assembled volume of the sent case: the sender reads it; the receiver only after acceptance.
    "dossier:volume_file": Rule(POLICE_READERS, lambda sc: {"pk": sc.sent_volume.pk}),
    "transfers:inbox": Rule(ALL, may_see_case=SENDER_AND_RECEIVER),
    "transfers:process": Rule(ALL),  # the process definition: no case data
    "transfers:paper_register": Rule(frozenset({"investigator", "prosecutor", "court_clerk"})),
    "transfers:fire": Rule(frozenset({"investigator"}),
                           lambda sc: {"case_pk": sc.case.pk, "transition_name": "transfer_for_review"},
                           payload=lambda sc: {**REVIEW_INPUTS, "version": sc.case.version}),
    "transfers:detail": Rule(SENDER_AND_RECEIVER, lambda sc: {"pk": sc.transfer.pk}, may_see_case=SENDER_AND_RECEIVER),
    "transfers:verification": Rule(SENDER_AND_RECEIVER, lambda sc: {"pk": sc.transfer.pk},
                                   may_see_case=SENDER_AND_RECEIVER),
    "transfers:reverify": Rule(frozenset({"prosecutor"}), lambda sc: {"pk": sc.transfer.pk}, get=False,
                               may_see_case=SENDER_AND_RECEIVER),
    # The signed manifest's exact bytes carry full ID numbers: roles with view_person_id only.
    "transfers:download": Rule(ID_READERS & SENDER_AND_RECEIVER,
                               lambda sc: {"pk": sc.transfer.pk, "name": "manifest.json"},
                               may_see_case=SENDER_AND_RECEIVER),
    "transfers:approval": Rule(frozenset({"investigator", "police_supervisor"}), lambda sc: {"pk": sc.approval.pk}),
    # Separate handling / joining (issue #15): the holder's roles that prepare cases only.
    "transfers:split": Rule(frozenset({"investigator"}), _case("case_pk"),
                            payload=lambda sc: {"persons": [sc.person.pk], "reason": "越权分案"}),
    "transfers:join": Rule(frozenset({"investigator"}), _case("case_pk"),
                           payload=lambda sc: {"other": sc.sent_case.pk, "reason": "越权并案"}),
    "dossier:document_concerns": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.document.pk}, get=False,
                                      payload=lambda sc: {"persons": [sc.person.pk]}),
    # The draft of the documents a transition generates: who may fire it (from the typed inputs),
    # and for a pending approval the officer who asked and the supervisor who decides.
    "transfers:fire_preview": Rule(frozenset({"investigator"}),
                                   lambda sc: {"case_pk": sc.case.pk, "transition_name": "transfer_for_review"},
                                   get=False, payload=lambda sc: {**REVIEW_INPUTS, "version": sc.case.version}),
    # The judge's decision per defendant, on the case the court holds at trial.
    "transfers:judgment": Rule(frozenset({"court_clerk", "judge"}), lambda sc: {"case_pk": sc.trial_case.pk},
                               may_see_case=TRIAL_READERS),
    # Serving the judgment on persons (送达回证): the court that holds or decided the case.
    "transfers:service": Rule(frozenset({"court_clerk", "judge"}), lambda sc: {"case_pk": sc.trial_case.pk},
                              may_see_case=TRIAL_READERS),
    "transfers:approval_preview": Rule(frozenset({"investigator", "police_supervisor"}),
                                       lambda sc: {"pk": sc.pending_approval.pk}),
    "clocks:list": Rule(CLOCK_ROLES),
    # --- custody 换押: the sent case's detained suspect, certificate police → procuratorate ------------
    "custody:inbox": Rule(DETENTION, may_see_case=DETENTION),
    "custody:detainees": Rule(DETENTION, may_see_case=DETENTION),
    "custody:detainee": Rule(DETENTION, lambda sc: {"pk": sc.custody_record.pk}, may_see_case=DETENTION),
    # Signed PDFs with the person's full ID number: the reader without view_person_id (the
    # supervisors) is refused (casehub.cases.identity). Who sees a certificate is one rule for the
    # pages and the API (casehub.custody.doors): the sender, the receiver it is addressed to, the centre.
    "custody:pdf": Rule((SENDER_AND_RECEIVER | DETENTION) & ID_READERS,
                        lambda sc: {"kind": "certificate", "pk": sc.certificate.pk},
                        may_see_case=SENDER_AND_RECEIVER | DETENTION),
    "custody:pdf_part": Rule((SENDER_AND_RECEIVER | DETENTION) & ID_READERS,
                             lambda sc: {"kind": "certificate", "pk": sc.certificate.pk, "part": "main"},
                             may_see_case=SENDER_AND_RECEIVER | DETENTION),
    "custody:acknowledge": Rule(DETENTION, lambda sc: {"kind": "certificate", "pk": sc.certificate.pk},
                                get=False, may_see_case=DETENTION),
    # The centre hands a convict over for execution outside prison (SPC Interpretation art. 515); the
    # engine's guard then says whether there is anyone to hand over.
    "custody:hand_over_outside_prison": Rule(DETENTION, lambda sc: {"pk": sc.custody_record.pk}, get=False,
                                             may_see_case=DETENTION),
    "custody:case": Rule(POLICE_READERS, _case("case_id"), payload=_register_custody),
    # One suspect's custody terms (extension request/forward/decide, recount, assessment; issue #15):
    # whoever sees the case reads it; each form only for the agency and role the law names (403).
    "custody:terms": Rule(POLICE_READERS, lambda sc: {"case_id": sc.case.pk, "person_id": sc.person.pk},
                          payload=lambda sc: {"action": "assessment_start", "reason": "越权登记鉴定"}),
    # --- pki ----------------------------------------------------------------------------------------
    "pki:certificates": Rule(ADMINS | AUDITORS),
    "pki:trust-bundle": Rule(ALL, static=True),  # public certificates and CRLs
    # The CRL at the URL every agency certificate names: public (validators fetch it anonymously).
    "pki:crl": Rule(ALL, static=True, names_object=False, kwargs=lambda sc: {"fingerprint": _current_root_fingerprint()}),
    "pki:verify": Rule(frozenset(set(CASE_LIST_ROLES) | {"detention_officer", "auditor"})),
    # --- metrics (aggregates for the committee) ---------------------------------------------------
    "metrics:dashboard": Rule(AUDITORS),
    "metrics:drilldown": Rule(AUDITORS, query="metric=online&part=den"),
    "metrics:chart": Rule(AUDITORS, lambda sc: {"name": "rates_over_time"}, names_object=False),
    "metrics:export": Rule(AUDITORS, lambda sc: {"key": "all", "fmt": "xlsx"}, names_object=False),
    "clocks:case": Rule(POLICE_READERS, _case("case_id")),
    "audit:list": Rule(AUDITORS),
    "audit:export": Rule(AUDITORS, lambda sc: {"fmt": "csv"}, names_object=False),
    "audit:verify": Rule(AUDITORS, get=False),
    "objectstore:sweeps": Rule(AUDITORS),
    "notifications:list": Rule(ALL),
    "notifications:read": Rule(ALL, get=False),
    # Opening one's own notification (marks it read, then follows it); anyone else's is a 404.
    "notifications:open": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.notification.pk},
                               may_see_case=frozenset({"investigator"})),
    # --- API /api/v1/ ------------------------------------------------------------------------------
    "api:schema": Rule(ALL, static=True),  # generated OpenAPI document (~1 s per request)
    "api:docs": Rule(ALL),
    "api:me": Rule(ALL),
    "api:agency-list": Rule(ALL),  # the agency directory is reference data every agency addresses
    "api:agency-detail": Rule(ALL, lambda sc: {"pk": sc.district.police.pk}),
    "api:offence-list": Rule(ALL),
    "api:case-list": Rule(ALL),
    "api:case-detail": Rule(POLICE_READERS, _case(), payload=lambda sc: {"title": "越权修改的标题"}),
    "api:case-person-list": Rule(POLICE_READERS, _case("case_pk"), payload=lambda sc: NEW_PERSON),
    "api:case-person-detail": Rule(POLICE_READERS, lambda sc: {"case_pk": sc.case.pk, "pk": sc.person.pk},
                                   payload=lambda sc: {"name": "越权改名"}),
    "api:audit-event-list": Rule(AUDITORS),
    "api:audit-event-detail": Rule(AUDITORS, lambda sc: {"sequence": sc.case_event.sequence}),
    "api:audit-verification-list": Rule(AUDITORS, get=False),
    "api:task-detail": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.api_task.pk}),
    "api:task-retry": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.api_task.pk}, get=False),
    "api:token-list": Rule(ALL),
    "api:token-detail": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.personal_token.pk}, get=False),
    "api:client-list": Rule(ADMINS),
    "api:client-detail": Rule(ADMINS, lambda sc: {"pk": sc.client.pk}, get=False),
    "api:case-actions": Rule(POLICE_READERS, _case("case_pk")),
    # One generated endpoint per workflow transition (POST); the holder's investigator may call them
    # (the engine then refuses transitions that do not start from the case's stage).
    "api:case-action-*": Rule(frozenset({"investigator"}), _case("case_pk"), get=False,
                              payload=lambda sc: REVIEW_INPUTS),
    "api:approval-list": Rule(ALL),  # own agency's approvals: A's are decided, and the list shows pending ones
    "api:approval-detail": Rule(frozenset({"investigator", "police_supervisor"}), lambda sc: {"pk": sc.approval.pk}),
    "api:approval-cancel": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.approval.pk}, get=False),
    "api:approval-decide": Rule(frozenset({"police_supervisor"}), lambda sc: {"pk": sc.approval.pk}, get=False,
                                payload=lambda sc: {"approve": True, "comment": "越权批准"}),
    "api:transfer-list": Rule(ALL, may_see_case=SENDER_AND_RECEIVER),
    "api:metrics": Rule(AUDITORS),
    "api:custody-detainee-list": Rule(DETENTION, may_see_case=DETENTION),
    "api:custody-detainee-detail": Rule(DETENTION, lambda sc: {"pk": sc.custody_record.pk}, may_see_case=DETENTION),
    "api:custody-certificate-list": Rule(ALL),
    # The receiving procuratorate sees the certificate it is to take over (as on the pages).
    "api:custody-certificate-detail": Rule(SENDER_AND_RECEIVER | DETENTION, lambda sc: {"pk": sc.certificate.pk},
                                           may_see_case=SENDER_AND_RECEIVER | DETENTION),
    "api:custody-certificate-acknowledge": Rule(DETENTION, lambda sc: {"pk": sc.certificate.pk}, get=False,
                                                may_see_case=DETENTION),
    "api:custody-notice-list": Rule(ALL),
    # Custody-term extensions (issue #15): the police that asked, the procuratorate that received it
    # (and the one that decides, once forwarded); each step only for the agency the law names.
    "api:custody-extension-list": Rule(ALL),
    "api:custody-extension-detail": Rule(SENDER_AND_RECEIVER, lambda sc: {"pk": sc.extension.pk},
                                         may_see_case=SENDER_AND_RECEIVER),
    "api:custody-extension-forward": Rule(frozenset({"prosecutor"}), lambda sc: {"pk": sc.extension.pk}, get=False,
                                          may_see_case=SENDER_AND_RECEIVER,
                                          payload=lambda sc: {"opinion": "越权报送"}),
    "api:custody-extension-decide": Rule(frozenset({"prosecutor"}), lambda sc: {"pk": sc.extension.pk}, get=False,
                                         may_see_case=SENDER_AND_RECEIVER,
                                         payload=lambda sc: {"approve": True, "reason": "越权决定"}),
    "api:case-person-custody-terms": Rule(frozenset({"investigator"}),
                                          lambda sc: {"case_pk": sc.case.pk, "person_pk": sc.person.pk}, get=False,
                                          payload=lambda sc: {"action": "assessment_start", "reason": "越权登记鉴定"}),
    "api:custody-notice-detail": Rule(POLICE_READERS | DETENTION, lambda sc: {"pk": sc.notice.pk},
                                      may_see_case=POLICE_READERS | DETENTION),
    "api:custody-notice-acknowledge": Rule(DETENTION, lambda sc: {"pk": sc.notice.pk}, get=False,
                                           may_see_case=DETENTION),
    "api:case-custody-list": Rule(POLICE_READERS, lambda sc: {"case_pk": sc.sent_case.pk},
                                  may_see_case=SENDER_AND_RECEIVER),
    "api:case-custody-notices": Rule(frozenset({"investigator"}),  # issue a notice (POST)
                                     lambda sc: {"case_pk": sc.sent_case.pk, "pk": sc.custody_record.pk},
                                     get=False, may_see_case=SENDER_AND_RECEIVER, payload=_notice),
    "api:case-document-list": Rule(POLICE_READERS, _case("case_pk")),
    "api:case-document-start-upload": Rule(frozenset({"investigator"}), _case("case_pk"), get=False),
    "api:case-volume-list": Rule(POLICE_READERS, _case("case_pk")),
    "api:case-volume-assemble": Rule(frozenset({"investigator"}), _case("case_pk"), get=False),
    "api:document-detail": Rule(POLICE_READERS, lambda sc: {"pk": sc.document.pk},
                                payload=lambda sc: {"title": "越权改名"}),
    "api:document-file": Rule(POLICE_READERS, lambda sc: {"pk": sc.document.pk}),
    "api:document-concerns": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.document.pk}, get=False,
                                  payload=lambda sc: {"persons": [sc.person.pk]}),
    "api:case-split": Rule(frozenset({"investigator"}), _case("case_pk"), get=False,
                           payload=lambda sc: {"persons": [sc.person.pk], "reason": "越权分案"}),
    "api:case-join": Rule(frozenset({"investigator"}), _case("case_pk"), get=False,
                          payload=lambda sc: {"other": sc.sent_case.pk, "reason": "越权并案"}),
    "api:document-link": Rule(POLICE_READERS, lambda sc: {"pk": sc.document.pk}),
    "api:document-versions": Rule(POLICE_READERS, lambda sc: {"pk": sc.document.pk}),
    "api:upload-detail": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.chunked.pk}),
    "api:upload-complete": Rule(frozenset({"investigator"}), lambda sc: {"pk": sc.chunked.pk}, get=False),
    "api:volume-detail": Rule(POLICE_READERS, lambda sc: {"pk": sc.sent_volume.pk},
                              may_see_case=SENDER_AND_RECEIVER),
    "api:volume-file": Rule(POLICE_READERS, lambda sc: {"pk": sc.sent_volume.pk},
                            may_see_case=SENDER_AND_RECEIVER),
    "api:volume-link": Rule(POLICE_READERS, lambda sc: {"pk": sc.sent_volume.pk},
                            may_see_case=SENDER_AND_RECEIVER),
    "api:case-clock-list": Rule(POLICE_READERS, _case("case_pk")),
    "api:clock-list": Rule(ALL),
    "api:notification-list": Rule(ALL),
    "api:notification-read": Rule(ALL, get=False),
    "api:transfer-paper": Rule(frozenset({"investigator", "prosecutor", "court_clerk"}), get=False),
    "api:transfer-detail": Rule(SENDER_AND_RECEIVER, lambda sc: {"pk": sc.transfer.pk},
                                may_see_case=SENDER_AND_RECEIVER),
    "api:transfer-manifest": Rule(SENDER_AND_RECEIVER & ID_READERS, lambda sc: {"pk": sc.transfer.pk},
                                  may_see_case=SENDER_AND_RECEIVER),
    "api:transfer-receipt": Rule(SENDER_AND_RECEIVER, lambda sc: {"pk": sc.accepted_transfer.pk},
                                 may_see_case=SENDER_AND_RECEIVER),
    # Integration: the feed is the caller's own agency's; webhook endpoints are an agency's objects,
    # managed by its administrator (or the system client that registered them).
    "api:events": Rule(FEED_ROLES),
    "api:webhook-list": Rule(ADMINS),
    "api:webhook-detail": Rule(ADMINS, lambda sc: {"pk": sc.webhook.pk}, may_see_case=frozenset()),
    "api:webhook-deliveries": Rule(ADMINS, lambda sc: {"pk": sc.webhook.pk}, may_see_case=frozenset()),
    "api:webhook-rotate-secret": Rule(ADMINS, lambda sc: {"pk": sc.webhook.pk}, get=False,
                                      may_see_case=frozenset()),
    "api:webhook-replay": Rule(ADMINS, lambda sc: {"pk": sc.webhook.pk, "delivery_pk": sc.webhook_delivery.pk},
                               get=False, may_see_case=frozenset()),
    "api:case-package-submit": Rule(frozenset({"investigator"}), _case("case_pk"), get=False),
    "api:transfer-archive": Rule(POLICE_READERS - {"police_supervisor"}, lambda sc: {"pk": sc.transfer.pk},
                                 may_see_case=SENDER_AND_RECEIVER),
    "api:transfer-verify": Rule(frozenset({"prosecutor"}), lambda sc: {"pk": sc.transfer.pk}, get=False,
                                may_see_case=SENDER_AND_RECEIVER),
}


def rule_for(name: str | None) -> Rule | None:
    if name in RULES:
        return RULES[name]
    for key, rule in RULES.items():
        if key.endswith("*") and name and name.startswith(key[:-1]):
            return rule
    return None

# Reviewed exceptions: endpoints this test does not drive, and why. Each is covered elsewhere.
EXEMPT: dict[str, str] = {
    "set_language": "language switch, no data (POST only; CSRF covered by test_csrf.py)",
    "logout": "ends the caller's own session (test_http_controls.py)",
    "objectstore:download": "bearer capability: a signed, expiring token naming one object, issued only "
                            "after a permission check (test_download_links.py: forged, altered, expired)",
}
# The API's catch-all (answers the JSON 404 for unknown API paths) has no name: it is recognised by
# matching an arbitrary path, so that any other unnamed pattern still fails the test.
CATCH_ALL_PROBE = "no-such-endpoint/9f8e7d/x.y"


def _is_api_catch_all(ep: Endpoint) -> bool:
    import re

    if ep.name is not None or not ep.route.startswith("api/v1/"):
        return False
    regex = ep.route.removeprefix("api/v1/")
    return re.fullmatch(regex.removeprefix("^").removesuffix("$"), CATCH_ALL_PROBE) is not None
ADMIN_PREFIX = "admin/"  # the Django admin: test_admin_scoping.py

DENIED = {403, 404}
API_WRITE_METHODS = ("post", "put", "patch", "delete")


def _covered(ep: Endpoint) -> bool:
    return ep.route.startswith(ADMIN_PREFIX) or ep.label in EXEMPT or _is_api_catch_all(ep)


def test_every_endpoint_has_a_rule():
    missing = sorted({ep.label for ep in endpoints() if not _covered(ep) and rule_for(ep.name) is None})
    assert not missing, f"endpoints without a cross-agency rule (add one to RULES or a reviewed EXEMPT): {missing}"
    names = {ep.name for ep in endpoints() if ep.name}
    stale = sorted(k for k in RULES if not (k in names or (k.endswith("*") and any(n.startswith(k[:-1]) for n in names))))
    assert not stale, f"rules for endpoints that no longer exist: {stale}"


def _url(ep: Endpoint, sc: Any) -> str:
    from django.urls import reverse

    rule = rule_for(ep.name)
    kwargs = rule.kwargs(sc) if rule.kwargs else {}
    unfilled = set(ep.params) - set(kwargs) - {"format"}
    assert not unfilled, f"{ep.label}: the rule does not fill {sorted(unfilled)}"
    url = reverse(ep.name, kwargs=kwargs)
    return f"{url}?{rule.query}" if rule.query else url


# Who may see the particulars of each of district A's cases anywhere (pages, lists, inboxes, API).
SEES_POLICE_CASE = POLICE_READERS | AUDITORS
LEGAL_AID_SIDE = frozenset({"legal_aid_officer", "lawyer"})
SEES_SENT_CASES = POLICE_READERS | frozenset({"prosecutor", "procuratorate_supervisor", "detention_officer"}) | AUDITORS


def _leaks(response, sc: Any, side: str = "X", key: str = "") -> list[str]:
    """Particulars of A's cases in the body that this user may not see anywhere."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", errors="replace")
    hidden = []
    if not (side == "A" and key in SEES_POLICE_CASE):
        hidden += sc.secrets
    if not (side == "A" and key in SEES_SENT_CASES):
        # The bureau and the lawyer it assigned see the title of the case with the legal-aid notice.
        seen = sc.extra.get("legal_aid_visible", []) if side == "A" and key in LEGAL_AID_SIDE else []
        hidden += [s for s in sc.shared_secrets if s not in seen]
    return [s for s in hidden if s in text]


def _request(client: Client, method: str, url: str, data: dict[str, Any] | None = None):
    if method == "get":
        return client.get(url)
    if "/api/" in url or method != "post":
        import json

        return getattr(client, method)(url, data=json.dumps(data or {}), content_type="application/json")
    return client.post(url, data=data or {})  # a form post, as the browser sends it


def _state(sc: Any) -> tuple:
    """Everything a wrongly allowed POST could change."""
    from casehub.audit.models import AuditEvent

    rows = []
    for obj in (sc.case, sc.extra.get("sent_case"), sc.extra.get("transfer"), sc.extra.get("approval"),
                sc.extra.get("document"), sc.extra.get("personal_token"), sc.extra.get("client")):
        if obj is not None:
            fresh = type(obj).objects.filter(pk=obj.pk).values().first()
            fresh.pop("updated_at", None)
            rows.append(fresh)
    reads = ("viewed", "downloaded", "exported", "denied", "refused", "failed", "link_issued")
    actions = AuditEvent.objects.values_list("action", flat=True)
    return repr(rows), sorted(a for a in actions if not a.endswith(reads))


# The walk below is split into groups of endpoints, one test each, so that the two xdist workers
# share it (as one test it ran ~450 s on CI); every group runs against the same world (the module
# builds it once: tests/security/conftest.py). Groups follow the URL conf's parts; a part with many
# endpoints is cut into pieces of at most GROUP_SIZE. Every endpoint is in exactly one group.
GROUP_SIZE = 15


def _area(ep: Endpoint) -> str:
    route = ep.route
    if route.startswith("api/"):
        if "/actions/" in route:
            return "api-case-actions"
        resource = route.removeprefix("api/v1/").lstrip("^").split("/")[0]
        return "api-cases" if resource == "cases" else "api-other"
    first = route.split("/")[0]
    if first in ("transfers", "custody"):
        return "ui-transfers-custody"
    if first in ("cases", "dossier", "legalaid"):
        return "ui-cases-dossier-legalaid"
    return "ui-other"


def endpoint_groups() -> dict[str, list[Endpoint]]:
    """Every endpoint the walk covers, by group (``api-other-1``, ``api-other-2``, ...)."""
    areas: dict[str, list[Endpoint]] = {}
    for ep in sorted((ep for ep in endpoints() if not _covered(ep)), key=lambda ep: ep.label):
        areas.setdefault(_area(ep), []).append(ep)
    groups: dict[str, list[Endpoint]] = {}
    for area, members in sorted(areas.items()):
        pieces = -(-len(members) // GROUP_SIZE)
        size = -(-len(members) // pieces)
        for i in range(pieces):
            groups[area if pieces == 1 else f"{area}-{i + 1}"] = members[i * size:(i + 1) * size]
    return groups


GROUPS = sorted(endpoint_groups())  # at collection: one test per group


def test_the_groups_cover_every_endpoint_once():
    groups = endpoint_groups()
    assert sorted(groups) == GROUPS, "the URL conf changed between collection and the run"
    walked = [ep.label for members in groups.values() for ep in members]
    assert sorted(walked) == sorted(ep.label for ep in endpoints() if not _covered(ep))
    assert len(walked) == len(set(walked)) >= 10, "the URL walk found almost nothing: is the URL conf loading?"


@pytest.mark.parametrize("group", GROUPS)
def test_no_endpoint_leaks_district_a_to_anyone_without_the_right(sc, other_district, group):
    d = sc.district
    failures: list[str] = []
    positive: dict[str, bool] = {}
    users: list[tuple[str, str, Any]] = [("A", key, user) for key, user in d.users.items()]
    users += [("X", key, user) for key, user in other_district.users.items()]
    targets = endpoint_groups()[group]
    assert targets, f"no endpoint in the group {group}"
    clients: dict[str, Client] = {}
    for side, key, user in users:
        client = Client(raise_request_exception=False)  # a crash is a finding, reported with the rest
        client.force_login(user)
        clients[f"{side}:{key}"] = client

    before = _state(sc)
    for ep in targets:
        rule = rule_for(ep.name)
        url = _url(ep, sc)
        is_api = ep.route.startswith("api/")
        for side, key, _user in users:
            if rule.static and key != "investigator":
                continue
            client = clients[f"{side}:{key}"]
            who = f"{side}:{key}"
            if rule.allowed == ALL:
                has_right = True  # own data or shared reference data: only the leak check applies
            elif rule.names_object:
                has_right = side == "A" and key in rule.allowed  # A's object: nobody in X
            else:
                has_right = key in rule.allowed  # a page of one's own agency: same role, either district
            response = _request(client, "get", url)
            status = response.status_code
            if status >= 500:
                failures.append(f"{who} GET {url} -> {status} (server error)")
            if has_right:
                ok = status < 400 or (not rule.get and status == 405)
                positive[ep.label] = positive.get(ep.label, False) or ok
                if not ok and rule.allowed != ALL:
                    failures.append(f"{who} GET {url} -> {status} (has the right: expected success)")
            elif not (status in DENIED or (not rule.get and status == 405)):
                failures.append(f"{who} GET {url} -> {status} (expected 403/404)")
            if status < 500:
                leaked = _leaks(response, sc, side, key)
                if leaked:
                    failures.append(f"{who} GET {url} -> {status} shows {leaked}")
            if not has_right:
                # Every denied user POSTs; API detail endpoints also get PUT, PATCH and DELETE.
                methods = API_WRITE_METHODS if is_api and ep.name.endswith("-detail") else ("post",)
                sees = side == "A" and key in rule.may_see_case
                data = rule.payload(sc) if rule.payload else None
                for method in methods:
                    r = _request(client, method, url, data)
                    if sees and (r.status_code >= 400 or r.status_code == 302):
                        pass  # can see the object; a refused action may say why (state is checked below)
                    elif r.status_code not in DENIED | {405}:
                        failures.append(f"{who} {method.upper()} {url} -> {r.status_code} (expected 403/404/405)")
                    elif _leaks(r, sc, side, key):
                        failures.append(f"{who} {method.upper()} {url} shows {_leaks(r, sc, side, key)}")
    after = _state(sc)
    if after != before:
        from collections import Counter

        new_events = Counter(after[1]) - Counter(before[1])
        failures.append(f"state changed by requests without the right: rows equal={after[0] == before[0]}, "
                        f"new audit actions={dict(new_events)}")
    not_exercised = sorted(label for label, ok in positive.items() if not ok)
    if not_exercised:
        failures.append(f"no user with the right got a successful answer (rule or URL wrong?): {not_exercised}")
    assert not failures, "\n".join(failures)


# Object-level writes whose payload the positive control sends as the user with the right, in this
# order (firing the transfer last: it moves the case on).
WRITE_CONTROLS = ("cases:person_add", "legalaid:request", "api:case-person-list", "custody:case", "api:case-custody-notices",
                  "transfers:fire")


def test_write_payloads_are_valid_for_the_user_with_the_right(sc):
    """Positive control for the writes above: each payload, sent by the investigator (who has the
    right), is carried out — a 2xx or redirect and a new audit event — so the denied users'
    refusals came from the permission check, not from a malformed body."""
    from casehub.audit.models import AuditEvent

    client = Client(raise_request_exception=False)
    client.force_login(sc.district.investigator)
    by_name = {ep.name: ep for ep in endpoints()}
    failures = []
    for name in WRITE_CONTROLS:
        rule = RULES[name]
        before = AuditEvent.objects.count()
        url = _url(by_name[name], sc)
        response = _request(client, "post", url, rule.payload(sc))
        if response.status_code >= 400 or AuditEvent.objects.count() == before:
            failures.append(f"{name}: POST {url} -> {response.status_code}, audit events "
                            f"{before} -> {AuditEvent.objects.count()}: {response.content[:300]!r}")
    assert not failures, "\n".join(failures)


def test_case_list_shows_the_case_to_its_holder_only(sc, other_district):
    """Positive control for the leak check: the marker *is* visible where it should be."""
    from django.urls import reverse

    client = Client()
    client.force_login(sc.district.investigator)
    assert sc.case.title in client.get(reverse("cases:list")).content.decode()
    client.force_login(other_district.investigator)
    assert sc.case.title not in client.get(reverse("cases:list")).content.decode()


# The only pages an anonymous visitor may open (reviewed): the login page, and the API's OpenAPI
# description and its docs page (SERVE_PERMISSIONS AllowAny: integrators read it before they hold a
# token; it describes endpoints, never data — the leak check below still applies to it), and the
# CRL that certificates name as their distribution point (serial numbers and times only).
PUBLIC = {"login", "api:schema", "api:docs", "pki:crl"}


def test_anonymous_visitors_get_nothing(sc):
    """Every endpoint, no session: a redirect to the login page (UI) or 401/403 (API), never data."""
    failures = []
    client = Client(raise_request_exception=False)
    for ep in endpoints():
        if _covered(ep):
            continue
        url = _url(ep, sc)
        response = client.get(url)
        if ep.name in PUBLIC:
            if _leaks(response, sc):
                failures.append(f"anonymous GET {url} shows {_leaks(response, sc)}")
            continue
        status = response.status_code
        if ep.route.startswith("api/"):
            ok = status in (401, 403) or (status == 405 and not rule_for(ep.name).get)
        else:
            ok = (status == 302 and "/login/" in response["Location"]) or status in (403, 405)
        if not ok:
            failures.append(f"anonymous GET {url} -> {status}")
        elif _leaks(response, sc):
            failures.append(f"anonymous GET {url} shows {_leaks(response, sc)}")
    assert not failures, "\n".join(failures)


def _a_object(model, sc):
    """An instance of ``model`` that belongs to district A (None if the scenario has none)."""
    label = model._meta.label
    d = sc.district
    owners = {
        "agencies.User": lambda: d.investigator,
        "agencies.Agency": lambda: d.police,
        "auth.Group": lambda: d.police.group,
        "custody.CustodyRecord": lambda: sc.custody_record,
        "custody.CustodyCertificate": lambda: sc.certificate,
        "custody.CustodyNotice": lambda: sc.notice,
    }
    if label in owners:
        return owners[label]()
    if any(f.name == "case" for f in model._meta.get_fields()):
        return model._default_manager.filter(case__in=[sc.case, sc.sent_case]).first()
    if any(f.name == "user" for f in model._meta.get_fields()):
        return model._default_manager.filter(user__agency__in=[d.police, d.procuratorate]).first()
    return None


def test_the_django_admin_shows_another_district_nothing(sc, other_district):
    """X's agency administrator (staff, for managing X's users) opens every admin list and the
    change page of every object of district A that the admin registers: never A's object, never
    A's case particulars. Non-staff users of X never get past the admin login."""
    from django.contrib import admin

    failures = []
    admin_client = Client(raise_request_exception=False)
    admin_client.force_login(other_district.police_admin)
    clerk = Client(raise_request_exception=False)
    clerk.force_login(other_district.investigator)
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls = [reverse_admin(f"admin:{info[0]}_{info[1]}_changelist")]
        obj = _a_object(model, sc)
        if obj is not None:
            urls += [reverse_admin(f"admin:{info[0]}_{info[1]}_change", obj.pk),
                     reverse_admin(f"admin:{info[0]}_{info[1]}_history", obj.pk)]
        for url in urls:
            response = admin_client.get(url)
            if obj is not None and url != urls[0] and response.status_code == 200:
                failures.append(f"X admin GET {url} -> 200 (an object of district A)")
            if _leaks(response, sc):
                failures.append(f"X admin GET {url} shows {_leaks(response, sc)}")
            response = clerk.get(url)
            if response.status_code != 302 or "/admin/login/" not in response["Location"]:
                failures.append(f"X investigator GET {url} -> {response.status_code}")
    # Positive control: the same URLs do open for district A's own administrator.
    own = Client()
    own.force_login(sc.district.police_admin)
    assert own.get(reverse_admin("admin:agencies_user_change", sc.district.investigator.pk)).status_code == 200
    assert not failures, "\n".join(failures)


def reverse_admin(name: str, *args) -> str:
    from django.urls import reverse

    return reverse(name, args=args)


def _reaches_a_case(model, depth: int = 0) -> bool:
    """Whether rows of ``model`` belong to a case or a person (directly or one relation away)."""
    case_models = {"cases.Case", "cases.Person"}
    for f in model._meta.get_fields():
        target = getattr(f, "related_model", None)
        if target is None or not (f.many_to_one or f.one_to_one) or not f.concrete:
            continue
        if target._meta.label in case_models or (depth == 0 and _reaches_a_case(target, 1)):
            return True
    return False


def test_the_platform_superuser_sees_no_case_in_the_django_admin(sc, django_user_model):
    """"Superusers see no cases" (THREAT_MODEL actors; issue #18 item 14, F18.14): the admin
    registers no model whose rows belong to a case or a person (custody records, certificates,
    notices, clocks, notifications were registered), and no admin page shows the superuser a
    case particular or an ID number of district A."""
    from django.contrib import admin

    registered_case_data = sorted(m._meta.label for m in admin.site._registry if _reaches_a_case(m))
    assert not registered_case_data, f"case data in the Django admin: {registered_case_data}"
    root = django_user_model.objects.create_superuser("platform-root", password="x" * 20)
    client = Client(raise_request_exception=False)
    client.force_login(root)
    hidden = sc.secrets + sc.shared_secrets + [sc.person.id_number]
    failures = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        response = client.get(reverse_admin(f"admin:{info[0]}_{info[1]}_changelist"))
        if response.status_code != 200:
            failures.append(f"{info}: changelist -> {response.status_code} (positive control)")
        text = response.content.decode()
        failures += [f"{info}: changelist shows {s!r}" for s in hidden if s in text]
    assert client.get("/admin/").status_code == 200
    assert not failures, "\n".join(failures)


def test_the_other_district_lies_in_its_own_region(district, other_district):
    """Issue #18 item 17 (F18.17): region-scoped roles (the committee's auditor, regional metrics)
    are separated by the cross-district tests only if the second district is another region."""
    def regions(d):
        return {a.region for a in (d.police, d.procuratorate, d.court, d.detention, d.committee)}

    assert len(regions(district)) == len(regions(other_district)) == 1
    assert regions(district).isdisjoint(regions(other_district))
