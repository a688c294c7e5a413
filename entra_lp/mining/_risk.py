"""Risk-weighted role mining: trade roles for cheap over-assignment.

Starting from an exact cover, roles are merged pairwise. Merging roles a and b gives every
holder of either role the union, so it removes one role and adds, for each holder, the
permissions of the other role it did not have, weighted by risk. Each step takes the merge
with the smallest added weighted over-assignment among those that never grant a capped
permission to someone who did not use it. The chain of states has strictly fewer roles and
never less over-assignment at each step; a given ``lam`` picks the state minimising
``n_roles + lam * weighted_over``, which moves monotonically along the chain as ``lam``
grows (the lower envelope of a fixed set of lines).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from entra_lp.errors import MiningError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolMatrix = npt.NDArray[np.bool_]

# Distinct principals x permissions held densely (as bool) during the merge search.
_DENSE_LIMIT = 200_000_000
# Cells converted to float at once in bool x float products.
_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class Chain:
    """The merge chain: per state its role count and weighted over-assignment."""

    n_roles: tuple[int, ...]
    weighted_over: tuple[float, ...]
    merges: tuple[tuple[int, int], ...]

    def best_index(self, lam: float) -> int:
        """State minimising ``n_roles + lam * weighted_over`` (ties: less over-assignment)."""
        values = [n + lam * o for n, o in zip(self.n_roles, self.weighted_over, strict=True)]
        low = min(values)
        tol = 1e-9 * max(1.0, abs(low))
        return next(i for i, v in enumerate(values) if v <= low + tol)


class _State:
    """Roles and assignment over distinct principals, with the granted matrix.

    Role indices stay stable: a merged-away or unused role is emptied and marked dead, so
    the cost matrices below can be updated in place.
    """

    def __init__(self, X: BoolMatrix, roles: list[IntArray], assignment: list[IntArray]) -> None:
        self.X = X
        self.P = np.zeros((len(roles), X.shape[1]), dtype=np.bool_)
        for i, r in enumerate(roles):
            self.P[i, r] = True
        self.UA = np.zeros((X.shape[0], len(roles)), dtype=np.bool_)
        for u, a in enumerate(assignment):
            self.UA[u, a] = True
        self.alive = np.ones(len(roles), dtype=np.bool_)
        Pf = self.P.astype(np.float64)
        self.G: BoolMatrix = np.zeros(X.shape, dtype=np.bool_)
        step = max(1, _BLOCK_CELLS // max(1, X.shape[1]))
        for start in range(0, X.shape[0], step):
            block = self.UA[start : start + step].astype(np.float64) @ Pf
            self.G[start : start + step] = block > 0

    @property
    def n_roles(self) -> int:
        return int(self.alive.sum())

    def merge(self, a: int, b: int) -> IntArray:
        """Replace roles a and b by their union, held by the holders of either; returns the
        principals whose grants changed."""
        self.P[a] |= self.P[b]
        self.UA[:, a] |= self.UA[:, b]
        holders = np.flatnonzero(self.UA[:, a])
        self.G[holders] |= self.P[a]
        self._kill([b])
        self._clean(holders)
        return holders

    def _kill(self, idx: list[int]) -> None:
        self.P[idx] = False
        self.UA[:, idx] = False
        self.alive[idx] = False

    def _clean(self, users: IntArray) -> None:
        """Drop assignments made redundant by the merge, then roles nobody holds."""
        for u in users.tolist():
            held = np.flatnonzero(self.UA[u])
            if held.size < 2:
                continue
            sizes = self.P[held].sum(axis=1)
            for r in held[np.lexsort((held, sizes))].tolist():
                others = self.UA[u].copy()
                others[r] = False
                if not (self.P[r] & ~self.P[others].any(axis=0)).any():
                    self.UA[u, r] = False
        unused = np.flatnonzero(self.alive & ~self.UA.any(axis=0)).tolist()
        if unused:
            self._kill(unused)

    def export(self) -> tuple[list[IntArray], list[IntArray]]:
        """Live roles (renumbered) and each principal's role indices."""
        live = np.flatnonzero(self.alive)
        roles = [np.flatnonzero(self.P[r]).astype(np.int64) for r in live]
        assign = [np.flatnonzero(ua).astype(np.int64) for ua in self.UA[:, live]]
        return roles, assign


class _Costs:
    """Merge costs, kept up to date as roles merge.

    ``T[u, r]``: weight of role r's permissions principal u lacks. ``D[a, b]``: weighted
    over-assignment the holders of a would gain from b's permissions (``UA.T @ (mult * T)``),
    so merging a and b costs ``D[a, b] + D[b, a]``. ``Tc`` / ``bad`` count capped
    permissions the same way (a merge with any is forbidden). A merge changes T only in the
    rows of the merged role's holders and in its column, so D is patched, not recomputed.
    """

    def __init__(
        self, st: _State, w: FloatArray, capped: npt.NDArray[np.bool_], mult: FloatArray
    ) -> None:
        everyone = np.arange(st.G.shape[0])
        self.mult = mult
        self.parts: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
        kinds = [(w, mult)]
        if capped.any():
            kinds.append((capped.astype(np.float64), np.ones_like(mult)))
        for weights, scale in kinds:
            T = self._lacking(st, everyone, weights)
            D = st.UA.T.astype(np.float64) @ (scale[:, None] * T)
            self.parts.append((weights, scale, T, D))
        self.row_over = _bool_dot(st.G & ~st.X, w[:, None])[:, 0]
        self.w = w
        self.lower = np.tril(np.ones((st.P.shape[0], st.P.shape[0]), dtype=np.bool_))

    @staticmethod
    def _lacking(st: _State, rows: IntArray, weights: FloatArray) -> FloatArray:
        """T for some principals and every role (sparse: roles are small)."""
        Pw = sp.csr_matrix(sp.csr_matrix(st.P, dtype=np.float64) @ sp.diags(weights))
        have = (sp.csr_matrix(st.G[rows], dtype=np.float64) @ Pw.T).toarray()
        missing: FloatArray = np.asarray(Pw.sum(axis=1)).ravel()[None, :] - have
        return missing

    @staticmethod
    def _lacking_role(st: _State, a: int, weights: FloatArray) -> FloatArray:
        """T's column for role ``a``: only its own permissions matter."""
        perms = np.flatnonzero(st.P[a])
        wa = weights[perms]
        lacking: FloatArray = wa.sum() - st.G[:, perms].astype(np.float64) @ wa
        return lacking

    def merge(self, st: _State, a: int, b: int) -> None:
        """Merge a and b in ``st`` and patch T, D and the over-assignment rows."""
        holders = np.flatnonzero(st.UA[:, a] | st.UA[:, b])
        old_ua = st.UA[holders].astype(np.float64)
        st.merge(a, b)
        new_ua = st.UA[holders].astype(np.float64)
        for weights, scale, T, D in self.parts:
            s_h = scale[holders][:, None]
            np.subtract(D, old_ua.T @ (s_h * T[holders]), out=D)
            T[holders] = self._lacking(st, holders, weights)
            T[:, a] = self._lacking_role(st, a, weights)
            np.add(D, new_ua.T @ (s_h * T[holders]), out=D)
            D[:, a] = st.UA.T.astype(np.float64) @ (scale * T[:, a])
        self.row_over[holders] = _bool_dot(st.G[holders] & ~st.X[holders], self.w[:, None])[:, 0]

    def weighted_over(self) -> float:
        return float(self.mult @ self.row_over)

    def cheapest(self, st: _State) -> tuple[int, int] | None:
        """The feasible live pair (a < b) whose merge adds least weighted over-assignment."""
        D = self.parts[0][3]
        cost = D + D.T
        if len(self.parts) > 1:
            bad = self.parts[1][3]
            cost[(bad + bad.T) > 0.5] = np.inf
        dead = ~st.alive
        cost[dead, :] = np.inf
        cost[:, dead] = np.inf
        cost[self.lower] = np.inf
        flat = int(np.argmin(cost))
        a, b = divmod(flat, cost.shape[0])
        return (a, b) if np.isfinite(cost[a, b]) else None


def build_chain(
    X: BoolMatrix,
    mult: FloatArray,
    *,
    roles: list[IntArray],
    assignment: list[IntArray],
    w: FloatArray,
    capped: npt.NDArray[np.bool_],
    min_lam: float = 0.0,
) -> Chain:
    """Greedy merge chain from an exact cover (see module docstring).

    The chain stops early once no later state can win for any ``lam >= min_lam``: later
    states have at least one role and no less over-assignment than the current one.
    """
    _check_size(X)
    st = _State(X, roles, assignment)
    costs = _Costs(st, w, capped, mult)
    n_roles, over, merges = [st.n_roles], [0.0], []
    best = float(st.n_roles)
    while st.n_roles > 1 and best > 1.0 + min_lam * over[-1]:
        pick = costs.cheapest(st)
        if pick is None:
            break
        merges.append(pick)
        costs.merge(st, *pick)
        n_roles.append(st.n_roles)
        over.append(costs.weighted_over())
        best = min(best, n_roles[-1] + min_lam * over[-1])
    return Chain(tuple(n_roles), tuple(over), tuple(merges))


def replay(
    X: BoolMatrix,
    roles: list[IntArray],
    assignment: list[IntArray],
    merges: tuple[tuple[int, int], ...],
) -> tuple[list[IntArray], list[IntArray]]:
    """Apply the first merges of a chain; return roles and per-row assignment."""
    st = _State(X, roles, assignment)
    for a, b in merges:
        st.merge(a, b)
    return st.export()


def _bool_dot(B: BoolMatrix, F: FloatArray) -> FloatArray:
    """``B @ F`` for a bool matrix, converting a bounded block of rows at a time."""
    out = np.empty((B.shape[0], F.shape[1]), dtype=np.float64)
    step = max(1, _BLOCK_CELLS // max(1, B.shape[1]))
    for start in range(0, B.shape[0], step):
        out[start : start + step] = B[start : start + step].astype(np.float64) @ F
    return out


def _check_size(X: BoolMatrix) -> None:
    if X.size > _DENSE_LIMIT:
        raise MiningError(
            f"risk-weighted mining holds distinct principals x permissions densely; "
            f"{X.shape[0]} x {X.shape[1]} exceeds {_DENSE_LIMIT} cells"
        )


def distinct_rows(X: sp.csr_matrix) -> tuple[sp.csr_matrix, IntArray, FloatArray]:
    """Distinct rows of X, the distinct row of each original row, and multiplicities."""
    keys: dict[bytes, int] = {}
    of_row = np.zeros(X.shape[0], dtype=np.int64)
    reps: list[int] = []
    for u in range(X.shape[0]):
        key = X.indices[X.indptr[u] : X.indptr[u + 1]].astype(np.int32).tobytes()
        if key not in keys:
            keys[key] = len(reps)
            reps.append(u)
        of_row[u] = keys[key]
    mult = np.bincount(of_row, minlength=len(reps)).astype(np.float64)
    return X[reps].tocsr(), of_row, mult
