"""Who sees a person's full identity number (居民身份证号) — one rule for every output.

Decision per role (THREAT_MODEL F18.6, docs/workflow.md):

* **Full number** — roles with ``view_person_id``: the investigator, prosecutor, court clerk and
  judge, who act on the person (summons, arrest, indictment, judgment); and the **detention
  officer**, for detainees held in their own centre only (the only persons they can see at all):
  the centre holds the person and must match a custody certificate (换押证) to the body it holds —
  the certificate's identity block is what the officer checks before acknowledging it.
* **Masked** (``440307********1234``) — supervisors, auditors, agency administrators: they approve,
  oversee or administer, and never need to tell two people apart by more than name, birth date and
  the masked number.

Applied to every structured output: pages, API answers, exports, the transfer manifest as shown
(the parsed JSON masked; the exact signed bytes — ``manifest.json`` and the API's ``/manifest/`` —
refused, since they cannot be masked without breaking the signature), the custody PDFs (signed,
carrying the number: refused), and search (``?q=<ID number>`` matches only for roles that may see
the number, so a search is no oracle). The dossier's documents themselves are evidence and are
shown unaltered to readers of the dossier (``read_dossier``): a scanned record carries the number on
paper, and redacting evidence is not the platform's to do.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from casehub.agencies.permissions import VIEW_PERSON_ID, has_capability


def may_see_id_numbers(user: Any) -> bool:
    return has_capability(user, VIEW_PERSON_ID)


def mask_id_number(value: str) -> str:
    """``440307********1234``: enough to tell people apart, not enough to misuse."""
    n = value or ""
    if len(n) <= 10:
        return "*" * len(n)
    return n[:6] + "*" * (len(n) - 10) + n[-4:]


def id_number_for(user: Any, value: str) -> str:
    """The number as ``user`` may see it."""
    return value if may_see_id_numbers(user) else mask_id_number(value)


def manifest_for(user: Any, manifest: dict[str, Any] | None) -> dict[str, Any]:
    """A transfer manifest (parsed) as ``user`` may see it: persons' numbers masked if need be."""
    manifest = manifest or {}
    if may_see_id_numbers(user) or not manifest.get("persons"):
        return manifest
    shown = copy.deepcopy(manifest)
    for person in shown.get("persons", []):
        if isinstance(person, dict) and person.get("id_number"):
            person["id_number"] = mask_id_number(str(person["id_number"]))
    return shown


def require_id_numbers(user: Any) -> None:
    """For signed artefacts that carry full numbers and cannot be masked (PermissionDenied → 403)."""
    if not may_see_id_numbers(user):
        raise PermissionDenied(_("此文件含完整身份证号，您的角色不能查看；请查看页面上的摘要。"))
