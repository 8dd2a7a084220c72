"""Who may call the API: personal tokens, agency system clients, browser sessions."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from casehub.api.credentials import issue_personal_token, register_client, revoke
from casehub.api.models import ApiCredential
from casehub.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_no_credentials_is_401_with_a_code_and_a_challenge(client):
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_personal_token_acts_as_its_user_and_only_its_hash_is_stored(district):
    issued = issue_personal_token(acting_user=district.prosecutor, name="检察业务系统")
    stored = ApiCredential.objects.get(pk=issued.credential.pk)
    assert issued.token not in {stored.secret_hash, stored.key_id}
    assert stored.secret_hash == hashlib.sha256(issued.token.encode()).hexdigest()

    me = bearer(issued.token).get("/api/v1/me/").json()
    assert me["username"] == "prosecutor"
    assert me["agency"]["code"] == "JC440307"
    assert me["roles"] == ["prosecutor"]
    assert "decide_prosecution" in me["capabilities"]
    assert me["credential"]["key_id"] == stored.key_id
    assert AuditEvent.objects.filter(action="api.token_issued", object_id=str(stored.pk)).exists()


@pytest.mark.parametrize("spoil", ["unknown", "tampered", "revoked", "expired", "inactive_user"])
def test_a_bad_token_is_refused_with_one_answer_for_every_reason(district, spoil):
    issued = issue_personal_token(acting_user=district.investigator, name="sync")
    token = issued.token
    if spoil == "unknown":
        token = "chk_000000000000_" + "a" * 43
    elif spoil == "tampered":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif spoil == "revoked":
        revoke(issued.credential, acting_user=district.investigator)
    elif spoil == "expired":
        ApiCredential.objects.filter(pk=issued.credential.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif spoil == "inactive_user":
        type(district.investigator).objects.filter(pk=district.investigator.pk).update(is_active=False)
    response = bearer(token).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "message": "令牌无效、已过期或已被吊销。"}


def test_malformed_authorization_header_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer")
    assert client.get("/api/v1/me/").json()["code"] == "authentication_failed"


def test_system_client_belongs_to_one_agency_and_acts_as_its_named_role(district):
    issued = register_client(acting_user=district.police_admin, agency=district.police, name="警综平台",
                             role="investigator", expires_in_days=30)
    me = bearer(issued.token).get("/api/v1/me/").json()
    assert me["agency"]["code"] == "GA440307"
    assert me["roles"] == ["investigator"]
    assert me["credential"]["kind"] == "client"
    assert issued.credential.user.has_usable_password() is False
    assert 29 <= (issued.credential.expires_at - timezone.now()).days <= 30
    assert AuditEvent.objects.filter(action="api.client_registered").count() == 1


def session_as(user) -> APIClient:
    """A signed-in browser session: where credentials are issued (a credential cannot issue them)."""
    client = APIClient()
    client.force_login(user)
    return client


def test_only_the_agency_admin_registers_clients_and_only_for_roles_of_the_agency(district, api_as):
    admin = session_as(district.police_admin)
    created = admin.post("/api/v1/clients/", {"name": "警综平台", "role": "investigator"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["token"].startswith("chk_")

    wrong_role = admin.post("/api/v1/clients/", {"name": "x", "role": "prosecutor"}, format="json")
    assert wrong_role.status_code == 400
    assert wrong_role.json()["errors"][0]["field"] == "role"

    denied = api_as(district.investigator).post("/api/v1/clients/", {"name": "x", "role": "investigator"},
                                               format="json")
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"
    assert denied.json()["message"] == "只有机构管理员可以管理系统客户端。"


def test_revoking_a_client_stops_it_at_once(district, api_as):
    admin = session_as(district.police_admin)
    created = admin.post("/api/v1/clients/", {"name": "警综平台", "role": "investigator"}, format="json").json()
    client = bearer(created["token"])
    assert client.get("/api/v1/me/").status_code == 200

    assert admin.delete(f"/api/v1/clients/{created['id']}/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401
    assert admin.get("/api/v1/clients/").json()["results"][0]["is_active"] is False
    assert AuditEvent.objects.filter(action="api.credential_revoked").count() == 1


def test_another_agencys_admin_cannot_see_or_revoke_a_client(district, other_district, api_as):
    issued = register_client(acting_user=None, agency=district.police, name="警综平台", role="investigator")
    other_admin = api_as(other_district.police_admin)
    assert other_admin.get("/api/v1/clients/").json()["results"] == []
    assert other_admin.delete(f"/api/v1/clients/{issued.credential.pk}/").status_code == 404
    assert bearer(issued.token).get("/api/v1/me/").status_code == 200


def test_personal_tokens_list_create_revoke(district, api_as):
    me = APIClient()
    me.force_login(district.judge)  # tokens are issued from a signed-in browser session
    created = me.post("/api/v1/tokens/", {"name": "脚本", "expires_in_days": 7}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert set(body) >= {"token", "key_id", "expires_at"}
    listed = me.get("/api/v1/tokens/").json()["results"]
    assert all("token" not in item for item in listed)
    assert me.delete(f"/api/v1/tokens/{body['id']}/").status_code == 204
    assert bearer(body["token"]).get("/api/v1/me/").status_code == 401


def test_a_token_cannot_mint_more_tokens(district, api_as):
    response = api_as(district.judge).post("/api/v1/tokens/", {"name": "chain"}, format="json")
    assert response.status_code == 403


def test_token_lifetime_is_bounded_and_the_field_is_named(district):
    client = APIClient()
    client.force_login(district.judge)
    response = client.post("/api/v1/tokens/", {"name": "x", "expires_in_days": 9999}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "expires_in_days"


def test_browser_session_works_and_writes_need_csrf(district):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(district.investigator)
    assert client.get("/api/v1/me/").json()["username"] == "investigator"
    response = client.post("/api/v1/cases/", {"title": "无CSRF"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_session_of_an_agency_requiring_a_second_factor_must_be_verified(district):
    district.police.require_second_factor = True
    district.police.save()
    client = APIClient()
    client.force_login(district.investigator)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_operator_registers_lists_and_revokes_a_client_from_the_command_line(district):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("api_client", "create", "--agency", "JC440307", "--role", "prosecutor", "--name", "检察业务应用系统",
                 "--days", "30", stdout=out)
    key_line, token = out.getvalue().splitlines()
    key_id = key_line.split()[1]
    assert bearer(token).get("/api/v1/me/").json()["roles"] == ["prosecutor"]

    listing = StringIO()
    call_command("api_client", "list", "--agency", "JC440307", stdout=listing)
    assert key_id in listing.getvalue() and "active" in listing.getvalue()
    call_command("api_client", "revoke", key_id, stdout=StringIO())
    assert bearer(token).get("/api/v1/me/").status_code == 401
    with pytest.raises(CommandError):
        call_command("api_client", "create", "--agency", "JC440307", "--role", "investigator", "--name", "x",
                     stdout=StringIO())


def test_guessing_tokens_is_cut_off_per_address(district, settings):
    settings.CASEHUB_API_AUTH_FAILURES_PER_MINUTE = 5
    guesser = bearer("chk_000000000000_" + "x" * 43)
    assert [guesser.get("/api/v1/me/").status_code for _ in range(5)] == [401] * 5
    cut_off = guesser.get("/api/v1/me/")
    assert cut_off.status_code == 429 and cut_off.json()["code"] == "throttled"
    assert int(cut_off["Retry-After"]) > 0
    # Even the right token from that address waits; the legitimate client elsewhere does not.
    good = issue_personal_token(acting_user=district.investigator, name="ok").token
    assert bearer(good).get("/api/v1/me/").status_code == 429
    elsewhere = bearer(good)
    assert elsewhere.get("/api/v1/me/", REMOTE_ADDR="10.1.2.3").status_code == 200


# --- credentials cannot mint credentials; minted ones die with their minter (issue #18, F18.8) -------

def test_a_system_clients_credential_cannot_register_clients_or_tokens(district):
    """A client of the agency-admin role (which may manage users) still cannot mint credentials."""
    admin_client = register_client(acting_user=None, agency=district.police, name="运维脚本", role="agency_admin")
    api = bearer(admin_client.token)
    assert api.get("/api/v1/clients/").status_code == 200  # it is an administrator...
    minted = api.post("/api/v1/clients/", {"name": "后门", "role": "investigator"}, format="json")
    assert minted.status_code == 403  # ...but a credential issues no credentials
    assert api.post("/api/v1/tokens/", {"name": "后门"}, format="json").status_code == 403
    personal = api_as_token(district.police_admin)
    assert bearer(personal).post("/api/v1/clients/", {"name": "x", "role": "investigator"},
                                 format="json").status_code == 403
    assert ApiCredential.objects.filter(kind="client").count() == 1


def api_as_token(user) -> str:
    return issue_personal_token(acting_user=user, name="script").token


def _minted_before_the_fix(district):
    """What a client's credential could do before: register another client under its service account."""
    minter = register_client(acting_user=None, agency=district.police, name="运维脚本", role="agency_admin")
    minted = register_client(acting_user=minter.credential.user, agency=district.police, name="后门",
                             role="investigator")
    assert minted.credential.created_by == minter.credential.user
    return minter, minted


@pytest.mark.parametrize("end", ["revoked", "deactivated", "expired"])
def test_a_credential_minted_by_a_client_dies_with_it(district, end, monkeypatch):
    monkeypatch.setattr("casehub.api.credentials._refuse_credential_minting", lambda acting_user: None)
    minter, minted = _minted_before_the_fix(district)
    assert bearer(minted.token).get("/api/v1/me/").status_code == 200
    if end == "revoked":
        revoke(minter.credential, acting_user=district.police_admin)
    elif end == "deactivated":
        minter.credential.user.is_active = False
        minter.credential.user.save()
    else:
        ApiCredential.objects.filter(pk=minter.credential.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(minted.token).get("/api/v1/me/").status_code == 401


def test_a_client_registered_by_an_administrator_survives_other_changes(district):
    issued = register_client(acting_user=district.police_admin, agency=district.police, name="警综平台",
                             role="investigator")
    issue_personal_token(acting_user=district.police_admin, name="x")
    assert bearer(issued.token).get("/api/v1/me/").status_code == 200


def test_the_registered_role_of_a_client_is_enforced_when_its_service_user_is_edited(district):
    from django.core.exceptions import ValidationError

    from casehub.accounts.services import set_roles

    issued = register_client(acting_user=district.police_admin, agency=district.police, name="警综平台",
                             role="investigator")
    service_user = issued.credential.user
    # The admin's form refuses another role for the service account...
    admin = session_as(district.police_admin)
    url = reverse("admin:agencies_user_change", args=[service_user.pk])
    page = admin.post(url, {"username": service_user.username, "display_name": "x", "is_active": "on",
                            "roles": ["investigator", "agency_admin"]})
    assert page.status_code == 200 and "角色固定为登记时的" in page.content.decode()
    service_user.refresh_from_db()
    assert service_user.roles == {"investigator"}
    # ...and so does the service behind every other path.
    with pytest.raises(ValidationError):
        set_roles(service_user, ["agency_admin"], acting_user=district.police_admin)
    # Changed behind the platform's back (the groups table), the credential stops acting.
    from django.contrib.auth.models import Group

    service_user.groups.add(Group.objects.get(name="role:agency_admin"))
    response = bearer(issued.token).get("/api/v1/me/")
    assert response.status_code == 401
    assert "角色已被更改" in response.json()["message"]


# --- a second factor required later (issue #18, F18.12) ---------------------------------------------

def test_a_token_issued_before_the_agency_required_a_second_factor_stops_working(district):
    old = issue_personal_token(acting_user=district.investigator, name="旧脚本")
    old_client = register_client(acting_user=district.police_admin, agency=district.police, name="旧系统",
                                 role="investigator")
    assert bearer(old.token).get("/api/v1/me/").status_code == 200
    district.police.require_second_factor = True
    district.police.save()
    for token in (old.token, old_client.token):
        response = bearer(token).get("/api/v1/me/")
        assert response.status_code == 401
        assert "双因素" in response.json()["message"]
    # Issued from a session that passed the second factor (or by the operator), it works.
    new = issue_personal_token(acting_user=district.investigator, name="新脚本", second_factor_verified=True)
    assert bearer(new.token).get("/api/v1/me/").status_code == 200
    operator = register_client(acting_user=None, agency=district.police, name="新系统", role="investigator")
    assert bearer(operator.token).get("/api/v1/me/").status_code == 200


def test_a_token_issued_from_a_verified_session_records_it(district):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    district.police.require_second_factor = True
    district.police.save()
    device = TOTPDevice.objects.create(user=district.investigator, name="phone", confirmed=True)
    client = APIClient()
    client.force_login(district.investigator)
    session = client.session  # what django-otp's verification leaves in the session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    created = client.post("/api/v1/tokens/", {"name": "脚本"}, format="json")
    assert created.status_code == 201, created.content
    assert ApiCredential.objects.get(key_id=created.json()["key_id"]).second_factor_verified is True
    assert bearer(created.json()["token"]).get("/api/v1/me/").status_code == 200
