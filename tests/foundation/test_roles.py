"""Roles decide what a user sees and may open; agency administrators stay inside their agency."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from casehub.accounts.services import create_user, set_roles
from casehub.agencies.models import Agency, Role, User
from casehub.agencies.permissions import ROLE_CAPABILITIES, ROLES_BY_AGENCY_KIND, perm
from casehub.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def nav_urls(client):
    return [e["url_name"] for e in client.get(reverse("home")).context["nav_entries"]]


def test_every_role_is_a_group_with_exactly_its_declared_capabilities(district):
    for role, capabilities in ROLE_CAPABILITIES.items():
        user = User.objects.filter(groups__name=f"role:{role}").first()
        if user is None:
            continue
        granted = {p.split(".", 1)[1] for p in user.get_all_permissions() if p.startswith("agencies.")}
        assert granted == set(capabilities), role


def test_investigator_sees_cases_but_not_the_auditors_pages(client, district):
    client.force_login(district.investigator)
    assert "cases:list" in nav_urls(client)
    assert "metrics:dashboard" not in nav_urls(client)
    assert "audit:list" not in nav_urls(client)


def test_detention_officer_and_auditor_have_no_case_entry_and_get_403_on_case_pages(client, district):
    for user in (district.detention_officer, district.auditor):
        client.force_login(user)
        assert "cases:list" not in nav_urls(client)
        assert client.get(reverse("cases:list")).status_code == 403
        assert client.get(reverse("cases:register")).status_code == 403


def test_only_investigators_may_open_the_registration_form(client, district):
    client.force_login(district.prosecutor)
    assert client.get(reverse("cases:register")).status_code == 403
    client.force_login(district.investigator)
    assert client.get(reverse("cases:register")).status_code == 200


def test_roles_must_fit_the_agency_kind(district):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        create_user(username="p2", agency=district.police, roles=[Role.PROSECUTOR], password=None)
    assert "prosecutor" in str(refused.value) and "公安机关" in str(refused.value)
    assert not User.objects.filter(username="p2").exists()
    # The same call with a police role goes through: only the role was wrong.
    create_user(username="p2", agency=district.police, roles=[Role.INVESTIGATOR], password=None)
    assert User.objects.get(username="p2").roles == {"investigator"}


def test_role_change_is_audited(district):
    before = AuditEvent.objects.order_by("-sequence").first().sequence
    set_roles(district.police_supervisor, [Role.SUPERVISOR, Role.INVESTIGATOR], acting_user=district.police_admin)
    event = AuditEvent.objects.get(sequence__gt=before, action="user.roles_changed")
    assert event.details["after"] == ["investigator", "supervisor"]
    assert district.police_supervisor.has_perm(perm("register_case"))


class TestAgencyAdministrator:
    def test_lists_only_users_of_their_own_agency(self, client, district):
        client.force_login(district.police_admin)
        response = client.get(reverse("admin:agencies_user_changelist"))
        assert response.status_code == 200
        body = response.content.decode()
        assert "investigator" in body
        assert "prosecutor" not in body
        assert "court_clerk" not in body

    def test_cannot_open_or_edit_a_user_of_another_agency(self, client, district):
        client.force_login(district.police_admin)
        url = reverse("admin:agencies_user_change", args=[district.prosecutor.pk])
        assert client.get(url).status_code in (302, 403, 404)
        client.post(url, {"username": "hijacked", "display_name": "x", "is_active": "on"})
        district.prosecutor.refresh_from_db()
        assert district.prosecutor.username == "prosecutor"

    def test_cannot_manage_agencies(self, client, district):
        client.force_login(district.police_admin)
        assert client.get(reverse("admin:agencies_agency_changelist")).status_code == 403

    def test_adds_a_user_to_their_agency_with_a_role_of_that_agency(self, client, district):
        client.force_login(district.police_admin)
        response = client.post(reverse("admin:agencies_user_add"), {
            "username": "newcop", "display_name": "新警员", "badge_number": "123", "email": "",
            "is_active": "on", "roles": [Role.INVESTIGATOR],
        })
        assert response.status_code == 302, response.content.decode()[:2000]
        user = User.objects.get(username="newcop")
        assert user.agency == district.police
        assert user.roles == {"investigator"}
        assert not user.is_superuser

    def test_cannot_hand_out_a_role_from_another_agency_kind(self, client, district):
        client.force_login(district.police_admin)
        form = {"username": "fakepro", "display_name": "x", "is_active": "on"}
        response = client.post(reverse("admin:agencies_user_add"), {**form, "roles": [Role.PROSECUTOR]})
        # The form comes back with exactly one complaint, about the role.
        assert response.status_code == 200
        assert list(response.context["adminform"].form.errors) == ["roles"]
        assert not User.objects.filter(username="fakepro").exists()
        # The same form with a police role goes through: only the role was wrong.
        response = client.post(reverse("admin:agencies_user_add"), {**form, "roles": [Role.INVESTIGATOR]})
        assert response.status_code == 302
        assert User.objects.get(username="fakepro").roles == {"investigator"}

    def test_a_plain_user_cannot_reach_user_management(self, client, district):
        client.force_login(district.investigator)
        response = client.get(reverse("admin:agencies_user_changelist"))
        assert response.status_code == 302  # to the admin login: not staff


def test_load_demo_twice_changes_nothing():
    call_command("load_demo", verbosity=0)
    counts = (Agency.objects.count(), User.objects.count(), AuditEvent.objects.count())
    hashes = sorted(User.objects.values_list("password", flat=True))
    call_command("load_demo", verbosity=0)
    assert (Agency.objects.count(), User.objects.count(), AuditEvent.objects.count()) == counts
    assert sorted(User.objects.values_list("password", flat=True)) == hashes
    kinds = set(Agency.objects.values_list("kind", flat=True))
    assert kinds == set(ROLES_BY_AGENCY_KIND)
    for role in Role.values:
        assert User.objects.filter(groups__name=f"role:{role}").exists(), role


def test_the_readme_demo_table_is_what_load_demo_creates():
    """README.md's table of demo users names each user's agency and role as load_demo makes them."""
    from pathlib import Path

    from django.utils import translation

    from casehub.accounts.demo import ensure_demo_district

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8").splitlines()
    start = readme.index("| user | agency | role |")
    rows = {}
    for line in readme[start + 2:]:
        if not line.startswith("|"):
            break
        username, agency, role = (cell.strip() for cell in line.strip("|").split("|"))
        rows[username.strip("`")] = (agency, role)
    ensure_demo_district()  # the users and agencies part of load_demo
    made = {}
    for user in User.objects.select_related("agency"):
        if user.is_superuser:
            made[user.username] = ("—", "platform superuser (manages agencies)")
            continue
        (role,) = user.roles
        with translation.override("zh-hans"):
            chinese = str(Role(role).label)
        with translation.override("en"):
            english = str(Role(role).label).lower()
        made[user.username] = (user.agency.name, f"{chinese} {english}")
    assert rows == made


def test_load_demo_creates_the_city_level_above_the_district():
    """#17: the intermediate court 粤03 and the city procuratorate, with their users; the district's
    procuratorate, court and committee name them as parents; the city auditor sees the district."""
    from casehub.accounts.demo import ensure_demo_district
    from casehub.agencies.models import AgencyLevel
    from casehub.audit.selectors import auditable_agencies

    agencies, users, _created = ensure_demo_district()
    court, city_court = agencies["court"], agencies["intermediate_court"]
    assert city_court.level == AgencyLevel.CITY and city_court.court_code == "粤03"
    assert court.parent == city_court and agencies["procuratorate"].parent == agencies["city_procuratorate"]
    assert users["intermediate_judge"].agency == city_court
    assert users["city_prosecutor"].agency == agencies["city_procuratorate"]
    assert court in auditable_agencies(users["city_auditor"])
    assert city_court not in auditable_agencies(users["auditor"])
