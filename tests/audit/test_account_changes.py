"""Account changes (issue #18, F18.3): an agency administrator cannot set another person's password —
they force a reset that the user completes — and every change to an account is an audit event the
account holder is notified of."""

from __future__ import annotations

import pytest
from django.urls import reverse

from casehub.accounts.services import set_roles
from casehub.agencies.models import Role, User
from casehub.audit.models import AuditEvent
from casehub.notifications.models import Notification

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 42"


def sign_in(client, username: str, password: str) -> bool:
    return client.post(reverse("login"), {"username": username, "password": password}).status_code == 302


def told(user: User) -> list[str]:
    return [n.body for n in Notification.objects.filter(recipient=user, kind="account").order_by("id")]


def test_an_agency_admin_cannot_set_an_investigators_or_a_service_accounts_password(client, district):
    from casehub.api.credentials import register_client

    service_user = register_client(acting_user=district.police_admin, agency=district.police, name="警综平台",
                                   role="investigator").credential.user
    client.force_login(district.police_admin)
    for victim in (district.investigator, service_user):
        before = User.objects.get(pk=victim.pk).password
        url = reverse("admin:auth_user_password_change", args=[victim.pk])
        assert client.get(url).status_code == 403
        response = client.post(url, {"password1": "taken over 12345!", "password2": "taken over 12345!"})
        assert response.status_code == 403
        assert User.objects.get(pk=victim.pk).password == before
    client.logout()
    assert not sign_in(client, district.investigator.username, "taken over 12345!")


def test_a_forced_reset_is_audited_notified_and_completed_by_the_user_alone(client, district):
    investigator = district.investigator
    investigator.set_password(PASSWORD)
    investigator.save()
    client.force_login(district.police_admin)
    response = client.post(reverse("admin:agencies_user_changelist"), {
        "action": "force_password_change", "_selected_action": [investigator.pk]})
    assert response.status_code == 302
    investigator.refresh_from_db()
    assert investigator.password_change_required
    forced = AuditEvent.objects.filter(action="user.account_changed").latest("sequence")
    assert forced.actor_id == district.police_admin.pk
    assert forced.details["fields"] == ["password_change_required"]
    assert "须修改密码" in told(investigator)[-1]

    # The user signs in with their own password and can do nothing before choosing a new one.
    client.logout()
    assert sign_in(client, investigator.username, PASSWORD)
    assert client.get(reverse("home"))["Location"] == reverse("password_change")
    changed = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "a brand new secret 2026", "new_password2": "a brand new secret 2026"})
    assert changed.status_code == 302
    investigator.refresh_from_db()
    assert not investigator.password_change_required
    assert client.get(reverse("home")).status_code == 200
    done = AuditEvent.objects.filter(action="user.account_changed").latest("sequence")
    assert done.actor_id == investigator.pk and done.details["by_the_user"] is True
    assert "password" in done.details["fields"]
    assert "密码" in told(investigator)[-1]
    assert not any("$" in str(v) for v in done.details.values())  # no password hash in the trail


def test_deactivation_agency_and_role_changes_are_audited_and_the_user_told(client, district):
    investigator = district.investigator
    client.force_login(district.police_admin)
    url = reverse("admin:agencies_user_change", args=[investigator.pk])
    response = client.post(url, {"username": investigator.username, "display_name": "侦查员", "badge_number": "",
                                 "email": "", "roles": [Role.INVESTIGATOR, Role.SUPERVISOR]})  # is_active unticked
    assert response.status_code == 302, response.content.decode()[:1500]
    events = {e.action: e for e in AuditEvent.objects.filter(obj_filter(investigator))}
    assert events["user.account_changed"].details["is_active"] == {"before": True, "after": False}
    assert events["user.account_changed"].actor_id == district.police_admin.pk
    assert events["user.roles_changed"].details["after"] == ["investigator", "supervisor"]
    assert any("启用状态" in body for body in told(investigator))
    assert any("角色" in body for body in told(investigator))

    # A superuser moves the account to another agency: recorded with before and after.
    investigator.agency = district.procuratorate
    investigator.save()
    moved = AuditEvent.objects.filter(action="user.account_changed").latest("sequence")
    assert moved.details["agency_id"] == {"before": district.police.pk, "after": district.procuratorate.pk}


def obj_filter(user: User):
    from django.db.models import Q

    return Q(object_type="agencies.user", object_id=str(user.pk))


def test_a_second_factor_device_added_or_removed_is_audited_and_the_user_told(district):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    enrolling = TOTPDevice.objects.create(user=district.investigator, name="手机", confirmed=False)
    assert not AuditEvent.objects.filter(action="user.second_factor_changed").exists()  # not a factor yet
    enrolling.confirmed = True
    enrolling.save()
    enrolling.delete()
    TOTPDevice.objects.create(user=district.investigator, name="未完成", confirmed=False).delete()
    changes = [e.details["change"] for e in AuditEvent.objects.filter(action="user.second_factor_changed")]
    assert changes == ["added", "removed"]
    assert len([b for b in told(district.investigator) if "双因素认证设备" in b]) == 2


def test_a_sign_in_is_not_an_account_change(client, district):
    district.investigator.set_password(PASSWORD)
    district.investigator.save()
    before = AuditEvent.objects.filter(action="user.account_changed").count()
    assert sign_in(client, district.investigator.username, PASSWORD)  # saves last_login
    set_roles(district.investigator, sorted(district.investigator.roles), acting_user=None)  # no change
    assert AuditEvent.objects.filter(action="user.account_changed").count() == before


def test_a_forced_reset_revokes_the_users_tokens_and_the_api_waits_for_the_new_password(client, district):
    """A forced reset is what an administrator does on a suspected compromise: a token an intruder
    issued under the account must not outlive it, and neither a token nor the browser session may go
    round the password page through the API."""
    from rest_framework.test import APIClient

    from casehub.api.credentials import issue_personal_token
    from casehub.api.models import ApiCredential

    investigator = district.investigator
    investigator.set_password(PASSWORD)
    investigator.save()
    issued = issue_personal_token(acting_user=investigator, name="脚本")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    assert api.get("/api/v1/me/").status_code == 200

    client.force_login(district.police_admin)
    client.post(reverse("admin:agencies_user_changelist"), {
        "action": "force_password_change", "_selected_action": [investigator.pk]})
    assert ApiCredential.objects.get(pk=issued.credential.pk).revoked_at is not None
    assert api.get("/api/v1/me/").status_code == 401
    revoked = AuditEvent.objects.filter(action="api.credential_revoked").latest("sequence")
    assert revoked.actor_id == district.police_admin.pk and revoked.details["reason"] == "forced_password_change"

    # Signed in but not yet through the password page: the session reaches no API endpoint either.
    client.logout()
    assert sign_in(client, investigator.username, PASSWORD)
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401 and "修改密码" in refused.json()["message"]

    # A token still live while the flag is set (a bulk update, which sends no signal) is refused with the reason.
    prosecutor = district.prosecutor
    other = issue_personal_token(acting_user=prosecutor, name="脚本")
    User.objects.filter(pk=prosecutor.pk).update(password_change_required=True)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {other.token}")
    waiting = api.get("/api/v1/me/")
    assert waiting.status_code == 401 and "修改密码" in waiting.json()["message"]
