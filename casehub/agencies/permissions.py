"""What each role may do — the one place it is declared.

Roles are Django groups named ``role:<role>`` holding model-level permissions on
:class:`~casehub.agencies.models.Capability`. Object-level access (which *case* a user may act
on) comes on top, from the agency group's object permissions, granted by the workflow engine.
Views and the API check capabilities with :func:`require_capability` (one rule for 404 vs 403,
below) or :func:`has_capability`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from casehub.agencies.models import AgencyKind, Role

APP = "agencies"

# Capability codenames (see Capability.Meta.permissions).
REGISTER_CASE = "register_case"
EDIT_CASE = "edit_case"
READ_DOSSIER = "read_dossier"
UPLOAD_DOCUMENT = "upload_document"
ASSEMBLE_VOLUME = "assemble_volume"
PREPARE_OUTGOING = "prepare_outgoing"
APPROVE_OUTGOING = "approve_outgoing"
REVIEW_INCOMING = "review_incoming"
DECIDE_ARREST = "decide_arrest"
DECIDE_PROSECUTION = "decide_prosecution"
DOCKET_CASE = "docket_case"
DELIVER_JUDGMENT = "deliver_judgment"
REGISTER_PAPER_TRANSFER = "register_paper_transfer"
MANAGE_CUSTODY = "manage_custody"
ACKNOWLEDGE_CUSTODY = "acknowledge_custody"
VIEW_DETAINEES = "view_detainees"
VIEW_PERSON_ID = "view_person_id"
VIEW_METRICS = "view_metrics"
VIEW_AUDIT = "view_audit"
MANAGE_AGENCY_USERS = "manage_agency_users"
NOTIFY_LEGAL_AID = "notify_legal_aid"
ASSIGN_COUNSEL = "assign_counsel"
COMMUNITY_CORRECTION = "community_correction"
READ_AS_COUNSEL = "read_as_counsel"

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.INVESTIGATOR: frozenset({
        REGISTER_CASE, EDIT_CASE, READ_DOSSIER, UPLOAD_DOCUMENT, ASSEMBLE_VOLUME, PREPARE_OUTGOING,
        REGISTER_PAPER_TRANSFER, MANAGE_CUSTODY, VIEW_PERSON_ID, NOTIFY_LEGAL_AID,
    }),
    # Supervisors approve what leaves the agency; they see identity numbers masked.
    Role.SUPERVISOR: frozenset({READ_DOSSIER, APPROVE_OUTGOING}),
    Role.PROSECUTOR: frozenset({
        READ_DOSSIER, UPLOAD_DOCUMENT, ASSEMBLE_VOLUME, PREPARE_OUTGOING, REVIEW_INCOMING, DECIDE_ARREST,
        DECIDE_PROSECUTION, REGISTER_PAPER_TRANSFER, MANAGE_CUSTODY, VIEW_PERSON_ID, NOTIFY_LEGAL_AID,
    }),
    Role.COURT_CLERK: frozenset({
        READ_DOSSIER, UPLOAD_DOCUMENT, REVIEW_INCOMING, DOCKET_CASE, DELIVER_JUDGMENT, REGISTER_PAPER_TRANSFER,
        VIEW_PERSON_ID,
    }),
    Role.JUDGE: frozenset({READ_DOSSIER, UPLOAD_DOCUMENT, PREPARE_OUTGOING, DELIVER_JUDGMENT, MANAGE_CUSTODY,
                           VIEW_PERSON_ID, NOTIFY_LEGAL_AID}),
    # The centre holds the person: it matches a custody certificate to the detainee by full identity
    # (casehub.cases.identity); it sees no one but its own detainees.
    Role.DETENTION_OFFICER: frozenset({ACKNOWLEDGE_CUSTODY, VIEW_DETAINEES, VIEW_PERSON_ID}),
    Role.AUDITOR: frozenset({VIEW_METRICS, VIEW_AUDIT}),
    Role.AGENCY_ADMIN: frozenset({MANAGE_AGENCY_USERS}),
    # The justice bureau: legal aid receives the notices of police, procuratorate and court and
    # assigns counsel (Legal Aid Law art. 36); it sees the notice (who, why, which case number), not
    # the case file. Community correction (CPL art. 269) has no hand-over on the platform yet.
    Role.LEGAL_AID_OFFICER: frozenset({ASSIGN_COUNSEL}),
    Role.CORRECTION_OFFICER: frozenset({COMMUNITY_CORRECTION}),
    # An assigned lawyer reads the case file of the cases assigned to them, as counsel, from the
    # review for prosecution on (CPL art. 40) - never the work file (casehub.legalaid.selectors).
    Role.LAWYER: frozenset({READ_AS_COUNSEL}),
}

# Which roles exist in which kind of agency.
ROLES_BY_AGENCY_KIND: dict[str, frozenset[str]] = {
    AgencyKind.POLICE: frozenset({Role.INVESTIGATOR, Role.SUPERVISOR, Role.AGENCY_ADMIN}),
    AgencyKind.PROCURATORATE: frozenset({Role.PROSECUTOR, Role.SUPERVISOR, Role.AGENCY_ADMIN}),
    AgencyKind.COURT: frozenset({Role.COURT_CLERK, Role.JUDGE, Role.SUPERVISOR, Role.AGENCY_ADMIN}),
    AgencyKind.DETENTION_CENTRE: frozenset({Role.DETENTION_OFFICER, Role.SUPERVISOR, Role.AGENCY_ADMIN}),
    AgencyKind.COMMITTEE: frozenset({Role.AUDITOR, Role.AGENCY_ADMIN}),
    AgencyKind.JUSTICE_BUREAU: frozenset({Role.LEGAL_AID_OFFICER, Role.CORRECTION_OFFICER, Role.AGENCY_ADMIN}),
    AgencyKind.LAW_FIRM: frozenset({Role.LAWYER, Role.AGENCY_ADMIN}),
}


def perm(capability: str) -> str:
    """The full permission name for a capability, for ``user.has_perm``."""
    return f"{APP}.{capability}"


def role_group_name(role: str) -> str:
    return f"role:{role}"


def has_capability(user: Any, capability: str) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(perm(capability)))


def require_capability(user: Any, *capabilities: str, message: str | None = None) -> None:
    """The one check "may this user's roles do this?" for UI views and the API.

    The rule (docs/architecture.md, "404 or 403"): an object the user may not see is looked up
    through the permission-filtered selector first and answers 404, exactly as if it did not exist;
    only then is this called, and a page or an action on a visible object that the user's roles do
    not give answers 403 with ``message``. Raises Django's ``PermissionDenied``; the API's
    exception handler answers it as its JSON 403 with the same message.
    """
    if not any(has_capability(user, c) for c in capabilities):
        raise PermissionDenied(message) if message else PermissionDenied()


def sync_role_groups(**kwargs: Any) -> None:
    """Create the role groups and give each exactly the capabilities declared above (post_migrate)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from casehub.agencies.models import Capability

    content_type = ContentType.objects.get_for_model(Capability, for_concrete_model=False)
    by_codename = {p.codename: p for p in Permission.objects.filter(content_type=content_type)}
    for role, capabilities in ROLE_CAPABILITIES.items():
        missing = capabilities - by_codename.keys()
        if missing:
            raise RuntimeError(f"role {role} names undeclared capabilities: {sorted(missing)}")
        group, _created = Group.objects.get_or_create(name=role_group_name(role))
        group.permissions.set([by_codename[c] for c in capabilities])
