"""Realistic traffic for a period, driven through the real workflow engine.

:func:`simulate` registers cases and moves each one through :func:`workflows.engine.fire` (and
:func:`~workflows.engine.decide_approval` where a supervisor must approve) on a simulated
calendar: arrest requests, approvals and refusals, transfers for review, returns for supplementary
investigation (some twice), non-prosecutions, indictments, docketing, judgments; detained and
non-detained suspects; a configurable share of hand-overs done on paper and only *registered* by
the receiving clerk (:func:`casehub.transfers.services.register_paper_transfer`), after which the
case continues outside the platform. Documents are small generated PDFs uploaded through the
dossier pipeline.

The calendar: every case is a script (a generator) that yields the moment of its next step; the
driver runs all steps of all cases in time order, with ``django.utils.timezone.now`` answering
the simulated moment, so the engine stamps its logs, packages and clocks with simulated times.
(The audit trail keeps real wall-clock times: it records when rows were written.)

The :class:`Ledger` is the simulator's own account of what it did, kept independently of the
database; the metrics test recomputes every dashboard number from it.

Deterministic for a seed: the random choices come from ``random.Random(f"{seed}:{case}")``.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import random
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.apps import apps
from django.utils import timezone

from casehub.agencies.models import Agency, AgencyKind, Role

# Transitions whose target stage, for the ledger (the simulator never uses the "back to sender" ones).
SIMULATED_TRANSITIONS = (
    "request_arrest", "accept_arrest_request", "approve_arrest", "refuse_arrest", "transfer_for_review",
    "accept_review_transfer", "return_for_supplementary", "resubmit_for_review", "decide_non_prosecution",
    "indict", "docket_case", "announce_judgment", "deliver_judgment", "judgment_effective",
    "hand_over_for_execution", "accept_execution",
)
SUPERVISOR = {AgencyKind.POLICE: "police_supervisor", AgencyKind.PROCURATORATE: "procuratorate_supervisor",
              AgencyKind.COURT: "court_supervisor"}


# --- the simulator's own account -------------------------------------------------------------------

@dataclass
class LedgerTransfer:
    case: int  # simulation case index
    kind: str
    from_kind: str
    to_kind: str
    mode: str  # online | paper
    at: datetime
    complete: bool


@dataclass
class LedgerCustody:
    case: int
    person: int  # simulation person key (case index * 10 + n)
    from_kind: str
    to_kind: str
    at: datetime


@dataclass
class LedgerAnswer:
    case: int
    kind: str
    to_kind: str
    sent_at: datetime  # from the simulator's own record of the send
    answered_at: datetime


@dataclass
class Ledger:
    transfers: list[LedgerTransfer] = field(default_factory=list)
    stages: dict[int, list[tuple[datetime, str, str]]] = field(default_factory=dict)  # case → (at, stage, holder kind)
    custody: list[LedgerCustody] = field(default_factory=list)
    answers: list[LedgerAnswer] = field(default_factory=list)
    cases: dict[int, int] = field(default_factory=dict)  # simulation index → Case pk
    steps: int = 0


# --- time -----------------------------------------------------------------------------------------------

class SimulationError(Exception):
    """The simulation cannot run as asked (the message says why); nothing was simulated."""


class SimulatedClock:
    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now if self.now is not None else _REAL_NOW()


_REAL_NOW = timezone.now
# The clock in force for the current thread (or asyncio task); None everywhere else.
_ACTIVE_CLOCK: contextvars.ContextVar[SimulatedClock | None] = contextvars.ContextVar("casehub_sim_clock",
                                                                                      default=None)


def _scoped_now() -> datetime:
    clock = _ACTIVE_CLOCK.get()
    return clock() if clock is not None else _REAL_NOW()


_PATCH_LOCK = threading.Lock()
_PATCH_STATE: dict[str, Any] = {"blocks": 0, "fields": []}


@contextlib.contextmanager
def simulated_time(clock: SimulatedClock) -> Iterator[None]:
    """Inside the block, in this thread only, ``timezone.now`` and the fields defaulting to it
    answer ``clock``.

    The engine and the models read ``django.utils.timezone.now`` (fields hold the function itself as
    their default), so the simulator has to put a stand-in there; the stand-in consults a context
    variable, so a request served by another thread of the same process during a simulation still
    gets the real time, and the original function is back in every place when the last block ends,
    however it ends."""
    with _PATCH_LOCK:
        if _PATCH_STATE["blocks"] == 0:
            fields = [f for model in apps.get_models() for f in model._meta.concrete_fields
                      if f.default is _REAL_NOW]
            timezone.now = _scoped_now  # type: ignore[assignment]
            for f in fields:
                f.default = _scoped_now
                f.__dict__.pop("_get_default", None)
            _PATCH_STATE["fields"] = fields
        _PATCH_STATE["blocks"] += 1
    token = _ACTIVE_CLOCK.set(clock)
    try:
        yield
    finally:
        _ACTIVE_CLOCK.reset(token)
        with _PATCH_LOCK:
            _PATCH_STATE["blocks"] -= 1
            if _PATCH_STATE["blocks"] == 0:
                timezone.now = _REAL_NOW  # type: ignore[assignment]
                for f in _PATCH_STATE["fields"]:
                    f.default = _REAL_NOW
                    f.__dict__.pop("_get_default", None)
                _PATCH_STATE["fields"] = []


# --- where a simulation may run ---------------------------------------------------------------------------

# The region code of the simulation district's agencies: "99" is no province of the national
# administrative division codes (GB/T 2260), so no real agency carries it.
SIMULATION_REGION = "990001"


def real_case_count() -> int:
    """Cases in this database that no simulation made (their registering agency is a real one)."""
    from casehub.cases.models import Case

    return Case.objects.exclude(origin_agency__region=SIMULATION_REGION).count()


def refuse_unsafe_target(*, into_existing: bool) -> None:
    """A simulation writes cases, packages and audit events that are never deleted (the trail is
    append-only): refuse a production installation always, and a database that already holds real
    cases unless the operator said so explicitly."""
    from django.conf import settings

    if getattr(settings, "PRODUCTION", False):
        raise SimulationError("simulate refuses to run with CASEHUB_ENV=production: simulated cases and "
                              "their audit events could never be removed from the trail.")
    if not into_existing:
        real = real_case_count()
        if real:
            raise SimulationError(
                f"this database holds {real} case(s) that no simulation made; simulated events would "
                "join their append-only audit trail. Use an empty database, or pass --into-existing.")


# --- actors ---------------------------------------------------------------------------------------------

@dataclass
class Actors:
    police: Agency
    procuratorate: Agency
    court: Agency
    detention: Agency
    users: dict[str, Any]


def ensure_actors(prefix: str = "SIM", region: str = SIMULATION_REGION) -> Actors:
    """A district of agencies and one user per role for the simulation (created once, reused)."""
    from casehub.accounts.services import create_user
    from casehub.agencies.models import User

    def agency(kind: str, code: str, name: str, **extra: Any) -> Agency:
        found, _created = Agency.objects.get_or_create(
            code=f"{prefix}{code}", defaults={"kind": kind, "name": f"{name}（模拟）", "region": region, **extra})
        return found

    a = Actors(
        # The prefix is part of every number the agencies issue, so two simulation districts never
        # collide on a (globally unique) document number.
        police=agency(AgencyKind.POLICE, "GA", "模拟公安分局", abbreviation=f"模{prefix}"),
        procuratorate=agency(AgencyKind.PROCURATORATE, "JC", "模拟区人民检察院", abbreviation=f"模{prefix}"),
        court=agency(AgencyKind.COURT, "FY", "模拟区人民法院", abbreviation=f"模{prefix}",
                     court_code=f"模{prefix}01"),
        detention=agency(AgencyKind.DETENTION_CENTRE, "KSS", "模拟看守所"),
        users={},
    )
    agency(AgencyKind.COMMITTEE, "ZFW", "模拟区委政法委")
    plan = [("investigator", a.police, Role.INVESTIGATOR), ("police_supervisor", a.police, Role.SUPERVISOR),
            ("prosecutor", a.procuratorate, Role.PROSECUTOR),
            ("procuratorate_supervisor", a.procuratorate, Role.SUPERVISOR),
            ("court_clerk", a.court, Role.COURT_CLERK), ("judge", a.court, Role.JUDGE),
            ("court_supervisor", a.court, Role.SUPERVISOR)]
    for key, ag, role in plan:
        username = f"{prefix.lower()}_{key}"
        a.users[key] = User.objects.filter(username=username).first() or create_user(
            username=username, agency=ag, roles=[role], password=None, display_name=f"模拟{key}")
    return a


# --- documents ------------------------------------------------------------------------------------------

def small_pdf(label: str) -> bytes:
    """A one-page PDF with a line of text (fpdf2, core font: no font files needed)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=label)
    return bytes(pdf.output())


# --- the driver -----------------------------------------------------------------------------------------

@dataclass
class Options:
    cases: int
    start: date
    days: int
    seed: int = 1
    paper_share: float = 0.15
    detained_share: float = 0.6


class Simulation:
    def __init__(self, options: Options, actors: Actors, *, commit_runner: Callable[[], Any] | None = None,
                 workdir: Path | None = None) -> None:
        self.o = options
        self.a = actors
        self.ledger = Ledger()
        self.clock = SimulatedClock()
        # Tests run inside one transaction, where on-commit work (package verification) would never
        # run; they pass django_capture_on_commit_callbacks(execute=True) here.
        self.commit_runner = commit_runner or contextlib.nullcontext
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="casehub-sim-"))
        self.start_at = timezone.make_aware(datetime.combine(options.start, datetime.min.time()))
        self.end_at = self.start_at + timedelta(days=options.days)

    # -- public ------------------------------------------------------------------------------------------
    def check_pki(self) -> None:
        """Signatures made at simulated times need certificates valid then (the verifier judges a
        package at its send time). Certificates the simulation issues itself are dated on the
        simulated calendar; ones that already exist must not start after the simulated period does."""
        from casehub.pki.models import CertificateAuthority, SigningCertificate

        late = []
        root = CertificateAuthority.objects.filter(is_current=True).first()
        if root is not None and root.certificate.not_valid_before_utc > self.start_at:
            late.append(str(root))
        agencies = [self.a.police, self.a.procuratorate, self.a.court, self.a.detention]
        for cert in SigningCertificate.objects.filter(agency__in=agencies, not_before__gt=self.start_at):
            late.append(cert.subject_name)
        if late:
            raise SimulationError(
                "the simulated period starts before these certificates were issued: " + ", ".join(late)
                + ". Simulate on a fresh database, or with a later --start, or another --prefix.")

    def run(self) -> Ledger:
        from django.test import override_settings

        import signing.pki

        self.check_pki()
        heap: list[tuple[datetime, int, Generator[datetime, None, None]]] = []
        for i in range(self.o.cases):
            script = self._script(i, random.Random(f"{self.o.seed}:{i}"))  # noqa: S311 - simulation, not security
            first = next(script)
            heapq.heappush(heap, (first, i, script))
        # Certificates first issued during the run are dated on the simulated calendar and stay
        # valid until past the real today, so packages signed "in 2025" verify as of 2025.
        real_pki_now = signing.pki._now
        valid_days = max(730, (_REAL_NOW() - self.start_at).days + 730)
        signing.pki._now = self.clock
        with simulated_time(self.clock), override_settings(CASEHUB_PKI_CERT_DAYS=valid_days), \
                contextlib.ExitStack() as cleanup:
            cleanup.callback(setattr, signing.pki, "_now", real_pki_now)
            # Issue the district's certificates (and the platform root, on a fresh database) the day
            # before the period, so a later run over the same period finds them valid too.
            from casehub.pki.services import signer_for

            self.clock.now = self.start_at - timedelta(days=1)
            for agency in (self.a.police, self.a.procuratorate, self.a.court, self.a.detention):
                signer_for(agency)
            while heap:
                when, i, script = heapq.heappop(heap)
                if when >= self.end_at:
                    script.close()
                    continue
                self.clock.now = when
                try:
                    following = script.send(None)
                except StopIteration:
                    continue
                self.ledger.steps += 1
                heapq.heappush(heap, (following, i, script))
        return self.ledger

    # -- actions -----------------------------------------------------------------------------------------
    def _user(self, key: str) -> Any:
        return self.a.users[key]

    def _fire(self, i: int, case: Any, name: str, user: str, **inputs: Any) -> Any:
        from workflows import definition as d
        from workflows import engine

        actor = self._user(user)
        with self.commit_runner():
            result = engine.fire(case, name, acting_user=actor, inputs=inputs)
        if result.awaiting_approval:
            supervisor = self._user(SUPERVISOR[actor.agency.kind])
            with self.commit_runner():
                result = engine.decide_approval(result.approval, acting_user=supervisor, approve=True, comment="同意")
        case.refresh_from_db()
        spec = d.get(name)
        self.ledger.stages[i].append((self.clock.now, case.stage, case.holder_agency.kind))
        if spec.handover == "accept":
            kind = result.transfers[0].kind
            sent = next(t for t in reversed(self.ledger.transfers) if t.case == i and t.kind == kind)
            self.ledger.answers.append(LedgerAnswer(i, kind, actor.agency.kind, sent.at, self.clock.now))
        for transfer in result.transfers:
            if spec.handover in ("send", "deliver", "notify"):
                self.ledger.transfers.append(LedgerTransfer(
                    i, transfer.kind, transfer.from_agency.kind, transfer.to_agency.kind, "online",
                    self.clock.now, complete=True))
        return result

    def _custody_moves(self, i: int, case: Any, from_kind: str, to_kind: str, detained: list[int]) -> None:
        for person in detained:
            self.ledger.custody.append(LedgerCustody(i, person, from_kind, to_kind, self.clock.now))

    def _paper(self, i: int, kind: str, sender: Agency, receiver_user: str, title: str, rng: random.Random) -> None:
        from workflows.engine import register_paper_transfer

        complete = rng.random() < 0.7
        received_on = timezone.localtime(self.clock.now).date()
        register_paper_transfer(
            acting_user=self._user(receiver_user), from_agency=sender, kind=kind, received_on=received_on,
            volumes=rng.randint(1, 6), pages=rng.randint(40, 900), reason="未通过平台移送（纸质卷宗）",
            external_reference=title, complete=complete,
        )
        sent_at = timezone.make_aware(datetime.combine(received_on, datetime.min.time()))
        self.ledger.transfers.append(LedgerTransfer(i, kind, sender.kind, self._user(receiver_user).agency.kind,
                                                    "paper", sent_at, complete=complete))

    def _register(self, i: int, rng: random.Random) -> tuple[Any, list[int]]:
        from casehub.cases.models import CustodyStatus, PersonRole
        from casehub.cases.services import register_case
        from casehub.dossier import services as dossier

        n_persons = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        detained = rng.random() < self.o.detained_share
        persons = []
        for n in range(n_persons):
            persons.append({
                "role": PersonRole.SUSPECT, "name": f"模拟{i}-{n}", "sex": rng.choice("MF"),
                "id_number": f"99000119{rng.randint(70, 99)}0101{i % 10000:04d}"[:18],
                "custody_status": CustodyStatus.DETAINED if detained else CustodyStatus.NOT_DETAINED,
                "custody_since": self.clock.now - timedelta(hours=rng.randint(6, 40)) if detained else None,
                "detention_centre": self.a.detention if detained else None,
            })
        case = register_case(acting_user=self._user("investigator"), title=f"模拟案件{i}", summary="模拟数据",
                             persons=persons)
        path = self.workdir / f"case{i}.pdf"
        path.write_bytes(small_pdf(f"simulated case {i} evidence"))
        job = dossier.ingest_upload(case=case, acting_user=self._user("investigator"), uploaded_file_or_path=path,
                                    title="证据材料", category="evidence")
        if job.status != "done":
            raise RuntimeError(f"simulated upload failed: {job.message}")
        self.ledger.cases[i] = case.pk
        self.ledger.stages[i] = [(self.clock.now, case.stage, case.holder_agency.kind)]
        return case, [i * 10 + n for n in range(n_persons)] if detained else []

    # -- one case's life -------------------------------------------------------------------------------
    def _script(self, i: int, rng: random.Random) -> Generator[datetime, None, None]:
        def after(days_low: float, days_high: float) -> datetime:
            return self.clock.now + timedelta(seconds=rng.uniform(days_low, days_high) * 86400)

        police, proc, court = AgencyKind.POLICE, AgencyKind.PROCURATORATE, AgencyKind.COURT
        yield self.start_at + timedelta(seconds=rng.uniform(0, self.o.days * 0.8) * 86400)
        case, detained = self._register(i, rng)
        title = case.title

        if detained and rng.random() < 0.8:
            yield after(0.5, 3)
            self._fire(i, case, "request_arrest", "investigator", reason="涉嫌盗窃，有逮捕必要",
                       to_agency=self.a.procuratorate.pk)
            yield after(0.05, 1)
            self._fire(i, case, "accept_arrest_request", "prosecutor")
            yield after(1, 9 if rng.random() < 0.1 else 6.5)  # now and then the 7-day decision runs late
            if rng.random() < 0.85:
                self._fire(i, case, "approve_arrest", "prosecutor")
            else:
                self._fire(i, case, "refuse_arrest", "prosecutor", reason="不符合逮捕条件")
                detained = []  # released (art. 91 para. 3)

        yield after(10, 55)
        if rng.random() < self.o.paper_share:
            self._paper(i, "review_transfer", self.a.police, "prosecutor", title, rng)
            return  # the case continues on paper, outside the platform
        self._fire(i, case, "transfer_for_review", "investigator", facts="经依法侦查查明……", evidence="证人证言\n现场勘验笔录",
                   to_agency=self.a.procuratorate.pk)
        self._custody_moves(i, case, police, proc, detained)
        yield after(0.05, 2)
        self._fire(i, case, "accept_review_transfer", "prosecutor")

        returns = 0
        while True:
            yield after(8, 34)
            if returns < 2 and rng.random() < (0.25 if returns == 0 else 0.35):
                self._fire(i, case, "return_for_supplementary", "prosecutor", reason="补充调取监控录像")
                self._custody_moves(i, case, proc, police, detained)
                returns += 1
                yield after(7, 36)  # over 30 days now and then: the supplementary clock runs late
                self._fire(i, case, "resubmit_for_review", "investigator", reason="已补充侦查")
                self._custody_moves(i, case, police, proc, detained)
                yield after(0.05, 2)
                self._fire(i, case, "accept_review_transfer", "prosecutor")
                continue
            break

        if rng.random() < (0.1 if returns < 2 else 0.5):
            # 存疑不起诉 (art. 175(4)) only after a return for supplementary investigation (SPP Rules
            # art. 367); before any return the simulated prosecutor decides a discretionary one (177(2)).
            basis = "刑事诉讼法第一百七十五条第四款" if returns else "刑事诉讼法第一百七十七条第二款"
            self._fire(i, case, "decide_non_prosecution", "prosecutor", facts="经审查……", legal_basis=basis)
            return
        if rng.random() < self.o.paper_share:
            self._paper(i, "indictment", self.a.procuratorate, "court_clerk", title, rng)
            return
        self._fire(i, case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪，刑法第二百六十四条",
                   to_agency=self.a.court.pk)
        self._custody_moves(i, case, proc, court, detained)
        yield after(0.05, 3)
        self._fire(i, case, "docket_case", "court_clerk")
        yield after(15, 75)
        announced = timezone.localtime(self.clock.now).date()
        self._fire(i, case, "announce_judgment", "judge", announced_on=announced.isoformat(), verdict="判处有期徒刑一年")
        yield after(0.5, 6)
        self._fire(i, case, "deliver_judgment", "court_clerk")
        # No appeal: after the 10-day window (CPL art. 230) the judgment takes effect and is handed over
        # for execution within 10 days (art. 264); the police sign for it and the case closes.
        yield after(11, 14)
        self._fire(i, case, "judgment_effective", "court_clerk")
        yield after(0.5, 9)
        self._fire(i, case, "hand_over_for_execution", "court_clerk", executor="police")
        yield after(0.05, 2)
        self._fire(i, case, "accept_execution", "investigator")


def simulate(options: Options, *, actors: Actors | None = None, commit_runner: Callable[[], Any] | None = None,
             workdir: Path | None = None) -> Ledger:
    """Run a simulation (see the module docstring); returns the simulator's own ledger."""
    return Simulation(options, actors or ensure_actors(), commit_runner=commit_runner, workdir=workdir).run()
