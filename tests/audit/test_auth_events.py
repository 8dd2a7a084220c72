"""Logins, logouts, failed logins, lock-outs and permission changes all land in the trail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from casehub.accounts.services import set_roles
from casehub.agencies.models import Role
from casehub.audit.models import AuditEvent
from casehub.audit.verify import verify_chain
from casehub.cases import access
from casehub.cases.models import Case
from tests.fixtures.district import PASSWORD

pytestmark = pytest.mark.django_db


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def test_login_and_logout_are_recorded_with_actor_agency_and_address(client, district):
    client.post(reverse("login"), {"username": "investigator", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3",
                HTTP_USER_AGENT="pytest-browser")
    client.post(reverse("logout"))
    login, = events("auth.login")
    logout, = events("auth.logout")
    assert login.actor_id == district.investigator.pk
    assert login.agency_id == district.police.pk
    assert login.details == {"ip": "10.1.2.3", "user_agent": "pytest-browser"}
    assert logout.actor_id == district.investigator.pk
    assert verify_chain().ok


def test_failed_login_records_the_name_tried_but_never_the_password(client, district):
    client.post(reverse("login"), {"username": "investigator", "password": "wrong-password-xyz"})
    client.post(reverse("login"), {"username": "nobody-here", "password": "secret-guess-123"})
    known, unknown = events("auth.login_failed")
    assert known.details["username"] == "investigator" and known.details["known_user"] is True
    assert known.agency_id == district.police.pk
    assert known.actor_id is None  # nobody was authenticated
    assert unknown.details["username"] == "nobody-here" and unknown.details["known_user"] is False
    everything = " ".join(str(e.details) for e in AuditEvent.objects.all())
    assert "wrong-password-xyz" not in everything and "secret-guess-123" not in everything


def test_axes_lockout_is_recorded_once(client, district):
    for _ in range(5):
        client.post(reverse("login"), {"username": "prosecutor", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "prosecutor", "password": PASSWORD})
    assert response.status_code == 429
    locked = events("auth.locked_out")
    assert len(locked) >= 1
    assert locked[0].details["username"] == "prosecutor"
    assert locked[0].agency_id == district.procuratorate.pk
    assert not events("auth.login")


def test_case_object_permission_grant_and_revoke_are_recorded(district):
    case = Case.objects.create(title="t", origin_agency=district.police, holder_agency=district.police,
                               created_by=district.investigator)
    before = AuditEvent.objects.count()
    access.grant(case, district.procuratorate, act=True)
    access.grant(case, district.procuratorate, act=False)  # keeps view, removes act
    access.revoke_all(case, district.procuratorate)
    granted = events("permission.granted")
    revoked = events("permission.revoked")
    assert [(e.details["permission"], e.details["group"]) for e in granted] == [
        ("view_case", "agency:JC440307"), ("act_on_case", "agency:JC440307")]
    assert sorted(e.details["permission"] for e in revoked) == ["act_on_case", "view_case"]
    assert all(e.case_id == case.pk and e.agency_id == district.procuratorate.pk for e in granted + revoked)
    assert AuditEvent.objects.count() == before + 4


def test_role_change_records_the_group_change(district):
    set_roles(district.police_supervisor, [Role.SUPERVISOR, Role.AGENCY_ADMIN], acting_user=district.police_admin)
    added = [e for e in events("permission.groups_changed") if e.details["change"] == "added"]
    assert added[-1].details["items"] == ["role:agency_admin"]
    assert added[-1].details["user"] == f"agencies.user#{district.police_supervisor.pk}"
    assert events("user.roles_changed")[-1].actor_id == district.police_admin.pk
