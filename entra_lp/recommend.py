"""The recommender: from observed usage to a small set of scoped, gated, explained roles.

``recommend(usage, catalog, directory)`` runs the pipeline of ``docs/dev/recommender.md``:
triage (break-glass, directory sync, system, held-never-seen), needs per principal (observed
actions plus the unaudited actions of tasks the principal was seen completing), scope per
(principal, action) (:mod:`entra_lp.scope`), partition by scope kind, plane and custom-role
eligibility (:mod:`entra_lp.split`), built-in / PIM-for-Groups fallback for what custom roles
cannot hold, mining of each custom group (:class:`entra_lp.mining.RoleMiner`), deduplication,
risk (:mod:`entra_lp.risk`), PIM settings, names, assignments and metrics
(:mod:`entra_lp.metrics`). The result is a :class:`~entra_lp.recommendation.Recommendation`
whose JSON is byte-identical for the same inputs and seed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import EntraLPError, RecommendationError, UnknownNameError
from .recommendation import (
    AssignmentProposal,
    AttestationItem,
    Evidence,
    Exclusion,
    PimDecision,
    Recommendation,
    RiskSummary,
    RoleProposal,
    ScopeChoice,
)
from .scope import PrincipalScopes, ScopeResolver, directory_scope_id, pair_mask, sort_scopes
from .split import GroupKey, partition, split_pairs

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import BuiltinRole, Catalog

    from .directory import DirectorySnapshot
    from .usage import UsageMatrix

__all__ = [
    "BREAK_GLASS_HINTS",
    "OBJECTIVES",
    "UnknownPrincipalError",
    "recommend",
]

log = logging.getLogger(__name__)

OBJECTIVES = ("risk_weighted", "min_roles")
SOLVERS = ("auto", "exact", "heuristic")
BREAK_GLASS_HINTS: tuple[str, ...] = ("break glass", "breakglass", "break-glass", "emergency")
"""Name fragments that strengthen the evidence that an unused Global Administrator is a
break-glass account."""
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SYNC_ROLE_NAMES = ("Directory Synchronization Accounts", "On Premises Directory Sync Account")
_ACTIVE_KINDS = frozenset({"service_principal", "managed_identity"})
_CONFIDENCE_RANK = {"exact": 0, "likely": 1, "ambiguous": 2}
_CONFIDENCES: tuple[Literal["exact", "likely", "ambiguous"], ...] = ("exact", "likely", "ambiguous")
_EXAMPLES = 3
ONE_OFF_PEER_SHARE = 0.1
"""A rarely used need is a one-off when fewer than this share of the principal's peers use it."""
ScopeKind = Literal["tenant", "administrative_unit", "application"]


class UnknownPrincipalError(UnknownNameError, RecommendationError):
    """A principal id given to the recommender is in neither the usage nor the directory."""


# =============================================================================== options
@dataclass(frozen=True)
class _Options:
    objective: str
    solver: str
    lam: float
    max_over_risk: float | None
    max_scoped_assignments: int
    max_au_share: float
    pim_group_min_principals: int
    task_completion: bool
    one_offs: str
    one_off_events: int
    one_off_share: float
    authentication_context: str | None
    time_limit: float | None
    random_state: int

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _number(name: str, value: Any, lo: float, *, integer: bool = False) -> None:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or not math.isfinite(float(value)) or float(value) < lo:
        kind = "an integer" if integer else "a number"
        raise RecommendationError(f"option {name}={value!r}: expected {kind} >= {lo:g}")


def _choice(name: str, value: Any, known: Sequence[str]) -> None:
    if value not in known:
        from .errors import close_matches

        hint = close_matches(str(value), known)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise RecommendationError(
            f"option {name}={value!r}: expected one of {', '.join(map(repr, known))}{extra}"
        )


def _check_options(opts: _Options) -> None:
    _choice("objective", opts.objective, OBJECTIVES)
    _choice("solver", opts.solver, SOLVERS)
    _number("lam", opts.lam, 0.0)
    if opts.max_over_risk is not None:
        _number("max_over_risk", opts.max_over_risk, 0.0)
    _number("max_scoped_assignments", opts.max_scoped_assignments, 1, integer=True)
    _number("max_au_share", opts.max_au_share, 0.0)
    if float(opts.max_au_share) > 1:
        raise RecommendationError(f"option max_au_share={opts.max_au_share!r}: expected 0..1")
    _number("pim_group_min_principals", opts.pim_group_min_principals, 2, integer=True)
    if opts.time_limit is not None:
        _number("time_limit", opts.time_limit, 1e-9)
    _number("random_state", opts.random_state, 0, integer=True)
    _choice("one_offs", opts.one_offs, ("attest", "grant"))
    _number("one_off_events", opts.one_off_events, 0, integer=True)
    _number("one_off_share", opts.one_off_share, 0.0)
    if float(opts.one_off_share) >= 1:
        raise RecommendationError(f"option one_off_share={opts.one_off_share!r}: expected < 1")


# =============================================================================== working state
@dataclass
class _Need:
    """Why one principal needs one action: its own audit records and/or realised tasks."""

    row: Mapping[Any, Any] | None = None
    task_ids: tuple[str, ...] = ()


@dataclass
class _Hold:
    """One principal's holding of a role: scope kind, scope ids and the needs it serves."""

    principal_id: str
    kind: ScopeKind
    ids: tuple[str, ...]
    needs: frozenset[str]
    reason: str = ""
    """Why this scope, when no usage explains it (designed roles)."""


@dataclass
class _Role:
    """A role before it becomes a :class:`RoleProposal`."""

    kind: Literal["custom", "builtin", "pim_group"]
    actions: frozenset[str]
    template: BuiltinRole | None = None
    groups: set[tuple[str, str]] = field(default_factory=set)
    holds: list[_Hold] = field(default_factory=list)
    key: str = ""

    @property
    def holders(self) -> frozenset[str]:
        return frozenset(h.principal_id for h in self.holds)

    @property
    def needed(self) -> frozenset[str]:
        out: set[str] = set()
        for h in self.holds:
            out |= h.needs
        return frozenset(out)


@dataclass
class _FallbackNote:
    """One fallback decision and whom it concerns: principal (or runbook) label → the needs
    no custom role can hold, and how many actions the roles grant beyond that need."""

    needs: dict[str, frozenset[str]] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)

    def add(self, who: str, needs: frozenset[str], extra: int = 0) -> None:
        self.needs[who] = self.needs.get(who, frozenset()) | needs
        self.extra[who] = max(self.extra.get(who, 0), extra)


@dataclass
class _State:
    cat: Catalog
    directory: DirectorySnapshot | None
    usage: UsageMatrix | None
    opts: _Options
    names: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    needs: dict[str, dict[str, _Need]] = field(default_factory=dict)
    scopes: dict[str, PrincipalScopes] = field(default_factory=dict)
    resolver: ScopeResolver | None = None
    roles: list[_Role] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    attestation: list[AttestationItem] = field(default_factory=list)
    cannot_express: set[str] = field(default_factory=set)
    targets: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    lpb_cache: dict[frozenset[str], Any] = field(default_factory=dict)
    covers_cache: dict[tuple[str, str], bool] = field(default_factory=dict)
    progress: bool = False
    one_offs: dict[str, frozenset[str]] = field(default_factory=dict)
    """One-offs left out of the proposal (attested)."""
    rare: dict[str, frozenset[str]] = field(default_factory=dict)
    """One-off needs per principal (kept out of scoping and mining)."""
    design_tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Designed roles: action → the runbook tasks that asked for it."""
    fallbacks: dict[tuple[str, tuple[str, ...], str], _FallbackNote] = field(
        default_factory=dict)
    """(decision, built-in role names or uncoverable actions, scope) → whom it concerns."""
    timings: dict[str, float] = field(default_factory=dict)


# =============================================================================== public API
def recommend(
    usage: UsageMatrix,
    catalog: Catalog | None = None,
    directory: DirectorySnapshot | None = None,
    *,
    objective: str = "risk_weighted",
    solver: str = "auto",
    lam: float = 0.5,
    max_over_risk: float | None = 3.0,
    max_scoped_assignments: int = 5,
    max_au_share: float = 0.75,
    pim_group_min_principals: int = 3,
    task_completion: bool = True,
    one_offs: str = "attest",
    one_off_events: int = 1,
    one_off_share: float = 0.02,
    principals: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    authentication_context: str | None = None,
    time_limit: float | None = None,
    random_state: int = 0,
    progress: bool = False,
) -> Recommendation:
    """Propose least-privilege roles, scopes, PIM settings and assignments from usage.

    Parameters
    ----------
    usage:
        The :class:`~entra_lp.usage.UsageMatrix` of the training window (``log.usage()``).
    catalog:
        The permission catalog (default ``load_catalog()``).
    directory:
        A :class:`~entra_lp.directory.DirectorySnapshot`: enables administrative-unit scopes,
        break-glass / sync detection from role assignments, held-never-seen attestation,
        escalation paths over real objects and the ``current`` metrics. Without it every
        assignment that is not app-scoped is tenant-wide, and the output says so.
    objective:
        ``"risk_weighted"`` (default): mining may grant a principal cheap actions its peers use
        to merge near-identical roles (never control-tier actions, never actions weighing more
        than ``max_over_risk``); ``"min_roles"``: every principal gets exactly its needs.
    solver:
        ``RoleMiner`` solver: ``"auto"``, ``"exact"`` or ``"heuristic"``.
    lam:
        Price, in roles, of one unit of risk-weighted over-assignment (risk_weighted only).
    max_over_risk:
        Actions whose risk weight exceeds this are never over-assigned (None: only the
        control-tier cap applies).
    max_scoped_assignments:
        Most AUs / apps one principal is assigned at before tenant scope is chosen instead.
    max_au_share:
        Largest share of the tenant's objects (of the targets' types) the chosen AUs may hold;
        above it the AU boundary excludes too little and tenant scope is chosen.
    pim_group_min_principals:
        People needing the same built-in fallback role at the same scope from which the
        PIM-for-Groups pattern (a role-assignable group with eligible members) is proposed.
    task_completion:
        Add the unaudited actions (mostly reads) of catalog tasks whose audited actions the
        principal was all seen using, with ``source="task"`` evidence.
    one_offs:
        ``"attest"`` (default): a need rarely observed for the principal (see below) that
        fewer than 10% of its peers (principals sharing at least half its regular actions) use
        is noise, not a job: it shapes neither scopes nor roles; it is granted only when a role
        the principal holds anyway covers it at a scope containing its targets, else left out
        and listed for attestation. ``"grant"``: every observed need shapes the proposal.
    one_off_events, one_off_share:
        A one-off need has at most ``max(one_off_events, one_off_share x the principal's
        successful operations)`` events (``one_off_events=0`` disables one-off detection).
    principals:
        Restrict the recommendation to these principal ids (default: every principal).
    exclude:
        Principal ids to leave unchanged (reported as exclusions of kind ``other``).
    authentication_context:
        Authentication-context id required to activate control-tier roles (PIM).
    time_limit:
        Seconds per mining problem (None: the miner's own defaults).
    random_state:
        Seed of the miner's heuristic; same inputs and seed give byte-identical JSON.
    progress:
        Log one line per stage (logger ``entra_lp.recommend``, level INFO).

    Raises :class:`RecommendationError` for empty usage, bad options and unknown principals
    (:class:`UnknownPrincipalError`, with close matches).
    """
    opts = _Options(objective, solver, float(lam) if _is_num(lam) else lam,
                    max_over_risk, max_scoped_assignments, max_au_share, pim_group_min_principals,
                    bool(task_completion), one_offs, one_off_events, one_off_share,
                    authentication_context,
                    time_limit, random_state)
    _check_options(opts)
    _check_usage(usage)
    if catalog is None:
        from permission_catalog import load_catalog

        catalog = load_catalog()
    st = _State(catalog, directory, usage, opts, progress=progress)
    st.resolver = ScopeResolver(catalog, directory, opts.max_scoped_assignments,
                                opts.max_au_share)
    _run(st, principals, exclude, progress)
    return _assemble(st)


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_usage(usage: Any) -> None:
    for attr in ("principals", "actions", "evidence", "targets", "buckets", "window"):
        if not hasattr(usage, attr):
            raise RecommendationError(
                f"usage must be a UsageMatrix (log.usage()); {type(usage).__name__} has no "
                f"attribute {attr!r}"
            )
    if len(usage.principals) == 0 or len(usage.evidence) == 0:
        raise RecommendationError(
            "usage is empty: no successful administrative operation was mapped to a resource "
            "action (check the ingest report and usage.unmapped)"
        )


def _run(
    st: _State, principals: Iterable[str] | None, exclude: Iterable[str], progress: bool
) -> None:
    stages: tuple[tuple[str, Callable[[], None]], ...] = (
        ("triage", lambda: _triage(st, principals, exclude)),
        ("needs", lambda: _collect_needs(st)),
        ("scope", lambda: _resolve_scopes(st)),
        ("roles", lambda: _build_roles(st)),
        ("attest", lambda: _unobservable_attestation(st)),
        ("keys", lambda: _name_and_key(st)),
    )
    for name, fn in stages:
        t0 = time.perf_counter()
        fn()
        st.timings[name] = time.perf_counter() - t0
        if progress:
            log.info("recommend: %s done in %.2f s", name, st.timings[name])


# =============================================================================== 1. triage
def _triage(st: _State, principals: Iterable[str] | None, exclude: Iterable[str]) -> None:
    assert st.usage is not None
    p = st.usage.principals
    ids = [str(x) for x in p["principal_id"]]
    st.names = dict(zip(ids, (str(x) for x in p["name"]), strict=True))
    st.kinds = dict(zip(ids, (str(x) for x in p["kind"]), strict=True))
    known = set(ids) | _directory_principals(st.directory)
    wanted = None if principals is None else [str(x) for x in principals]
    for pid in [*(wanted or []), *map(str, exclude)]:
        if pid not in known:
            raise UnknownPrincipalError("principal", pid, sorted(known),
                                        hint="not in the usage nor in the directory")
    excluded: dict[str, Exclusion] = {}
    for pid in sorted(set(map(str, exclude))):
        excluded[pid] = Exclusion(principal_id=pid, principal_name=st.names.get(pid, ""),
                                  kind="other", reason="excluded by the caller")
    for ex in _sync_and_system(st) + _break_glass(st):
        excluded.setdefault(ex.principal_id, ex)
    st.exclusions = sorted(excluded.values(), key=lambda e: (e.kind, e.principal_id))
    keep = set(ids) if wanted is None else set(wanted) & set(ids)
    active = sorted(keep - set(excluded))
    st.needs = {pid: {} for pid in active}
    _held_never_seen(st, set(ids) | set(excluded), wanted)


def _directory_principals(d: DirectorySnapshot | None) -> set[str]:
    if d is None:
        return set()
    out = {u.id for u in d.users} | {s.id for s in d.service_principals}
    return out | {a.principal_id for a in d.role_assignments}


def _role_ids_named(cat: Catalog, names: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for name in names:
        try:
            out.add(cat.role_by_name(name).id)
        except EntraLPError:
            continue
    return out


def _sync_and_system(st: _State) -> list[Exclusion]:
    out: list[Exclusion] = []
    sync_roles = _role_ids_named(st.cat, SYNC_ROLE_NAMES)
    holders = {
        a.principal_id
        for a in (st.directory.role_assignments if st.directory else ())
        if a.role_definition_id in sync_roles
    }
    for pid in sorted(set(st.kinds) | holders):
        kind = st.kinds.get(pid, "")
        name = st.names.get(pid, "")
        if kind == "sync_account" or pid in holders:
            why = ("directory synchronization account (name pattern)" if kind == "sync_account"
                   else "holds a directory synchronization role")
            out.append(Exclusion(principal_id=pid, principal_name=name, kind="sync_account",
                                 reason=f"{why}; Entra Connect needs its own built-in role"))
        elif kind == "system":
            out.append(Exclusion(principal_id=pid, principal_name=name, kind="system",
                                 reason="Microsoft service acting on the tenant's behalf"))
    return out


def _break_glass(st: _State) -> list[Exclusion]:
    d = st.directory
    if d is None:
        return []
    users = {u.id: u for u in d.users}
    seen = set(st.kinds)
    out: list[Exclusion] = []
    for a in sorted(d.role_assignments, key=lambda a: a.principal_id):
        if (
            a.role_definition_id != GLOBAL_ADMIN
            or a.assignment_type != "active"
            or a.end is not None
            or a.directory_scope_id != "/"
            or a.via_group_id is not None
            or a.principal_id in seen
            or a.principal_id not in users
        ):
            continue
        user = users[a.principal_id]
        label = f"{user.user_principal_name} {user.display_name}".lower()
        hinted = any(h in label for h in BREAK_GLASS_HINTS)
        reason = ("permanent Global Administrator with no activity in the window"
                  + ("; its name marks it as an emergency account" if hinted else
                     "; no name hint: confirm it is an emergency account"))
        out.append(Exclusion(principal_id=user.id, principal_name=user.user_principal_name,
                             kind="break_glass", reason=reason))
        if not hinted:
            st.attestation.append(AttestationItem(
                principal_id=user.id, action="*", reason="held_never_seen",
                held_via="Global Administrator at /",
                detail="treated as break-glass (permanent, unused); confirm or remove"))
        seen.add(user.id)
    return out


def _held_never_seen(st: _State, in_usage: set[str], wanted: list[str] | None) -> None:
    d = st.directory
    if d is None:
        return
    for a in sorted(d.role_assignments, key=lambda a: (a.principal_id, a.role_definition_id,
                                                       a.directory_scope_id)):
        if a.principal_id in in_usage or (wanted is not None and a.principal_id not in wanted):
            continue
        role = _role_label(st.cat, d, a.role_definition_id)
        st.attestation.append(AttestationItem(
            principal_id=a.principal_id, action="*", reason="held_never_seen",
            held_via=f"{role} at {a.directory_scope_id}",
            detail=f"{a.assignment_type} assignment; no audited operation in the window: "
                   "confirm it is still needed, else remove it"))


def _role_label(cat: Catalog, d: DirectorySnapshot | None, role_id: str) -> str:
    hit = cat.roles.get(role_id)
    if hit is not None:
        return hit.name
    for r in d.custom_role_definitions if d else ():
        if r.id == role_id:
            return r.display_name
    return role_id


# =============================================================================== 2. needs
def _collect_needs(st: _State) -> None:
    assert st.usage is not None
    ev = st.usage.evidence
    ev = ev[ev["principal_id"].isin(set(st.needs))]
    for row in ev.sort_values(["principal_id", "action"]).to_dict("records"):
        st.needs[str(row["principal_id"])][str(row["action"])] = _Need(row=row)
        if row.get("confidence") == "ambiguous":
            st.attestation.append(AttestationItem(
                principal_id=str(row["principal_id"]), action=str(row["action"]),
                reason="ambiguous_mapping",
                detail=f"mapped by {', '.join(row['rule_ids'])}: the audit record cannot tell "
                       "this action from its alternatives; kept so coverage holds"))
    st.needs = {p: n for p, n in st.needs.items() if n}
    if not st.needs:
        raise RecommendationError(
            "no principal left to recommend for: every principal with successful operations "
            "was excluded or filtered out"
        )
    if st.opts.task_completion:
        _complete_tasks(st)
    if st.opts.one_offs == "attest":
        st.rare = _find_one_offs(st)


def _task_parts(cat: Catalog) -> list[tuple[str, frozenset[str], frozenset[str]]]:
    hidden = cat.unobservable_actions
    out = []
    for tid in sorted(cat.tasks):
        acts = frozenset(cat.tasks[tid].actions)
        seen, unseen = acts - hidden, acts & hidden
        if seen and unseen:
            out.append((tid, seen, unseen))
    return out


def _complete_tasks(st: _State) -> None:
    parts = _task_parts(st.cat)
    for needs in st.needs.values():
        observed = frozenset(needs)
        added: dict[str, list[str]] = {}
        for tid, seen, unseen in parts:
            if seen <= observed:
                for a in unseen - observed:
                    added.setdefault(a, []).append(tid)
        for a, tids in added.items():
            needs[a] = _Need(row=None, task_ids=tuple(tids))


def _unobservable_attestation(st: _State) -> None:
    """Unaudited tasks a principal can perform today but would lose: no log can say whether
    they are used, so a person decides (one item per principal and task)."""
    d = st.directory
    if d is None:
        return
    hidden = st.cat.unobservable_actions
    tasks = [(tid, t.actions) for tid, t in sorted(st.cat.tasks.items())
             if t.actions and frozenset(t.actions) <= hidden]
    proposed: dict[str, set[str]] = {}
    for r in st.roles:
        granted = (st.cat.role_expansion(r.template.id) if r.template is not None
                   else st.cat.expand(r.actions))
        for pid in r.holders:
            proposed.setdefault(pid, set()).update(granted)
    held: dict[str, list[Any]] = {}
    for a in d.role_assignments:
        held.setdefault(a.principal_id, []).append(a)
    for pid in sorted(st.needs):
        for a in held.get(pid, []):
            role = st.cat.roles.get(a.role_definition_id)
            if role is None:
                continue
            today = st.cat.role_expansion(role.id)
            keep = proposed.get(pid, set())
            for tid, acts in tasks:
                if set(acts) <= today and not set(acts) <= keep:
                    st.attestation.append(AttestationItem(
                        principal_id=pid, action=acts[0], reason="unobservable",
                        held_via=f"{role.name} at {a.directory_scope_id}",
                        detail=(f"task {tid} ({len(acts)} action(s): {_short_list(acts, 2)}) "
                                "leaves no audit record; it is not in the proposal: confirm "
                                "whether it is still needed")[:400]))


# =============================================================================== 3. scope
def _resolve_scopes(st: _State) -> None:
    assert st.resolver is not None
    assert st.usage is not None
    regular = {p: {a: n for a, n in needs.items() if a not in st.rare.get(p, frozenset())}
               for p, needs in st.needs.items()}
    st.scopes = st.resolver.resolve_all(
        regular, st.usage.targets, {p: _follow_map(st, r) for p, r in regular.items()})
    t = st.usage.targets
    rare = [(p, a) for p, acts in st.rare.items() for a in acts]
    if rare and len(t):
        wanted: dict[str, set[str]] = defaultdict(set)
        for p, a in rare:
            wanted[p].add(a)
        hits = t.loc[pair_mask(t, wanted), ["principal_id", "action", "target_id"]].astype(object)
        for (pid, act), g in hits.groupby(["principal_id", "action"]):
            st.targets[(str(pid), str(act))] = frozenset(str(x) for x in g["target_id"] if x)


def _follow_map(st: _State, needs: Mapping[str, _Need]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for a, need in needs.items():
        if need.row is None and need.task_ids:
            srcs = {s for tid in need.task_ids for s in st.cat.tasks[tid].actions
                    if s in needs and needs[s].row is not None}
            out[a] = tuple(sorted(srcs))
    return out


# =============================================================================== 4-6. roles
def _build_roles(st: _State) -> None:
    placed = {pid: {a: s.kind for a, s in sc.actions.items()} for pid, sc in st.scopes.items()}
    roles = _roles_for(st, {p: a for p, a in placed.items() if a})
    _attest_one_offs(st, _serve_one_offs(st, roles))
    st.roles = roles


def _roles_for(st: _State, placed: Mapping[str, Mapping[str, str]]) -> list[_Role]:
    groups = partition(placed, st.cat)
    fallback = {k: v for k, v in groups.items() if not k.custom}
    custom = {k: v for k, v in groups.items() if k.custom}
    builtin_holds = _fallback(st, fallback)
    custom = _absorb(st, custom, builtin_holds)
    return _dedupe(_mine(st, custom)) + _package_builtin(st, builtin_holds)


# ---- one-offs ------------------------------------------------------------------------
def _find_one_offs(st: _State) -> dict[str, frozenset[str]]:
    """Needs observed at most ``max(one_off_events, one_off_share x the principal's events)``
    times that fewer than ``ONE_OFF_PEER_SHARE``
    of the principal's peers (principals sharing at least half of its regular actions) use:
    noise, not a job. A rare task of the job is done by a fair share of the peers over a
    window; a stray operation by a few percent at most, however many peers there are. A
    principal with no regular work keeps everything (nothing to be an outlier against)."""
    if st.opts.one_off_events == 0:
        return {}
    limits = {p: max(st.opts.one_off_events,
                     st.opts.one_off_share * sum(_events(n) for n in needs.values()))
              for p, needs in st.needs.items()}
    core = {p: frozenset(a for a, n in needs.items() if _events(n) > limits[p])
            for p, needs in st.needs.items()}
    used = {p: frozenset(a for a, n in needs.items() if n.row is not None)
            for p, needs in st.needs.items()}
    peers = _peers(core)
    out: dict[str, frozenset[str]] = {}
    for pid, needs in st.needs.items():
        if not core[pid]:
            continue
        mates = peers.get(pid, [])
        rare = {a for a, n in needs.items() if n.row is not None and _events(n) <= limits[pid]
                and sum(a in used[q] for q in mates) < ONE_OFF_PEER_SHARE * max(len(mates), 1)}
        if rare:
            out[pid] = frozenset(_with_task_followers(st, pid, rare))
    return out


def _events(need: _Need) -> int:
    return 0 if need.row is None else int(need.row["count"])


def _with_task_followers(st: _State, pid: str, rare: set[str]) -> set[str]:
    """Task-added needs whose task rests only on one-off evidence are one-offs too."""
    out = set(rare)
    for a, n in st.needs[pid].items():
        if n.row is None and n.task_ids:
            bases = [{s for s in st.cat.tasks[t].actions if st.needs[pid].get(s) is not None
                      and st.needs[pid][s].row is not None} for t in n.task_ids]
            if all(b and b <= rare for b in bases):
                out.add(a)
    return out


def _peers(core: Mapping[str, frozenset[str]], threshold: float = 0.5) -> dict[str, list[str]]:
    """Principals whose regular actions overlap (Jaccard) at least ``threshold``."""
    pids = sorted(p for p, a in core.items() if a)
    if len(pids) < 2:
        return {}
    actions = sorted(set().union(*(core[p] for p in pids)))
    col = {a: j for j, a in enumerate(actions)}
    rows = [i for i, p in enumerate(pids) for _ in core[p]]
    cols = [col[a] for p in pids for a in sorted(core[p])]
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(pids), len(actions)))
    inter = (m @ m.T).tocoo()
    size = np.asarray(m.sum(axis=1)).ravel()
    out: dict[str, list[str]] = {}
    for i, j, v in zip(inter.row.tolist(), inter.col.tolist(), inter.data.tolist(), strict=True):
        if i != j and v / (size[i] + size[j] - v) >= threshold:
            out.setdefault(pids[i], []).append(pids[j])
    return out


def _serve_one_offs(st: _State, roles: list[_Role]) -> dict[str, frozenset[str]]:
    """Grant a one-off when a role the principal holds anyway covers it at a scope containing
    its targets (no new role, no new privilege); return the rest."""
    holds: dict[str, list[tuple[_Role, _Hold]]] = {}
    for r in roles:
        for h in r.holds:
            holds.setdefault(h.principal_id, []).append((r, h))
    left: dict[str, frozenset[str]] = {}
    for pid, rare in sorted(st.rare.items()):
        rest = set()
        for a in sorted(rare):
            targets = st.targets.get((pid, a), frozenset())
            hit = next((h for r, h in holds.get(pid, []) if _grants_action(st, r, a)
                        and _contains(st, h, targets)), None)
            if hit is not None:
                hit.needs = hit.needs | {a}
            else:
                rest.add(a)
        if rest:
            left[pid] = frozenset(rest)
    return left


def _contains(st: _State, h: _Hold, targets: frozenset[str]) -> bool:
    if h.kind == "tenant":
        return True
    if not targets:
        return False
    if h.kind == "application":
        return targets <= set(h.ids)
    assert st.resolver is not None
    members = set().union(*(st.resolver.au_members(i) for i in h.ids))
    return targets <= members


def _grants_action(st: _State, r: _Role, action: str) -> bool:
    if r.template is not None:
        return _role_covers(st, r.template, action)
    return action in st.cat.expand(r.actions)


def _attest_one_offs(st: _State, left: Mapping[str, frozenset[str]]) -> None:
    """List the one-offs left out of the proposal for a person to confirm (nothing is
    dropped silently)."""
    for pid in sorted(left):
        for a in sorted(left[pid]):
            row = st.needs[pid][a].row
            when = _dt(row["first_seen"]) if row is not None else None
            day = when.date().isoformat() if when else "?"
            st.attestation.append(AttestationItem(
                principal_id=pid, action=a, reason="one_off",
                detail=(f"used {_events(st.needs[pid][a])} time(s) ({day}) and by none of its "
                        "peers: left out of the proposal; grant it on request if it recurs")))
        st.one_offs[pid] = frozenset(left[pid])


# ---- fallback ------------------------------------------------------------------------
def _lpb(st: _State, actions: frozenset[str]) -> Any:
    hit = st.lpb_cache.get(actions)
    if hit is None:
        hit = st.lpb_cache[actions] = st.cat.least_privileged_builtin(sorted(actions))
    return hit


def _app_scopable_builtin(role: BuiltinRole) -> bool:
    """Entra offers a built-in role at app-registration scope only when it manages apps."""
    return any(a.name.split("/")[1].split(".")[0] in ("applications", "servicePrincipals")
               and not a.name.endswith("/read") for a in role.actions if "/" in a.name)


def _au_single(st: _State, actions: frozenset[str]) -> BuiltinRole | None:
    from permission_catalog.lpb import set_cost

    cands = [r for r in st.cat.roles_covering(sorted(actions)) if r.assignable and r.au_scopable]
    if not cands:
        return None
    return min(cands, key=lambda r: (set_cost(st.cat, [r]), r.name))


def _fallback(
    st: _State, groups: Mapping[GroupKey, Mapping[str, frozenset[str]]]
) -> dict[tuple[str, str], list[_Hold]]:
    """(template id, scope kind) → holds, for every need no custom role can hold. Tenant
    groups come first: a need a principal's tenant-wide fallback already grants is served
    there instead of adding a narrower copy of a built-in role."""
    out: dict[tuple[str, str], list[_Hold]] = {}
    tenant_holds: dict[str, list[tuple[BuiltinRole, _Hold]]] = {}
    for key, members in groups.items():
        for pid, needed in members.items():
            acts = set(needed)
            for role, h in tenant_holds.get(pid, []):
                taken = {a for a in acts if _role_covers(st, role, a)}
                h.needs |= frozenset(taken)
                acts -= taken
            who = st.names.get(pid) or pid
            roles = _fallback_roles(st, key.scope, frozenset(acts), who) if acts else []
            for role, kind in roles:
                covered = frozenset(a for a in acts if _role_covers(st, role, a))
                hold = _Hold(pid, kind, _ids_for(st, pid, kind, covered or acts), covered,
                             _widened(key.scope, kind, [r for r, _ in roles]))
                out.setdefault((role.id, kind), []).append(hold)
                if kind == "tenant":
                    tenant_holds.setdefault(pid, []).append((role, hold))
    return out


def _fallback_roles(
    st: _State, scope: ScopeKind, acts: frozenset[str], who: str = ""
) -> list[tuple[BuiltinRole, ScopeKind]]:
    """The built-in roles serving needs no custom role can hold, each with the scope kind it
    is assigned at; the decision is recorded for ``who`` (said once per role set, see
    :func:`_fallback_sentences`)."""
    res = _lpb(st, acts)
    if res.uncoverable:
        _note(st, ("uncoverable", tuple(sorted(res.uncoverable)), scope), who, res.uncoverable)
    roles = list(res.roles)
    if not roles:
        return []
    held = frozenset(acts - res.uncoverable)
    if scope == "administrative_unit" and not all(r.au_scopable for r in roles):
        alt = _au_single(st, held)
        if alt is None:
            _note(st, ("no_au", _role_names(roles), scope), who, held, _extra_of(st, roles, held))
            return [(r, "tenant") for r in roles]
        roles = [alt]
    if scope == "application" and not all(_app_scopable_builtin(r) for r in roles):
        _note(st, ("no_app", _role_names(roles), scope), who, held, _extra_of(st, roles, held))
        return [(r, "tenant") for r in roles]
    _note(st, ("used", _role_names(roles), scope), who, held, _extra_of(st, roles, held))
    return [(r, scope) for r in roles]


def _role_names(roles: Iterable[BuiltinRole]) -> tuple[str, ...]:
    return tuple(sorted(r.name for r in roles))


def _extra_of(st: _State, roles: Iterable[BuiltinRole], needs: frozenset[str]) -> int:
    """Actions the roles grant beyond ``needs`` (catalog expansion on both sides)."""
    granted = frozenset().union(*(st.cat.role_expansion(r.id) for r in roles))
    return len(granted - st.cat.expand(needs))


def _note(st: _State, key: tuple[str, tuple[str, ...], str], who: str, needs: Iterable[str],
          extra: int = 0) -> None:
    st.fallbacks.setdefault(key, _FallbackNote()).add(who, frozenset(needs), extra)


def _widened(scope: str, kind: str, roles: Sequence[BuiltinRole]) -> str:
    """Why a fallback meant for a narrower scope is held tenant-wide (empty when it is not)."""
    if kind == scope:
        return ""
    names = _and(r.name for r in roles)
    if scope == "administrative_unit":
        return ("no built-in role covering them can be assigned at administrative-unit scope, "
                f"so {names} is held tenant-wide")
    return f"{names} cannot be assigned at an app registration's scope, so it is held tenant-wide"


_WHO_SHOWN = 3
"""Principals (or runbooks) named per fallback sentence before '... and N more'."""


def _and(items: Iterable[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    xs = list(items)
    if len(xs) < 2:
        return "".join(xs)
    return ", ".join(xs[:-1]) + " and " + xs[-1]


def _whom(labels: Iterable[str]) -> str:
    """' for A, B, C and 4 more' ('' when nobody is named)."""
    people = sorted({x for x in labels if x})
    if not people:
        return ""
    shown = people[:_WHO_SHOWN]
    more = len(people) - len(shown)
    return " for " + _and([*shown, f"{more} more"] if more else shown)


def _fallback_sentences(st: _State) -> set[str]:
    """One sentence per fallback decision and role set, naming every need it covers and whom
    it concerns (principals with different needs share one sentence)."""
    out: set[str] = set()
    for (decision, subject, scope), note in st.fallbacks.items():
        needs = ", ".join(sorted(frozenset().union(*note.needs.values())))
        whom = _whom(note.needs)
        lo, hi = min(note.extra.values()), max(note.extra.values())
        beyond = f"{lo}" if lo == hi else f"{lo} to {hi}"
        names = _and(subject)
        where = scope.replace("_", " ")
        if decision == "uncoverable":
            out.add(f"No custom or assignable built-in role can grant {needs}{whom}; those needs "
                    "are left out of the proposal and need a manual decision.")
        elif decision == "no_au":
            out.add(f"Custom roles cannot hold {needs} and no built-in role that covers them can "
                    f"be assigned at administrative-unit scope: {names} "
                    f"{'is' if len(subject) == 1 else 'are'} assigned tenant-wide "
                    f"instead{whom}, granting {beyond} action(s) beyond the need.")
        elif decision == "no_app":
            out.add(f"Custom roles cannot hold {needs} and {names} cannot be assigned at an app "
                    f"registration's scope: {'it is' if len(subject) == 1 else 'they are'} "
                    f"assigned tenant-wide instead{whom}, granting {beyond} action(s) beyond "
                    "the need.")
        else:
            out.add(f"Custom roles cannot hold {needs}: the least-privileged built-in role set "
                    f"{names} is used instead at {where} scope{whom}, granting {beyond} "
                    "action(s) beyond the need.")
    return out


def _cannot_express(st: _State) -> tuple[str, ...]:
    """Every sentence of ``Recommendation.cannot_express``, sorted."""
    return tuple(sorted(st.cannot_express | _fallback_sentences(st)))


def _short_list(actions: Iterable[str], n: int = 3) -> str:
    acts = sorted(actions)
    head = ", ".join(acts[:n])
    return head + (f" (+{len(acts) - n} more)" if len(acts) > n else "")


def _role_covers(st: _State, role: BuiltinRole, action: str) -> bool:
    key = (role.id, action)
    hit = st.covers_cache.get(key)
    if hit is None:
        grants = [a.grant for a in role.actions if a.condition is None]
        hit = st.covers_cache[key] = st.cat.covers(grants, [action])
    return hit


def _ids_for(st: _State, pid: str, kind: str, needs: Iterable[str] = ()) -> tuple[str, ...]:
    """The scope ids of a holding: the AUs / apps of the principal's work area (its joint
    cover) that hold objects of the kinds the holding acts on (users, groups, devices, app
    registrations, service principals). A reset role is not scoped to an AU of groups; an app
    role covers all of the principal's apps, not only those one action happened to touch."""
    if kind == "tenant":
        return ()
    sc = st.scopes[pid]
    joint = sc.app_ids if kind == "application" else sc.au_ids
    kinds = {_resource(a) for a in needs}
    held = frozenset().union(*(sc.scopes_by_resource.get(k, frozenset()) for k in kinds))
    return tuple(i for i in joint if i in held) or joint


def _resource(action: str) -> str:
    parts = action.split("/")
    return parts[1].split(".")[0] if len(parts) > 1 else action


def _absorb(
    st: _State,
    custom: Mapping[GroupKey, Mapping[str, frozenset[str]]],
    builtin: Mapping[tuple[str, str], list[_Hold]],
) -> dict[GroupKey, dict[str, frozenset[str]]]:
    """Drop custom needs a principal's built-in fallback already grants at a scope that
    contains theirs: a custom role on top would add a role, not remove privilege."""
    held: dict[str, list[tuple[BuiltinRole, _Hold]]] = {}
    for (rid, _), holds in builtin.items():
        for h in holds:
            held.setdefault(h.principal_id, []).append((st.cat.roles[rid], h))
    out: dict[GroupKey, dict[str, frozenset[str]]] = {}
    for key, members in custom.items():
        for pid, acts in members.items():
            keep = set(acts)
            for role, h in held.get(pid, []):
                if h.kind not in ("tenant", key.scope):
                    continue
                taken = {a for a in keep if _role_covers(st, role, a)
                         and (h.kind == "tenant" or set(_ids_for(st, pid, key.scope, [a]))
                              <= set(h.ids))}
                if taken:
                    h.needs = h.needs | frozenset(taken)
                    keep -= taken
            if keep:
                out.setdefault(key, {})[pid] = frozenset(keep)
    return out


# ---- mining --------------------------------------------------------------------------
def _miner_weights(st: _State, actions: Sequence[str]) -> tuple[np.ndarray, float]:
    """Risk weights, with control-tier actions lifted above the cap (never over-assigned)."""
    cap = 1e9 if st.opts.max_over_risk is None else float(st.opts.max_over_risk)
    w = np.array([st.cat.risk_weight(a) for a in actions], dtype=np.float64)
    control = np.array([st.cat.classify(a).tier == "control" for a in actions], dtype=bool)
    w[control] = np.maximum(w[control], cap + 1.0)
    return w, cap


def _mine(st: _State, groups: Mapping[GroupKey, Mapping[str, frozenset[str]]]) -> list[_Role]:
    from .mining import RoleMiner

    out: list[_Role] = []
    for key, members in groups.items():
        pids = sorted(members)
        actions = sorted(set().union(*members.values()))
        col = {a: j for j, a in enumerate(actions)}
        rows = [i for i, p in enumerate(pids) for _ in members[p]]
        cols = [col[a] for p in pids for a in sorted(members[p])]
        X = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)),
                          shape=(len(pids), len(actions)))
        weights, cap = _miner_weights(st, actions)
        miner = RoleMiner(objective=st.opts.objective, solver=st.opts.solver,
                          time_limit=st.opts.time_limit, lam=st.opts.lam,
                          risk_weights=weights, max_over_risk=cap,
                          random_state=st.opts.random_state)
        try:
            miner.fit(X)
        except EntraLPError as exc:
            raise RecommendationError(f"mining group {key.label} failed: {exc}") from exc
        out.extend(_roles_of_group(st, key, pids=pids, actions=actions, members=members,
                                   miner=miner))
    return out


def _roles_of_group(
    st: _State,
    key: GroupKey,
    *,
    pids: list[str],
    actions: list[str],
    members: Mapping[str, frozenset[str]],
    miner: Any,
) -> list[_Role]:
    roles = [_Role("custom", frozenset(actions[j] for j in r.tolist()),
                   groups={(key.scope, key.plane)}) for r in miner.roles_]
    for i, pid in enumerate(pids):
        for r in sorted(int(x) for x in miner.assignment_[i]):
            role = roles[r]
            served = members[pid] & role.actions
            ids = _ids_for(st, pid, key.scope, served)
            role.holds.append(_Hold(pid, key.scope, ids, frozenset(served)))
    return [r for r in roles if r.holds]


def _dedupe(roles: list[_Role]) -> list[_Role]:
    """One definition per distinct action set; holdings keep their own scopes."""
    by_actions: dict[frozenset[str], _Role] = {}
    for r in roles:
        hit = by_actions.get(r.actions)
        if hit is None:
            by_actions[r.actions] = r
        else:
            hit.groups |= r.groups
            hit.holds.extend(r.holds)
    return list(by_actions.values())


# ---- built-in and PIM for Groups -----------------------------------------------------
def _package_builtin(st: _State, builtin: Mapping[tuple[str, str], list[_Hold]]) -> list[_Role]:
    """Direct built-in assignments, or PIM-for-Groups roles where enough people share one
    built-in role at one scope."""
    by_role: dict[str, list[_Hold]] = {}
    for (rid, _), holds in sorted(builtin.items()):
        by_role.setdefault(rid, []).extend(holds)
    out: list[_Role] = []
    for rid, holds in by_role.items():
        role = st.cat.roles[rid]
        by_scope: dict[tuple[str, str], list[_Hold]] = {}
        for h in holds:
            if st.kinds.get(h.principal_id) in _ACTIVE_KINDS:
                continue
            for sid in h.ids or ("",):
                by_scope.setdefault((h.kind, sid), []).append(h)
        grouped: set[tuple[str, str]] = set()
        for (kind, sid), hs in sorted(by_scope.items()):
            if len({h.principal_id for h in hs}) < st.opts.pim_group_min_principals:
                continue
            g = _Role("pim_group", frozenset(), role, {(kind, "fallback")})
            g.holds = [_Hold(h.principal_id, h.kind, (sid,) if sid else (), h.needs, h.reason)
                       for h in hs]
            g.actions = g.needed
            out.append(g)
            grouped |= {(h.principal_id, sid) for h in hs}
        direct = _direct_holds(holds, grouped)
        if direct:
            b = _Role("builtin", frozenset(), role, {(h.kind, "fallback") for h in direct}, direct)
            b.actions = b.needed
            out.append(b)
    return out


def _direct_holds(holds: list[_Hold], grouped: set[tuple[str, str]]) -> list[_Hold]:
    out = []
    for h in holds:
        ids = tuple(i for i in h.ids if (h.principal_id, i) not in grouped)
        if h.kind == "tenant" and (h.principal_id, "") in grouped:
            continue
        if h.kind != "tenant" and not ids:
            continue
        out.append(_Hold(h.principal_id, h.kind, ids, h.needs, h.reason))
    return out


# =============================================================================== 8. describe
def _name_and_key(st: _State) -> None:
    for r in st.roles:
        r.key = _role_key(r)
    st.roles.sort(key=lambda r: (0 if r.kind == "custom" else 1, r.key))


def _role_key(r: _Role) -> str:
    if r.kind == "custom":
        digest = hashlib.sha1("\n".join(sorted(r.actions)).encode()).hexdigest()[:10]
        return f"custom-{digest}"
    assert r.template is not None
    slug = re.sub(r"[^a-z0-9]+", "-", r.template.name.lower()).strip("-")
    if r.kind == "builtin":
        return f"builtin-{slug}"
    scope = ",".join(sorted({i for h in r.holds for i in h.ids})) or "tenant"
    return f"pim-group-{slug}-{hashlib.sha1(scope.encode()).hexdigest()[:6]}"


# =============================================================================== assemble
def _assemble(st: _State) -> Recommendation:
    assert st.usage is not None
    t0 = time.perf_counter()
    proposals, assignments = _describe_roles(st)
    rec = Recommendation(
        catalog_version=st.cat.version,
        source="usage",
        window_start=_dt(st.usage.window[0]),
        window_end=_dt(st.usage.window[1]),
        options=st.opts.as_dict(),
        roles=tuple(proposals),
        assignments=tuple(assignments),
        exclusions=tuple(st.exclusions),
        attestation=tuple(_sorted_attestation(st.attestation)),
        cannot_express=_cannot_express(st),
    )
    st.timings["describe"] = st.timings.get("describe", 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    from .metrics import recommendation_metrics

    needs = {p: frozenset(n) for p, n in st.needs.items()}
    rec = rec.model_copy(update={"metrics": recommendation_metrics(
        rec, needs, st.cat, st.directory, st.usage,
        excluded=[e.principal_id for e in st.exclusions], lpb=lambda n: _lpb(st, n),
        searched=dict(st.lpb_cache))})
    st.timings["metrics"] = time.perf_counter() - t0
    if st.progress:
        for name in ("describe", "metrics"):
            log.info("recommend: %s done in %.2f s", name, st.timings[name])
    return rec


def _sorted_attestation(items: Iterable[AttestationItem]) -> list[AttestationItem]:
    uniq = {(i.principal_id or "", i.reason, i.action, i.held_via or ""): i for i in items}
    return [uniq[k] for k in sorted(uniq)]


def _dt(value: Any) -> datetime | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.to_pydatetime()


# =============================================================================== describe roles
def _describe_roles(st: _State) -> tuple[list[RoleProposal], list[AssignmentProposal]]:
    buckets = _buckets_by_principal(st.usage.buckets if st.usage is not None else None)
    pairs = split_pairs(
        {r.key: r.holders for r in st.roles},
        {r.key: _main_group(r) for r in st.roles},
    )
    risks = {r.key: _risk(st, r, _granted(r)) for r in st.roles}
    tasks = {r.key: _tasks_of(st, r.actions) for r in st.roles}
    names = _names(st, st.roles, risks, tasks)
    proposals: list[RoleProposal] = []
    assignments: list[AssignmentProposal] = []
    for r in st.roles:
        risk = risks[r.key]
        pim = _pim(st, r, risk, buckets)
        proposals.append(RoleProposal(
            key=r.key,
            display_name=names[r.key][0],
            description=names[r.key][1],
            kind=r.kind,
            builtin_template_id=r.template.id if r.template is not None else None,
            actions=tuple(sorted(r.actions)),
            extra_actions=_extra(st, r),
            plane=risk.plane,
            assignable_scopes=sort_scopes({h.kind for h in r.holds} | {g[0] for g in r.groups}),
            tasks=tasks[r.key],
            evidence=tuple(_evidence(st, r, a) for a in sorted(r.actions)),
            risk=risk,
            pim=pim,
            split_from=pairs.get(r.key),
            limitations=_limitations(st, r),
        ))
        assignments.extend(_assignments(st, r))
    assignments.sort(key=lambda a: (a.principal_id, a.role_key, a.scope.directory_scope_id))
    return proposals, assignments


def _main_group(r: _Role) -> tuple[str, str]:
    return min(r.groups, key=lambda g: GroupKey(g[0], g[1], True).sort_key())  # type: ignore[arg-type]


def _granted(r: _Role) -> tuple[str, ...]:
    if r.template is not None:
        return tuple(sorted(r.template.action_names))
    return tuple(sorted(r.actions))


def _extra(st: _State, r: _Role) -> tuple[str, ...]:
    if r.template is None:
        return ()
    return tuple(sorted(st.cat.role_expansion(r.template.id) - st.cat.expand(r.actions)))


def _tasks_of(st: _State, actions: Iterable[str]) -> tuple[str, ...]:
    """Catalog tasks whose every action the role's actions allow."""
    allowed = st.cat.expand(actions)
    return tuple(tid for tid, t in sorted(st.cat.tasks.items())
                 if t.actions and set(t.actions) <= allowed)


def _evidence(st: _State, r: _Role, action: str) -> Evidence:
    if st.usage is None:
        return Evidence(action=action, source="design", n_principals=len(r.holders),
                        task_ids=st.design_tasks.get(action, ()))
    holders = sorted(r.holders)
    served = {h.principal_id for h in r.holds if action in h.needs}
    used = [(p, st.needs[p][action]) for p in holders
            if p in served and action in st.needs.get(p, {})]
    rows = [n.row for _, n in used if n.row is not None]
    task_ids = tuple(sorted({t for _, n in used for t in n.task_ids}))
    if len(used) < len(holders):
        source: Literal["observed", "task", "peer", "design"] = "peer"
    else:
        source = "observed" if rows else "task"
    if not rows:
        return Evidence(action=action, source=source, n_principals=len(used), task_ids=task_ids)
    examples = sorted((_dt(row["first_seen"]), ex) for row in rows for ex in row["example_ids"])
    return Evidence(
        action=action,
        source=source,
        count=int(sum(int(row["count"]) for row in rows)),
        n_targets=int(sum(int(row["n_targets"]) for row in rows)),
        n_principals=len(used),
        first_seen=min(_dt(row["first_seen"]) for row in rows),  # type: ignore[type-var]
        last_seen=max(_dt(row["last_seen"]) for row in rows),  # type: ignore[type-var]
        example_ids=tuple(dict.fromkeys(ex for _, ex in examples))[:_EXAMPLES],
        rule_ids=tuple(sorted({rid for row in rows for rid in row["rule_ids"]})),
        confidence=_CONFIDENCES[max(_CONFIDENCE_RANK.get(str(row["confidence"]), 2)
                                    for row in rows)],
        task_ids=task_ids,
    )


def _broadest(r: _Role) -> tuple[str, tuple[str, ...]]:
    kinds = sort_scopes({h.kind for h in r.holds} | {g[0] for g in r.groups})
    kind = kinds[0] if kinds else "tenant"
    ids = tuple(sorted({i for h in r.holds if h.kind == kind for i in h.ids}))
    return kind, ids


def _risk(st: _State, r: _Role, granted: tuple[str, ...]) -> RiskSummary:
    """Tier, plane, score and escalation paths at the role's broadest scope (``risk.py``)."""
    from .risk import assess_role

    kind, ids = _broadest(r)
    return assess_role(granted, st.cat, scope_kind=kind, scope_ids=ids, directory=st.directory,
                       builtin_role=r.template.id if r.template is not None else None)


def _buckets_by_principal(buckets: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    if buckets is None or len(buckets) == 0:
        return {}
    return {str(k): g for k, g in buckets.groupby("principal_id", sort=True)}


def _pim(st: _State, r: _Role, risk: RiskSummary, buckets: Mapping[str, pd.DataFrame]
         ) -> PimDecision:
    """PIM settings from the holders' sessions (``pim.py``)."""
    from .pim import recommend_settings, sessions

    holders = sorted(r.holders)
    frames = [buckets[p] for p in holders if p in buckets]
    hours = sessions(pd.concat(frames), holders) if frames else np.zeros(0)
    return recommend_settings(
        _granted(r), risk, session_hours=hours,
        principal_kinds={p: st.kinds.get(p, "unknown") for p in holders},
        directory=st.directory, authentication_context=st.opts.authentication_context,
        break_glass_ids=[e.principal_id for e in st.exclusions if e.kind == "break_glass"],
        role_id=r.template.id if r.template is not None else None, catalog=st.cat)


def _names(
    st: _State, roles: Sequence[_Role], risks: Mapping[str, RiskSummary],
    tasks: Mapping[str, tuple[str, ...]],
) -> dict[str, tuple[str, str]]:
    """Display names and descriptions: ``naming.py`` for custom roles, the built-in role's
    name for fallbacks, ``PIM group - <role> (<scope>)`` for PIM-for-Groups roles."""
    from .naming import RoleNameRequest, name_roles

    custom = [r for r in roles if r.kind == "custom"]
    taken = [c.display_name for c in st.directory.custom_role_definitions] if st.directory else []
    named = name_roles(
        [RoleNameRequest(sorted(r.actions), tasks[r.key], risks[r.key].plane, _main_group(r)[0])
         for r in custom], st.cat, taken=taken)
    out = {r.key: (n.display_name, n.description) for r, n in zip(custom, named, strict=True)}
    for r in roles:
        if r.template is None:
            continue
        n = len(r.holders)
        if r.kind == "builtin":
            out[r.key] = (r.template.name, _fallback_description(st, r, n))
        else:
            kind, ids = _broadest(r)
            assert st.resolver is not None
            where = ", ".join(st.resolver.label(kind, i) for i in ids) or "tenant"
            out[r.key] = (f"PIM group - {r.template.name} ({where})", (
                f"Role-assignable group holding {r.template.name} at {where}; {n} eligible "
                "member(s) activate membership just in time")[:250])
    return out


def _fallback_description(st: _State, r: _Role, n: int) -> str:
    """'Built-in fallback for 3 principal(s): custom roles cannot hold groups/owners/update,
    groups/visibility/update': exactly the needs no custom role may hold (the role's other
    needs ride along and are not the reason it is used)."""
    from .split import is_custom_eligible

    forced = sorted(a for a in r.actions if not is_custom_eligible(st.cat, a))
    head = f"Built-in fallback for {n} principal(s)"
    if not forced:
        return head
    names = [_short_action(a) for a in forced]
    text = f"{head}: custom roles cannot hold {', '.join(names)}"
    while len(text) > _DESCRIPTION_MAX and len(names) > 1:  # keep within a role description
        names.pop()
        text = (f"{head}: custom roles cannot hold {', '.join(names)} and "
                f"{len(forced) - len(names)} more")
    return text


_DESCRIPTION_MAX = 500
"""Longest description (naming's default ``max_description_length``)."""


def _short_action(action: str) -> str:
    return action.removeprefix("microsoft.directory/")


def _limitations(st: _State, r: _Role) -> tuple[str, ...]:
    out: list[str] = []
    if r.template is not None:
        extra = len(_extra(st, r))
        out.append(f"built-in role: grants {extra} catalog action(s) beyond the observed need")
        if r.kind == "pim_group":
            out.append("needs a role-assignable group created by hand (PIM for Groups)")
        return tuple(out)
    for kind in sort_scopes({h.kind for h in r.holds} | {g[0] for g in r.groups}):
        for v in st.cat.check_custom_role(sorted(r.actions), kind):
            what = f"{v.action}: " if v.action else ""
            out.append(f"at {kind} scope: [{v.rule}] {what}{v.message}")
    return tuple(out)


def _assignments(st: _State, r: _Role) -> list[AssignmentProposal]:
    assert st.resolver is not None
    out: list[AssignmentProposal] = []
    for h in sorted(r.holds, key=lambda h: (h.principal_id, h.kind, h.ids)):
        kind_p = st.kinds.get(h.principal_id, "user")
        active = kind_p in _ACTIVE_KINDS
        reason = ("workload identity: cannot activate, so active and time-bound" if active else
                  "person: eligible, activated just in time")
        for sid in (h.ids if h.kind != "tenant" else ("",)):
            sc = st.scopes.get(h.principal_id)
            choice = (st.resolver.choice(sc, h.kind, sid, h.needs, h.reason) if sc is not None else
                      ScopeChoice(kind=h.kind, directory_scope_id=directory_scope_id(h.kind, sid),
                                  display_name=st.resolver.label(h.kind, sid), reason=h.reason))
            out.append(AssignmentProposal(
                principal_id=h.principal_id,
                principal_name=st.names.get(h.principal_id, ""),
                principal_kind=kind_p,
                role_key=r.key,
                scope=choice,
                assignment_type="active" if active else "eligible",
                reason=reason,
            ))
    return out
