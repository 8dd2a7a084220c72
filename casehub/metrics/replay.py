"""Replay a profile (:mod:`casehub.metrics.profile`) through the real workflow engine.

Every planned step runs as in production: :func:`workflows.engine.fire` (and
:func:`~workflows.engine.decide_approval` where a supervisor must approve), generated and signed
documents, packages verified, statutory clocks; paper hand-overs are registered by the receiving
clerk (:func:`workflows.engine.register_paper_transfer`) with the custody transfers that went with
them (:func:`casehub.custody.services.register_paper_transfer`). Time is simulated
(:class:`~casehub.metrics.simulation.SimulatedClock`), so the engine stamps its rows with the
planned moments.

Cases do not depend on each other, so :func:`run` can split them over worker processes (forked
from the caller, one database connection each): each worker runs its cases' steps in time order.

:func:`figures` counts the period's figures from the database with the dashboard's own queries
(:mod:`casehub.metrics.queries`), for the district's agencies.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from casehub.agencies.models import Agency, AgencyKind, Role
from casehub.metrics.profile import DOSSIER_KINDS, CasePlan, Profile, Step
from casehub.metrics.simulation import SimulatedClock, SimulationError, simulated_time, small_pdf

# --- the district ---------------------------------------------------------------------------------------

@dataclass
class District:
    agencies: dict[str, Agency]  # sender keys, "procuratorate", "court", "detention", "justice", "committee"
    users: dict[str, Any]  # "branch:investigator", "prosecutor", ...

    @property
    def agency_ids(self) -> list[int]:
        return [a.pk for a in self.agencies.values()]


def ensure_district(profile: Profile, k: int = 0) -> District:
    """The profile's agencies (two police senders, procuratorate, court, detention centre, justice
    bureau, committee) and one user per role, created once and reused; district ``k`` of a
    city profile has its own prefix and region."""
    prefix, region = profile.prefix, profile.region
    if profile.districts > 1:
        # District k's region is the city's with its own last two digits (01, 02, ...: "00" is the city).
        prefix, region = f"{prefix}{k}", f"{region[:-2]}{k + 1:02d}"

    def agency(key: str, kind: str, code: str, name: str, **extra: Any) -> Agency:
        found, _created = Agency.objects.get_or_create(
            code=f"{prefix}{code}", defaults={"kind": kind, "name": f"{name}（模拟）", "region": region, **extra})
        return found

    agencies = {}
    users = {}
    parents: dict[str, Agency] = {}
    if profile.city is not None:
        city_agencies, city_users = _ensure_city(profile)
        agencies.update(city_agencies)
        users.update(city_users)
        parents = {"procuratorate": city_agencies["city:procuratorate"], "court": city_agencies["city:court"],
                   "committee": city_agencies["city:committee"]}
    for n, s in enumerate(profile.senders):
        # The abbreviation is part of every number the agency issues: unique per sender and prefix.
        agencies[s.key] = agency(s.key, AgencyKind.POLICE, f"GA{n}", s.name, abbreviation=f"{s.abbreviation}{prefix}")
    names = profile.names
    agencies["procuratorate"] = agency("procuratorate", AgencyKind.PROCURATORATE, "JC", names["procuratorate"],
                                       abbreviation=f"检{prefix}", parent=parents.get("procuratorate"))
    agencies["court"] = agency("court", AgencyKind.COURT, "FY", names["court"], abbreviation=f"法{prefix}",
                               court_code=f"模{prefix}01", parent=parents.get("court"))
    agencies["detention"] = agency("detention", AgencyKind.DETENTION_CENTRE, "KSS", names["detention"])
    agencies["justice"] = agency("justice", AgencyKind.JUSTICE_BUREAU, "SFJ", names["justice"])
    agencies["committee"] = agency("committee", AgencyKind.COMMITTEE, "ZFW", names["committee"],
                                   parent=parents.get("committee"))
    plan: list[tuple[str, str, str]] = []
    for s in profile.senders:
        plan += [(f"{s.key}:investigator", s.key, Role.INVESTIGATOR), (f"{s.key}:supervisor", s.key, Role.SUPERVISOR)]
    plan += [("prosecutor", "procuratorate", Role.PROSECUTOR), ("procuratorate:supervisor", "procuratorate", Role.SUPERVISOR),
             ("court_clerk", "court", Role.COURT_CLERK), ("judge", "court", Role.JUDGE),
             ("court:supervisor", "court", Role.SUPERVISOR), ("auditor", "committee", Role.AUDITOR)]
    for key, where, role in plan:
        users[key] = _user(f"{prefix.lower()}_{key.replace(':', '_')}", agencies[where], role, key)
    return District(agencies, users)


def _user(username: str, agency: Agency, role: str, key: str) -> Any:
    from casehub.accounts.services import create_user
    from casehub.agencies.models import User

    return User.objects.filter(username=username).first() or create_user(
        username=username, agency=agency, roles=[role], password=None, display_name=f"模拟{key}")


def _ensure_city(profile: Profile) -> tuple[dict[str, Agency], dict[str, Any]]:
    """The city procuratorate, the intermediate court and the city's committee (its auditor sees
    every district), shared by the districts; keys ``city:...``."""
    from casehub.agencies.models import AgencyLevel

    city, prefix = profile.city, profile.prefix
    region = f"{profile.region[:4]}00"

    def agency(code: str, kind: str, name: str, **extra: Any) -> Agency:
        found, _created = Agency.objects.get_or_create(
            code=f"{prefix}C{code}", defaults={"kind": kind, "name": f"{name}（模拟）", "region": region,
                                               "level": AgencyLevel.CITY, **extra})
        return found

    agencies = {
        "city:procuratorate": agency("JC", AgencyKind.PROCURATORATE, city.procuratorate, abbreviation=f"检{prefix}C"),
        "city:court": agency("FY", AgencyKind.COURT, city.court, abbreviation=f"法{prefix}C",
                             court_code=f"模{prefix}C1"),
        "city:committee": agency("ZFW", AgencyKind.COMMITTEE, city.committee),
    }
    plan = [("city:prosecutor", "city:procuratorate", Role.PROSECUTOR),
            ("city:procuratorate:supervisor", "city:procuratorate", Role.SUPERVISOR),
            ("city:court_clerk", "city:court", Role.COURT_CLERK), ("city:judge", "city:court", Role.JUDGE),
            ("city:court:supervisor", "city:court", Role.SUPERVISOR), ("city:auditor", "city:committee", Role.AUDITOR)]
    users = {key: _user(f"{prefix.lower()}c_{key[5:].replace(':', '_')}", agencies[where], role, key)
             for key, where, role in plan}
    return agencies, users


def ensure_districts(profile: Profile, plans: list[CasePlan]) -> list[District]:
    """Every district of the profile, created on the simulated calendar two days before the first
    planned step: creating agencies and users can issue certificates (the platform root among
    them), which must not postdate the replay."""
    if not plans:
        return [ensure_district(profile, k) for k in range(profile.districts)]
    first = min(p.steps[0].at for p in plans)
    clock = SimulatedClock()
    clock.now = first - timedelta(days=2)
    with replay_time(clock, first):
        return [ensure_district(profile, k) for k in range(profile.districts)]


# --- time and certificates ------------------------------------------------------------------------------

@contextlib.contextmanager
def replay_time(clock: SimulatedClock, first: datetime) -> Iterator[None]:
    """Simulated time for the engine, the models and the PKI (certificates first issued during the
    run are dated on the simulated calendar and stay valid past the real today)."""
    from django.test import override_settings

    import signing.pki

    real_pki_now = signing.pki._now
    valid_days = max(730, (timezone.now() - first).days + 730)
    signing.pki._now = clock
    try:
        with simulated_time(clock), override_settings(CASEHUB_PKI_CERT_DAYS=valid_days):
            yield
    finally:
        signing.pki._now = real_pki_now


def check_pki(district: District, first: datetime) -> None:
    """Signatures made at simulated times need certificates valid then (see simulation.check_pki)."""
    from casehub.pki.models import CertificateAuthority, SigningCertificate

    late = []
    root = CertificateAuthority.objects.filter(is_current=True).first()
    if root is not None and root.certificate.not_valid_before_utc > first:
        late.append(str(root))
    for cert in SigningCertificate.objects.filter(agency__in=district.agency_ids, not_before__gt=first):
        late.append(cert.subject_name)
    if late:
        raise SimulationError("the replay starts before these certificates were issued: " + ", ".join(late)
                              + ". Replay on a fresh database, or with another prefix.")


def issue_certificates(district: District, first: datetime) -> None:
    """The district's signing certificates (and the platform root, on a fresh database), dated the
    day before the first planned step."""
    from casehub.pki.services import signer_for

    clock = SimulatedClock()
    clock.now = first - timedelta(days=1)
    with replay_time(clock, first):
        for key in ("procuratorate", "court", "detention", *[k for k, a in district.agencies.items()
                                                              if a.kind == AgencyKind.POLICE]):
            signer_for(district.agencies[key])


# --- running plans ---------------------------------------------------------------------------------------

SUPERVISOR = {AgencyKind.PROCURATORATE: "procuratorate:supervisor", AgencyKind.COURT: "court:supervisor"}


@dataclass
class Outcome:
    steps: int = 0
    retries: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of the Python processes that ran the steps
    db_cpu: float = 0.0  # CPU seconds of their PostgreSQL backends (0 elsewhere)
    errors: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.steps += other.steps
        self.retries += other.retries
        self.cpu += other.cpu
        self.db_cpu += other.db_cpu
        self.errors += other.errors


def _backend_cpu() -> Callable[[], float]:
    """CPU seconds used so far by this connection's PostgreSQL backend (read from /proc: the
    server runs on this machine in the bench); a function answering 0 where that cannot be read."""
    import os

    from django.db import connection

    if connection.vendor != "postgresql":
        return lambda: 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick

    return read


class Runner:
    """Runs plans' steps in time order through the engine, in this process."""

    def __init__(self, profile: Profile, district: District, *, commit_runner: Callable[[], Any] | None = None,
                 workdir: Path | None = None) -> None:
        self.profile = profile
        self.d = district
        self.clock = SimulatedClock()
        self.commit_runner = commit_runner or contextlib.nullcontext
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="casehub-replay-"))
        self.cases: dict[int, Any] = {}
        self.outcome = Outcome()

    def run(self, plans: list[CasePlan]) -> Outcome:
        started, cpu = time.perf_counter(), time.process_time()
        backend = _backend_cpu()
        db_cpu = backend()
        heap: list[tuple[datetime, int, int]] = []
        by_n = {p.n: p for p in plans}
        for p in plans:
            heapq.heappush(heap, (p.steps[0].at, p.n, 0))
        if not heap:
            return self.outcome
        with replay_time(self.clock, heap[0][0]):
            while heap:
                at, n, k = heapq.heappop(heap)
                p = by_n[n]
                self.clock.now = at
                try:
                    self._step(p, p.steps[k])
                except Exception as exc:  # noqa: BLE001 - one case fails, the others go on (reported)
                    self.outcome.errors.append(f"case {n} step {k} {p.steps[k].name or p.steps[k].action}: "
                                               f"{type(exc).__name__}: {exc}"[:500])
                    continue
                self.outcome.steps += 1
                if k + 1 < len(p.steps):
                    heapq.heappush(heap, (p.steps[k + 1].at, n, k + 1))
        self.outcome.seconds = time.perf_counter() - started
        self.outcome.cpu = time.process_time() - cpu
        self.outcome.db_cpu = max(0.0, backend() - db_cpu)
        return self.outcome

    def _step(self, p: CasePlan, step: Step) -> None:
        with self.commit_runner():
            self._do(p, step)

    def _retry(self, call: Callable[[], Any]) -> Any:
        """One engine call (one transaction). Parallel workers can deadlock, or race to create the
        same numbering row; the transaction was rolled back, so the call is simply made again."""
        from django.db import IntegrityError, OperationalError

        for attempt in range(6):
            try:
                return call()
            except (OperationalError, IntegrityError):
                if attempt == 5:
                    raise
                self.outcome.retries += 1
                time.sleep(0.05 * (attempt + 1))
        return None

    def _do(self, p: CasePlan, step: Step) -> None:
        if step.action == "register":
            self._register(p, step)
        elif step.action == "fire":
            self._fire(p, step)
        else:
            self._paper(p, step)

    def _register(self, p: CasePlan, step: Step) -> None:
        from casehub.cases.models import CustodyStatus, PersonRole
        from casehub.cases.services import register_case
        from casehub.dossier import services as dossier

        persons = []
        for k in range(step.inputs["persons"]):
            detained = step.inputs["detained"]
            persons.append({
                "role": PersonRole.SUSPECT, "name": f"模拟{p.n}-{k}", "sex": "MF"[(p.n + k) % 2],
                "id_number": f"99{p.n % 100_000_000:08d}{k:02d}123456"[:18],
                "custody_status": CustodyStatus.DETAINED if detained else CustodyStatus.NOT_DETAINED,
                "custody_since": self.clock.now - timedelta(hours=20) if detained else None,
                "detention_centre": self.d.agencies["detention"] if detained else None,
            })
        user = self.d.users[step.user]
        case = self._retry(lambda: register_case(acting_user=user, title=f"模拟案件{p.n}", summary="模拟数据",
                                                 persons=persons))
        if step.inputs["detained"]:
            from casehub.custody.models import Measure
            from casehub.custody.services import register_custody

            # 登记羁押: the police record each detention on the platform (it opens the 3-day
            # arrest-request clock, art. 91); custody transfers, online or on paper, start from it.
            for person in case.persons.order_by("id"):
                self._retry(lambda person=person: register_custody(
                    person, detention_centre=self.d.agencies["detention"], measure=Measure.DETENTION,
                    since=person.custody_since, acting_user=user))
        path = self.workdir / f"case{p.n}.pdf"
        path.write_bytes(small_pdf(f"replayed case {p.n} evidence"))
        for attempt in range(3):
            job = self._retry(lambda: dossier.ingest_upload(case=case, acting_user=user, uploaded_file_or_path=path,
                                                            title="证据材料", category="evidence"))
            if job.status == "done":
                break
            # Seen once in 530 steps with two workers: the ingest job ended in an internal error
            # ("请重试"); the upload is made again, as the clerk would (reported by the replay).
            self.outcome.retries += 1
            if attempt == 2:
                raise RuntimeError(f"upload failed: {job.message}")
        path.unlink(missing_ok=True)
        self.cases[p.n] = case

    def _fire(self, p: CasePlan, step: Step) -> None:
        from workflows import engine

        case = self.cases[p.n]
        case.refresh_from_db()
        inputs = dict(step.inputs)
        to = inputs.pop("_to", None)
        if to is not None:
            inputs["to_agency"] = self.d.agencies[to].pk
        elif step.name in ("request_arrest", "transfer_for_review"):
            inputs["to_agency"] = self.d.agencies["procuratorate"].pk
        elif step.name == "indict":
            inputs["to_agency"] = self.d.agencies["court"].pk
        elif step.name == "announce_judgment":
            inputs["announced_on"] = timezone.localdate().isoformat()
        if inputs.get("persons") == "@defendants":
            inputs["persons"] = [str(pk) for pk in case.persons.order_by("id").values_list("pk", flat=True)]
        actor = self.d.users[step.user]
        result = self._retry(lambda: engine.fire(case, step.name, acting_user=actor, inputs=inputs))
        if result.awaiting_approval:
            kind = actor.agency.kind
            level = "city:" if step.user.startswith("city:") else ""
            supervisor = self.d.users[level + SUPERVISOR[kind] if kind in SUPERVISOR
                                      else step.user.replace("investigator", "supervisor")]
            self._retry(lambda: engine.decide_approval(result.approval, acting_user=supervisor, approve=True,
                                                       comment="同意"))

    def _paper(self, p: CasePlan, step: Step) -> None:
        from casehub.custody.services import register_paper_transfer as register_paper_custody
        from workflows.engine import register_paper_transfer

        emit = step.emits[0]
        receiver = self.d.users[step.user]
        sender = self.d.agencies[step.inputs["from"]]
        case = self.cases[p.n]
        transfer = self._retry(lambda: register_paper_transfer(
            acting_user=receiver, from_agency=sender, kind=step.name, received_on=timezone.localdate(),
            volumes=1 + p.n % 5, pages=40 + (p.n * 37) % 800, reason="未通过平台移送（纸质卷宗）",
            external_reference=f"模拟案件{p.n}", case=case if emit.with_case else None, complete=emit.complete))
        if emit.custody:
            persons = list(case.persons.order_by("id"))
            for k in emit.custody:
                self._retry(lambda k=k: register_paper_custody(
                    persons[k], from_agency=sender, to_agency=receiver.agency, transferred_at=timezone.now(),
                    reference=f"纸质换押证{p.n}-{k}", acting_user=receiver, paper_transfer=transfer))


def _worker(args: tuple[Profile, dict[str, int], dict[str, int], list[CasePlan], str]) -> Outcome:
    """One worker process: its own database connection, its cases in time order."""
    from django.db import connections

    connections.close_all()
    profile, agency_ids, user_ids, plans, workdir = args
    from casehub.agencies.models import User

    agencies = {k: Agency.objects.get(pk=v) for k, v in agency_ids.items()}
    users = {k: User.objects.get(pk=v) for k, v in user_ids.items()}
    try:
        return Runner(profile, District(agencies, users), workdir=Path(workdir)).run(plans)
    finally:
        connections.close_all()


def split(plans: list[CasePlan], workers: int) -> list[list[CasePlan]]:
    """Cases over workers, balanced by their number of steps (largest first)."""
    parts: list[list[CasePlan]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for p in sorted(plans, key=lambda p: -len(p.steps)):
        i = loads.index(min(loads))
        parts[i].append(p)
        loads[i] += len(p.steps)
    return [part for part in parts if part]


def run(profile: Profile, districts: District | list[District], plans: list[CasePlan], *, workers: int = 1,
        commit_runner: Callable[[], Any] | None = None, workdir: Path | None = None) -> Outcome:
    """Run the plans through the engine, in this process (``workers=1``) or in forked workers
    (each district's cases split over them)."""
    districts = districts if isinstance(districts, list) else [districts]
    if not plans:
        return Outcome()
    first = min(p.steps[0].at for p in plans)
    for district in districts:  # all checked before any certificate (or the platform root) is issued
        check_pki(district, first)
    for district in districts:
        issue_certificates(district, first)
    started = time.perf_counter()
    by_district: dict[int, list[CasePlan]] = {}
    for p in plans:
        by_district.setdefault(p.district, []).append(p)
    outcome = Outcome()
    if workers <= 1:
        for k, part in sorted(by_district.items()):
            outcome.add(Runner(profile, districts[k], commit_runner=commit_runner, workdir=workdir).run(part))
        outcome.seconds = time.perf_counter() - started
        return outcome
    from django.db import connections

    connections.close_all()  # the children must not share the parent's connection
    workdir = workdir or Path(tempfile.mkdtemp(prefix="casehub-replay-"))
    jobs = []
    for k, part in sorted(by_district.items()):
        agency_ids = {key: a.pk for key, a in districts[k].agencies.items()}
        user_ids = {key: u.pk for key, u in districts[k].users.items()}
        jobs += [(profile, agency_ids, user_ids, chunk, str(workdir)) for chunk in split(part, workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for part_outcome in pool.imap_unordered(_worker, jobs):
            outcome.add(part_outcome)
    outcome.seconds = time.perf_counter() - started
    return outcome


# --- the period's figures, from the database ---------------------------------------------------------

def figures(profile: Profile, districts: District | list[District]) -> dict[str, float]:
    """The figures the profile targets, counted in the database by the dashboard's queries (the
    districts' agencies; the period in the platform's calendar days)."""
    from django.db.models import Q

    from casehub.custody.models import CustodyCertificate
    from casehub.metrics import queries as q
    from workflows.models import Transfer

    districts = districts if isinstance(districts, list) else [districts]
    ids = sorted({pk for d in districts for pk in d.agency_ids})
    period = q.Period(profile.start, profile.end - timedelta(days=1))
    scope = q.Scope(ids)
    cases = q.cases_by_direction(period, scope)
    rates = q.total_rates(q.circulation_rates(period, scope))
    custody = q.custody_total(period, scope)
    certs = CustodyCertificate.objects.filter(
        issued_at__gte=period.start_at, issued_at__lt=period.end_before, channel="online",
        from_agency__in=ids).exclude(status="cancelled")
    judgments = Transfer.objects.filter(
        Q(sent_at__gte=period.start_at) & Q(sent_at__lt=period.end_before), kind="judgment", mode="online",
        from_agency__in=ids).exclude(status="withdrawn")
    assert set(DOSSIER_KINDS) == set(q.DOSSIER_KINDS)
    return {
        "police_to_procuratorate": cases.get("police>procuratorate", 0),
        "procuratorate_to_court": cases.get("procuratorate>court", 0),
        "procuratorate_to_police": cases.get("procuratorate>police", 0),
        "e_custody_handovers": certs.values("transfer_id").distinct().count(),
        "e_custody_persons": q.persons_covered(period, scope, online_only=True),
        "judgments_online": judgments.values("case_id").distinct().count(),
        "e_dossier_rate": rates["dossier"].value or 0.0,
        "e_custody_rate": custody.value or 0.0,
        "online_rate": rates["online"].value or 0.0,
    }
