"""Maximal bicliques (formal concepts) of a small relation, and their edge incidence.

A maximal biclique is fixed by its permission set, which is an intersection of users'
permission sets; closing the users' sets under intersection enumerates them all. Bitsets are
Python ints: on the reduced relations this is fast, and the ``cap`` stops the enumeration
before it explodes on relations with little structure.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IntArray = npt.NDArray[np.int64]

# Rows x candidate-sets cells materialised at once when finding each set's holders.
_CHUNK_CELLS = 8_000_000


def row_bitsets(M: sp.csr_matrix) -> list[int]:
    """One Python-int bitset of column indices per row."""
    out: list[int] = []
    for i in range(M.shape[0]):
        b = 0
        for j in M.indices[M.indptr[i] : M.indptr[i + 1]].tolist():
            b |= 1 << j
        out.append(b)
    return out


def bits_to_indices(x: int, n_bits: int) -> IntArray:
    """Indices of the set bits of ``x`` (ascending)."""
    raw = np.frombuffer(x.to_bytes((n_bits + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little")[:n_bits]).astype(np.int64)


def enumerate_concepts(rows: list[int], cap: int, deadline: float) -> list[int] | None:
    """All non-empty intersections of the row bitsets, in discovery order; None past the cap
    or the deadline."""
    seen: set[int] = set()
    order: list[int] = []
    for r in rows:
        if r and r not in seen:
            seen.add(r)
            order.append(r)
    i = 0
    while i < len(order):
        c = order[i]
        i += 1
        for r in rows:
            x = c & r
            if x and x not in seen:
                seen.add(x)
                order.append(x)
        if len(order) > cap or (i % 64 == 0 and time.perf_counter() > deadline):
            return None
    return order


def row_concepts(M: sp.csr_matrix, rows: list[int]) -> list[int]:
    """A cheap candidate pool: each row's set and each column's closure (common permissions
    of its users), deduplicated in a deterministic order."""
    seen: set[int] = set()
    out: list[int] = []
    csc = M.tocsc()
    closures = []
    for j in range(M.shape[1]):
        users = csc.indices[csc.indptr[j] : csc.indptr[j + 1]].tolist()
        acc = -1
        for u in users:
            acc &= rows[u]
        closures.append(acc if users else 0)
    for c in [*rows, *closures]:
        if c > 0 and c not in seen:
            seen.add(c)
            out.append(c)
    return out


def incidence(
    M: sp.csr_matrix, concepts: list[int]
) -> tuple[sp.csc_matrix, list[IntArray], list[IntArray]]:
    """Edge x concept incidence (edges in CSR order of ``M``), each concept's columns (its
    bits) and each concept's rows."""
    n_cols = M.shape[1]
    # Edge ids by binary search on row-major keys: no dense rows x columns array.
    coo = M.tocoo()
    keys = coo.row.astype(np.int64) * n_cols + coo.col
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    perm_sets = [bits_to_indices(c, n_cols) for c in concepts]
    user_sets = _holders(M, perm_sets)
    indices = [
        np.sort(order[np.searchsorted(sorted_keys, (users[:, None] * n_cols + perms).ravel())])
        for users, perms in zip(user_sets, perm_sets, strict=True)
    ]
    indptr = np.zeros(len(concepts) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(ix) for ix in indices])
    flat = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    A = sp.csc_matrix(
        (np.ones(flat.size, dtype=np.bool_), flat, indptr), shape=(M.nnz, len(concepts))
    )
    return A, perm_sets, user_sets


def _holders(M: sp.csr_matrix, sets: list[IntArray]) -> list[IntArray]:
    """Rows of ``M`` containing each column set (one sparse product per chunk of sets)."""
    Mi = M.astype(np.int32).tocsr()
    out: list[IntArray] = []
    chunk = max(1, _CHUNK_CELLS // max(1, M.shape[0]))
    for start in range(0, len(sets), chunk):
        part = sets[start : start + chunk]
        C = _set_matrix(part, M.shape[1])
        counts = (Mi @ C.T).toarray()
        sizes = np.array([s.size for s in part])
        full = counts == sizes[None, :]
        out.extend(np.flatnonzero(full[:, k]).astype(np.int64) for k in range(len(part)))
    return out


def _set_matrix(sets: list[IntArray], n_cols: int) -> sp.csr_matrix:
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([s.size for s in sets])
    flat = np.concatenate(sets) if sets else np.zeros(0, np.int64)
    return sp.csr_matrix((np.ones(flat.size, np.int32), flat, indptr), shape=(len(sets), n_cols))
