"""The verifier's hand-written serialisation equals the reference hash for any input."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from casehub.audit.chain import event_hash, fast_event_hash

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=8,
)
optional_id = st.none() | st.integers(min_value=0, max_value=2**62)


@settings(max_examples=300, deadline=None)
@given(
    sequence=st.integers(min_value=1, max_value=2**62),
    at=st.datetimes(timezones=st.just(UTC)),
    actor=optional_id, agency=optional_id, case=optional_id,
    label=st.text(), action=st.text(), otype=st.text(), oid=st.text(),
    details=st.dictionaries(st.text(), json_values, max_size=4),
    prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_fast_hash_equals_reference(sequence, at, actor, agency, case, label, action, otype, oid, details, prev):
    reference = event_hash(
        sequence=sequence, occurred_at=at, actor_id=actor, actor_label=label, agency_id=agency, action=action,
        object_type=otype, object_id=oid, case_id=case, details=details, previous_hash=prev,
    )
    fast = fast_event_hash(sequence, at.isoformat(timespec="microseconds"), actor, label, agency, action,
                           otype, oid, case, details, prev)
    assert fast == reference


def test_known_vector_stays_stable():
    """A fixed event whose hash is written down: changing the hash format breaks existing chains."""
    at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    h = event_hash(sequence=1, occurred_at=at, actor_id=3, actor_label="investigator", agency_id=1,
                   action="case.registered", object_type="cases.case", object_id="1", case_id=1,
                   details={"number": "深龙公（刑）立字〔2026〕1号"}, previous_hash="0" * 64)
    assert h == fast_event_hash(1, "2026-11-25T08:00:00.000000+00:00", 3, "investigator", 1, "case.registered",
                                "cases.case", "1", 1, {"number": "深龙公（刑）立字〔2026〕1号"}, "0" * 64)
    assert len(h) == 64
