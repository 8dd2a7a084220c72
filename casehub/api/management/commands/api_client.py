"""Register, list and revoke agency system clients from the command line (platform operators).

    manage.py api_client create --agency GA440307 --role investigator --name 警综平台 [--days 365] [--rate 6000/hour]
    manage.py api_client list [--agency GA440307]
    manage.py api_client revoke <key_id>

The token is printed once, on creation; only its hash is stored. Agency administrators can do the
same through ``/api/v1/clients/``; both paths use :mod:`casehub.api.credentials` and are audited.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from casehub.agencies.models import Agency
from casehub.api import credentials
from casehub.api.models import ApiCredential, CredentialKind


class Command(BaseCommand):
    help = "Register, list or revoke API system clients of an agency."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="register a client and print its token once")
        create.add_argument("--agency", required=True, help="agency code, e.g. GA440307")
        create.add_argument("--role", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--days", type=int, default=None, help="lifetime in days (default 90)")
        create.add_argument("--rate", default="", help="own rate limit, e.g. 6000/hour")
        listing = sub.add_parser("list", help="list clients")
        listing.add_argument("--agency", default=None)
        revoke = sub.add_parser("revoke", help="revoke a client at once")
        revoke.add_argument("key_id")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        agency = Agency.objects.filter(code=options["agency"]).first()
        if agency is None:
            raise CommandError(f"no agency with code {options['agency']}")
        try:
            issued = credentials.register_client(
                acting_user=None, agency=agency, name=options["name"], role=options["role"],
                expires_in_days=options["days"], throttle_rate=options["rate"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        c = issued.credential
        self.stdout.write(f"key_id {c.key_id}  agency {agency.code}  role {c.role}  expires {c.expires_at:%Y-%m-%d}")
        self.stdout.write(issued.token)

    def _list(self, options: dict[str, Any]) -> None:
        qs = ApiCredential.objects.filter(kind=CredentialKind.CLIENT).select_related("agency").order_by("id")
        if options["agency"]:
            qs = qs.filter(agency__code=options["agency"])
        for c in qs:
            state = "active" if c.is_active else ("revoked" if c.revoked_at else "expired")
            self.stdout.write(f"{c.key_id}  {c.agency.code}  {c.role:<18} {state:<8} {c.expires_at:%Y-%m-%d}  {c.name}")

    def _revoke(self, options: dict[str, Any]) -> None:
        credential = ApiCredential.objects.filter(key_id=options["key_id"]).first()
        if credential is None:
            raise CommandError(f"no credential {options['key_id']}")
        credentials.revoke(credential, acting_user=None)
        self.stdout.write(f"revoked {credential.key_id}")
