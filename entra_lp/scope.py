"""Scope inference: the narrowest Entra scope that still allowed every observed operation.

For one principal, each action it used is placed at one of three scope kinds
(``docs/dev/recommender.md``, step 3):

* ``application``: the action can be assigned at an app registration / enterprise app scope
  (``catalog.scopes_of``), every target of the action is such an object (an ``applications``
  action on app registrations, a ``servicePrincipals`` action on service principals), and the
  principal's app-scoped work touches at most ``max_scoped_assignments`` objects. Audit records
  name the object, so this works without a directory snapshot (with one, the object must exist).
* ``administrative_unit``: the action can be assigned at AU scope (users, groups, devices; never a
  create), a directory snapshot is given, every target is a member of some AU, the smallest
  set of AUs covering all the principal's AU-scoped targets has at most
  ``max_scoped_assignments`` members (ties: the AUs with fewest members, then ids), and those
  AUs hold at most ``max_au_share`` of the tenant's objects of the targets' types (AUs that
  together hold nearly everyone exclude too little to be worth the extra assignments).
* ``tenant``: everything else, with the reason.

The choice is made jointly per principal (one AU set, one app set), so every role assigned to the
principal at that scope kind gets the same, explainable scope list. ``denied_by_narrower`` counts
the past events each narrower candidate would have denied, so the choice is explained rather than
asserted.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .recommendation import ScopeChoice

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

    from .directory import DirectorySnapshot

__all__ = ["ActionScope", "PrincipalScopes", "ScopeResolver", "directory_scope_id", "min_cover"]

ScopeKind = Literal["tenant", "administrative_unit", "application"]
SCOPE_ORDER: tuple[ScopeKind, ...] = ("tenant", "administrative_unit", "application")
_APP_TYPES = {"applications": "application", "servicePrincipals": "serviceprincipal"}
# Beyond this many candidate combinations the AU cover is chosen greedily.
_MAX_COMBINATIONS = 100_000


@dataclass(frozen=True, slots=True)
class ActionScope:
    """Where one (principal, action) is placed, and why."""

    kind: ScopeKind
    ids: tuple[str, ...] = ()
    """AU ids or app object ids; empty for tenant."""
    reason: str = ""


@dataclass(frozen=True)
class PrincipalScopes:
    """Scope decisions of one principal, with what is needed to explain each assignment."""

    principal_id: str
    actions: Mapping[str, ActionScope]
    au_ids: tuple[str, ...] = ()
    app_ids: tuple[str, ...] = ()
    narrower: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Per tenant-placed action: narrower candidate label → past events it would deny."""
    only_here: Mapping[str, int] = field(default_factory=dict)
    """Per AU / app of the work area: past events of its scoped work no other one covers."""
    scopes_by_resource: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Scoped work only: resource (``users``, ``groups``...) → the AUs / apps of the work area
    that hold an object of that resource the principal acted on."""


def directory_scope_id(kind: str, scope_id: str = "") -> str:
    """The Graph ``directoryScopeId`` of a scope (``/``, ``/administrativeUnits/<id>``,
    ``/<objectId>``)."""
    if kind == "tenant":
        return "/"
    if kind == "administrative_unit":
        return f"/administrativeUnits/{scope_id}"
    return f"/{scope_id}"


def min_cover(
    universe: Iterable[str],
    sets: Mapping[str, frozenset[str]],
    max_size: int,
    weight: Mapping[str, int] | None = None,
) -> tuple[str, ...] | None:
    """The smallest family of ``sets`` keys whose union contains ``universe`` (at most
    ``max_size`` keys), or None. Ties: the smallest total ``weight`` (e.g. AU member counts),
    then sorted keys. Exact by enumeration unless that exceeds 100,000 combinations (greedy)."""
    need = frozenset(universe)
    if not need:
        return ()
    w = weight or {}
    cand = {k: s & need for k, s in sets.items() if s & need}
    if not cand or frozenset().union(*cand.values()) != need:
        return None
    keys = _undominated(cand, w)
    for k in range(1, min(max_size, len(keys)) + 1):
        if math.comb(len(keys), k) > _MAX_COMBINATIONS:
            return _greedy_cover(need, cand, keys, max_size, w)
        hits = [
            c
            for c in itertools.combinations(keys, k)
            if frozenset().union(*(cand[x] for x in c)) == need
        ]
        if hits:
            return min(hits, key=lambda c: (sum(w.get(x, 0) for x in c), sorted(c)))
    return None


def _undominated(cand: Mapping[str, frozenset[str]], w: Mapping[str, int]) -> list[str]:
    """Keys whose coverage no other key strictly contains (equal coverage: narrowest, then id)."""
    order = sorted(cand, key=lambda k: (w.get(k, 0), k))
    kept: list[str] = []
    for k in order:
        beaten = any(cand[k] < cand[o] or (cand[k] == cand[o] and o in kept)
                     for o in order if o != k)
        if not beaten:
            kept.append(k)
    return sorted(kept)


def _greedy_cover(
    need: frozenset[str],
    cand: Mapping[str, frozenset[str]],
    keys: list[str],
    max_size: int,
    w: Mapping[str, int],
) -> tuple[str, ...] | None:
    left: set[str] = set(need)
    chosen: list[str] = []
    while left and len(chosen) < max_size:
        best = min(keys, key=lambda k: (-len(cand[k] & left), w.get(k, 0), k))
        chosen.append(best)
        left -= cand[best]
    return None if left else tuple(sorted(chosen))


class ScopeResolver:
    """Scope decisions for principals, from their targets and the directory (module docstring).

    ``catalog`` answers which scopes an action may be assigned at; ``directory`` (optional) gives
    AU membership and the app objects; ``max_scoped_assignments`` bounds the AUs / apps one
    principal is assigned at before tenant scope is chosen instead.
    """

    def __init__(
        self,
        catalog: Catalog,
        directory: DirectorySnapshot | None = None,
        max_scoped_assignments: int = 5,
        max_au_share: float = 0.75,
    ) -> None:
        self.catalog = catalog
        self.directory = directory
        self.max_scoped = max_scoped_assignments
        self.max_au_share = max_au_share
        self._types = directory.object_types if directory is not None else {}
        self._type_totals: dict[str, int] = {}
        for t in self._types.values():
            self._type_totals[t] = self._type_totals.get(t, 0) + 1
        self._aus: dict[str, frozenset[str]] = {}
        self._au_names: dict[str, str] = {}
        self._app_names: dict[str, str] = {}
        if directory is not None:
            for au in directory.administrative_units:
                self._aus[au.id] = frozenset(m.id for m in au.members)
                self._au_names[au.id] = au.display_name
            for app in directory.applications:
                self._app_names[app.id] = app.display_name
            for sp in directory.service_principals:
                self._app_names[sp.id] = sp.display_name
        self._au_of = directory.administrative_units_of if directory is not None else {}
        self._share_cache: dict[tuple[tuple[str, ...], frozenset[str]], float] = {}
        self._au_type_counts: dict[str, dict[str, int]] = {}
        for au_id, members in self._aus.items():
            counts: dict[str, int] = {}
            for m in members:
                kind = self._types.get(m)
                if kind is not None:
                    counts[kind] = counts.get(kind, 0) + 1
            self._au_type_counts[au_id] = counts

    # ------------------------------------------------------------------ resolution
    def resolve(
        self,
        principal_id: str,
        actions: Iterable[str],
        targets: pd.DataFrame,
        follow: Mapping[str, tuple[str, ...]] | None = None,
    ) -> PrincipalScopes:
        """Decide the scope of each of ``actions`` for one principal (see :meth:`resolve_all`;
        ``targets`` may omit the ``principal_id`` column)."""
        frame = targets if "principal_id" in targets else targets.assign(
            principal_id=principal_id)
        out = self.resolve_all({principal_id: list(actions)}, frame,
                               {principal_id: dict(follow or {})})
        return out[principal_id]

    def resolve_all(
        self,
        needs: Mapping[str, Iterable[str]],
        targets: pd.DataFrame,
        follow: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
    ) -> dict[str, PrincipalScopes]:
        """Scope decisions for many principals at once (principal → actions).

        ``targets``: rows of ``UsageMatrix.targets`` (principal_id, action, target_type,
        target_id, count). ``follow``: per principal, actions without targets of their own
        (added by a task) → the observed actions whose scope they share when they can. Works
        on the whole table with pandas: per-row Python would dominate at millions of rows.
        """
        wanted = {p: sorted(set(a)) for p, a in needs.items()}
        rows = _Rows(self, _wanted_rows(targets, wanted))
        apps = rows.joint_apps()
        aus = rows.joint_aus()
        out: dict[str, PrincipalScopes] = {}
        for pid in sorted(wanted):
            app_ids, app_reason = apps.get(pid, (None, ""))
            au_ids, au_reason = aus.get(pid, (None, ""))
            placed: dict[str, ActionScope] = {}
            for a in wanted[pid]:
                kind = rows.candidate(pid, a)
                if kind == "application":
                    placed[a] = _placed("application", app_ids, app_reason)
                elif kind == "administrative_unit":
                    placed[a] = _placed("administrative_unit", au_ids, au_reason)
                else:
                    placed[a] = ActionScope("tenant", (), rows.tenant_reason(pid, a))
            self._follow(placed, (follow or {}).get(pid, {}))
            out[pid] = PrincipalScopes(
                pid, placed, tuple(au_ids or ()), tuple(app_ids or ()),
                rows.narrower(pid, [a for a, s in placed.items() if s.kind == "tenant"]))
        rows.explain(out)
        return out

    def _follow(self, out: dict[str, ActionScope], follow: Mapping[str, tuple[str, ...]]) -> None:
        """Task-added actions share the scope of the observed actions of their task."""
        for action, sources in sorted(follow.items()):
            if action not in out or not sources:
                continue
            kinds = {out[s].kind for s in sources if s in out}
            if len(kinds) != 1:
                continue
            kind = next(iter(kinds))
            src = next(out[s] for s in sorted(sources) if s in out)
            if kind != "tenant" and kind in self.catalog.scopes_of(action):
                out[action] = ActionScope(kind, src.ids, "shares the scope of its task's audited "
                                          "actions (no audit record can show this one)")

    # ------------------------------------------------------------------ facts
    def app_kind(self, action: str) -> str | None:
        """Lower-case target type an app-scoped grant of ``action`` acts on, or None."""
        if "application" not in self.catalog.scopes_of(action):
            return None
        return _APP_TYPES.get(_resource(action))

    def au_scopable(self, action: str) -> bool:
        """Can ``action`` be granted at AU scope here (it allows it, and AUs are known)?"""
        return self.directory is not None and (
            "administrative_unit" in self.catalog.scopes_of(action))

    def share(self, cover: tuple[str, ...], kinds: frozenset[str]) -> float:
        """Share of the tenant's objects of ``kinds`` that the AUs of ``cover`` contain."""
        key = (cover, kinds)
        hit = self._share_cache.get(key)
        if hit is None:
            hit = self._share_cache[key] = self._share(cover, kinds)
        return hit

    def _share(self, cover: tuple[str, ...], kinds: frozenset[str]) -> float:
        total = sum(self._type_totals.get(k, 0) for k in kinds)
        if not total:
            return 1.0
        if len(cover) == 1:
            counts = self._au_type_counts.get(cover[0], {})
            return sum(counts.get(k, 0) for k in kinds) / total
        inside = frozenset().union(*(self._aus.get(i, frozenset()) for i in cover))
        return sum(1 for m in inside if self._types.get(m) in kinds) / total

    # ------------------------------------------------------------------ explanations
    def choice(
        self,
        scopes: PrincipalScopes,
        kind: ScopeKind,
        scope_id: str,
        actions: Iterable[str],
        note: str = "",
    ) -> ScopeChoice:
        """The explained :class:`ScopeChoice` of one assignment of ``actions`` at one scope.

        A tenant-wide reason is one clause per reason, each naming the actions it is about
        (reasons come from different actions and would otherwise read as a contradiction).
        ``note`` says why actions that would fit a narrower scope are held tenant-wide when
        none of the assignment's own actions needs the tenant (e.g. no built-in role covering
        them can be assigned at that scope)."""
        acts = sorted(a for a in set(actions) if a in scopes.actions)
        if kind == "tenant":
            narrower: dict[str, int] = {}
            for a in acts:
                for label, n in scopes.narrower.get(a, {}).items():
                    narrower[label] = narrower.get(label, 0) + n
            return ScopeChoice(kind="tenant", directory_scope_id="/", display_name="tenant",
                               reason="; ".join(self._tenant_clauses(scopes, acts, note)),
                               denied_by_narrower=narrower)
        label = self.label(kind, scope_id)
        only_here = scopes.only_here.get(scope_id, 0)
        reason = next(
            (scopes.actions[a].reason for a in acts if scopes.actions[a].kind == kind), ""
        )
        return ScopeChoice(
            kind=kind,
            directory_scope_id=directory_scope_id(kind, scope_id),
            display_name=label,
            reason=reason,
            denied_by_narrower={f"without {label}": only_here} if only_here else {},
        )

    def _tenant_clauses(self, scopes: PrincipalScopes, acts: list[str], note: str) -> list[str]:
        """Why tenant-wide, one clause per reason naming its actions: first the actions that
        need the tenant, then those that would fit a narrower scope but ride along."""
        wide = [a for a in acts if scopes.actions[a].kind == "tenant"]
        by_reason: dict[str, list[str]] = {}
        for a in wide:
            by_reason.setdefault(scopes.actions[a].reason, []).append(a)
        outside = [a for r, group in by_reason.items() if r.endswith(OUTSIDE_AUS) for a in group]
        clauses = []
        for reason, group in by_reason.items():
            if not reason.endswith(OUTSIDE_AUS):
                clauses.append(_clause(reason, group))
        if outside:
            counts = ", ".join(f"{short_action(a)} ({_events_outside(scopes, a)})"
                               for a in outside[:_NAMED])
            more = f" and {len(outside) - _NAMED} more" if len(outside) > _NAMED else ""
            clauses.append(f"{counts}{more}: on targets outside every administrative unit")
        ride: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for a in acts:
            s = scopes.actions[a]
            if s.kind != "tenant":
                ride.setdefault((s.kind, s.ids), []).append(a)
        for (k, ids), group in sorted(ride.items()):
            where = ", ".join(self.label(k, i) for i in ids)
            why = (f"the role is held tenant-wide anyway for {_names(wide)}" if wide
                   else note or "the role is held tenant-wide")
            clauses.append(f"{_names(group)} would fit {where}, but {why}")
        return clauses

    def label(self, kind: str, scope_id: str) -> str:
        """A readable name of a scope (AU or app display name when the directory has it)."""
        if kind == "tenant":
            return "tenant"
        names = self._au_names if kind == "administrative_unit" else self._app_names
        return names.get(scope_id, scope_id)

    def au_members(self, au_id: str) -> frozenset[str]:
        """Object ids in one AU (empty when unknown)."""
        return self._aus.get(au_id, frozenset())


def _resource(action: str) -> str:
    parts = action.split("/")
    return parts[1].split(".")[0] if len(parts) > 1 else action


TENANT_ONLY = "this action can only be assigned tenant-wide"
NO_TARGET = "no audited target to narrow the scope to"
OUTSIDE_AUS = "event(s) on targets outside every administrative unit"
_CLAUSES = {
    TENANT_ONLY: "{acts}: only assignable tenant-wide",
    NO_TARGET: "{acts}: no audited target to narrow the scope to",
}
_NAMED = 4
"""Actions named per clause before '... and N more'."""


def short_action(action: str) -> str:
    """An action without the ``microsoft.directory/`` namespace nearly every action shares."""
    return action.removeprefix("microsoft.directory/")


def _names(actions: list[str]) -> str:
    head = ", ".join(short_action(a) for a in actions[:_NAMED])
    return head + (f" and {len(actions) - _NAMED} more" if len(actions) > _NAMED else "")


def _clause(reason: str, actions: list[str]) -> str:
    """One reason, said about the actions it concerns."""
    template = _CLAUSES.get(reason, "{acts}: {reason}")
    return template.format(acts=_names(actions), reason=reason or "no narrower scope qualified")


def _events_outside(scopes: PrincipalScopes, action: str) -> str:
    n = scopes.narrower.get(action, {}).get("administrative units")
    if n is None:  # the count is also the reason's first word
        n = int(scopes.actions[action].reason.split(" ", 1)[0])
    return f"{n} event{'s' if n != 1 else ''}"


def _wanted_rows(targets: pd.DataFrame, wanted: Mapping[str, list[str]]) -> pd.DataFrame:
    """The target rows of the wanted (principal, action) pairs (table order), indexed 0..n-1."""
    cols = ["principal_id", "action", "target_type", "target_id", "count"]
    if targets.empty or not any(wanted.values()):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    return targets.loc[pair_mask(targets, wanted), cols].reset_index(drop=True)


def pair_mask(frame: pd.DataFrame, wanted: Mapping[str, Iterable[str]]) -> np.ndarray:
    """Rows of ``frame`` whose (principal_id, action) is among ``wanted`` (principal →
    actions), found on codes: no Python string is made per row of a table of millions."""
    p_code, p_uni = pd.factorize(frame["principal_id"])
    a_code, a_uni = pd.factorize(frame["action"])
    p_index = {str(p): i for i, p in enumerate(p_uni)}
    a_index = {str(a): i for i, a in enumerate(a_uni)}
    hit = np.zeros(max(len(p_uni) * len(a_uni), 1), dtype=bool)
    for pid, actions in wanted.items():
        pi = p_index.get(str(pid))
        if pi is None:
            continue
        for action in actions:
            ai = a_index.get(str(action))
            if ai is not None:
                hit[pi * len(a_uni) + ai] = True
    mask: np.ndarray = hit[np.asarray(p_code, dtype=np.int64) * len(a_uni) + a_code]
    return mask


def _factorized(column: pd.Series, *, lower: bool = False) -> tuple[np.ndarray, list[str]]:
    """Codes into the sorted distinct values (lower-cased if asked) of a string column, as
    ``pd.factorize(sort=True)`` gives, but worked out on the distinct values: a categorical
    column (``UsageMatrix.targets``) is never expanded to one string per row."""
    cat = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    codes = cat.cat.codes.to_numpy(dtype=np.int64)
    if len(codes) and codes.min() < 0:  # missing values: count them as the text "nan"
        cat = column.astype(str).astype("category")
        codes = cat.cat.codes.to_numpy(dtype=np.int64)
    used = np.flatnonzero(np.bincount(codes, minlength=len(cat.cat.categories)))
    names = np.array([str(v) for v in cat.cat.categories[used]], dtype=object)
    if lower:
        names = np.array([n.lower() for n in names], dtype=object)
    uniques, dense = np.unique(names, return_inverse=True)
    remap = np.full(len(cat.cat.categories), -1, dtype=np.int64)
    remap[used] = dense.reshape(-1)
    return remap[codes], [str(u) for u in uniques]


class _Rows:
    """The wanted target rows as integer codes, and per-principal aggregates over them.

    Principals, actions and targets are factorized once; every flag is computed on the
    (few) distinct actions or targets and gathered, every aggregate is a bincount or a sparse
    product, so the cost stays linear in rows with a small constant.
    """

    def __init__(self, r: ScopeResolver, t: pd.DataFrame) -> None:
        self.r = r
        self.p_code, self.pids = _factorized(t["principal_id"])
        self.a_code, self.acts = _factorized(t["action"])
        self.x_code, self.xs = _factorized(t["target_id"])
        ty_code, ty_uni = _factorized(t["target_type"], lower=True)
        self.count = t["count"].to_numpy(dtype=np.int64)
        self.n_p, self.n_a, self.n_x = len(self.pids), len(self.acts), len(self.xs)
        x_has = np.array([x != "" for x in self.xs], dtype=bool)
        self.x_in_au = x_has & np.array([x in r._au_of for x in self.xs], dtype=bool)
        x_app = x_has & (np.array([x in r._app_names for x in self.xs], dtype=bool)
                         if r.directory is not None else True)
        a_app = [r.app_kind(a) for a in self.acts]
        a_au = np.array([r.au_scopable(a) for a in self.acts], dtype=bool)
        ty = list(ty_uni)
        # row is app-shaped when its target type is the action's app kind
        type_match = np.zeros((max(self.n_a, 1), max(len(ty), 1)), dtype=bool)
        for ai, kind in enumerate(a_app):
            for ti, name in enumerate(ty):
                type_match[ai, ti] = kind is not None and name == kind
        row_app = type_match[self.a_code, ty_code] & x_app[self.x_code] if len(t) else (
            np.zeros(0, dtype=bool))
        row_au = self.x_in_au[self.x_code] & a_au[self.a_code] if len(t) else row_app
        self.pair = self.p_code.astype(np.int64) * self.n_a + self.a_code
        n_pairs = self.n_p * self.n_a
        rows = np.bincount(self.pair, minlength=n_pairs)
        self.n_rows = rows
        app_all = (np.bincount(self.pair, weights=row_app, minlength=n_pairs) == rows) & (rows > 0)
        au_all = (np.bincount(self.pair, weights=row_au, minlength=n_pairs) == rows) & (rows > 0)
        self.kind = np.zeros(n_pairs, dtype=np.int8)  # 0 tenant, 1 AU, 2 app
        self.kind[au_all] = 1
        self.kind[app_all] = 2
        empty = ~x_has[self.x_code] if len(t) else row_app
        self.empty = np.bincount(self.pair, weights=empty, minlength=n_pairs) > 0
        outside = np.where(self.x_in_au[self.x_code], 0, self.count) if len(t) else self.count
        self.outside = np.bincount(self.pair, weights=outside, minlength=n_pairs).astype(np.int64)
        self._p_index = {p: i for i, p in enumerate(self.pids)}
        self._a_index = {a: i for i, a in enumerate(self.acts)}
        self._busy: dict[int, int] | None = None
        self._member: tuple[list[str], sp.csr_matrix] | None = None
        self._type_names: list[str] = []

    # ---- look-ups -------------------------------------------------------------------
    def _pair(self, pid: str, action: str) -> int | None:
        pi, ai = self._p_index.get(pid), self._a_index.get(action)
        return None if pi is None or ai is None else pi * self.n_a + ai

    def candidate(self, pid: str, action: str) -> str | None:
        k = self._pair(pid, action)
        code = 0 if k is None else int(self.kind[k])
        return {1: "administrative_unit", 2: "application"}.get(code)

    def _distinct(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (principal code, target code) pairs of the masked rows, sorted."""
        key = _unique(self.p_code[mask].astype(np.int64) * self.n_x + self.x_code[mask])
        return key // self.n_x, key % self.n_x

    # ---- joint scopes ---------------------------------------------------------------
    def joint_apps(self) -> dict[str, tuple[tuple[str, ...] | None, str]]:
        """Per principal: its app objects (or None when too many), with the reason."""
        p, x = self._distinct(self.kind[self.pair] == 2)
        out: dict[str, tuple[tuple[str, ...] | None, str]] = {}
        limit = self.r.max_scoped
        for pi, xs in _split(p, x):
            objs = tuple(sorted(self.xs[i] for i in xs))
            if len(objs) > limit:
                out[self.pids[pi]] = (None, f"app-scopable, but the principal works on "
                                            f"{len(objs)} apps, more than "
                                            f"max_scoped_assignments={limit}")
            else:
                out[self.pids[pi]] = (objs, f"every observed target is one of {len(objs)} "
                                            "app object(s)")
        return out

    def _membership(self) -> tuple[list[str], sp.csr_matrix]:
        """AU ids (sorted) and the target x AU membership matrix of the targets seen."""
        if self._member is None:
            r = self.r
            au_ids = sorted(r._aus)
            col = {a: j for j, a in enumerate(au_ids)}
            mi, mj = [], []
            for xi in np.flatnonzero(self.x_in_au).tolist():
                for au in r._au_of.get(self.xs[xi], ()):
                    mi.append(xi)
                    mj.append(col[au])
            self._member = (au_ids, sp.csr_matrix(
                (np.ones(len(mi), dtype=np.int8), (mi, mj)), shape=(self.n_x, len(au_ids))))
        return self._member

    def joint_aus(self) -> dict[str, tuple[tuple[str, ...] | None, str]]:
        """Per principal: the smallest AU cover of its AU-candidate targets, with the reason.
        Coverage counts come from one sparse product for all principals; a principal no single
        AU covers is solved exactly on its (targets x AUs) boolean matrix."""
        r = self.r
        p, x = self._distinct(self.kind[self.pair] == 1)
        out: dict[str, tuple[tuple[str, ...] | None, str]] = {}
        if p.size == 0:
            return out
        au_ids, member = self._membership()
        held = sp.csr_matrix((np.ones(p.size), (p, x)), shape=(self.n_p, self.n_x))
        counts = (held @ member).toarray()
        need = np.asarray(held.sum(axis=1)).ravel()
        sizes = np.array([len(r._aus[a]) for a in au_ids], dtype=np.int64)
        kind_codes = self._type_codes()
        for pi, xs in _split(p, x):
            kinds = frozenset(self._type_names[c] for c in np.unique(kind_codes[xs]) if c >= 0)
            full = np.flatnonzero(counts[pi] == need[pi])
            if full.size:
                best = min(full.tolist(), key=lambda j: (sizes[j], au_ids[j]))
                cover: tuple[str, ...] | None = (au_ids[best],)
            else:
                cols = _cover_columns(member[xs].toarray().astype(bool), r.max_scoped, sizes,
                                      au_ids)
                cover = None if cols is None else tuple(sorted(au_ids[j] for j in cols))
            out[self.pids[pi]] = self._judge(cover, kinds, len(xs))
        return out

    def _type_codes(self) -> np.ndarray:
        """Per target code: index of its object type in ``_type_names`` (-1 when unknown)."""
        names = sorted({str(v) for v in self.r._types.values()})
        self._type_names = names
        pos: dict[str, int] = {n: i for i, n in enumerate(names)}
        types: Mapping[str, str] = self.r._types
        return np.array([pos.get(types.get(x, ""), -1) for x in self.xs], dtype=np.int64)

    def _judge(self, cover: tuple[str, ...] | None, kinds: frozenset[str], n: int
               ) -> tuple[tuple[str, ...] | None, str]:
        r = self.r
        if cover is None:
            return None, (f"AU-scopable, but no {r.max_scoped} administrative units "
                          f"(max_scoped_assignments) hold all {n} targets")
        names = ", ".join(r._au_names.get(i, i) for i in cover)
        share = r.share(cover, kinds)
        if share > r.max_au_share:
            return None, (f"the smallest AU cover ({names}) holds {share:.0%} of the tenant's "
                          f"objects of these types, more than max_au_share={r.max_au_share:g}: "
                          "tenant scope")
        return cover, f"every observed target is a member of {names} ({share:.0%} of the tenant)"

    # ---- reasons and narrower candidates --------------------------------------------
    def tenant_reason(self, pid: str, action: str) -> str:
        r = self.r
        scopes = r.catalog.scopes_of(action)
        k = self._pair(pid, action)
        if scopes == ("tenant",):
            return TENANT_ONLY
        if k is None or not self.n_rows[k]:
            return NO_TARGET
        if self.empty[k]:
            return "some audit records name no target object"
        if "administrative_unit" in scopes and r.directory is None:
            return "no directory snapshot: administrative-unit membership is unknown"
        if "administrative_unit" in scopes:
            return f"{int(self.outside[k])} {OUTSIDE_AUS}"
        return "targets are not app registrations / enterprise apps of this kind"

    def _beyond_busiest(self) -> dict[int, int]:
        """Per pair of an app-scopable action: events beyond its ``max_scoped`` busiest
        targets (records without a target count as beyond)."""
        app_actions = np.array([self.r.app_kind(a) is not None for a in self.acts], dtype=bool)
        mask = app_actions[self.a_code] if self.n_a else np.zeros(0, dtype=bool)
        key = self.pair[mask] * self.n_x + self.x_code[mask]
        uniq, inv = _unique_inverse(key)
        sums = np.bincount(inv, weights=self.count[mask]).astype(np.int64)
        pair, x = uniq // self.n_x, uniq % self.n_x
        order = np.lexsort((x, -sums, pair))
        pair, x, sums = pair[order], x[order], sums[order]
        start = np.r_[0, np.flatnonzero(np.diff(pair)) + 1]
        rank = np.arange(pair.size) - np.repeat(start, np.diff(np.r_[start, pair.size]))
        blank = np.array([self.xs[i] == "" for i in x.tolist()], dtype=bool)
        beyond = np.where((rank >= self.r.max_scoped) | blank, sums, 0)
        out: dict[int, int] = {}
        for k, v in zip(pair.tolist(), beyond.tolist(), strict=True):
            out[k] = out.get(k, 0) + int(v)
        return out

    def narrower(self, pid: str, tenant_actions: list[str]) -> dict[str, dict[str, int]]:
        """Events a narrower scope would have denied, per tenant-placed action."""
        r = self.r
        out: dict[str, dict[str, int]] = {}
        for a in tenant_actions:
            k = self._pair(pid, a)
            if k is None or not self.n_rows[k]:
                continue
            scopes = r.catalog.scopes_of(a)
            got: dict[str, int] = {}
            if "administrative_unit" in scopes and r.directory is not None:
                got["administrative units"] = int(self.outside[k])
            if "application" in scopes:
                if self._busy is None:
                    self._busy = self._beyond_busiest()
                got[f"app scope (the {r.max_scoped} busiest apps)"] = self._busy.get(k, 0)
            got = {label: v for label, v in got.items() if v > 0}
            if got:
                out[a] = got
        return out

    # ---- explanations of scoped assignments ------------------------------------------
    def explain(self, out: dict[str, PrincipalScopes]) -> None:
        """Fill ``only_here`` and ``scopes_by_resource`` of the scoped principals."""
        scoped = sorted(p for p, s in out.items() if s.au_ids or s.app_ids)
        if not scoped or self.n_p == 0:
            return
        placed = np.zeros(self.n_p * self.n_a, dtype=np.int8)
        for pid in scoped:
            for a, s in out[pid].actions.items():
                k = self._pair(pid, a)
                if k is not None and s.kind != "tenant":
                    placed[k] = 1 if s.kind == "administrative_unit" else 2
        mask = (placed[self.pair] > 0) & (np.array([x != "" for x in self.xs],
                                                   dtype=bool)[self.x_code])
        p, a, x = self.p_code[mask], self.a_code[mask], self.x_code[mask]
        kind, count = placed[self.pair[mask]], self.count[mask]
        col, scope_of = self._scope_columns(out, scoped)
        hit_col, n_hits = self._hits(p, x, kind, col, scope_of)
        resource = np.array([_resource(act) for act in self.acts], dtype=object)
        by_res: dict[str, dict[str, set[str]]] = {}
        key = _unique((p.astype(np.int64) * self.n_a + a)[n_hits > 0] * len(col)
                      + hit_col[n_hits > 0])
        names = sorted(col, key=col.__getitem__)
        for k in key.tolist():
            pa, c = divmod(k, len(col))
            pi, ai = divmod(pa, self.n_a)
            by_res.setdefault(self.pids[pi], {}).setdefault(str(resource[ai]), set()).add(
                names[c][1])
        only: dict[str, dict[str, int]] = {}
        one = n_hits == 1
        sums = np.bincount(p[one].astype(np.int64) * len(col) + hit_col[one],
                           weights=count[one], minlength=self.n_p * len(col))
        for k in np.flatnonzero(sums).tolist():
            pi, c = divmod(k, len(col))
            only.setdefault(self.pids[pi], {})[names[c][1]] = int(sums[k])
        for pid in scoped:
            sc = out[pid]
            out[pid] = PrincipalScopes(
                sc.principal_id, sc.actions, sc.au_ids, sc.app_ids, sc.narrower,
                only.get(pid, {}),
                {res: frozenset(v) for res, v in by_res.get(pid, {}).items()})

    def _scope_columns(self, out: dict[str, PrincipalScopes], scoped: list[str]
                       ) -> tuple[dict[tuple[str, str], int], sp.csr_matrix]:
        """Columns for every (kind, scope id) used, and principal x column work areas."""
        col: dict[tuple[str, str], int] = {}
        rows, cols = [], []
        for pid in scoped:
            sc = out[pid]
            for kind, ids in (("au", sc.au_ids), ("app", sc.app_ids)):
                for i in ids:
                    c = col.setdefault((kind, i), len(col))
                    rows.append(self._p_index[pid])
                    cols.append(c)
        area = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                             shape=(self.n_p, max(len(col), 1)))
        return col, area

    def _hits(self, p: np.ndarray, x: np.ndarray, kind: np.ndarray,
              col: dict[tuple[str, str], int], area: sp.csr_matrix
              ) -> tuple[np.ndarray, np.ndarray]:
        """Per row: how many of the principal's work-area scopes hold the target, and (when
        at least one does) the column of the first."""
        width = max(len(col), 1)
        au_ids, member = self._membership()
        au_to_col = np.full(len(au_ids), -1, dtype=np.int64)
        for j, au in enumerate(au_ids):
            au_to_col[j] = col.get(("au", au), -1)
        keep = au_to_col >= 0
        cm = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.int8),
                            (np.flatnonzero(keep), au_to_col[keep])),
                           shape=(len(au_ids), width))
        obj = (member @ cm).tocsr()  # target x column, AU columns
        app_cols = {i: c for (k, i), c in col.items() if k == "app"}
        ai, aj = [], []
        for xi, name in enumerate(self.xs):
            c = app_cols.get(name)
            if c is not None:
                ai.append(xi)
                aj.append(c)
        obj = obj + sp.csr_matrix((np.ones(len(ai), dtype=np.int8), (ai, aj)),
                                  shape=(self.n_x, width))
        both = obj[x].multiply(area[p]).tocsr()
        n_hits = np.diff(both.indptr)
        first = np.zeros(len(x), dtype=np.int64)
        has = n_hits > 0
        first[has] = both.indices[both.indptr[:-1][has]]
        del kind
        return first, n_hits


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct integers. ``np.unique`` (numpy 2 hashes first) is an order of magnitude
    slower than a sort on the millions of keys of a large tenant."""
    s = np.sort(a)
    keep = np.ones(s.size, dtype=bool)
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_unique` and, per element, the index of its value in it."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    keep = np.ones(s.size, dtype=bool)
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    inverse = np.empty(a.size, dtype=np.int64)
    inverse[order] = np.cumsum(keep) - 1
    return s[keep], inverse


def _split(p: np.ndarray, x: np.ndarray) -> list[tuple[int, list[int]]]:
    """Group sorted (principal, target) code pairs by principal."""
    if p.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(p)) + 1
    return [(int(ps[0]), xs.tolist()) for ps, xs in zip(np.split(p, cuts), np.split(x, cuts),
                                                          strict=True)]


def _cover_columns(b: np.ndarray, max_size: int, sizes: np.ndarray, names: list[str]
                   ) -> tuple[int, ...] | None:
    """Exact smallest set of columns of boolean ``b`` (rows: targets) whose union covers every
    row, at most ``max_size``; ties: fewest total members (``sizes``), then names."""
    cols = [j for j in range(b.shape[1]) if b[:, j].any()]
    if not cols or not b[:, cols].any(axis=1).all():
        return None
    for k in range(1, min(max_size, len(cols)) + 1):
        if math.comb(len(cols), k) > _MAX_COMBINATIONS:
            return None
        hits = [c for c in itertools.combinations(cols, k) if b[:, list(c)].any(axis=1).all()]
        if hits:
            return min(hits, key=lambda c: (int(sizes[list(c)].sum()),
                                            sorted(names[j] for j in c)))
    return None


def _placed(kind: ScopeKind, ids: tuple[str, ...] | None, reason: str) -> ActionScope:
    """The scoped placement, or tenant (with the reason) when no scope set qualified."""
    return ActionScope(kind, ids, reason) if ids is not None else ActionScope("tenant", (), reason)


def sort_scopes(kinds: Iterable[str]) -> tuple[ScopeKind, ...]:
    """Scope kinds in canonical order (tenant, administrative unit, application)."""
    given = set(kinds)
    return tuple(k for k in SCOPE_ORDER if k in given)
