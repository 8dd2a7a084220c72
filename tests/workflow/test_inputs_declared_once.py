"""A transition's inputs are declared once (InputSpec) and the UI form, the API serializer and the
engine read the same meaning of "required" and the same limits from it — for every transition."""

from __future__ import annotations

from typing import Any

import pytest

from casehub.agencies.models import Agency
from casehub.api.workflow import input_serializer
from casehub.transfers.forms import TransitionForm
from tests.fixtures.district import build_agencies
from workflows import definition as d
from workflows.engine import InvalidInputs, clean_inputs

# Besides the definition's transitions, one of every input type and shape, so that a type no
# transition uses today (a one-line text, a number, a required choice with a default) agrees too.
PROBE = d.TransitionSpec(
    name="probe", label="probe", sources=(d.Stage.INVESTIGATION,), target=d.Stage.INVESTIGATION,
    agency_kind="police", capability="fire_police_transitions",
    inputs=(d.InputSpec("number", "文号"), d.InputSpec("note", "备注", "text", required=False),
            d.InputSpec("count", "数量", "int"), d.InputSpec("short", "摘要", "textarea", max_length=20),
            d.InputSpec("kind", "类型", "choice", choices=(("a", "甲"), ("b", "乙")), default="b")),
)
# 318 checks of declarations against the form, the serializer and the engine: none reads the date.
pytestmark = pytest.mark.dateless

INPUTS = [(spec, inp) for spec in (*d.TRANSITIONS, PROBE) for inp in spec.inputs]


def _id(param: Any) -> str:
    spec, inp = param
    return f"{spec.name}.{inp.name}"


def _valid(inp: d.InputSpec) -> Any:
    if inp.type == "agency":
        return Agency.objects.filter(kind=inp.agency_kind).order_by("pk").first().pk
    if inp.type == "persons":  # ids of persons; whether they belong to the case is a guard's question
        return [1, 2]
    return {"date": "2026-01-05", "int": "7", "choice": str(inp.choices[0][0]) if inp.choices else ""}.get(
        inp.type, "正文")


def _errors(spec: d.TransitionSpec, data: dict[str, Any]) -> dict[str, set[str]]:
    """The fields each of the three interpreters refuses for ``data``."""
    form = TransitionForm(spec, data={**data, "version": 0})
    form.is_valid()
    serializer = input_serializer(spec)(data=data)
    serializer.is_valid()
    try:
        clean_inputs(spec, dict(data))
        engine: set[str] = set()
    except InvalidInputs as exc:
        engine = set(exc.errors)
    return {"form": set(form.errors) - {"version"}, "api": set(serializer.errors), "engine": engine}


def test_every_transition_input_is_covered():
    assert len(INPUTS) >= 20 and {inp.type for _s, inp in INPUTS} >= {"textarea", "agency", "choice", "date",
                                                                       "persons"}


@pytest.mark.parametrize("pair", INPUTS, ids=_id)
def test_form_and_serializer_declare_the_same_field(pair):
    spec, inp = pair
    form_field = TransitionForm(spec).fields[inp.name]
    api_field = input_serializer(spec)().fields[inp.name]
    assert form_field.required is api_field.required is inp.must_be_given
    assert getattr(form_field, "max_length", None) == getattr(api_field, "max_length", None) == inp.length_limit
    if inp.type == "choice":
        assert [str(c[0]) for c in form_field.choices] == list(api_field.choices) == [str(c[0]) for c in inp.choices]


@pytest.fixture
def agencies(db):
    """An agency of every kind for the agency inputs to name (no users: nobody acts here)."""
    return build_agencies()


@pytest.mark.parametrize("pair", INPUTS, ids=_id)
def test_form_serializer_and_engine_agree_on_required_and_limits(pair, agencies):
    spec, inp = pair
    valid = {i.name: _valid(i) for i in spec.inputs}
    assert _errors(spec, valid) == {"form": set(), "api": set(), "engine": set()}

    omitted = {k: v for k, v in valid.items() if k != inp.name}
    expected = {inp.name} if inp.must_be_given else set()
    assert _errors(spec, omitted) == {"form": expected, "api": expected, "engine": expected}

    if inp.length_limit is not None:
        at_limit = {**valid, inp.name: "字" * inp.length_limit}
        assert _errors(spec, at_limit) == {"form": set(), "api": set(), "engine": set()}
        over = {**valid, inp.name: "字" * (inp.length_limit + 1)}
        assert _errors(spec, over) == {"form": {inp.name}, "api": {inp.name}, "engine": {inp.name}}


@pytest.mark.parametrize("bad", [["x"], [0], "1,abc"])
def test_a_persons_input_refuses_what_is_not_a_list_of_ids(bad):
    spec = d.get("request_arrest")
    assert _errors(spec, {"reason": "正文", "persons": bad}) == {"form": {"persons"}, "api": {"persons"},
                                                               "engine": {"persons"}}
