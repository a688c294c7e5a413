"""Solve one connected component of a reduced relation: exact (ILP) or heuristic."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ._bicliques import enumerate_concepts, incidence, row_bitsets, row_concepts
from ._setcover import (
    Residual,
    exact_by_pricing,
    greedy_cover,
    lp_rounding_cover,
    priced_lp,
    reduce_cover,
)

IntArray = npt.NDArray[np.int64]

# Largest component (rows x columns) handled with a dense 0/1 copy.
_DENSE_LIMIT = 40_000_000


@dataclass(frozen=True)
class SolveOptions:
    """Knobs of the component solver (filled in from RoleMiner's parameters)."""

    exact: bool
    max_bicliques: int
    backend: str
    n_iter: int
    seed: int


@dataclass(frozen=True)
class ComponentSolution:
    """Roles as column indices local to the component, a proven lower bound, and whether
    the roles were enumerated from all maximal bicliques."""

    roles: list[IntArray]
    lower_bound: int
    complete: bool


def solve_component(M: sp.csr_matrix, opts: SolveOptions, deadline: float) -> ComponentSolution:
    """Cover the component with few bicliques; exact when all maximal bicliques fit the cap."""
    # Concepts are intersections of one side's sets: iterate over the shorter side.
    flip = M.shape[0] > M.shape[1]
    S = M.T.tocsr() if flip else M
    rows = row_bitsets(S)
    dense_ok = M.shape[0] * M.shape[1] <= _DENSE_LIMIT
    concepts = enumerate_concepts(rows, opts.max_bicliques, deadline) if dense_ok else None
    complete = concepts is not None
    pool = concepts if concepts is not None else row_concepts(S, rows)
    A, bit_side, other_side = incidence(S, pool)
    perm_sets = other_side if flip else bit_side
    res = reduce_cover(A)
    chosen, res_bound = _cover_residual(res, complete, min(M.shape), opts, deadline)
    bound = res.forced.size + res_bound if complete else fooling_set_size(M, deadline)
    if res.forced.size + chosen.size > min(M.shape):
        roles = _trivial_cover(M)
    else:
        best = np.sort(np.concatenate([res.forced, res.cols[chosen]]))
        roles = [perm_sets[int(c)] for c in best]
    return ComponentSolution(roles, min(bound, len(roles)), complete)


def _cover_residual(
    res: Residual, complete: bool, trivial: int, opts: SolveOptions, deadline: float
) -> tuple[IntArray, int]:
    """Cover of the residual rows and a lower bound on its optimum (valid if complete).

    Greedy first; improvement rounds and the ILP only run while a gap to the LP bound
    remains. ``trivial`` (one role per row or per column) caps what is worth searching.
    """
    if res.A.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), 0
    rng = np.random.default_rng(opts.seed)
    chosen = greedy_cover(res.A, rng, 0, deadline)
    lp = priced_lp(res.A, chosen) if complete else None
    bound = 1 if lp is None else math.ceil(lp.value - 1e-6)
    if lp is not None and chosen.size > bound:
        rounded = lp_rounding_cover(res.A, lp)
        chosen = rounded if rounded.size < chosen.size else chosen
    if chosen.size > bound:
        improved = greedy_cover(res.A, rng, opts.n_iter, deadline)
        chosen = improved if improved.size < chosen.size else chosen
    target = min(chosen.size, trivial - res.forced.size)
    if not opts.exact or lp is None or bound >= target:
        return chosen, min(bound, target)
    out = exact_by_pricing(
        res.A, lp, target=target, time_limit=deadline - time.perf_counter(),
        backend=opts.backend, seed=opts.seed,
    )
    if out.chosen is not None:
        chosen = out.chosen
    return chosen, max(bound, out.bound)


def _trivial_cover(M: sp.csr_matrix) -> list[IntArray]:
    """One role per (distinct) row, or one single-permission role per column."""
    if M.shape[0] <= M.shape[1]:
        ind = M.indices.astype(np.int64)
        return [ind[M.indptr[i] : M.indptr[i + 1]] for i in range(M.shape[0])]
    return [np.array([j], dtype=np.int64) for j in range(M.shape[1])]


def fooling_set_size(M: sp.csr_matrix, deadline: float, max_tries: int = 20_000) -> int:
    """Greedy fooling set: (user, permission) pairs no single role can cover two of.

    Pairs (u1, p1), (u2, p2) conflict when u1 lacks p2 or u2 lacks p1; the size of any set of
    pairwise conflicting pairs bounds the number of roles from below.
    """
    if M.nnz == 0:
        return 0
    if M.shape[0] * M.shape[1] > _DENSE_LIMIT:
        return 1
    dense = M.toarray()
    coo = M.tocoo()
    deg_r = np.diff(M.indptr)
    deg_c = np.bincount(M.indices, minlength=M.shape[1])
    order = np.lexsort((coo.col, coo.row, deg_r[coo.row] + deg_c[coo.col]))
    fu: list[int] = []
    fp: list[int] = []
    for step, e in enumerate(order[:max_tries].tolist()):
        u, p = int(coo.row[e]), int(coo.col[e])
        if fu and (dense[u, fp] & dense[fu, p]).any():
            continue
        fu.append(u)
        fp.append(p)
        if step % 256 == 0 and time.perf_counter() > deadline:
            break
    return len(fu)
