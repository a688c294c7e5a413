"""Quality measures of a way of granting rights: the proposal, today's assignments, baselines.

Every :class:`~entra_lp.recommendation.MetricSet` is computed by :func:`metric_set` from the same
ingredients: which roles exist (their granted actions), who holds which role, and for how many
hours each holding is live in the usage window. Definitions:

``n_roles``
    Distinct role *definitions* used: each custom role, each built-in role (a built-in role
    held directly and through a PIM-for-Groups group counts once: the group packages the same
    definition).
``n_assignments``
    Holdings (principal, role, scope).
``wsc``
    Weighted structural complexity with unit weights: ``|R| + |UA| + |PA|`` (roles,
    distinct principal-role pairs, granted actions summed over roles).
``over_privilege``
    For each principal, the risk weights (``catalog.risk_weight``) of the catalog actions its
    roles grant, *expanded* (``catalog.expand``: ``allTasks`` counts every action it implies),
    minus the expanded actions it needs; summed over principals. Scope is not discounted (a
    conservative measure: an AU-scoped grant counts like a tenant-wide one).
``over_privilege_actions``
    The same, unweighted: granted-but-unneeded (principal, action) pairs.
``standing_control_plane_hours``
    For each principal and each control-tier action it is granted, the hours that grant is
    live in the window (the longest of its holdings), summed. Permanent active holdings count
    the whole window; time-bound active ones their overlap with it; eligible ones the
    activation hours: the principal's sessions (``usage.buckets``) times the role's maximum
    activation, capped at the window (an upper bound: each session is assumed to activate).

Baselines on the same needs: ``exact_union`` (one role per distinct need set, held actively;
over-privilege 0 by construction, ignoring that custom roles cannot hold every action) and
``least_privileged_builtin`` (``catalog.least_privileged_builtin`` per principal, held actively).

The built-in baseline runs one exact search per distinct *covering structure*, not per need set:
the least-privileged answer depends on the needs only through which candidate roles cover each
of them (``permission_catalog.lpb``), and a need whose covering roles include all those of
another need adds no constraint. Need sets with the same minimal covering sets get the same
roles, so one search (on one representative action per set) serves them all, and searches the
recommender already made for its fallbacks are reused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .recommendation import Metrics, MetricSet

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

    from .directory import DirectorySnapshot, RoleAssignment
    from .recommendation import Recommendation

__all__ = [
    "CoverStructure",
    "Holding",
    "baseline_builtin",
    "baseline_exact_union",
    "current_metric_set",
    "metric_set",
    "proposal_metric_set",
    "recommendation_metrics",
    "session_counts",
]

DEFAULT_ACTIVATION_HOURS = 8


@dataclass(frozen=True, slots=True)
class Holding:
    """One principal holding one role for ``hours`` of the window."""

    principal_id: str
    role_id: str
    hours: float


class _Weights:
    """Per-action risk weight and control-tier flag, cached."""

    def __init__(self, catalog: Catalog) -> None:
        self.cat = catalog
        self._w: dict[str, float] = {}
        self._control: dict[str, bool] = {}
        self._expand: dict[frozenset[str], frozenset[str]] = {}

    def weight(self, action: str) -> float:
        hit = self._w.get(action)
        if hit is None:
            hit = self._w[action] = float(self.cat.risk_weight(action))
        return hit

    def control(self, action: str) -> bool:
        hit = self._control.get(action)
        if hit is None:
            hit = self._control[action] = self.cat.classify(action).tier == "control"
        return hit

    def expand(self, actions: frozenset[str]) -> frozenset[str]:
        hit = self._expand.get(actions)
        if hit is None:
            hit = self._expand[actions] = self.cat.expand(actions)
        return hit


def metric_set(
    roles: Mapping[str, frozenset[str]],
    holdings: Sequence[Holding],
    needs: Mapping[str, frozenset[str]],
    catalog: Catalog,
    *,
    principals: Iterable[str] | None = None,
    weights: Any = None,
) -> MetricSet:
    """The :class:`MetricSet` of ``holdings`` of ``roles`` (role id → granted actions) against
    ``needs`` (principal → needed actions); ``principals`` adds principals holding nothing."""
    w: _Weights = weights if weights is not None else _Weights(catalog)
    used = sorted({h.role_id for h in holdings})
    pairs = {(h.principal_id, h.role_id) for h in holdings}
    by_principal: dict[str, list[Holding]] = {}
    for h in holdings:
        by_principal.setdefault(h.principal_id, []).append(h)
    everyone = sorted(set(by_principal) | set(principals or ()))
    over, over_n, standing = 0.0, 0, 0.0
    for pid in everyone:
        live: dict[str, float] = {}
        for h in by_principal.get(pid, []):
            for a in w.expand(roles[h.role_id]):
                live[a] = max(live.get(a, 0.0), h.hours)
        need = w.expand(needs.get(pid, frozenset()))
        for a, hours in live.items():
            if a not in need:
                over += w.weight(a)
                over_n += 1
            if w.control(a):
                standing += hours
    return MetricSet(
        n_roles=len(used),
        n_assignments=len(holdings),
        wsc=float(len(used) + len(pairs) + sum(len(roles[r]) for r in used)),
        over_privilege=round(over, 6),
        over_privilege_actions=over_n,
        standing_control_plane_hours=round(standing, 3),
    )


# ------------------------------------------------------------------------------- window
def _window(usage: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None, float]:
    lo, hi = (usage.window if usage is not None else (None, None))
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return None, None, 0.0
    lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
    return lo, hi, max((hi - lo).total_seconds() / 3600.0, 0.0)


def session_counts(buckets: pd.DataFrame, bucket_minutes: int = 15, max_gap_minutes: int = 30
                   ) -> dict[str, int]:
    """Working sessions per principal, by the rule of :func:`entra_lp.pim.sessions` (runs of
    activity buckets separated by gaps shorter than ``max_gap_minutes``)."""
    if buckets is None or len(buckets) == 0:
        return {}
    b = buckets[buckets["count"] > 0] if "count" in buckets.columns else buckets
    start = pd.to_datetime(b["bucket_start"], utc=True)
    frame = pd.DataFrame({
        "p": b["principal_id"].astype(str).to_numpy(),
        "m": ((start - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(minutes=1)).to_numpy(),
    }).drop_duplicates().sort_values(["p", "m"], kind="stable")
    p = frame["p"].to_numpy()
    m = frame["m"].to_numpy(dtype=np.int64)
    new = np.ones(len(p), dtype=bool)
    new[1:] = (p[1:] != p[:-1]) | (m[1:] - m[:-1] - bucket_minutes >= max_gap_minutes)
    counts = pd.Series(new).groupby(p).sum()
    return {str(k): int(v) for k, v in counts.items()}


def _sessions(usage: Any) -> dict[str, int]:
    return {} if usage is None else session_counts(usage.buckets)


def _eligible_hours(sessions: int, activation: float, window: float) -> float:
    return min(sessions * activation, window)


# ------------------------------------------------------------------------------- proposal
def proposal_metric_set(
    rec: Recommendation,
    needs: Mapping[str, frozenset[str]],
    catalog: Catalog,
    usage: Any = None,
    weights: Any = None,
) -> MetricSet:
    """Metrics of a recommendation's assignments (custom roles grant their actions; built-in
    and PIM-for-Groups roles the built-in role's unconditioned actions)."""
    roles, holdings = _proposal_parts(rec, catalog, usage)
    return metric_set(roles, holdings, needs, catalog, principals=needs, weights=weights)


# ------------------------------------------------------------------------------- current state
def current_metric_set(
    directory: DirectorySnapshot,
    needs: Mapping[str, frozenset[str]],
    catalog: Catalog,
    usage: Any = None,
    *,
    principals: Iterable[str] | None = None,
    weights: Any = None,
    sessions: Mapping[str, int] | None = None,
) -> MetricSet:
    """Metrics of today's role assignments (``directory.role_assignments``), restricted to
    ``principals`` when given (``sessions``: :func:`session_counts` of the usage, if known)."""
    lo, hi, window = _window(usage)
    sessions = _sessions(usage) if sessions is None else sessions
    keep = None if principals is None else set(principals)
    custom = {r.id: frozenset(r.allowed_resource_actions)
              for r in directory.custom_role_definitions}
    roles: dict[str, frozenset[str]] = {}
    holdings: list[Holding] = []
    for a in directory.role_assignments:
        if keep is not None and a.principal_id not in keep:
            continue
        granted = _granted_by(catalog, custom, a.role_definition_id)
        if granted is None:
            continue
        roles[a.role_definition_id] = granted
        policy = directory.pim_policies.get(a.role_definition_id)
        activation = float(policy.max_activation_hours if policy else DEFAULT_ACTIVATION_HOURS)
        live = (_overlap(a, lo, hi, window) if a.assignment_type == "active"
                else _eligible_hours(sessions.get(a.principal_id, 0), activation, window))
        holdings.append(Holding(a.principal_id, a.role_definition_id, live))
    return metric_set(roles, holdings, needs, catalog, principals=keep, weights=weights)


def _granted_by(
    catalog: Catalog, custom: Mapping[str, frozenset[str]], role_id: str
) -> frozenset[str] | None:
    if role_id in custom:
        return custom[role_id]
    hit = catalog.roles.get(role_id)
    return None if hit is None else hit.action_names


def _overlap(
    a: RoleAssignment, lo: pd.Timestamp | None, hi: pd.Timestamp | None, window: float
) -> float:
    if lo is None or hi is None:
        return window
    start = max(lo, _ts(a.start) or lo)
    end = min(hi, _ts(a.end) or hi)
    return max((end - start).total_seconds() / 3600.0, 0.0)


def _ts(value: datetime | None) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts if ts.tzinfo is not None else ts.tz_localize("UTC")


# ------------------------------------------------------------------------------- baselines
def baseline_exact_union(
    needs: Mapping[str, frozenset[str]], catalog: Catalog, usage: Any = None, weights: Any = None
) -> MetricSet:
    """(a) One role per distinct need set, held actively for the whole window."""
    _, _, window = _window(usage)
    roles: dict[str, frozenset[str]] = {}
    holdings = []
    for pid in sorted(needs):
        rid = hashlib.sha1("\n".join(sorted(needs[pid])).encode()).hexdigest()
        roles[rid] = needs[pid]
        holdings.append(Holding(pid, rid, window))
    return metric_set(roles, holdings, needs, catalog, weights=weights)


class CoverStructure:
    """What decides a least-privileged built-in answer: for each need, the assignable roles
    (meant for users) whose unconditioned grants cover it, exactly as the search's candidates
    (``permission_catalog.lpb``, no target restriction). Cached per action."""

    def __init__(self, catalog: Catalog) -> None:
        self.cat = catalog
        self._cover: dict[str, frozenset[str]] = {}

    def cover(self, action: str) -> frozenset[str]:
        """Ids of the candidate roles covering ``action`` (empty: no built-in role can)."""
        hit = self._cover.get(action)
        if hit is None:
            hit = self._cover[action] = frozenset(
                r.id for r in self.cat.roles_covering([action])
                if r.assignable and not r.applications_only)
        return hit

    def reduce(self, actions: Iterable[str]
               ) -> tuple[frozenset[frozenset[str]], frozenset[str]]:
        """(key, representatives). ``key``: the minimal covering sets of ``actions`` (a need
        covered by every role covering another need is implied by it; uncoverable needs
        constrain nothing); equal keys have equal answers. ``representatives``: one action
        per minimal set (the first by name), a need set with that answer."""
        first: dict[frozenset[str], str] = {}
        for a in sorted(actions):
            cov = self.cover(a)
            if cov and cov not in first:
                first[cov] = a
        minimal = [c for c in first if not any(o < c for o in first)]
        return frozenset(minimal), frozenset(first[c] for c in minimal)


def baseline_builtin(
    needs: Mapping[str, frozenset[str]],
    catalog: Catalog,
    usage: Any = None,
    weights: Any = None,
    lpb: Callable[[frozenset[str]], Any] | None = None,
    *,
    searched: Mapping[frozenset[str], Any] | None = None,
) -> MetricSet:
    """(b) The least-privileged built-in role set of each principal, held actively.

    ``lpb``: a (cached) ``least_privileged_builtin`` to share with the caller; ``searched``:
    results the caller already has (need set → result of ``least_privileged_builtin`` with no
    target restriction), reused where their covering structure matches. One search per
    distinct covering structure (module docstring): the same roles as one search per need
    set, at a fraction of the cost."""
    _, _, window = _window(usage)
    search = lpb if lpb is not None else (lambda n: catalog.least_privileged_builtin(sorted(n)))
    structure = CoverStructure(catalog)
    answers: dict[frozenset[frozenset[str]], tuple[str, ...]] = {}
    for need, result in sorted((searched or {}).items(), key=lambda kv: sorted(kv[0])):
        answers.setdefault(structure.reduce(need)[0], tuple(r.id for r in result.roles))
    roles: dict[str, frozenset[str]] = {}
    holdings = []
    for pid in sorted(needs):
        key, representatives = structure.reduce(a for a in needs[pid] if a in catalog.actions)
        if key not in answers:
            answers[key] = tuple(r.id for r in search(representatives).roles) if key else ()
        for rid in answers[key]:
            roles[rid] = catalog.roles[rid].action_names
            holdings.append(Holding(pid, rid, window))
    return metric_set(roles, holdings, needs, catalog, principals=needs, weights=weights)


def recommendation_metrics(
    rec: Recommendation,
    needs: Mapping[str, frozenset[str]],
    catalog: Catalog,
    directory: DirectorySnapshot | None = None,
    usage: Any = None,
    *,
    excluded: Iterable[str] = (),
    lpb: Callable[[frozenset[str]], Any] | None = None,
    searched: Mapping[frozenset[str], Any] | None = None,
) -> Metrics:
    """Proposal, current state (with a directory) and both baselines on the same needs.

    The current state covers the proposal's principals plus those whose roles are listed for
    attestation as held-never-seen (their proposal holds nothing); excluded principals are left
    out of every measure (they are left unchanged). ``lpb`` and ``searched``: see
    :func:`baseline_builtin`.
    """
    w = _Weights(catalog)
    sessions = _sessions(usage)
    parts = _proposal_parts(rec, catalog, usage, sessions)
    proposed = metric_set(*parts, needs, catalog, principals=needs, weights=w)
    current = None
    if directory is not None:
        skip = set(excluded)
        idle = {i.principal_id for i in rec.attestation
                if i.reason == "held_never_seen" and i.principal_id and i.principal_id not in skip}
        who = (set(needs) | idle) - skip
        current = current_metric_set(directory, needs, catalog, usage, principals=who, weights=w,
                                     sessions=sessions)
        proposed = metric_set(*parts, needs, catalog, principals=sorted(set(needs) | idle),
                              weights=w)
    return Metrics(
        proposed=proposed,
        current=current,
        baselines={
            "exact_union": baseline_exact_union(needs, catalog, usage, weights=w),
            "least_privileged_builtin": baseline_builtin(needs, catalog, usage, weights=w,
                                                         lpb=lpb, searched=searched),
        },
    )


def _proposal_parts(
    rec: Recommendation, catalog: Catalog, usage: Any, sessions: Mapping[str, int] | None = None
) -> tuple[dict[str, frozenset[str]], list[Holding]]:
    _, _, window = _window(usage)
    sessions = _sessions(usage) if sessions is None else sessions
    roles: dict[str, frozenset[str]] = {}
    role_id: dict[str, str] = {}
    hours: dict[str, float] = {}
    for r in rec.roles:
        rid = r.key if r.builtin_template_id is None else r.builtin_template_id
        role_id[r.key] = rid
        roles[rid] = (frozenset(r.actions) if r.builtin_template_id is None
                      else catalog.role(r.builtin_template_id).action_names)
        hours[r.key] = float(r.pim.settings.max_activation_hours)
    holdings = [
        Holding(a.principal_id, role_id[a.role_key],
                window if a.assignment_type == "active"
                else _eligible_hours(sessions.get(a.principal_id, 0), hours[a.role_key], window))
        for a in rec.assignments
    ]
    return roles, holdings
