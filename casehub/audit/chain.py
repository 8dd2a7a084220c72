"""How an audit event is hashed. Pure functions: the verifier and the writer share them."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64


def canonical(value: Any) -> bytes:
    """Stable JSON: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(
    *, sequence: int, occurred_at: datetime, actor_id: int | None, actor_label: str, agency_id: int | None,
    action: str, object_type: str, object_id: str, case_id: int | None, details: Any, previous_hash: str,
) -> str:
    body = {
        "seq": sequence,
        "at": occurred_at.isoformat(timespec="microseconds"),
        "actor": actor_id,
        "actor_label": actor_label,
        "agency": agency_id,
        "action": action,
        "object": [object_type, object_id],
        "case": case_id,
        "details": details,
        "prev": previous_hash,
    }
    return hashlib.sha256(canonical(body)).hexdigest()
