"""Replay profiles: a district's reported volumes, turned into a plan of real engine steps.

A profile (TOML, see ``profiles/longgang-2020.toml`` and docs/performance.md "Seed replay") names
the district's agencies, the period, the volumes the district reported per flow, the rates it
reported, and the *shape* of its cases: the share of each police sender, detention, plea
(fast-track), persons per case, and how long each stage takes.

The model is a steady state: cases arrive at a constant rate long before the period starts
(``warmup_days``), so on the first day of the period there are cases in every stage — under
investigation, awaiting an arrest decision, under review, in supplementary investigation, at
court. Each case's life is drawn once, from its own random stream (``{seed}:{n}``), as a list
of :class:`Step` s — engine transitions, and hand-overs done on paper and registered by the
receiver — each carrying what the engine will write for it (:class:`Emit`).

:func:`calibrate` turns the reported volumes into the model's free parameters (arrival rate,
indictment and return probabilities, detention, persons per case, paper shares, online judgment
delivery, registration of paper judgments): it counts the plans' emits inside the period (the
same way the dashboard counts the database) and corrects each parameter against the volume it
mainly drives until all land. The counts of a replay come from the transitions the engine really
ran; the emits only predict them (the replay test checks they agree).

Pure Python: no Django, no database.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

POLICE, PROC, COURT = "police", "procuratorate", "court"
DOSSIER_KINDS = ("arrest_request", "review_transfer", "supplementary_return", "indictment", "indictment_return")

# The figures a district reports for a period, in the order the report lists them.
VOLUMES = ("police_to_procuratorate", "procuratorate_to_court", "procuratorate_to_police",
           "e_custody_handovers", "e_custody_persons", "judgments_online")
RATES = ("e_dossier_rate", "e_custody_rate", "online_rate")


class ProfileError(ValueError):
    """The profile cannot be used as written (the message says where)."""


# --- the free parameters -----------------------------------------------------------------------------

@dataclass
class Params:
    """What :func:`calibrate` solves for (start values are only a first guess)."""

    arrivals: float = 15.0  # new cases per day, all senders
    detained: float = 1.0  # multiplier of each sender's detained share
    persons_tilt: float = 1.0  # weight of n suspects multiplied by tilt ** (n - 1)
    p_refuse: float = 0.15  # the procuratorate refuses an arrest (the suspects are released)
    p_return: float = 0.3  # a review ends in a return for supplementary investigation (at most twice)
    p_indict: float = 0.6  # a finished review ends in an indictment (otherwise non-prosecution)
    paper_free: float = 0.05  # a dossier hand-over of a non-detained case goes on paper
    paper_detained: float = 0.05  # ... of a detained case (its custody transfer goes on paper with it)
    judgment_online: float = 0.01  # the court delivers its judgment on the platform
    judgment_registered: float = 0.5  # a paper judgment is registered by the procuratorate
    held_pace: float = 1.0  # multiplier of the time from the arrest decision to transfer for review
    return_pace: float = 1.0  # multiplier of the time a supplementary investigation takes


# --- the profile ---------------------------------------------------------------------------------------

Dist = tuple[float, float, float]  # triangular: low, mode, high (days)


@dataclass(frozen=True)
class Sender:
    key: str
    name: str
    abbreviation: str
    share: float  # of the district's cases
    detained: float  # share of its cases with detained suspects (they go through arrest approval)
    plea: float  # share taking the plea / fast track (short review, summary trial)
    investigation: Dist  # registration to transfer for review (suspects not held)
    investigation_held: Dist  # arrest approval to transfer for review (art. 156: two months)
    persons: tuple[float, ...]  # weights of 1, 2, 3, ... suspects per case


@dataclass(frozen=True)
class City:
    """The city level above the districts (``[agencies.city]``): the city procuratorate and the
    intermediate court. Serious cases (those within the intermediate court's first-instance
    jurisdiction, CPL art. 21) are sent up by the district procuratorate during review (SPP Rules
    art. 328) and tried at first instance by the intermediate court; appeals against a district
    court's judgment go to it (art. 231)."""

    procuratorate: str
    court: str
    committee: str
    serious: float  # share of the district reviews sent up to the city procuratorate
    appeal: float  # share of the district judgments delivered on the platform that are appealed
    second_instance: Dist  # docketing of the appeal to the second-instance decision (art. 243: two months)


@dataclass(frozen=True)
class Profile:
    name: str
    prefix: str
    region: str
    start: date
    days: int
    warmup_days: int
    seed: int
    senders: tuple[Sender, ...]
    names: dict[str, str]  # procuratorate, court, detention, justice, committee
    targets: dict[str, float]
    durations: dict[str, Dist]
    incomplete_paper: float  # share of paper dossiers registered as incomplete (never counts as e-dossier)
    scale: float = 1.0
    solved: Params | None = None  # the [solved] table: parameters :func:`calibrate` found for the targets
    districts: int = 1  # identical districts side by side (a city), each with its own agencies and cases
    city: City | None = None  # the city procuratorate and intermediate court above the districts

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days)

    def scaled(self, scale: float) -> Profile:
        """The same district at ``scale`` of its volume (rates unchanged)."""
        if not 0 < scale <= 1:
            raise ProfileError("scale must be in (0, 1]")
        targets = {k: (v * scale if k in VOLUMES else v) for k, v in self.targets.items()}
        return replace(self, targets=targets, scale=self.scale * scale)


def _dist(value: Any, where: str) -> Dist:
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(x, int | float) for x in value)):
        raise ProfileError(f"{where}: a duration is [low, mode, high] in days")
    low, mode, high = (float(x) for x in value)
    if not 0 <= low <= mode <= high:
        raise ProfileError(f"{where}: need 0 <= low <= mode <= high")
    return low, mode, high


def _share(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ProfileError(f"{where}: a share is a number between 0 and 1")
    return float(value)


DURATIONS = ("arrest_request", "arrest_accept", "arrest_decision", "review_accept", "review", "review_plea",
             "supplementary", "court_accept", "trial", "trial_plea", "judgment_delivery")


def load_profile(path: str | Path) -> Profile:
    """Read and check a profile file."""
    try:
        raw = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    return parse_profile(raw)


def parse_profile(raw: dict[str, Any]) -> Profile:
    try:
        period, world, targets, shape = raw["period"], raw["agencies"], raw["targets"], raw["cases"]
    except KeyError as exc:
        raise ProfileError(f"missing table [{exc.args[0]}]") from exc
    senders = []
    for n, s in enumerate(world.get("police", [])):
        where = f"agencies.police[{n}]"
        try:
            persons = tuple(float(w) for w in s["persons"])
            senders.append(Sender(
                key=str(s["key"]), name=str(s["name"]), abbreviation=str(s["abbreviation"]),
                share=_share(s["share"], f"{where}.share"), detained=_share(s["detained"], f"{where}.detained"),
                plea=_share(s["plea"], f"{where}.plea"), investigation=_dist(s["investigation"], f"{where}.investigation"),
                investigation_held=_dist(s.get("investigation_held", s["investigation"]), f"{where}.investigation_held"),
                persons=persons))
        except KeyError as exc:
            raise ProfileError(f"{where}: missing {exc.args[0]}") from exc
        if not persons or min(persons) < 0 or sum(persons) <= 0:
            raise ProfileError(f"{where}.persons: weights of 1, 2, 3 ... suspects, not all zero")
    if not senders or abs(sum(s.share for s in senders) - 1) > 1e-6:
        raise ProfileError("agencies.police: at least one sender, shares adding up to 1")
    missing = [k for k in (*VOLUMES, *RATES) if k not in targets]
    if missing:
        raise ProfileError(f"targets: missing {', '.join(missing)}")
    durations = shape.get("durations", {})
    missing = [k for k in DURATIONS if k not in durations]
    if missing:
        raise ProfileError(f"cases.durations: missing {', '.join(missing)}")
    start = period["start"]
    if not isinstance(start, date):
        raise ProfileError("period.start: a date like 2020-11-04")
    names = {k: str(world.get(k, default)) for k, default in (
        ("procuratorate", "区人民检察院"), ("court", "区人民法院"), ("detention", "区看守所"),
        ("justice", "区司法局"), ("committee", "区委政法委"))}
    return Profile(
        city=_city(world.get("city")),
        name=str(raw.get("name", "profile")), prefix=str(world.get("prefix", "RP")), region=str(world.get("region", "990002")),
        start=start, days=int(period["days"]), warmup_days=int(period.get("warmup_days", 150)),
        seed=int(raw.get("seed", 1)), senders=tuple(senders), names=names,
        targets={k: float(targets[k]) for k in (*VOLUMES, *RATES)},
        durations={k: _dist(durations[k], f"cases.durations.{k}") for k in DURATIONS},
        incomplete_paper=_share(shape.get("incomplete_paper", 0.3), "cases.incomplete_paper"),
        solved=_solved(raw.get("solved")),
        districts=int(period.get("districts", 1)),
    )


def _city(table: Any) -> City | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ProfileError("agencies.city: a table")
    try:
        return City(procuratorate=str(table.get("procuratorate", "市人民检察院")),
                    court=str(table.get("court", "市中级人民法院")),
                    committee=str(table.get("committee", "市委政法委")),
                    serious=_share(table["serious"], "agencies.city.serious"),
                    appeal=_share(table["appeal"], "agencies.city.appeal"),
                    second_instance=_dist(table.get("second_instance", [20, 40, 60]),
                                          "agencies.city.second_instance"))
    except KeyError as exc:
        raise ProfileError(f"agencies.city: missing {exc.args[0]}") from exc


def _solved(table: Any) -> Params | None:
    if table is None:
        return None
    known = set(Params.__dataclass_fields__)
    unknown = set(table) - known
    if unknown:
        raise ProfileError(f"solved: unknown parameters {', '.join(sorted(unknown))}")
    return Params(**{k: float(v) for k, v in table.items()})


# --- plans -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Emit:
    """A hand-over the step writes: a Transfer (with its case or not), and custody certificates."""

    kind: str
    from_kind: str
    to_kind: str
    online: bool
    with_case: bool
    custody: tuple[int, ...] = ()  # person numbers (within the case) whose custody moves with it
    complete: bool = True


@dataclass
class Step:
    at: datetime
    action: str  # register | fire | paper
    name: str = ""  # transition, or paper transfer kind
    user: str = ""  # actor key, e.g. "branch:investigator", "prosecutor"
    inputs: dict[str, Any] = field(default_factory=dict)
    emits: tuple[Emit, ...] = ()


@dataclass
class CasePlan:
    n: int
    sender: str
    persons: int
    detained: bool
    plea: bool
    steps: list[Step]
    district: int = 0


def _tri(rng: random.Random, d: Dist) -> float:
    low, mode, high = d
    return rng.triangular(low, high, mode) if high > low else low


def _stream(profile: Profile, district: int) -> str:
    return str(profile.seed) if district == 0 else f"{profile.seed}/{district}"


def arrivals(profile: Profile, params: Params, start_at: datetime, district: int = 0) -> list[datetime]:
    """Registration moments: a Poisson stream from ``warmup_days`` before the period to its end."""
    rng = random.Random(f"{_stream(profile, district)}:arrivals")  # noqa: S311 - simulation, not security
    out, t = [], start_at - timedelta(days=profile.warmup_days)
    end = start_at + timedelta(days=profile.days)
    rate = max(params.arrivals, 1e-6)
    while True:
        t += timedelta(days=rng.expovariate(rate))
        if t >= end:
            return out
        out.append(t)


def plan_case(n: int, at: datetime, profile: Profile, params: Params, district: int = 0) -> CasePlan:
    """One case's life from its registration at ``at`` (the decisions do not depend on the engine)."""
    rng = random.Random(f"{_stream(profile, district)}:{n}")  # noqa: S311 - simulation, not security
    dur = profile.durations
    pick = rng.random()
    sender = profile.senders[-1]
    for s in profile.senders:
        if pick < s.share:
            sender = s
            break
        pick -= s.share
    weights = [w * params.persons_tilt ** k for k, w in enumerate(sender.persons)]
    persons = rng.choices(range(1, len(weights) + 1), weights=weights)[0]
    detained = rng.random() < min(1.0, sender.detained * params.detained)
    plea = rng.random() < sender.plea
    investigator = f"{sender.key}:investigator"
    everyone = tuple(range(persons))
    held: tuple[int, ...] = everyone if detained else ()
    steps = [Step(at, "register", user=investigator, inputs={"persons": persons, "detained": detained})]
    t = at

    def after(d: Dist) -> datetime:
        return t + timedelta(seconds=_tri(rng, d) * 86400)

    def fire(name: str, user: str, *emits: Emit, at: datetime | None = None, **inputs: Any) -> None:
        steps.append(Step(at or t, "fire", name, user, inputs, emits))

    proc_seen = False  # the procuratorate can see the case (it received a package of it)
    if detained:
        t = after(dur["arrest_request"])
        fire("request_arrest", investigator, Emit("arrest_request", POLICE, PROC, True, True),
             reason="涉嫌犯罪，有逮捕必要")
        proc_seen = True
        t = after(dur["arrest_accept"])
        fire("accept_arrest_request", "prosecutor")
        t = after(dur["arrest_decision"])
        if rng.random() >= params.p_refuse:
            fire("approve_arrest", "prosecutor", Emit("arrest_decision", PROC, POLICE, True, True))
        else:
            fire("refuse_arrest", "prosecutor", Emit("arrest_decision", PROC, POLICE, True, True),
                 reason="不符合逮捕条件")
            held = ()  # released (art. 91 para. 3)
    if detained:  # from the arrest decision, whether the suspects were arrested or released
        t += timedelta(seconds=_tri(rng, sender.investigation_held) * params.held_pace * 86400)
    else:
        t = after(sender.investigation)
    paper_share = params.paper_detained if held else params.paper_free
    if rng.random() < paper_share:
        # On paper: the procuratorate registers the hand-over (with the case when it can see it,
        # and then the custody transfer that went with it); the case goes on outside the platform.
        complete = rng.random() >= profile.incomplete_paper
        custody = held if proc_seen else ()
        steps.append(Step(t, "paper", "review_transfer", "prosecutor", {"from": sender.key, "complete": complete},
                          (Emit("review_transfer", POLICE, PROC, False, proc_seen, custody, complete),)))
        return CasePlan(n, sender.key, persons, detained, plea, steps)
    fire("transfer_for_review", investigator, Emit("review_transfer", POLICE, PROC, True, True, held),
         facts="经依法侦查查明……", evidence="证人证言\n现场勘验笔录")
    t = after(dur["review_accept"])
    fire("accept_review_transfer", "prosecutor")
    # The city level draws from a stream of its own: a profile without it plans exactly as before.
    city_rng = random.Random(f"{_stream(profile, district)}:{n}:city")  # noqa: S311 - simulation
    if profile.city is not None and city_rng.random() < profile.city.serious:
        _serious(fire, after(dur["review_accept"]), held, params, rng, dur)
        return CasePlan(n, sender.key, persons, detained, plea, steps)
    returns = 0
    while True:
        t = after(dur["review_plea"] if plea else dur["review"])
        if returns < 2 and rng.random() < params.p_return * (1.0 if returns == 0 else 0.6):
            fire("return_for_supplementary", "prosecutor", Emit("supplementary_return", PROC, POLICE, True, True, held),
                 reason="补充调取证据")
            returns += 1
            t += timedelta(seconds=_tri(rng, dur["supplementary"]) * params.return_pace * 86400)
            fire("resubmit_for_review", investigator, Emit("review_transfer", POLICE, PROC, True, True, held),
                 reason="已补充侦查")
            t = after(dur["review_accept"])
            fire("accept_review_transfer", "prosecutor")
            continue
        break
    if rng.random() >= params.p_indict:
        basis = "刑事诉讼法第一百七十五条第四款" if returns else "刑事诉讼法第一百七十七条第二款"
        fire("decide_non_prosecution", "prosecutor", Emit("non_prosecution", PROC, POLICE, True, True),
             facts="经审查……", legal_basis=basis)
        return CasePlan(n, sender.key, persons, detained, plea, steps)
    if rng.random() < paper_share:
        complete = rng.random() >= profile.incomplete_paper
        steps.append(Step(t, "paper", "indictment", "court_clerk", {"from": "procuratorate", "complete": complete},
                          (Emit("indictment", PROC, COURT, False, False, (), complete),)))
        return CasePlan(n, sender.key, persons, detained, plea, steps)
    procedure = "summary" if plea else "ordinary"
    fire("indict", "prosecutor", Emit("indictment", PROC, COURT, True, True, held), facts="经审查查明……",
         charges="危险驾驶罪，刑法第一百三十三条之一" if sender.key == "traffic" else "盗窃罪，刑法第二百六十四条",
         procedure=procedure)
    t = after(dur["court_accept"])
    fire("docket_case", "court_clerk", procedure=procedure)
    t = after(dur["trial_plea"] if plea else dur["trial"])
    fire("announce_judgment", "judge", verdict="判处有期徒刑六个月" if plea else "判处有期徒刑一年")
    t = after(dur["judgment_delivery"])
    if rng.random() < params.judgment_online:
        fire("deliver_judgment", "court_clerk", Emit("judgment", COURT, PROC, True, True),
             Emit("judgment", COURT, POLICE, True, True))
        if profile.city is not None and city_rng.random() < profile.city.appeal:
            delivered = t
            t = delivered + timedelta(days=city_rng.uniform(1, 9))
            fire("record_appeal", "court_clerk", persons="@defendants", reason="被告人不服第一审判决，提出上诉")
            # Art. 231: sent up within three days after every defendant's ten-day window has expired.
            t = delivered + timedelta(days=11 + city_rng.uniform(0, 2))
            fire("forward_appeal", "court_clerk", Emit("appeal", COURT, COURT, True, True, held))
            t = after(dur["court_accept"])
            fire("docket_appeal", "city:court_clerk")
            t += timedelta(seconds=_tri(city_rng, profile.city.second_instance) * 86400)
            fire("decide_second_instance", "city:judge", Emit("judgment", COURT, COURT, True, True),
                 result="upheld", verdict="驳回上诉，维持原判")
    elif rng.random() < params.judgment_registered:
        steps.append(Step(t, "paper", "judgment", "prosecutor", {"from": "court", "complete": True},
                          (Emit("judgment", COURT, PROC, False, True),)))
    return CasePlan(n, sender.key, persons, detained, plea, steps)


def _serious(fire: Any, start: datetime, held: tuple[int, ...], params: Params, rng: random.Random,
             dur: dict[str, Dist]) -> None:
    """A case within the intermediate court's first-instance jurisdiction (CPL art. 21): the district
    procuratorate sends it up during review (SPP Rules art. 328), the city procuratorate reviews it
    (its period runs from its own receipt, art. 172(2)) and indicts at the intermediate court, which
    tries it under the ordinary procedure. ``fire(name, user, *emits, at=moment, **inputs)`` plans
    a step."""
    t = start

    def at(d: Dist) -> datetime:
        nonlocal t
        t = t + timedelta(seconds=_tri(rng, d) * 86400)
        return t

    steps = [
        ("transfer_jurisdiction", "prosecutor", (Emit("jurisdiction_transfer", PROC, PROC, True, True, held),),
         {"reason": "可能判处无期徒刑以上刑罚，属中级人民法院管辖（刑事诉讼法第二十一条）", "_to": "city:procuratorate"},
         None),
        ("accept_jurisdiction_transfer", "city:prosecutor", (), {}, dur["review_accept"]),
        ("indict", "city:prosecutor", (Emit("indictment", PROC, COURT, True, True, held),),
         {"facts": "经审查查明……", "charges": "故意杀人罪，刑法第二百三十二条", "procedure": "ordinary",
          "_to": "city:court"}, dur["review"]),
        ("docket_case", "city:court_clerk", (), {"procedure": "ordinary"}, dur["court_accept"]),
        ("announce_judgment", "city:judge", (), {"verdict": "判处无期徒刑"}, dur["trial"]),
    ]
    for name, user, emits, inputs, wait in steps:
        if wait is not None:
            at(wait)
        fire(name, user, *emits, at=t, **inputs)
    if rng.random() < params.judgment_online:
        at(dur["judgment_delivery"])
        # "earlier": every agency that held the case — the police, both procuratorates.
        fire("deliver_judgment", "city:court_clerk", Emit("judgment", COURT, PROC, True, True),
             Emit("judgment", COURT, PROC, True, True), Emit("judgment", COURT, POLICE, True, True), at=t)


def period_start(profile: Profile, tz: str = "Asia/Shanghai") -> datetime:
    """Midnight of the period's first day in the platform's time zone."""
    return datetime.combine(profile.start, datetime.min.time(), tzinfo=ZoneInfo(tz))


def plans(profile: Profile, params: Params, start_at: datetime) -> list[CasePlan]:
    end_at = start_at + timedelta(days=profile.days)
    out = []
    for k in range(profile.districts):
        for i, at in enumerate(arrivals(profile, params, start_at, k)):
            p = plan_case(i, at, profile, params, k)
            p.n, p.district = k * 1_000_000 + i, k
            p.steps = [s for s in p.steps if s.at < end_at]
            if p.steps and p.steps[-1].at >= start_at:
                out.append(p)
    return out


# --- counting as the dashboard counts -----------------------------------------------------------------

def count(plans: list[CasePlan], start_at: datetime, end_at: datetime) -> dict[str, float]:
    """The period's figures the plans will produce (the dashboard's definitions, docs/audit.md)."""
    cases: dict[str, set[int]] = defaultdict(set)
    persons_online: set[tuple[int, int]] = set()
    handovers_online = certs_online = certs_all = 0
    dossier = dossier_e = transfers = online = 0
    judgments: set[int] = set()
    for p in plans:
        for s in p.steps:
            if not start_at <= s.at < end_at:
                continue
            for e in s.emits:
                transfers += 1
                online += e.online
                if e.kind in DOSSIER_KINDS:
                    dossier += 1
                    dossier_e += e.online and e.complete
                if e.with_case:
                    cases[f"{e.from_kind}>{e.to_kind}"].add(p.n)
                if e.custody:
                    certs_all += len(e.custody)
                    if e.online:
                        certs_online += len(e.custody)
                        handovers_online += 1
                        persons_online.update((p.n, k) for k in e.custody)
                if e.kind == "judgment" and e.online:
                    judgments.add(p.n)
    return {
        "police_to_procuratorate": len(cases[f"{POLICE}>{PROC}"]),
        "procuratorate_to_court": len(cases[f"{PROC}>{COURT}"]),
        "procuratorate_to_police": len(cases[f"{PROC}>{POLICE}"]),
        "e_custody_handovers": handovers_online,
        "e_custody_persons": len(persons_online),
        "judgments_online": len(judgments),
        "e_dossier_rate": dossier_e / dossier if dossier else 0.0,
        "e_custody_rate": certs_online / certs_all if certs_all else 0.0,
        "online_rate": online / transfers if transfers else 0.0,
    }


def misses(figures: dict[str, float], targets: dict[str, float]) -> dict[str, float]:
    """How far each figure is from its target: relative for volumes, in points for rates."""
    out = {}
    for k in VOLUMES:
        t = targets[k]
        out[k] = (figures[k] - t) / t if t >= 1 else figures[k] - t
    for k in RATES:
        out[k] = (figures[k] - targets[k]) * 100
    return out


def lands(figures: dict[str, float], targets: dict[str, float], *, volume_tolerance: float = 0.05,
          rate_points: float = 1.0, at_least: float = 0.0) -> list[str]:
    """The figures that miss their target (volumes by more than ``volume_tolerance`` relative — or
    ``at_least`` absolute, whichever is larger —, rates by more than ``rate_points``)."""
    bad = []
    for k in VOLUMES:
        t = targets[k]
        if abs(figures[k] - t) > max(volume_tolerance * t, at_least):
            bad.append(f"{k}: {figures[k]:g} against {t:g}")
    for k in RATES:
        if abs(figures[k] - targets[k]) * 100 > rate_points:
            bad.append(f"{k}: {figures[k] * 100:.1f}% against {targets[k] * 100:.1f}%")
    return bad


# --- calibration -------------------------------------------------------------------------------------------

# The free parameters and how the solver moves them: "log" for positive numbers, "logit" for
# probabilities (bounds keep every share away from exactly 0 and 1).
_FREE: tuple[tuple[str, str, float, float], ...] = (
    ("arrivals", "log", 0.01, 10_000.0),
    ("detained", "log", 0.01, 50.0),
    ("p_refuse", "logit", 0.01, 0.9),
    ("persons_tilt", "log", 0.05, 20.0),
    ("p_return", "logit", 0.0005, 0.95),
    ("p_indict", "logit", 0.01, 0.995),
    ("paper_free", "logit", 0.0005, 0.9),
    ("paper_detained", "logit", 0.0005, 0.9),
    ("judgment_online", "logit", 0.0001, 0.999),
    ("judgment_registered", "logit", 0.0005, 0.9995),
    ("held_pace", "log", 0.25, 1.5),
    ("return_pace", "log", 0.25, 1.2),
)


def _to_x(params: Params) -> list[float]:
    out = []
    for name, how, low, high in _FREE:
        v = min(high, max(low, getattr(params, name)))
        out.append(math.log(v) if how == "log" else math.log(v / (1 - v)))
    return out


def _from_x(x: list[float]) -> Params:
    params = Params()
    for (name, how, low, high), v in zip(_FREE, x, strict=True):
        v = min(60.0, max(-60.0, v))
        value = math.exp(v) if how == "log" else 1 / (1 + math.exp(-v))
        setattr(params, name, min(high, max(low, value)))
    return params


def _residuals(figures: dict[str, float], targets: dict[str, float]) -> list[float]:
    """1.0 = a volume 5 % off its target, or a rate 1 point off."""
    out = [math.log((figures[k] + 0.5) / (targets[k] + 0.5)) * 20 for k in VOLUMES]
    out += [(figures[k] - targets[k]) * 100 for k in RATES]
    return out


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a small dense system)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            continue
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        if abs(m[r][r]) < 1e-12:
            continue
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


@dataclass
class Calibration:
    params: Params
    figures: dict[str, float]
    iterations: int  # dry runs of the whole period (for a scaled replay: the stream's number)
    plans: list[CasePlan]
    score: float  # the largest residual: <= 1 when every figure lands
    seed: int = 0  # the random stream the plans were drawn from


def calibrate(profile: Profile, start_at: datetime, *, rounds: int = 20, start: Params | None = None) -> Calibration:
    """Solve the free parameters so that the plans' figures land on the profile's targets
    (``start_at``: :func:`period_start`): damped Gauss-Newton (Levenberg-Marquardt) over dry runs
    of the whole period, the Jacobian by finite differences; the best dry run found wins."""
    end_at = start_at + timedelta(days=profile.days)
    targets = profile.targets
    runs = 0

    def evaluate(x: list[float]) -> tuple[list[float], dict[str, float], list[CasePlan]]:
        nonlocal runs
        runs += 1
        cases = plans(profile, _from_x(x), start_at)
        figures = count(cases, start_at, end_at)
        return _residuals(figures, targets), figures, cases

    x = _to_x(start or Params(arrivals=max(0.05, targets["police_to_procuratorate"] / profile.days * 0.7)))
    r, figures, cases = evaluate(x)
    best = (max(map(abs, r)), x, figures, cases)
    mu = 1.0
    h = 0.35
    for _round in range(rounds):
        if best[0] <= 0.8:
            break
        cols = []
        for j in range(len(x)):
            xj = x[:]
            xj[j] += h
            rj, _f, _c = evaluate(xj)
            cols.append([(a - b) / h for a, b in zip(rj, r, strict=True)])
        jtj = [[sum(cols[i][k] * cols[j][k] for k in range(len(r))) for j in range(len(x))] for i in range(len(x))]
        jtr = [sum(cols[i][k] * r[k] for k in range(len(r))) for i in range(len(x))]
        improved = False
        for _try in range(4):
            a = [[jtj[i][j] + (mu * (jtj[i][i] + 1e-3) if i == j else 0.0) for j in range(len(x))]
                 for i in range(len(x))]
            dx = _solve(a, [-v for v in jtr])
            dx = [max(-1.5, min(1.5, v)) for v in dx]
            xn = [a + b for a, b in zip(x, dx, strict=True)]
            rn, fn, cn = evaluate(xn)
            if sum(v * v for v in rn) < sum(v * v for v in r):
                x, r, mu, improved = xn, rn, max(mu / 3, 1e-4), True
                score = max(map(abs, rn))
                if score < best[0]:
                    best = (score, xn, fn, cn)
                break
            mu *= 4
        if not improved:
            h = 0.15 if h > 0.2 else 0.5  # a flat spot of the (step-wise) counts: probe at another width
    score, x, figures, cases = best
    return Calibration(_from_x(x), figures, runs, cases, score, seed=profile.seed)


def realize(profile: Profile, params: Params, start_at: datetime, *, tries: int | None = None,
            paper_custody: bool = False) -> Calibration:
    """A scaled-down replay: the full profile's solved parameters at ``profile.scale`` of the
    arrivals, and — small counts being lumpy — the first random stream (``seed``, ``seed + 1``,
    ...) whose plans land on the scaled targets (volumes within 5 % or one case, rates within one
    point or one hand-over); the best one tried when none does. ``paper_custody``: only a stream
    in which some custody transfer goes on paper (a test that must walk that path too)."""
    end_at = start_at + timedelta(days=profile.days)
    scaled = replace(params, arrivals=params.arrivals * profile.scale)
    tries = tries or min(4000, int(50 / profile.scale))  # smaller replays are lumpier, and cheaper to plan
    best: Calibration | None = None
    for k in range(tries):
        trial = replace(profile, seed=profile.seed + k)
        cases = plans(trial, scaled, start_at)
        if paper_custody and not any(e.custody and not e.online and start_at <= s.at
                                     for p in cases for s in p.steps for e in s.emits):
            continue
        figures = count(cases, start_at, end_at)
        slack = rate_slack(cases, start_at, end_at)
        # Scored as lands() judges (not by _residuals, whose log of a target below one case is the
        # same for every stream): the best miss is the smallest multiple of its tolerance.
        score = _lumpy_miss(figures, profile.targets, slack)
        if best is None or score < best.score:
            best = Calibration(scaled, figures, k + 1, cases, score, seed=trial.seed)
        if not lands(figures, profile.targets, at_least=1.0, rate_points=slack):
            return Calibration(scaled, figures, k + 1, cases, score, seed=trial.seed)
    assert best is not None
    return best


def _lumpy_miss(figures: dict[str, float], targets: dict[str, float], rate_points: float) -> float:
    """The largest miss in units of what :func:`lands` allows a small replay (<= 1: it lands)."""
    volumes = (abs(figures[k] - targets[k]) / max(0.05 * targets[k], 1.0) for k in VOLUMES)
    rates = (abs(figures[k] - targets[k]) * 100 / rate_points for k in RATES)
    return max(*volumes, *rates)


def rate_slack(cases: list[CasePlan], start_at: datetime, end_at: datetime) -> float:
    """How finely a small replay can hit a rate: one point, or the step one hand-over (or one
    certificate) makes in the smallest of the three denominators, whichever is larger."""
    transfers = dossier = certs = 0
    for p in cases:
        for s in p.steps:
            if start_at <= s.at < end_at:
                for e in s.emits:
                    transfers += 1
                    dossier += e.kind in DOSSIER_KINDS
                    certs += len(e.custody)
    smallest = min(x for x in (transfers, dossier, certs, 10_000) if x)
    return max(1.0, 100 / smallest)


def prepare(profile: Profile, start_at: datetime, *, solve: bool = False) -> Calibration:
    """The plans to replay: from the profile's [solved] parameters (solved again when asked, or
    when it has none), scaled down by :func:`realize` when the profile is."""
    params = profile.solved
    if solve or params is None:
        full = replace(profile, targets={k: (v / profile.scale if k in VOLUMES else v)
                                         for k, v in profile.targets.items()}, scale=1.0)
        found = calibrate(full, start_at, start=params)
        if profile.scale == 1:
            return found
        params = found.params
    if profile.scale < 1:
        return realize(profile, params, start_at)
    end_at = start_at + timedelta(days=profile.days)
    cases = plans(profile, params, start_at)
    figures = count(cases, start_at, end_at)
    return Calibration(params, figures, 1, cases, max(map(abs, _residuals(figures, profile.targets))),
                       seed=profile.seed)


def solved_table(params: Params) -> str:
    """The [solved] table to paste into the profile."""
    return "[solved]\n" + "".join(f"{k} = {v:.6g}\n" for k, v in vars(params).items())


# The stage (workflows.definition.Stage) a case is in after each planned step.
STAGE_AFTER = {
    "register": "investigation", "request_arrest": "arrest_requested", "accept_arrest_request": "arrest_review",
    "approve_arrest": "investigation", "refuse_arrest": "investigation", "transfer_for_review": "review_requested",
    "resubmit_for_review": "review_requested", "accept_review_transfer": "prosecution_review",
    "return_for_supplementary": "supplementary_investigation", "decide_non_prosecution": "closed",
    "indict": "court_filing", "docket_case": "trial", "announce_judgment": "judgment_delivery",
    "deliver_judgment": "appeal_period", "transfer_jurisdiction": "jurisdiction_transfer",
    "accept_jurisdiction_transfer": "prosecution_review", "record_appeal": "appeal_period",
    "forward_appeal": "appeal_filed", "docket_appeal": "second_instance", "decide_second_instance": "execution",
}


def stage_after(p: CasePlan, before: datetime | None = None) -> str:
    """The case's stage after its last step (before ``before``): paper hand-overs move nothing."""
    stage = ""
    for s in p.steps:
        if before is not None and s.at >= before:
            break
        if s.action == "register":
            stage = STAGE_AFTER["register"]
        elif s.action == "fire":
            stage = STAGE_AFTER[s.name]
    return stage


def summary(plans: list[CasePlan], start_at: datetime) -> dict[str, int]:
    steps = [s for p in plans for s in p.steps]
    return {"cases": len(plans), "steps": len(steps),
            "steps_before": sum(1 for s in steps if s.at < start_at),
            "backlog_cases": sum(1 for p in plans if p.steps[0].at < start_at),
            "sent_up": sum(1 for s in steps if s.name == "transfer_jurisdiction"),
            "appeals": sum(1 for s in steps if s.name == "forward_appeal")}


