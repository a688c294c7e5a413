"""Validation of a recommendation: replay a later window, or check tasks per principal.

:func:`validate` replays every successful operation of a later window (its
``UsageMatrix.targets``: principal, action, target, count) against the proposed assignments.
An operation is allowed when one of the principal's assignments holds a role that covers the
action (``catalog.covers``; custom roles grant their actions, built-in and PIM-for-Groups roles
the built-in role's unconditioned grants) at a scope containing the target: the tenant; an
administrative unit the target is a member of (the directory snapshot says which); or the app
registration / service principal object itself. Coverage is counted by events. Operations of
excluded principals (break-glass, sync, caller's exclusions) are left unchanged by the
recommendation and counted apart. Denied operations are grouped by principal and action, with
the reason and example targets, and the returned recommendation carries ``coverage`` and
``denied_operations`` in ``metrics.proposed``.

:func:`validate_tasks` checks, for each principal, that each named catalog task's actions are
covered by its assignments at scope kinds where the task can be delegated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from .errors import RecommendationError
from .recommendation import Recommendation

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

    from .directory import DirectorySnapshot
    from .usage import UsageMatrix

__all__ = [
    "DeniedOperation",
    "TaskCheck",
    "TaskValidationReport",
    "ValidationReport",
    "validate",
    "validate_tasks",
]

DenyReason = Literal["no_assignment", "action_not_granted", "outside_scope"]
_EXAMPLES = 3


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeniedOperation(_Model):
    """Later operations of one principal and action the proposal would deny."""

    principal_id: str
    principal_name: str = ""
    action: str
    count: int
    n_targets: int
    reason: DenyReason
    example_targets: tuple[str, ...] = ()


class ValidationReport(_Model):
    """Outcome of replaying a later window against a recommendation."""

    total_operations: int
    """Successful operations of the later window (events), excluded principals included."""
    excluded_operations: int
    """Operations of principals the recommendation leaves unchanged."""
    allowed_operations: int
    coverage: float
    """allowed / (total - excluded); 1.0 when nothing is left to replay."""
    denied: tuple[DeniedOperation, ...] = ()
    """Grouped by principal and action, most events first."""
    new_principals: tuple[str, ...] = ()
    """Principals active in the later window that the recommendation does not know."""
    recommendation: Recommendation
    """The validated recommendation with ``metrics.proposed.coverage`` filled."""

    @property
    def denied_operations(self) -> int:
        """Events denied."""
        return sum(d.count for d in self.denied)

    def denied_frame(self) -> pd.DataFrame:
        """The denied operations as a DataFrame (one row per principal and action)."""
        cols = list(DeniedOperation.model_fields)
        return pd.DataFrame([d.model_dump() for d in self.denied], columns=cols)


@dataclass
class _Grants:
    """Per principal: (role key, scope kind, scope id) holdings, and role coverage cache."""

    catalog: Catalog
    roles: dict[str, list[tuple[str, str | None]]]
    holdings: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    _covers: dict[tuple[str, str], bool] = field(default_factory=dict)

    def covers(self, role_key: str, action: str) -> bool:
        hit = self._covers.get((role_key, action))
        if hit is None:
            hit = self._covers[(role_key, action)] = self.catalog.covers(
                self.roles[role_key], [action]
            )
        return hit

    def scopes_for(self, principal_id: str, action: str) -> list[tuple[str, str]]:
        return [
            (kind, sid)
            for key, kind, sid in self.holdings.get(principal_id, [])
            if self.covers(key, action)
        ]


def _grants(rec: Recommendation, catalog: Catalog) -> _Grants:
    roles: dict[str, list[tuple[str, str | None]]] = {}
    for r in rec.roles:
        if r.builtin_template_id is not None:
            builtin = catalog.role(r.builtin_template_id)
            roles[r.key] = [a.grant for a in builtin.actions if a.condition is None]
        else:
            roles[r.key] = [(a, None) for a in r.actions]
    g = _Grants(catalog, roles)
    for a in rec.assignments:
        sid = a.scope.directory_scope_id.rstrip("/").rsplit("/", 1)[-1]
        g.holdings.setdefault(a.principal_id, []).append((a.role_key, a.scope.kind, sid))
    return g


def _load(catalog: Catalog | None) -> Catalog:
    if catalog is not None:
        return catalog
    from permission_catalog import load_catalog

    return load_catalog()


def validate(
    recommendation: Recommendation,
    later_usage: UsageMatrix,
    catalog: Catalog | None = None,
    directory: DirectorySnapshot | None = None,
) -> ValidationReport:
    """Replay ``later_usage`` against ``recommendation`` (module docstring).

    ``directory`` is required when an assignment is scoped to an administrative unit (AU
    membership decides whether a target is in scope); :class:`RecommendationError` otherwise.
    """
    cat = _load(catalog)
    if directory is None and any(
        a.scope.kind == "administrative_unit" for a in recommendation.assignments
    ):
        raise RecommendationError(
            "validate: the recommendation has administrative-unit assignments; pass the "
            "directory snapshot so AU membership of each target can be checked"
        )
    if not hasattr(later_usage, "targets"):
        raise RecommendationError(
            f"validate: later_usage must be a UsageMatrix, got {type(later_usage).__name__}"
        )
    grants = _grants(recommendation, cat)
    au_of = directory.administrative_units_of if directory is not None else {}
    excluded = {e.principal_id for e in recommendation.exclusions}
    t = later_usage.targets
    total = int(t["count"].sum()) if len(t) else 0
    is_excluded = t["principal_id"].isin(excluded) if len(t) else pd.Series([], dtype=bool)
    replay = t[~is_excluded]
    allowed = _replay(replay, grants, au_of)
    denied = _denied(replay, allowed, grants, later_usage)
    n_allowed = int(replay["count"][allowed].sum()) if len(replay) else 0
    base = total - int(t["count"][is_excluded].sum() if len(t) else 0)
    coverage = 1.0 if base == 0 else n_allowed / base
    known = set(grants.holdings) | excluded | _attested(recommendation)
    new = sorted(set(replay["principal_id"]) - known) if len(replay) else []
    return ValidationReport(
        total_operations=total,
        excluded_operations=total - base,
        allowed_operations=n_allowed,
        coverage=coverage,
        denied=tuple(denied),
        new_principals=tuple(str(p) for p in new),
        recommendation=_with_coverage(recommendation, coverage, base - n_allowed),
    )


def _attested(rec: Recommendation) -> set[str]:
    return {i.principal_id for i in rec.attestation if i.principal_id}


def _replay(t: pd.DataFrame, grants: _Grants, au_of: Mapping[str, frozenset[str]]) -> pd.Series:
    """Allowed flag per row of the later targets table."""
    if t.empty:
        return pd.Series([], dtype=bool)
    pairs = t[["principal_id", "action"]].drop_duplicates()
    scopes = {
        (p, a): grants.scopes_for(p, a)
        for p, a in zip(pairs["principal_id"].tolist(), pairs["action"].tolist(), strict=True)
    }
    flags = [
        _allowed(scopes[(p, a)], str(target), au_of)
        for p, a, target in zip(
            t["principal_id"].tolist(), t["action"].tolist(), t["target_id"].tolist(), strict=True
        )
    ]
    return pd.Series(flags, index=t.index, dtype=bool)


def _allowed(
    scopes: list[tuple[str, str]], target: str, au_of: Mapping[str, frozenset[str]]
) -> bool:
    for kind, sid in scopes:
        if kind == "tenant":
            return True
        if kind == "application" and target and target == sid:
            return True
        if kind == "administrative_unit" and target and sid in au_of.get(target, frozenset()):
            return True
    return False


def _denied(
    t: pd.DataFrame, allowed: pd.Series, grants: _Grants, usage: Any
) -> list[DeniedOperation]:
    if t.empty or bool(allowed.all()):
        return []
    names = dict(zip(usage.principals["principal_id"], usage.principals["name"], strict=True))
    out: list[DeniedOperation] = []
    for (pid, action), g in t[~allowed].groupby(["principal_id", "action"], sort=True):
        p, a = str(pid), str(action)
        if p not in grants.holdings:
            reason: DenyReason = "no_assignment"
        elif not grants.scopes_for(p, a):
            reason = "action_not_granted"
        else:
            reason = "outside_scope"
        ordered = g.sort_values(["count", "target_id"], ascending=[False, True])
        out.append(DeniedOperation(
            principal_id=p,
            principal_name=str(names.get(p, "")),
            action=a,
            count=int(g["count"].sum()),
            n_targets=int((g["target_id"] != "").sum()),
            reason=reason,
            example_targets=tuple(str(x) for x in ordered["target_id"] if x)[:_EXAMPLES],
        ))
    return sorted(out, key=lambda d: (-d.count, d.principal_id, d.action))


def _with_coverage(rec: Recommendation, coverage: float, denied: int) -> Recommendation:
    if rec.metrics is None:
        return rec
    proposed = rec.metrics.proposed.model_copy(
        update={"coverage": coverage, "denied_operations": denied}
    )
    return rec.model_copy(update={"metrics": rec.metrics.model_copy(update={"proposed": proposed})})


# ------------------------------------------------------------------------------- tasks
class TaskCheck(_Model):
    """Can one principal perform one task with its proposed assignments?"""

    principal_id: str
    task_id: str
    ok: bool
    missing_actions: tuple[str, ...] = ()
    detail: str = ""


class TaskValidationReport(_Model):
    """Per-principal, per-task outcome of :func:`validate_tasks`."""

    checks: tuple[TaskCheck, ...]

    @property
    def ok(self) -> bool:
        """Every task of every principal is covered."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[TaskCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.ok)


def validate_tasks(
    recommendation: Recommendation,
    tasks: Mapping[str, Iterable[str]],
    catalog: Catalog | None = None,
) -> TaskValidationReport:
    """Check that each principal's assignments cover each of its tasks (catalog task ids) at a
    scope kind the task can be delegated at (``Task.scopes``).

    Unknown task ids raise ``UnknownNameError``; principals the recommendation does not mention
    at all raise :class:`~entra_lp.recommend.UnknownPrincipalError`.
    """
    from .recommend import UnknownPrincipalError

    cat = _load(catalog)
    grants = _grants(recommendation, cat)
    known = set(grants.holdings) | {e.principal_id for e in recommendation.exclusions}
    known |= _attested(recommendation)
    checks: list[TaskCheck] = []
    for pid in sorted(tasks):
        if pid not in known:
            raise UnknownPrincipalError("principal", pid, sorted(known),
                                        hint="not in this recommendation")
        for tid in sorted(set(tasks[pid])):
            checks.append(_check_task(cat, grants, pid, tid))
    return TaskValidationReport(checks=tuple(checks))


def _check_task(cat: Catalog, grants: _Grants, pid: str, tid: str) -> TaskCheck:
    task = cat.task(tid)
    holdings = grants.holdings.get(pid, [])
    ok_kinds = set(task.scopes)
    usable = [(k, kind) for k, kind, _ in holdings if kind in ok_kinds]
    granted = [g for k, _ in usable for g in grants.roles[k]]
    missing = sorted(cat.uncovered(granted, task.actions))
    if not missing:
        kinds = sorted({kind for _, kind in usable})
        return TaskCheck(principal_id=pid, task_id=tid, ok=True,
                         detail=f"covered at {', '.join(kinds)} scope")
    everything = [g for k, _, _ in holdings for g in grants.roles[k]]
    if not cat.uncovered(everything, task.actions):
        detail = (f"covered only at scope kinds where the task cannot be delegated "
                  f"(it can be at {', '.join(task.scopes)})")
    else:
        detail = "no proposed role grants these actions"
    return TaskCheck(principal_id=pid, task_id=tid, ok=False, missing_actions=tuple(missing),
                     detail=detail)
