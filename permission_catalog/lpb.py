"""Least-privileged built-in roles: the exact cheapest set of built-in roles covering some actions.

Privilege of a role set = Σ w(a) over the *expanded* union of the catalog actions its roles grant
(every catalog action a grant implies counts once, conditioned grants included), with
w(a) = 5 when the action is privileged (Microsoft's label where known, else our control tier:
``Catalog.is_privileged``) and 1 otherwise. Coverage uses unconditioned grants only.

Exact solution: a 0-1 integer programme solved by HiGHS (``scipy.optimize.milp``, zero gap):
x_r ∈ {0,1} per candidate role, y_a ∈ [0,1] per catalog action, y_a ≥ x_r for every action a in
role r's expansion, Σ_{r covers n} x_r ≥ 1 per needed action n, minimise
(R+1)·Σ w_a y_a + Σ x_r (R = number of candidates; cost dominates, then fewer roles). All
optimal sets of that (cost, size) are enumerated with no-good cuts and the one whose sorted role
names come first wins, so the answer never depends on the solver's path.

Before solving, roles that cannot be in an optimum are dropped: a role covering nothing needed; a
role costing more alone than the cheapest single role covering everything (a set costs at least
as much as each member); a duplicate (same coverage and expansion) of a role with a smaller name.

Excluded roles (``BuiltinRole.assignable`` is False, see :mod:`permission_catalog.roles`):
system-assigned (Guest User, Restricted Guest User, User), disabled, those Microsoft marks
deprecated / "do not use" (Device Managers, Device Users, Device Join, Workplace Device Join,
Partner Tier1 Support, Partner Tier2 Support), those reserved for Entra Connect (Directory
Synchronization Accounts, On Premises Directory Sync Account), and roles granting nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import CatalogError

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .roles import BuiltinRole

PRIVILEGED_WEIGHT = 5
MAX_TIES = 200


@dataclass(frozen=True, slots=True)
class LeastPrivilegedResult:
    """Answer of ``Catalog.least_privileged_builtin``."""

    needed: tuple[str, ...]
    roles: tuple[BuiltinRole, ...]
    cost: int
    extra_actions: frozenset[str]
    uncoverable: frozenset[str]
    covered_by: dict[str, tuple[str, ...]]

    @property
    def role_names(self) -> tuple[str, ...]:
        """Names of the chosen roles (sorted)."""
        return tuple(r.name for r in self.roles)


@dataclass(frozen=True, slots=True)
class _Candidate:
    role: BuiltinRole
    covers: frozenset[int]
    expansion: frozenset[int]
    cost: int


def _weights(cat: Catalog, names: list[str]) -> np.ndarray:
    return np.array(
        [PRIVILEGED_WEIGHT if cat.is_privileged(n) else 1 for n in names], dtype=np.int64
    )


def set_cost(cat: Catalog, roles: Iterable[BuiltinRole]) -> int:
    """Privilege of a role set (module docstring); used by tests and reports."""
    union: set[str] = set()
    for role in roles:
        union |= cat.role_expansion(role.id)
    names = sorted(union & set(cat.actions))
    return int(_weights(cat, names).sum())


def _candidates(cat: Catalog, needed: list[str]) -> tuple[list[_Candidate], list[str]]:
    """Candidate roles (indices into the returned action list) and that action list."""
    from .catalog import _GrantIndex

    universe = sorted(set(cat.actions))
    pos = {a: i for i, a in enumerate(universe)}
    weights = _weights(cat, universe)
    out: list[_Candidate] = []
    for role in sorted(cat.roles.values(), key=lambda r: r.name):
        if not role.assignable:
            continue
        index = _GrantIndex(a.grant for a in role.actions if a.condition is None)
        covers = frozenset(i for i, n in enumerate(needed) if index.covers(n))
        if covers:
            exp = frozenset(pos[a] for a in cat.role_expansion(role.id) if a in pos)
            out.append(_Candidate(role, covers, exp, int(weights[list(exp)].sum())))
    return out, universe


def _prune(cands: list[_Candidate], n_needed: int) -> list[_Candidate]:
    full = set(range(n_needed))
    singles = [c.cost for c in cands if c.covers == full]
    if singles:
        bound = min(singles)
        cands = [c for c in cands if c.cost < bound or (c.cost == bound and c.covers == full)]
    seen: set[tuple[frozenset[int], frozenset[int]]] = set()
    kept: list[_Candidate] = []
    for c in cands:  # sorted by name: the first of identical roles wins the tie-break anyway
        key = (c.covers, c.expansion)
        if key not in seen:
            seen.add(key)
            kept.append(c)
    return kept


def least_privileged_builtin(cat: Catalog, actions: Iterable[str]) -> LeastPrivilegedResult:
    """See the module docstring."""
    needed = sorted({cat.action(a).name for a in actions})
    cands, universe = _candidates(cat, needed)
    coverable = sorted({i for c in cands for i in c.covers})
    uncoverable = frozenset(needed[i] for i in range(len(needed)) if i not in set(coverable))
    if not coverable:
        return LeastPrivilegedResult(tuple(needed), (), 0, frozenset(), uncoverable, {})
    remap = {old: new for new, old in enumerate(coverable)}
    cands = [
        _Candidate(c.role, frozenset(remap[i] for i in c.covers), c.expansion, c.cost)
        for c in cands
    ]
    cands = _prune(cands, len(coverable))
    chosen = _solve(cands, len(coverable), _weights(cat, universe))
    return _result(cat, needed, chosen, uncoverable, universe)


def _result(
    cat: Catalog,
    needed: list[str],
    chosen: list[_Candidate],
    uncoverable: frozenset[str],
    universe: list[str],
) -> LeastPrivilegedResult:
    roles = tuple(sorted((c.role for c in chosen), key=lambda r: r.name))
    granted = frozenset(universe[i] for c in chosen for i in c.expansion)
    from .catalog import _GrantIndex

    covered_by: dict[str, tuple[str, ...]] = {}
    for n in needed:
        if n not in uncoverable:
            covered_by[n] = tuple(
                r.name
                for r in roles
                if _GrantIndex(a.grant for a in r.actions if a.condition is None).covers(n)
            )
    return LeastPrivilegedResult(
        needed=tuple(needed),
        roles=roles,
        cost=set_cost(cat, roles),
        extra_actions=granted - cat.expand(needed),
        uncoverable=uncoverable,
        covered_by=covered_by,
    )


def _solve(cands: list[_Candidate], n_needed: int, weights: np.ndarray) -> list[_Candidate]:
    """All optimal (cost, size) sets by MILP + no-good cuts; the first by sorted names wins."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    actions = sorted({i for c in cands for i in c.expansion})
    col = {a: len(cands) + j for j, a in enumerate(actions)}
    n_r, n_var = len(cands), len(cands) + len(actions)
    objective = np.concatenate([np.ones(n_r), weights[actions].astype(float) * (n_r + 1)])
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for k in range(n_needed):  # cover: Σ x_r ≥ 1
        for r, c in enumerate(cands):
            if k in c.covers:
                rows.append(k)
                cols.append(r)
                vals.append(1.0)
    link = n_needed
    for r, c in enumerate(cands):  # y_a - x_r ≥ 0
        for a in sorted(c.expansion):
            rows += [link, link]
            cols += [col[a], r]
            vals += [1.0, -1.0]
            link += 1
    base = coo_array((vals, (rows, cols)), shape=(link, n_var)).tocsr()
    lower = np.concatenate([np.ones(n_needed), np.zeros(link - n_needed)])
    cuts: list[np.ndarray] = []
    cut_ub: list[float] = []
    best_key: tuple[int, int] | None = None
    optima: list[list[_Candidate]] = []
    integrality = np.concatenate([np.ones(n_r), np.zeros(len(actions))])
    while len(optima) < MAX_TIES:
        constraints = [LinearConstraint(base, lower, np.inf)]
        if cuts:
            constraints.append(LinearConstraint(np.vstack(cuts), -np.inf, np.array(cut_ub)))
        res = milp(
            objective,
            integrality=integrality,
            bounds=Bounds(0, 1),
            constraints=constraints,
            options={"mip_rel_gap": 0.0, "presolve": True},
        )
        if res.x is None:
            break
        picked = [cands[r] for r in range(n_r) if res.x[r] > 0.5]
        key = (int(weights[sorted({i for c in picked for i in c.expansion})].sum()), len(picked))
        if best_key is not None and key > best_key:
            break
        if best_key is None or key < best_key:  # never with a zero gap; guards solver noise
            best_key, optima = key, []
        optima.append(picked)
        cut = np.zeros(n_var)
        for r in range(n_r):
            cut[r] = 1.0 if res.x[r] > 0.5 else -1.0
        cuts.append(cut)
        cut_ub.append(len(picked) - 1.0)
    if not optima:
        raise CatalogError("least-privileged search found no covering role set (solver failure)")
    return min(optima, key=lambda s: tuple(sorted(c.role.name for c in s)))
