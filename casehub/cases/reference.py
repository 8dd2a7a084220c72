"""Reference data for cases: the charge list 罪名.

The platform ships a starter list of common charges (``data/offences.csv``); an administrator
loads the full, current list (483 charges since 2024-03-01, 法释〔2024〕3号) from a CSV with
the same columns via ``manage.py load_offences PATH``. Rows are matched by code, so loading is
idempotent and a later list can close a charge by giving it an ``effective_to`` date.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from django.db import transaction

from casehub.cases.models import Offence

STARTER_LIST = Path(__file__).parent / "data" / "offences.csv"


def _parse_date(value: str | None) -> date | None:
    value = (value or "").strip()
    return date.fromisoformat(value) if value else None


@transaction.atomic
def load_offences(path: Path = STARTER_LIST) -> tuple[int, int]:
    """Create or update charges from a CSV (code,name,article,effective_from[,effective_to]).

    Returns (created, updated); a row identical to the stored one counts as neither.
    """
    created = updated = 0
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            values = {
                "name": row["name"].strip(),
                "article": (row.get("article") or "").strip(),
                "effective_from": _parse_date(row.get("effective_from")),
                "effective_to": _parse_date(row.get("effective_to")),
            }
            offence = Offence.objects.filter(code=row["code"].strip()).first()
            if offence is None:
                Offence.objects.create(code=row["code"].strip(), **values)
                created += 1
            elif any(getattr(offence, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(offence, k, v)
                offence.save()
                updated += 1
    return created, updated


def offences_in_force(on: date | None = None):
    qs = Offence.objects.all()
    if on is not None:
        qs = qs.exclude(effective_from__gt=on).exclude(effective_to__lte=on)
    return qs
