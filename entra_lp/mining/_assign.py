"""Roles <-> principals: minimal exact assignment, verification and quality measures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from entra_lp.errors import MiningError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def role_matrix(roles: Sequence[IntArray], n_cols: int) -> sp.csr_matrix:
    """Roles x permissions 0/1 matrix."""
    indptr = np.zeros(len(roles) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([r.size for r in roles])
    flat = np.concatenate(list(roles)) if roles else np.zeros(0, np.int64)
    return sp.csr_matrix(
        (np.ones(flat.size, dtype=np.bool_), flat, indptr), shape=(len(roles), n_cols)
    )


def assignment_matrix(assignment: Sequence[IntArray], n_roles: int) -> sp.csr_matrix:
    """Principals x roles 0/1 matrix from per-principal role index arrays."""
    return role_matrix(assignment, n_roles)


def exact_assignment(X: sp.csr_matrix, roles: list[IntArray]) -> list[IntArray]:
    """For each principal, a small set of roles whose union is exactly its permissions.

    Only roles inside the principal's permissions are eligible; a greedy pass picks the one
    adding the most permissions until all are covered. Identical rows share the work.
    """
    PA = role_matrix(roles, X.shape[1]).astype(np.int32)
    sizes = np.diff(PA.indptr)
    inside = (X.astype(np.int32) @ PA.T).tocsr()
    cache: dict[bytes, IntArray] = {}
    out: list[IntArray] = []
    for u in range(X.shape[0]):
        perms = X.indices[X.indptr[u] : X.indptr[u + 1]]
        key = perms.astype(np.int32).tobytes()
        if key not in cache:
            lo, hi = inside.indptr[u], inside.indptr[u + 1]
            cand = inside.indices[lo:hi][inside.data[lo:hi] == sizes[inside.indices[lo:hi]]]
            cache[key] = _greedy_pick(perms.astype(np.int64), cand.astype(np.int64), roles)
        out.append(cache[key])
    return out


def _greedy_pick(perms: IntArray, cand: IntArray, roles: list[IntArray]) -> IntArray:
    need = set(perms.tolist())
    pool = {int(r): set(roles[int(r)].tolist()) for r in cand}
    picked: list[int] = []
    while need and pool:
        r = max(sorted(pool), key=lambda k: len(pool[k] & need))
        if not pool[r] & need:
            break
        need -= pool.pop(r)
        picked.append(r)
    return np.array(sorted(picked), dtype=np.int64)


def granted(
    assignment: Sequence[IntArray], roles: Sequence[IntArray], n_cols: int
) -> sp.csr_matrix:
    """Principals x permissions: what the assigned roles grant."""
    UA = assignment_matrix(assignment, len(roles)).astype(np.int32)
    G = (UA @ role_matrix(roles, n_cols).astype(np.int32)).tocsr()
    G.data = np.ones(G.data.size, dtype=np.int32)
    G.eliminate_zeros()
    return sp.csr_matrix(G, dtype=np.bool_)


def over_under(X: sp.csr_matrix, G: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(granted but unused, used but not granted) as 0/1 matrices."""
    over = (G.astype(np.int8) - X.astype(np.int8)).tocsr()
    over.data = np.where(over.data > 0, 1, 0).astype(np.int8)
    over.eliminate_zeros()
    under = (X.astype(np.int8) - G.astype(np.int8)).tocsr()
    under.data = np.where(under.data > 0, 1, 0).astype(np.int8)
    under.eliminate_zeros()
    return over, under


def verify_exact(X: sp.csr_matrix, G: sp.csr_matrix) -> None:
    """Raise unless the granted matrix equals X (no role may miss or add a permission)."""
    over, under = over_under(X, G)
    if over.nnz or under.nnz:
        raise MiningError(
            f"internal error: the mined roles do not reproduce the relation exactly "
            f"({over.nnz} pairs over-assigned, {under.nnz} missing); please report this"
        )


def wsc(
    roles: Sequence[IntArray],
    assignment: Sequence[IntArray],
    weights: tuple[float, float, float, float, float],
    n_hierarchy: int = 0,
    n_direct: int = 0,
) -> float:
    """Weighted structural complexity (Molloy et al.): w_r|R| + w_u|UA| + w_p|PA| +
    w_h|RH| + w_d|DUPA|."""
    w_r, w_u, w_p, w_h, w_d = weights
    n_ua = sum(int(a.size) for a in assignment)
    n_pa = sum(int(r.size) for r in roles)
    return float(w_r * len(roles) + w_u * n_ua + w_p * n_pa + w_h * n_hierarchy + w_d * n_direct)
