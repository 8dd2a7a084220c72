"""Every action the audit trail may record, declared in one place.

An auditor filters and reads the trail by action code, and ``verify_audit`` and the metrics read
some codes back (``clock.stopped``): a misspelt or ad-hoc code would be an event nobody finds.
:func:`casehub.audit.services.record_event` therefore accepts only a declared code — a member of
:class:`AuditAction`, or one that an app declared with :func:`declare` at start-up (the workflow
engine declares ``workflow.<transition>`` for every transition of its definition). Outside
production an undeclared code raises :class:`UndeclaredAuditAction`, so the tests of the code that
records it fail; in production the event is still recorded (the trail must not lose an action over
a name) and the error is logged.

``tests/audit/test_actions.py`` also reads the source: every literal code passed to
``record_event`` (or to the small wrappers that pass one through) must be declared here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class AuditAction(StrEnum):
    # sign-in and second factor
    AUTH_LOGIN = "auth.login"
    AUTH_LOGOUT = "auth.logout"
    AUTH_LOGIN_FAILED = "auth.login_failed"
    AUTH_LOCKED_OUT = "auth.locked_out"
    AUTH_SECOND_FACTOR_VERIFIED = "auth.second_factor_verified"
    AUTH_SECOND_FACTOR_FAILED = "auth.second_factor_failed"
    # permissions (recorded by casehub.audit.handlers from Django/guardian signals)
    PERMISSION_GRANTED = "permission.granted"
    PERMISSION_REVOKED = "permission.revoked"
    PERMISSION_GROUPS_CHANGED = "permission.groups_changed"
    PERMISSION_USER_PERMISSIONS_CHANGED = "permission.user_permissions_changed"
    PERMISSION_GROUP_PERMISSIONS_CHANGED = "permission.group_permissions_changed"
    # agencies, users, API credentials
    AGENCY_CREATED = "agency.created"
    AGENCY_CHANGED = "agency.changed"
    AGENCY_SETTINGS_CHANGED = "agency.settings_changed"
    USER_CREATED = "user.created"
    USER_CHANGED = "user.changed"
    USER_ROLES_CHANGED = "user.roles_changed"
    USER_ACCOUNT_CHANGED = "user.account_changed"
    USER_SECOND_FACTOR_CHANGED = "user.second_factor_changed"
    API_TOKEN_ISSUED = "api.token_issued"  # noqa: S105 - an action code, not a secret
    API_CLIENT_REGISTERED = "api.client_registered"
    API_CREDENTIAL_REVOKED = "api.credential_revoked"
    WEBHOOK_REGISTERED = "webhook.registered"
    WEBHOOK_CHANGED = "webhook.changed"
    WEBHOOK_DEACTIVATED = "webhook.deactivated"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"  # noqa: S105 - an action code, not a secret
    WEBHOOK_REPLAYED = "webhook.replayed"
    # cases and persons
    CASE_REGISTERED = "case.registered"
    CASE_VIEWED = "case.viewed"
    CASE_PERSONS_VIEWED = "case.persons_viewed"
    CASE_SPLIT = "case.split"  # 分案处理 (workflows.separation)
    CASE_JOINED = "case.joined"  # 并案处理 (workflows.separation)
    PERSON_ADDED = "person.added"
    # dossier
    DOCUMENT_UPLOADED = "document.uploaded"
    DOCUMENT_CONCERNS_CHANGED = "document.concerns_changed"
    DOCUMENT_REJECTED = "document.rejected"
    DOCUMENT_GENERATED = "document.generated"
    DOCUMENT_VIEWED = "document.viewed"
    DOCUMENT_VERSIONS_VIEWED = "document.versions_viewed"
    DOCUMENT_DOWNLOADED = "document.downloaded"
    DOCUMENT_LINK_ISSUED = "document.link_issued"
    DOCUMENT_DOWNLOAD_FAILED = "document.download_failed"
    DOCUMENT_EDITED = "document.edited"
    DOCUMENT_WITHDRAWN = "document.withdrawn"
    INGEST_RETRIED = "ingest.retried"
    ASSEMBLY_RETRIED = "assembly.retried"
    VOLUME_REORDERED = "volume.reordered"
    VOLUME_SEALED = "volume.sealed"
    VOLUME_ASSEMBLED = "volume.assembled"
    VOLUME_VIEWED = "volume.viewed"
    VOLUME_DOWNLOADED = "volume.downloaded"
    VOLUME_LINK_ISSUED = "volume.link_issued"
    VOLUME_DOWNLOAD_FAILED = "volume.download_failed"
    # transfers (packages) — the transitions themselves are workflow.<name>
    TRANSFER_VERIFIED = "transfer.verified"
    TRANSFER_REVERIFY_REQUESTED = "transfer.reverify_requested"
    TRANSFER_PAPER_REGISTERED = "transfer.paper_registered"
    TRANSFER_DOWNLOADED = "transfer.downloaded"
    TRANSFER_VIEWED = "transfer.viewed"
    TRANSFER_MANIFEST_DOWNLOADED = "transfer.manifest_downloaded"
    TRANSFER_RECEIPT_DOWNLOADED = "transfer.receipt_downloaded"
    TRANSFER_ARCHIVE_DOWNLOADED = "transfer.archive_downloaded"
    PACKAGE_SUBMITTED = "package.submitted"  # an agency system's own signed package, taken in
    # the engine's own events besides workflow.<transition>
    WORKFLOW_APPROVAL_REQUESTED = "workflow.approval_requested"
    WORKFLOW_APPROVAL_REJECTED = "workflow.approval_rejected"
    WORKFLOW_APPROVAL_CANCELLED = "workflow.approval_cancelled"
    WORKFLOW_FAILED = "workflow.failed"
    WORKFLOW_PERSON_DECISION = "workflow.person_decision"
    JUDGMENT_DECISION_RECORDED = "judgment.decision_recorded"  # the judge's decision per defendant
    JUDGMENT_SERVED = "judgment.served"  # a judgment or ruling served on a person, with its 送达回证
    WORKFLOW_DOCUMENTS_PREVIEWED = "workflow.documents_previewed"  # a draft of the documents a transition generates
    # custody
    CUSTODY_REGISTERED = "custody.registered"
    CUSTODY_CERTIFICATES_ISSUED = "custody.certificates_issued"
    CUSTODY_TAKEN_OVER = "custody.taken_over"
    CUSTODY_CERTIFICATES_CANCELLED = "custody.certificates_cancelled"
    CUSTODY_ACKNOWLEDGED = "custody.acknowledged"
    CUSTODY_NOTICE_ISSUED = "custody.notice_issued"
    CUSTODY_PAPER_REGISTERED = "custody.paper_registered"
    CUSTODY_DOCUMENT_VIEWED = "custody.document_viewed"
    CUSTODY_VIEWED = "custody.viewed"
    CUSTODY_MEASURE_LAPSED = "custody.measure_lapsed"
    # legal aid (casehub.legalaid)
    LEGAL_AID_REQUESTED = "legal_aid.requested"
    LEGAL_AID_VIEWED = "legal_aid.viewed"
    LEGAL_AID_COUNSEL_ASSIGNED = "legal_aid.counsel_assigned"
    LEGAL_AID_COUNSEL_FILE_VIEWED = "legal_aid.counsel_file_viewed"
    # clocks, holidays, notifications
    CLOCK_OPENED = "clock.opened"
    CLOCK_STOPPED = "clock.stopped"
    CLOCK_PAUSED = "clock.paused"
    CLOCK_RESUMED = "clock.resumed"
    CLOCK_EXTENDED = "clock.extended"
    CLOCK_PERIOD_SET = "clock.period_set"  # the law's period for the kind of case (art. 172 fast track)
    CLOCK_RECOUNTED = "clock.recounted"
    CLOCK_REOPENED = "clock.reopened"
    CLOCK_WARNING = "clock.warning"
    CLOCK_OVERDUE = "clock.overdue"
    HOLIDAYS_LOADED = "holidays.loaded"
    NOTIFICATION_SENT = "notification.sent"
    # PKI
    PKI_ROOT_CREATED = "pki.root_created"
    PKI_ROOT_ROTATED = "pki.root_rotated"
    PKI_CERTIFICATE_ISSUED = "pki.certificate_issued"
    PKI_CERTIFICATE_ROTATED = "pki.certificate_rotated"
    PKI_CERTIFICATE_REVOKED = "pki.certificate_revoked"
    PKI_CREDENTIALS_IMPORTED = "pki.credentials_imported"
    PKI_KEYS_REWRAPPED = "pki.keys_rewrapped"
    # the trail itself, the object store, metrics
    AUDIT_VERIFIED = "audit.verified"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    AUDIT_EXPORTED = "audit.exported"
    AUDIT_FOREIGN_ROWS = "audit.foreign_rows"
    OBJECTSTORE_SWEEP = "objectstore.sweep"
    OBJECT_DOWNLOADED = "object.downloaded"
    # a 403/404 answered to a signed-in user (casehub.audit.middleware, rate-limited)
    ACCESS_DENIED = "access.denied"
    METRICS_EXPORTED = "metrics.exported"


class UndeclaredAuditAction(ValueError):
    """Code tried to record an action that is not declared in :mod:`casehub.audit.actions`."""

    def __init__(self, action: str) -> None:
        super().__init__(f"audit action {action!r} is not declared: add it to AuditAction in "
                         "casehub/audit/actions.py (or declare it from the app that records it)")
        self.action = action


_DECLARED: set[str] = {str(a) for a in AuditAction}


def declare(actions: Iterable[str]) -> None:
    """Declare codes an app derives from its own declarations (e.g. one per workflow transition).

    Call it from ``AppConfig.ready`` so the codes exist before any request."""
    _DECLARED.update(str(a) for a in actions)


def is_declared(action: str) -> bool:
    return action in _DECLARED


def declared() -> frozenset[str]:
    return frozenset(_DECLARED)
