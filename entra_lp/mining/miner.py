"""``RoleMiner``: minimum role sets (exact or heuristic) and risk-weighted role mining."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from entra_lp.errors import MiningError, close_matches

from ._assign import (
    assignment_matrix,
    exact_assignment,
    granted,
    over_under,
    verify_exact,
    wsc,
)
from ._exact import SolveOptions, fooling_set_size, solve_component
from ._input import MiningInput, as_relation, as_weights
from ._reduce import components, reduce_relation
from ._risk import Chain, build_chain, distinct_rows, replay

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

OBJECTIVES = ("min_roles", "risk_weighted")
SOLVERS = ("auto", "exact", "heuristic")
ILP_BACKENDS = ("highs", "cpsat")
# solver="auto" searches exactly when the reduced relation has at most this many pairs...
AUTO_EXACT_MAX_PAIRS = 20_000
# ...for at most this long (unless time_limit is shorter), keeping the best cover after.
AUTO_EXACT_SECONDS = 10.0


@dataclass(frozen=True)
class _Cover:
    roles: list[IntArray]
    lower_bound: int
    complete: bool
    solver: str
    reduced_shape: tuple[int, int]
    n_components: int


@dataclass(frozen=True)
class ParetoPoint:
    """One point of the roles / over-assignment trade-off, with its fitted miner."""

    lam: float
    n_roles: int
    weighted_over_assignment: float
    over_assignment: int
    miner: RoleMiner


class RoleMiner:
    """Mine a small set of roles from a principals x permissions relation.

    scikit-learn style: the constructor only stores parameters, :meth:`fit` learns, and
    learned state ends with an underscore.

    Parameters
    ----------
    objective:
        ``"min_roles"``: fewest roles whose union reproduces each principal's permissions
        exactly (basic role-mining problem, i.e. Boolean rank / minimum biclique cover).
        ``"risk_weighted"``: minimise ``n_roles + lam * weighted over-assignment``, where
        over-assignment (granted but unused) of permission ``p`` costs ``risk_weights[p]``.
    solver:
        ``"exact"``: reductions, all maximal bicliques, ILP; proves optimality unless
        ``time_limit`` or ``max_bicliques`` stops it (then the best cover and a lower bound).
        ``"heuristic"``: the same reductions, greedy cover with destroy-and-repair rounds.
        ``"auto"``: exact when the reduced relation has at most 20,000 pairs (for at most
        10 s, or ``time_limit``), heuristic otherwise.
    time_limit:
        Seconds for the whole fit (None: no limit, except auto's 10 s for the exact search).
    lam:
        Price of one unit of weighted over-assignment, in roles (risk_weighted only).
    risk_weights:
        One non-negative weight per permission; default ``X.risk_weights`` when ``X`` is a
        ``UsageMatrix``, else 1 for every permission.
    max_over_risk:
        Never over-assign a permission whose weight exceeds this (None: no cap).
    wsc_weights:
        ``(w_r, w_u, w_p, w_h, w_d)`` of the weighted structural complexity (Molloy et al.):
        ``w_r|R| + w_u|UA| + w_p|PA| + w_h|RH| + w_d|DUPA|``. Roles are flat and there are
        no direct assignments, so ``|RH| = |DUPA| = 0``.
    max_bicliques:
        Stop enumerating maximal bicliques of a component past this many (then that
        component is solved heuristically and bounded by a fooling set).
    ilp_backend:
        ``"highs"`` (SciPy's HiGHS, default) or ``"cpsat"`` (OR-Tools, optional).
    n_iter:
        Destroy-and-repair rounds of the heuristic, per component.
    random_state:
        Seed of the heuristic's rounds; same input and seed give the same roles (a
        ``time_limit`` that cuts a search short can make results depend on machine speed).

    Attributes (after ``fit``)
    --------------------------
    roles_ : list of sorted permission-index arrays, one per role.
    role_actions_ : the same as action names when ``X`` carried ``actions``, else None.
    assignment_ : per principal (row), the sorted indices of its roles.
    assignment_matrix_ : principals x roles CSR 0/1 matrix of ``assignment_``.
    n_roles_, lower_bound_, gap_, is_optimal_ : role count, a proven lower bound on it
        (risk-weighted: on the roles any solution under the cap needs), their difference,
        and whether the objective is proven optimal.
    over_assignment_, weighted_over_assignment_, under_assignment_ : granted-but-unused
        pairs (count and risk-weighted sum) and used-but-not-granted pairs (always 0).
    objective_value_ : ``n_roles_ + lam * weighted_over_assignment_`` (risk-weighted) or
        ``n_roles_``.
    wsc_ : weighted structural complexity. fit_time_ : seconds spent in ``fit``.
    solver_ : "exact" or "heuristic" (what ``auto`` chose). reduced_shape_ and
        n_components_ : size of the relation after the exact reductions, and how many
        independent parts it split into.
    """

    def __init__(
        self,
        objective: str = "min_roles",
        solver: str = "auto",
        *,
        time_limit: float | None = None,
        lam: float = 1.0,
        risk_weights: Sequence[float] | FloatArray | None = None,
        max_over_risk: float | None = None,
        wsc_weights: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0),
        max_bicliques: int = 200_000,
        ilp_backend: str = "highs",
        n_iter: int = 50,
        random_state: int | None = 0,
    ) -> None:
        self.objective = objective
        self.solver = solver
        self.time_limit = time_limit
        self.lam = lam
        self.risk_weights = risk_weights
        self.max_over_risk = max_over_risk
        self.wsc_weights = wsc_weights
        self.max_bicliques = max_bicliques
        self.ilp_backend = ilp_backend
        self.n_iter = n_iter
        self.random_state = random_state

    # -- scikit-learn protocol ---------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> RoleMiner:
        """Set constructor parameters; unknown names raise :class:`MiningError`."""
        known = self._param_names()
        for name, value in params.items():
            if name not in known:
                raise MiningError(_unknown("parameter", name, known))
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = RoleMiner().get_params()
        changed = {k: v for k, v in self.get_params().items() if _differs(v, defaults[k])}
        return "RoleMiner(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    # -- fitting -----------------------------------------------------------------------
    def fit(self, X: Any, y: None = None) -> RoleMiner:
        """Learn roles and their assignment from ``X`` (see the class docstring)."""
        start = time.perf_counter()
        self._check_params()
        inp = as_relation(X)
        cover = self._min_cover(inp.matrix, start)
        if self.objective == "min_roles":
            roles, assignment = _finalise_exact(inp.matrix, cover.roles)
            self._store(inp, roles, assignment, cover=cover, lower_bound=cover.lower_bound)
        else:
            path = _RiskPath.build(inp.matrix, cover.roles, *self._weights(inp),
                                   min_lam=float(self.lam))
            roles, assignment = path.state(float(self.lam))
            self._store(inp, roles, assignment, cover=cover, lower_bound=path.bound,
                        weights=path.weights)
        self.fit_time_ = time.perf_counter() - start
        return self

    def pareto_front(self, X: Any, lams: Iterable[float]) -> list[ParetoPoint]:
        """Fit the risk-weighted objective for each ``lam`` (one shared merge chain).

        Points are sorted by ``lam``; as ``lam`` grows, roles never decrease and weighted
        over-assignment never increases. Each point carries a fitted ``RoleMiner``.
        """
        start = time.perf_counter()
        lam_list = sorted(_check_lam(v) for v in lams)
        self._check_params()
        inp = as_relation(X)
        cover = self._min_cover(inp.matrix, start)
        path = _RiskPath.build(inp.matrix, cover.roles, *self._weights(inp),
                               min_lam=lam_list[0] if lam_list else 0.0)
        points: list[ParetoPoint] = []
        for lam in lam_list:
            roles, assignment = path.state(lam)
            miner = RoleMiner(**{**self.get_params(), "objective": "risk_weighted", "lam": lam})
            miner._store(inp, roles, assignment, cover=cover, lower_bound=path.bound,
                         weights=path.weights)
            miner.fit_time_ = time.perf_counter() - start
            points.append(ParetoPoint(lam, miner.n_roles_, miner.weighted_over_assignment_,
                                      miner.over_assignment_, miner))
        return points

    def score(self, X_later: Any) -> float:
        """Share of the later window's (principal, permission) pairs the roles allow.

        Principals and permissions are matched by id / action name when both relations carry
        them, else by position (shapes must then agree). 1.0 when the later window is empty.
        """
        if not hasattr(self, "roles_"):
            raise MiningError("this RoleMiner is not fitted yet: call fit(X) first")
        later = as_relation(X_later, "X_later")
        L = later.matrix.tocoo()
        if L.nnz == 0:
            return 1.0
        rows = _map_index(L.row, names=later.principals, fitted=self.principals_,
                          n_fitted=self.n_principals_, n_later=L.shape[0], what="principals")
        cols = _map_index(L.col, names=later.actions, fitted=self.actions_,
                          n_fitted=self.n_features_in_, n_later=L.shape[1], what="permissions")
        known = (rows >= 0) & (cols >= 0)  # unseen principals / actions count as denied
        G = granted(self.assignment_, self.roles_, self.n_features_in_)
        allowed = int(np.asarray(G[rows[known], cols[known]]).sum()) if known.any() else 0
        return allowed / float(L.nnz)

    # -- internals ---------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.objective not in OBJECTIVES:
            raise MiningError(_unknown("objective", str(self.objective), OBJECTIVES))
        if self.solver not in SOLVERS:
            raise MiningError(_unknown("solver", str(self.solver), SOLVERS))
        if self.ilp_backend not in ILP_BACKENDS:
            raise MiningError(_unknown("ilp_backend", str(self.ilp_backend), ILP_BACKENDS))
        if self.time_limit is not None:
            _positive("time_limit", self.time_limit)
        _check_lam(self.lam)
        if self.max_over_risk is not None and not _is_number(self.max_over_risk, lo=0.0):
            raise MiningError(
                f"max_over_risk must be a number >= 0 or None, got {self.max_over_risk!r}"
            )
        _check_wsc(self.wsc_weights)
        for name, low in (("max_bicliques", 1), ("n_iter", 0)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise MiningError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.random_state is not None and not _is_int(self.random_state):
            raise MiningError(f"random_state must be an int or None, got {self.random_state!r}")

    def _weights(self, inp: MiningInput) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        n = inp.matrix.shape[1]
        if self.risk_weights is not None:
            w = as_weights(self.risk_weights, n)
        elif inp.risk_weights is not None:
            w = inp.risk_weights
        else:
            w = np.ones(n, dtype=np.float64)
        cap = math.inf if self.max_over_risk is None else float(self.max_over_risk)
        return w, w > cap

    def _min_cover(self, M: sp.csr_matrix, start: float) -> _Cover:
        red = reduce_relation(M)
        exact = self.solver == "exact" or (
            self.solver == "auto" and red.core.nnz <= AUTO_EXACT_MAX_PAIRS
        )
        limit = self.time_limit
        if self.solver == "auto" and exact:
            limit = AUTO_EXACT_SECONDS if limit is None else min(limit, AUTO_EXACT_SECONDS)
        deadline = math.inf if limit is None else start + float(limit)
        seed = 0 if self.random_state is None else int(self.random_state)
        opts = SolveOptions(
            exact, int(self.max_bicliques), str(self.ilp_backend), int(self.n_iter), seed
        )
        roles: list[IntArray] = []
        bound, complete = 0, True
        comps = components(red.core)
        for r, c in comps:
            sol = solve_component(red.core[r][:, c].tocsr(), opts, deadline)
            roles.extend(c[local] for local in sol.roles)
            bound += sol.lower_bound
            complete &= sol.complete
        expanded = red.expand_roles(M, roles)
        return _Cover(expanded, bound, complete, "exact" if exact else "heuristic",
                      (int(red.core.shape[0]), int(red.core.shape[1])), len(comps))

    def _store(
        self,
        inp: MiningInput,
        roles: list[IntArray],
        assignment: list[IntArray],
        *,
        cover: _Cover,
        lower_bound: int,
        weights: FloatArray | None = None,
    ) -> None:
        M = inp.matrix
        G = granted(assignment, roles, M.shape[1])
        over, under = over_under(M, G)
        w = np.ones(M.shape[1]) if weights is None else weights
        self.roles_ = roles
        self.assignment_ = assignment
        self.assignment_matrix_ = assignment_matrix(assignment, len(roles))
        self.n_roles_ = len(roles)
        self.over_assignment_ = int(over.nnz)
        self.weighted_over_assignment_ = float(np.asarray(over.sum(axis=0)).ravel() @ w)
        self.under_assignment_ = int(under.nnz)
        self.lower_bound_ = int(min(lower_bound, self.n_roles_))
        self.gap_ = self.n_roles_ - self.lower_bound_
        self.role_actions_ = (
            None if inp.actions is None
            else [tuple(inp.actions[int(j)] for j in r) for r in roles]
        )
        lam = float(self.lam) if self.objective == "risk_weighted" else 0.0
        self.objective_value_ = self.n_roles_ + lam * self.weighted_over_assignment_
        self.is_optimal_ = bool(self.objective_value_ <= self.lower_bound_)
        if self.objective == "min_roles" and lower_bound > self.n_roles_:
            raise MiningError(
                f"internal error: lower bound {lower_bound} above {self.n_roles_} roles"
            )
        w_r, w_u, w_p, w_h, w_d = (float(x) for x in self.wsc_weights)
        self.wsc_ = wsc(roles, assignment, (w_r, w_u, w_p, w_h, w_d))
        self.solver_ = cover.solver
        self.reduced_shape_ = cover.reduced_shape
        self.n_components_ = cover.n_components
        self.n_features_in_ = int(M.shape[1])
        self.n_principals_ = int(M.shape[0])
        self.actions_ = inp.actions
        self.principals_ = inp.principals



def _finalise_exact(
    M: sp.csr_matrix, roles: list[IntArray]
) -> tuple[list[IntArray], list[IntArray]]:
    """Sorted roles, a small exact assignment, unused roles dropped; verified exact."""
    ordered = sorted({tuple(r.tolist()) for r in roles})
    cand = [np.array(r, dtype=np.int64) for r in ordered]
    assignment = exact_assignment(M, cand)
    used = np.zeros(len(cand), dtype=np.bool_)
    for a in assignment:
        used[a] = True
    new_index = np.cumsum(used) - 1
    roles_out = [r for r, u in zip(cand, used, strict=True) if u]
    assign_out = [new_index[a].astype(np.int64) for a in assignment]
    verify_exact(M, granted(assign_out, roles_out, M.shape[1]))
    return roles_out, assign_out


@dataclass(frozen=True)
class _RiskPath:
    """The risk merge chain over distinct principals, from an exact cover."""

    dense: npt.NDArray[np.bool_]
    of_row: IntArray
    roles: list[IntArray]
    assignment: list[IntArray]  # per distinct principal
    chain: Chain
    weights: FloatArray
    bound: int

    @classmethod
    def build(
        cls,
        M: sp.csr_matrix,
        cover_roles: list[IntArray],
        weights: FloatArray,
        capped: npt.NDArray[np.bool_],
        min_lam: float,
    ) -> _RiskPath:
        roles, assignment = _finalise_exact(M, cover_roles)
        dist, of_row, mult = distinct_rows(M)
        first = np.unique(of_row, return_index=True)[1]
        dist_assign = [assignment[int(i)] for i in first]
        dense = dist.toarray()
        chain = build_chain(
            dense, mult, roles=roles, assignment=dist_assign, w=weights, capped=capped,
            min_lam=min_lam,
        )
        return cls(dense, of_row, roles, dist_assign, chain, weights, _capped_bound(M, capped))

    def state(self, lam: float) -> tuple[list[IntArray], list[IntArray]]:
        """Roles and per-principal assignment of the chain state chosen for ``lam``."""
        merges = self.chain.merges[: self.chain.best_index(lam)]
        roles, assign = replay(self.dense, self.roles, self.assignment, merges)
        return roles, [assign[int(d)] for d in self.of_row]


def _capped_bound(M: sp.csr_matrix, capped: npt.NDArray[np.bool_]) -> int:
    """Lower bound on roles when capped permissions cannot be over-assigned: a fooling set
    among pairs of capped permissions (no role can cover two conflicting ones)."""
    if M.nnz == 0:
        return 0
    sub = M[:, np.flatnonzero(capped)].tocsr()
    return max(1, fooling_set_size(sub, math.inf)) if sub.nnz else 1


def _map_index(
    idx: npt.NDArray[np.int32],
    *,
    names: tuple[str, ...] | None,
    fitted: tuple[str, ...] | None,
    n_fitted: int,
    n_later: int,
    what: str,
) -> IntArray:
    out = idx.astype(np.int64)
    if names is not None and fitted is not None:
        lookup = {name: i for i, name in enumerate(fitted)}
        table = np.array([lookup.get(name, -1) for name in names], dtype=np.int64)
        return table[out]
    if n_later != n_fitted:
        raise MiningError(
            f"X_later has {n_later} {what} but the miner was fitted on {n_fitted}; pass "
            f"relations with the same {what} (or UsageMatrix objects, matched by name)"
        )
    return out


def _unknown(kind: str, value: str, known: Iterable[str]) -> str:
    hints = close_matches(value, known)
    msg = f"unknown {kind}: {value!r}; expected one of {', '.join(repr(k) for k in known)}"
    return msg + (f" (did you mean {hints[0]!r}?)" if hints else "")


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return True
    return bool(a != b)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any, lo: float) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value) >= lo
    )


def _positive(name: str, value: Any) -> None:
    if not _is_number(value, 0.0) or float(value) <= 0:
        raise MiningError(f"{name} must be a positive number of seconds, got {value!r}")


def _check_lam(value: Any) -> float:
    if not _is_number(value, 0.0):
        raise MiningError(f"lam must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_wsc(weights: Any) -> None:
    try:
        items = list(weights)
    except TypeError:
        items = []
    if len(items) != 5 or not all(_is_number(x, 0.0) for x in items):
        raise MiningError(
            "wsc_weights must be five numbers >= 0 (w_r, w_u, w_p, w_h, w_d), "
            f"got {weights!r}"
        )


def pareto_front(X: Any, lams: Iterable[float], **params: Any) -> list[ParetoPoint]:
    """Shortcut for ``RoleMiner(objective="risk_weighted", **params).pareto_front(X, lams)``."""
    params = {**params, "objective": "risk_weighted"}
    return RoleMiner(**params).pareto_front(X, lams)
