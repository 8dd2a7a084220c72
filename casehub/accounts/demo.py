"""The demo district that ``manage.py load_demo`` creates (demo only — never in production).

The city level of Shenzhen (the city procuratorate, the intermediate court 粤03 and the city's
political-legal committee) and one district under it (Longgang): a police sub-bureau, a procuratorate, a court, a detention
centre, a political-legal committee, the justice bureau (legal aid, community correction) and a law
firm whose lawyer the bureau assigns, with one user for each role. All demo users share the
documented password :data:`DEMO_PASSWORD`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from casehub.accounts.services import create_user
from casehub.agencies.models import Agency, AgencyKind, AgencyLevel, Role, User

DEMO_PASSWORD = "casehub-demo-2026"  # noqa: S105 - documented demo password; load_demo refuses production
ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class DemoAgency:
    key: str
    kind: str
    code: str
    name: str
    abbreviation: str = ""
    court_code: str = ""
    region: str = "440307"
    level: str = AgencyLevel.DISTRICT
    parent: str = ""  # key of the agency one level up


CITY = {"region": "440300", "level": AgencyLevel.CITY}


AGENCIES = (
    # The city level first: the district's procuratorate, court and committee name them as parents.
    DemoAgency("city_procuratorate", AgencyKind.PROCURATORATE, "JC440300", "深圳市人民检察院", "深", **CITY),
    DemoAgency("intermediate_court", AgencyKind.COURT, "FY440300", "深圳市中级人民法院", "深中", "粤03", **CITY),
    DemoAgency("city_committee", AgencyKind.COMMITTEE, "ZFW440300", "中共深圳市委政法委员会", **CITY),
    DemoAgency("police", AgencyKind.POLICE, "GA440307", "深圳市公安局龙岗分局", "深龙"),
    DemoAgency("procuratorate", AgencyKind.PROCURATORATE, "JC440307", "深圳市龙岗区人民检察院", "深龙",
               parent="city_procuratorate"),
    DemoAgency("court", AgencyKind.COURT, "FY440307", "深圳市龙岗区人民法院", "深龙", "粤0307",
               parent="intermediate_court"),
    DemoAgency("detention", AgencyKind.DETENTION_CENTRE, "KSS440307", "深圳市龙岗区看守所"),
    DemoAgency("committee", AgencyKind.COMMITTEE, "ZFW440307", "中共深圳市龙岗区委政法委员会",
               parent="city_committee"),
    DemoAgency("justice", AgencyKind.JUSTICE_BUREAU, "SFJ440307", "深圳市龙岗区司法局"),
    DemoAgency("law_firm", AgencyKind.LAW_FIRM, "LS440307", "广东龙岗律师事务所"),
)

# username, agency key, roles, display name — keys match tests/fixtures/district.py
USERS = (
    ("investigator", "police", [Role.INVESTIGATOR], "张侦查"),
    ("police_supervisor", "police", [Role.SUPERVISOR], "李审批"),
    ("police_admin", "police", [Role.AGENCY_ADMIN], "王管理"),
    ("prosecutor", "procuratorate", [Role.PROSECUTOR], "赵检察"),
    ("procuratorate_supervisor", "procuratorate", [Role.SUPERVISOR], "钱检察长"),
    ("court_clerk", "court", [Role.COURT_CLERK], "孙书记员"),
    ("judge", "court", [Role.JUDGE], "周法官"),
    ("court_supervisor", "court", [Role.SUPERVISOR], "吴庭长"),
    ("detention_officer", "detention", [Role.DETENTION_OFFICER], "郑管教"),
    ("auditor", "committee", [Role.AUDITOR], "冯督察"),
    ("legal_aid_officer", "justice", [Role.LEGAL_AID_OFFICER], "陈援助"),
    ("correction_officer", "justice", [Role.CORRECTION_OFFICER], "褚矫正"),
    ("lawyer", "law_firm", [Role.LAWYER], "卫律师"),
    ("city_prosecutor", "city_procuratorate", [Role.PROSECUTOR], "蒋检察官"),
    ("city_procuratorate_supervisor", "city_procuratorate", [Role.SUPERVISOR], "沈检察长"),
    ("intermediate_clerk", "intermediate_court", [Role.COURT_CLERK], "韩书记员"),
    ("intermediate_judge", "intermediate_court", [Role.JUDGE], "杨法官"),
    ("intermediate_supervisor", "intermediate_court", [Role.SUPERVISOR], "朱庭长"),
    ("city_auditor", "city_committee", [Role.AUDITOR], "秦督察"),
)


@transaction.atomic
def ensure_demo_district() -> tuple[dict[str, Agency], dict[str, User], int]:
    """Create what is missing; touch nothing that exists. Returns agencies, users, and how many were created."""
    created = 0
    agencies: dict[str, Agency] = {}
    for spec in AGENCIES:
        agency = Agency.objects.filter(code=spec.code).first()
        if agency is None:
            agency = Agency.objects.create(
                kind=spec.kind, code=spec.code, name=spec.name, abbreviation=spec.abbreviation,
                court_code=spec.court_code, region=spec.region, level=spec.level,
                parent=agencies[spec.parent] if spec.parent else None,
            )
            created += 1
        elif spec.parent and agency.parent_id is None:
            # A district agency made before the city level existed gets its parent now.
            agency.parent = agencies[spec.parent]
            agency.save(update_fields=["parent"])
        agencies[spec.key] = agency
    users: dict[str, User] = {}
    for username, agency_key, roles, display_name in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = create_user(
                username=username, agency=agencies[agency_key], roles=roles, password=DEMO_PASSWORD,
                display_name=display_name,
            )
            created += 1
        users[username] = user
    if not User.objects.filter(username=ADMIN_USERNAME).exists():
        User.objects.create_superuser(ADMIN_USERNAME, password=DEMO_PASSWORD, display_name="平台管理员")
        created += 1
    return agencies, users, created
