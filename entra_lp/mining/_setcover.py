"""Set cover over candidate roles: exact reductions, greedy with improvement, LP/ILP.

Rows of the incidence matrix are the (user, permission) pairs to cover, columns the
candidate roles. Everything returns candidate indices into the original column order.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Dominance checks multiply the incidence by itself; skip them when that gets too large.
_DOMINANCE_MAX_WORK = 30_000_000


@dataclass(frozen=True)
class Residual:
    """What is left after the exact set-cover reductions."""

    forced: IntArray  # candidates in every optimal cover we return
    A: sp.csc_matrix  # residual rows x residual candidates
    cols: IntArray  # residual candidate -> original candidate


def reduce_cover(A: sp.csc_matrix) -> Residual:
    """Forced candidates (a row covered by one candidate), dominated candidates and rows,
    to a fixpoint. Each rule keeps some optimal cover."""
    B = sp.csr_matrix(A, dtype=np.bool_)
    cols = np.arange(A.shape[1], dtype=np.int64)
    forced: list[int] = []
    changed = True
    while changed and B.shape[0]:
        B, cols, took = _take_forced(B, cols)
        forced.extend(took)
        changed = bool(took)
        if not B.shape[0]:
            break
        keep_cols = _undominated(B.T.tocsr(), by_subset=True)  # candidates inside others
        if not keep_cols.all():
            B, cols, changed = B[:, keep_cols].tocsr(), cols[keep_cols], True
        keep_rows = _undominated(B, by_subset=False)  # rows implied by other rows
        if not keep_rows.all():
            B, changed = B[keep_rows], True
        nonempty = np.diff(B.tocsc().indptr) > 0
        if not nonempty.all():
            B, cols, changed = B[:, nonempty], cols[nonempty], True
    return Residual(np.array(sorted(forced), dtype=np.int64), B.tocsc(), cols)


def _take_forced(B: sp.csr_matrix, cols: IntArray) -> tuple[sp.csr_matrix, IntArray, list[int]]:
    deg = np.diff(B.indptr)
    single = np.flatnonzero(deg == 1)
    if not single.size:
        return B, cols, []
    chosen = np.unique(B.indices[B.indptr[single]])
    covered = np.asarray(B[:, chosen].sum(axis=1)).ravel() > 0
    keep = np.ones(B.shape[1], dtype=np.bool_)
    keep[chosen] = False
    return B[~covered][:, keep].tocsr(), cols[keep], cols[chosen].tolist()


def _undominated(S: sp.csr_matrix, by_subset: bool) -> BoolArray:
    """Rows of ``S`` (as sets) to keep. ``by_subset``: drop a set contained in another
    (candidates); otherwise drop a set containing another (rows to cover)."""
    Si = S.astype(np.int32).tocsr()
    col_deg = np.bincount(Si.indices, minlength=Si.shape[1])
    if int((col_deg.astype(np.int64) ** 2).sum()) > _DOMINANCE_MAX_WORK:
        return np.ones(S.shape[0], dtype=np.bool_)
    inter = (Si @ Si.T).tocoo()
    size = np.diff(Si.indptr)
    a, b = inter.row, inter.col
    if by_subset:  # a inside b: drop a (ties: drop the later one)
        dom = (a != b) & (inter.data == size[a]) & ((size[a] < size[b]) | (a > b))
    else:  # b inside a: covering b covers a, drop a
        dom = (a != b) & (inter.data == size[b]) & ((size[b] < size[a]) | (a > b))
    keep = np.ones(S.shape[0], dtype=np.bool_)
    keep[np.unique(a[dom])] = False
    return keep


def greedy_cover(
    A: sp.csc_matrix, rng: np.random.Generator, n_iter: int, deadline: float
) -> IntArray:
    # n_iter = 0 is a plain greedy pass (no randomness used).
    """Greedy set cover, redundancy removal, then destroy-and-repair rounds."""
    A = sp.csc_matrix(A)
    n_rows, n_cols = A.shape
    if n_rows == 0:
        return np.zeros(0, dtype=np.int64)
    A_csr = A.tocsr()
    ties = np.arange(n_cols, dtype=np.float64)
    best = _greedy(A, np.zeros(n_rows, dtype=np.int64), [], ties, np.arange(n_cols))
    best = _drop_redundant(A, best)
    for _ in range(n_iter):
        if time.perf_counter() > deadline or len(best) <= 1:
            break
        k = max(1, min(len(best) - 1, int(rng.integers(2, 6))))
        seed_row = int(rng.integers(n_rows))
        near = _near(A, A_csr, best, seed_row, k)
        kept = [c for c in best if c not in near]
        count = _coverage(A, kept, n_rows)
        # Only candidates touching an uncovered row can help the repair.
        open_rows = np.flatnonzero(count == 0)
        touching = np.unique(A_csr[open_rows].indices).astype(np.int64)
        order = rng.permutation(n_cols).astype(np.float64)
        trial = _drop_redundant(A, _greedy(A, count, kept, order, touching))
        if len(trial) <= len(best):
            best = trial
    return np.array(sorted(best), dtype=np.int64)


def _near(A: sp.csc_matrix, A_csr: sp.csr_matrix, chosen: list[int], row: int, k: int) -> set[int]:
    """The ``k`` chosen candidates sharing most rows with the candidates covering ``row``."""
    around = A_csr.indices[A_csr.indptr[row] : A_csr.indptr[row + 1]]
    region = np.zeros(A.shape[0], dtype=np.bool_)
    for c in around.tolist():
        region[A.indices[A.indptr[c] : A.indptr[c + 1]]] = True
    overlap = [(-int(region[A.indices[A.indptr[c] : A.indptr[c + 1]]].sum()), c) for c in chosen]
    overlap.sort()
    return {c for _, c in overlap[:k]}


def _coverage(A: sp.csc_matrix, chosen: list[int], n_rows: int) -> npt.NDArray[np.int64]:
    count = np.zeros(n_rows, dtype=np.int64)
    for c in chosen:
        count[A.indices[A.indptr[c] : A.indptr[c + 1]]] += 1
    return count


def _greedy(
    A: sp.csc_matrix,
    count: npt.NDArray[np.int64],
    chosen: list[int],
    ties: npt.NDArray[np.float64],
    cands: npt.NDArray[np.int64],
) -> list[int]:
    """Lazy greedy over ``cands``: repeatedly take the one covering most uncovered rows."""
    covered = count > 0
    remaining = int((~covered).sum())
    out = list(chosen)
    sizes = np.diff(A.indptr)
    heap = [(-int(sizes[c]), float(ties[c]), int(c)) for c in cands.tolist()]
    heapq.heapify(heap)
    while remaining and heap:
        _, tie, c = heapq.heappop(heap)
        rows = A.indices[A.indptr[c] : A.indptr[c + 1]]
        gain = int((~covered[rows]).sum())
        if gain == 0:
            continue
        if heap and gain < -heap[0][0]:
            heapq.heappush(heap, (-gain, tie, c))
            continue
        covered[rows] = True
        remaining -= gain
        out.append(c)
    return out


def _drop_redundant(A: sp.csc_matrix, chosen: list[int]) -> list[int]:
    """Remove candidates whose rows are all covered by others (smallest first)."""
    count = _coverage(A, chosen, A.shape[0])
    size = {c: A.indptr[c + 1] - A.indptr[c] for c in chosen}
    keep = set(chosen)
    for c in sorted(chosen, key=lambda c: (size[c], c)):
        rows = A.indices[A.indptr[c] : A.indptr[c + 1]]
        if (count[rows] >= 2).all():
            count[rows] -= 1
            keep.discard(c)
    return [c for c in chosen if c in keep]


@dataclass(frozen=True)
class IlpResult:
    """Outcome of an ILP run: chosen candidates (None if no solution) and a proven bound."""

    chosen: IntArray | None
    bound: int
    optimal: bool


def solve_ilp(
    A: sp.csc_matrix, time_limit: float, backend: str, seed: int, max_size: int | None = None
) -> IlpResult:
    """Minimum set cover by ILP with HiGHS (through SciPy) or OR-Tools CP-SAT.

    ``max_size`` cuts off covers larger than it (infeasible then proves none exists).
    """
    if A.shape[0] == 0:
        return IlpResult(np.zeros(0, np.int64), 0, True)
    if backend == "cpsat":
        return _solve_cpsat(A, time_limit, seed, max_size)
    n_cols = A.shape[1]
    cons = [LinearConstraint(sp.csr_matrix(A, dtype=np.float64), lb=1, ub=np.inf)]
    if max_size is not None:
        cons.append(LinearConstraint(np.ones((1, n_cols)), lb=0, ub=max_size))
    res = milp(
        np.ones(n_cols),
        constraints=cons,
        integrality=np.ones(n_cols, dtype=np.int64),
        bounds=Bounds(0, 1),
        options={"time_limit": min(max(0.01, time_limit), 1e7), "presolve": True},
    )
    if res.status == 2:  # infeasible: no cover among these candidates at all
        return IlpResult(None, n_cols + 1, True)
    chosen = None if res.x is None else np.flatnonzero(res.x > 0.5).astype(np.int64)
    dual = getattr(res, "mip_dual_bound", None)
    bound = 0 if dual is None or not np.isfinite(dual) else math.ceil(float(dual) - 1e-6)
    optimal = res.status == 0 and chosen is not None
    if optimal and chosen is not None:
        bound = max(bound, chosen.size)
    return IlpResult(chosen, bound, optimal)


def _solve_cpsat(
    A: sp.csc_matrix, time_limit: float, seed: int, max_size: int | None
) -> IlpResult:
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"r{j}") for j in range(A.shape[1])]
    A_csr = sp.csr_matrix(A)
    for i in range(A.shape[0]):
        model.add_bool_or([x[j] for j in A_csr.indices[A_csr.indptr[i] : A_csr.indptr[i + 1]]])
    model.minimize(sum(x))
    if max_size is not None:
        model.add(sum(x) <= max_size)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = min(max(0.01, time_limit), 1e7)
    solver.parameters.num_workers = 1  # one worker keeps the search deterministic
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return IlpResult(None, A.shape[1] + 1, True)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return IlpResult(None, math.ceil(solver.best_objective_bound - 1e-6), False)
    chosen = np.array([j for j in range(A.shape[1]) if solver.value(x[j])], dtype=np.int64)
    bound = math.ceil(solver.best_objective_bound - 1e-6)
    return IlpResult(chosen, max(bound, chosen.size) if status == cp_model.OPTIMAL else bound,
                     status == cp_model.OPTIMAL)


@dataclass(frozen=True)
class PricedLP:
    """LP relaxation over all candidates, solved on a growing pool (column generation)."""

    value: float
    reduced_costs: npt.NDArray[np.float64]  # per candidate, all >= 0 at the optimum
    pool: IntArray
    x: npt.NDArray[np.float64]  # LP solution on the pool


def priced_lp(A: sp.csc_matrix, start: IntArray, max_add: int = 1000) -> PricedLP | None:
    """Solve ``min sum x, A x >= 1, x >= 0`` pricing all candidates by ``1 - A^T y``.

    The master LP only holds the pool; the reduced costs of every candidate come from one
    sparse product per round, so tens of thousands of candidates stay cheap. None if the
    LP solver fails.
    """
    n_rows = A.shape[0]
    A_csr = sp.csr_matrix(A, dtype=np.float64)
    A_t = A_csr.T.tocsr()
    pool = np.unique(start)
    while True:
        res = linprog(
            np.ones(pool.size),
            A_ub=cast(Any, -A_csr[:, pool]),  # the stubs do not list sparse input
            b_ub=-np.ones(n_rows),
            bounds=(0, None),
            method="highs",
        )
        if res.status != 0:
            return None
        y = -np.asarray(res.ineqlin.marginals, dtype=np.float64)
        rc = 1.0 - A_t @ y
        rc[pool] = np.maximum(rc[pool], 0.0)
        neg = np.flatnonzero(rc < -1e-9)
        if not neg.size:
            value = math.inf if res.fun is None else float(res.fun)
            return PricedLP(value, np.maximum(rc, 0.0), pool, np.asarray(res.x, np.float64))
        add = neg[np.lexsort((neg, rc[neg]))][:max_add]
        pool = np.union1d(pool, add)


def exact_by_pricing(
    A: sp.csc_matrix, lp: PricedLP, *, target: int, time_limit: float, backend: str, seed: int
) -> IlpResult:
    """A cover smaller than ``target`` if one exists (``chosen``, else None), and a lower
    bound on the optimum that counts ``target`` as achievable.

    A candidate whose reduced cost exceeds ``target - 1 - LP`` is in no cover smaller than
    ``target`` (sum x = y.Ax + rc.x >= LP + rc.x), so the ILP only needs the others; its
    optimum, when below ``target``, is the optimum overall.
    """
    lp_bound = math.ceil(lp.value - 1e-6)
    if lp_bound >= target:
        return IlpResult(None, target, True)
    keep = np.flatnonzero(lp.reduced_costs <= target - 1 - lp.value + 1e-6)
    ilp = solve_ilp(sp.csc_matrix(A[:, keep]), time_limit, backend, seed, max_size=target - 1)
    if ilp.chosen is not None and ilp.chosen.size < target:
        chosen = keep[ilp.chosen]
        bound = chosen.size if ilp.optimal else max(lp_bound, min(ilp.bound, chosen.size))
        return IlpResult(chosen, bound, ilp.optimal)
    if ilp.optimal:  # nothing below target among the only candidates that could do it
        return IlpResult(None, target, True)
    return IlpResult(None, max(lp_bound, min(ilp.bound, target)), False)


def lp_rounding_cover(A: sp.csc_matrix, lp: PricedLP) -> IntArray:
    """Cover built from the LP solution: candidates by decreasing LP value, each taken if
    it covers something new, then redundant ones dropped."""
    order = np.lexsort((lp.pool, -lp.x))
    covered = np.zeros(A.shape[0], dtype=np.bool_)
    chosen: list[int] = []
    for c in lp.pool[order].tolist():
        rows = A.indices[A.indptr[c] : A.indptr[c + 1]]
        if not covered[rows].all():
            covered[rows] = True
            chosen.append(c)
        if covered.all():
            break
    return np.array(sorted(_drop_redundant(A, chosen)), dtype=np.int64)
