"""``simulate_tenant``: a synthetic Entra tenant with audit logs whose right answer is known.

>>> tenant = simulate_tenant(admins=10, days=7, seed=1)          # doctest: +SKIP
>>> tenant.write("out", formats=("graph",), gzip=True)           # doctest: +SKIP
>>> log = read_audit_logs("out/graph")                           # doctest: +SKIP

Records stream: :meth:`SimulatedTenant.events` yields Graph-shaped dicts lazily and
:meth:`SimulatedTenant.write` renders day by day straight to disk, so memory does not grow with
the number of records. Same arguments, same seed: byte-identical files.
"""

from __future__ import annotations

import csv
import gzip as gzip_module
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from entra_lp.directory import DirectorySnapshot
from entra_lp.errors import InvalidValueError, UnknownNameError

from ._days import DayEngine, Record, write_event_hub_batches
from .plan import PrincipalPlan, make_plan, weekdays_from
from .profiles import Profile, get_profile
from .render import LA_HEADER
from .templates import Template, TemplateLibrary
from .truth import GroundTruth, NoiseOperation, PersonaRole, PrincipalTruth, TruthScope
from .world import MS_PIM, Principal, World, build_world

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog.catalog import Catalog

__all__ = ["FORMS", "SimulatedTenant", "WriteResult", "simulate_tenant"]

FORMS: tuple[str, ...] = ("graph", "log_analytics", "event_hub")
"""Delivery forms :meth:`SimulatedTenant.write` can produce."""

FILE_NAMES: dict[str, str] = {
    "graph": "graph/directoryAudits.jsonl",
    "log_analytics": "log_analytics/AuditLogs.csv",
    "event_hub": "event_hub/insights-logs-auditlogs.jsonl",
}
"""Where each form goes under the output folder (``.gz`` appended when compressed)."""

_CHUNK = 4000


@dataclass(frozen=True)
class WriteResult:
    """What :meth:`SimulatedTenant.write` produced."""

    folder: Path
    files: dict[str, Path]
    """Form -> event file."""
    records: int
    sha256: dict[str, str] = field(default_factory=dict)
    """File name (relative to ``folder``) -> sha256 of its bytes."""


class SimulatedTenant:
    """A simulated tenant: directory snapshot, ground truth and lazily rendered records."""

    def __init__(self, world: World, plans: list[PrincipalPlan], library: TemplateLibrary,
                 *, seed: int, days: int, train_fraction: float, catalog: Catalog,
                 params: dict[str, Any]) -> None:
        self._world = world
        self._plans = plans
        self._library = library
        self._catalog = catalog
        self.seed = seed
        self.days = days
        self.params = params
        self.split_day = min(max(1, round(days * train_fraction)), days)
        self._engine = DayEngine(world, plans, library, seed)

    # ---- what users read --------------------------------------------------------------------
    @property
    def directory(self) -> DirectorySnapshot:
        """The tenant's directory snapshot (objects, AUs, role assignments, PIM policies)."""
        return self._world.directory

    @property
    def start(self) -> Any:
        """First simulated instant (UTC midnight)."""
        return self._world.start

    @property
    def end(self) -> Any:
        """End of the window (exclusive)."""
        return self._world.start + timedelta(days=self.days)

    @property
    def split_time(self) -> Any:
        """Train on records before this instant, validate on the rest."""
        return self._world.start + timedelta(days=self.split_day)

    @cached_property
    def ground_truth(self) -> GroundTruth:
        """The right answer, computed from the plan (exact for every form)."""
        return _ground_truth(self)

    @property
    def principals(self) -> list[Principal]:
        """The simulated administrators (internal view; the truth is the public one)."""
        return self._world.principals

    # ---- records ----------------------------------------------------------------------------
    def records(self, forms: Iterable[str] = ("graph",)) -> Iterator[Record]:
        """Every record in time order, rendered in ``forms`` (see :class:`Record`)."""
        wanted = _forms(forms)
        for day in range(self.days):
            yield from self._engine.records(day, wanted)

    def events(self) -> Iterator[dict[str, Any]]:
        """Graph ``directoryAudit`` dicts, lazily, in time order."""
        for record in self.records(("graph",)):
            assert record.graph is not None
            yield orjson.loads(record.graph)

    def write(self, folder: str | Path, formats: Iterable[str] = FORMS, *, gzip: bool = False,
              compresslevel: int = 6, snapshot: bool = True, truth: bool = True,
              first_days: int | None = None) -> WriteResult:
        """Stream every record to ``folder`` in ``formats`` (see :data:`FILE_NAMES`), with the
        directory snapshot (``directory.json``) and ground truth (``ground_truth.json``).
        ``first_days`` writes only the first days (an excerpt; the ground truth still covers
        the whole window). Gzip output is deterministic (no name, no time in the header)."""
        wanted = _forms(formats)
        if first_days is not None and not 1 <= first_days <= self.days:
            raise InvalidValueError(f"first_days={first_days!r}: expected 1..{self.days}")
        last = self.days if first_days is None else first_days
        root = Path(folder)
        files = {f: root / (FILE_NAMES[f] + (".gz" if gzip else "")) for f in FORMS
                 if f in wanted}
        count = 0
        with _Sinks(files, compresslevel if gzip else None) as sinks:
            for day in range(last):
                count += sinks.day(self._engine.records(day, wanted))
        if snapshot:
            self.directory.save(root / "directory.json")
        if truth:
            self.ground_truth.save(root / "ground_truth.json")
        digests = {str(p.relative_to(root)): _sha256(p) for p in sorted(
            [*files.values(), *([root / "directory.json"] if snapshot else []),
             *([root / "ground_truth.json"] if truth else [])])}
        return WriteResult(root, files, count, digests)


def _forms(forms: Iterable[str]) -> frozenset[str]:
    chosen = frozenset([forms] if isinstance(forms, str) else forms)
    for f in sorted(chosen):
        if f not in FORMS:
            raise UnknownNameError("audit log form", f, FORMS)
    if not chosen:
        raise InvalidValueError("formats: give at least one of " + ", ".join(FORMS))
    return chosen


class _Sinks:
    """One open (optionally gzip) text stream per form; records flushed in chunks."""

    def __init__(self, files: dict[str, Path], level: int | None) -> None:
        self.files, self.level = files, level
        self.streams: dict[str, IO[bytes] | gzip_module.GzipFile] = {}
        self._raw: list[IO[bytes]] = []

    def __enter__(self) -> _Sinks:
        for form, path in self.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = path.open("wb")
            self._raw.append(raw)
            self.streams[form] = (gzip_module.GzipFile(filename="", mode="wb", fileobj=raw,
                                                       compresslevel=self.level, mtime=0)
                                  if self.level is not None else raw)
        if "log_analytics" in self.streams:
            self.streams["log_analytics"].write((LA_HEADER + "\r\n").encode())
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in self.streams.values():
            if stream not in self._raw:
                stream.close()  # gzip trailer first, then the file under it
        for raw in self._raw:
            raw.close()

    def day(self, records: Iterator[Record]) -> int:
        count = 0
        chunk: list[Record] = []
        for record in records:
            chunk.append(record)
            if len(chunk) >= _CHUNK:
                self._flush(chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            self._flush(chunk)
            count += len(chunk)
        return count

    def _flush(self, chunk: list[Record]) -> None:
        if "graph" in self.streams:
            self.streams["graph"].write(
                ("\n".join(r.graph for r in chunk if r.graph is not None) + "\n").encode())
        if "event_hub" in self.streams:
            self.streams["event_hub"].write(write_event_hub_batches(
                [r.event_hub for r in chunk if r.event_hub is not None]).encode())
        if "log_analytics" in self.streams:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            writer.writerows(r.log_analytics for r in chunk if r.log_analytics is not None)
            self.streams["log_analytics"].write(buffer.getvalue().encode())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

def simulate_tenant(admins: int = 30, days: int = 30, seed: int = 0,
                    profile: str | Profile = "contoso", *, users: int | None = None,
                    volume: float = 1.0, train_fraction: float = 2 / 3,
                    catalog: Catalog | None = None) -> SimulatedTenant:
    """Simulate a tenant with ``admins`` administrative principals over ``days`` days.

    ``profile`` names the organisation and its personas (:data:`~.profiles.PROFILES`);
    ``users`` overrides the number of ordinary users (default ``20 * admins``, capped);
    ``volume`` scales every persona's daily activity; ``train_fraction`` places
    ``split_time``. The catalog defaults to ``load_catalog()``. Nothing is rendered until
    records are asked for.
    """
    if admins < 1:
        raise InvalidValueError(f"admins={admins!r}: need at least one administrator")
    if days < 1:
        raise InvalidValueError(f"days={days!r}: need at least one day")
    if not 0 < train_fraction <= 1:
        raise InvalidValueError(f"train_fraction={train_fraction!r}: expected 0 < f <= 1")
    if volume < 0:
        raise InvalidValueError(f"volume={volume!r}: expected a non-negative factor")
    if catalog is None:
        from permission_catalog import load_catalog

        catalog = load_catalog()
    chosen = get_profile(profile)
    library = TemplateLibrary(catalog)
    _check_personas(chosen, library)
    world = build_world(chosen, admins, seed, catalog, users)
    weekdays = weekdays_from(world.start, days)
    noise = [t for task in chosen.noise_pool for t in library.for_task(task)]
    plans = [make_plan(p, library, weekdays, seed, volume=volume, noise_templates=noise)
             for p in world.principals]
    for p, plan in zip(world.principals, plans, strict=True):
        if p.id in world.eligible_roles:
            plan.activations = (plan.succ.sum(axis=1) + plan.fail.sum(axis=1)) > 0
    params = {"profile": chosen.name, "admins": admins, "days": days, "seed": seed,
              "users": users, "volume": volume, "train_fraction": train_fraction}
    return SimulatedTenant(world, plans, library, seed=seed, days=days,
                           train_fraction=train_fraction, catalog=catalog, params=params)


def _check_personas(profile: Profile, library: TemplateLibrary) -> None:
    """Every task exists and can be delegated at its persona's scope."""
    from .templates import TemplateError

    for persona in profile.personas:
        for task_id in persona.all_tasks:
            task = library.task(task_id)
            if persona.scope not in task.scopes:
                raise TemplateError(
                    f"profile {profile.name!r}, persona {persona.name!r}: task {task_id!r} "
                    f"cannot be delegated at scope {persona.scope!r} (task scopes: "
                    f"{', '.join(task.scopes)})")
    for task_id in profile.noise_pool:
        library.task(task_id)


# --------------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------------

def _actions(templates: Iterable[Template]) -> set[str]:
    out: set[str] = set()
    for t in templates:
        out.update(t.actions)
        for c in t.companions:
            if c.initiator is None:
                out.update(c.actions)
    return out


def _own_records(t: Template) -> int:
    """Records a template's operation writes under the acting principal's name."""
    return 1 + sum(1 for c in t.companions if c.initiator is None)


def _principal_truth(tenant: SimulatedTenant, p: Principal, plan: PrincipalPlan
                     ) -> PrincipalTruth:
    lib, split = tenant._library, tenant.split_day
    persona = p.persona
    task_actions = {a for task in persona.all_tasks for a in lib.task(task).actions}
    observable = {a for task in persona.all_tasks for a in lib.observable(task)}
    succ_any = plan.succ.sum(axis=0) > 0
    used = [t for t, hit in zip(plan.templates, succ_any, strict=True) if hit]
    train = [t for t, hit in zip(plan.templates, plan.succ[:split].sum(axis=0) > 0,
                                 strict=True) if hit]
    test = [t for t, hit in zip(plan.templates, plan.succ[split:].sum(axis=0) > 0,
                                strict=True) if hit]
    failed = [t for t, hit in zip(plan.templates, plan.fail.sum(axis=0) > 0, strict=True)
              if hit]
    noise_train = [t for d, t in plan.noise if d < split]
    noise_test = [t for d, t in plan.noise if d >= split]
    per_template = [_own_records(t) for t in plan.templates]
    records = int(sum(int(n) * k for n, k in zip(plan.succ.sum(axis=0) + plan.fail.sum(axis=0),
                                                  per_template, strict=True)))
    records += sum(_own_records(t) for _, t in plan.noise)
    activations = int(plan.activations.sum()) if plan.activations is not None else 0
    chains = tenant._engine.chains
    if chains is not None:
        records += activations * _own_records(chains.activation)
    scope_kind = persona.scope
    return PrincipalTruth(
        principal_id=p.id, principal_name=p.name,
        principal_type="user" if p.principal_type == "user" else "app",
        kind=p.kind,
        persona=persona.name, tasks=persona.all_tasks,
        scope=TruthScope(kind=scope_kind, ids=tuple(sorted(p.scope_ids))),
        observable_actions=tuple(sorted(observable)),
        unobservable_actions=tuple(sorted(task_actions - observable)),
        exercised_actions=tuple(sorted(_actions(used))),
        noise=tuple(NoiseOperation(day=d, task_id=t.task_id, activity=t.activity,
                                   actions=t.actions) for d, t in plan.noise),
        noise_actions=tuple(sorted(_actions(t for _, t in plan.noise))),
        failed_actions=tuple(sorted(_actions(failed))),
        train_actions=tuple(sorted(_actions(train) | _actions(noise_train))),
        test_actions=tuple(sorted(_actions(test) | _actions(noise_test))),
        records=records, failures=int(plan.fail.sum()),
        pim_activations=activations,
    )


def _ground_truth(tenant: SimulatedTenant) -> GroundTruth:
    world = tenant._world
    truths = [_principal_truth(tenant, p, plan)
              for p, plan in zip(world.principals, tenant._plans, strict=True)]
    roles: dict[tuple[str, ...], list[PrincipalTruth]] = {}
    for t in truths:
        if t.tasks:
            roles.setdefault(tuple(sorted(t.tasks)), []).append(t)
    persona_roles = []
    for tasks, members in sorted(roles.items(), key=lambda kv: kv[1][0].persona):
        actions = sorted({a for task in tasks for a in tenant._library.task(task).actions})
        persona_roles.append(PersonaRole(
            persona=members[0].persona, tasks=tasks, actions=tuple(actions),
            principals=tuple(sorted(m.principal_id for m in members))))
    return GroundTruth(
        profile=world.profile.name, seed=tenant.seed, admins=len(world.principals),
        days=tenant.days, start=tenant.start, end=tenant.end, split_time=tenant.split_time,
        catalog_version=tenant._catalog.version, tenant_id=world.tenant_id,
        principals=tuple(sorted(truths, key=lambda t: t.principal_id)),
        persona_roles=tuple(persona_roles), system_principals=(MS_PIM,),
    )
