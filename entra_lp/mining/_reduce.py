"""Exact reductions for the basic role-mining problem (minimum biclique cover).

Each step keeps the optimum unchanged, and roles found on the reduced relation expand back:

* duplicate rows / columns merge (identical users need the same roles; identical
  permissions can always travel together);
* a row equal to the union of the rows strictly inside it is dropped: whatever cover the
  other rows get, that user can take every role contained in its permission set;
* symmetrically for a column equal to the union of the columns strictly inside it (its
  permission is added back to every role whose users all hold it);
* the bipartite graph splits into connected components, solved independently.

Rows never change a role's permission set, so only column steps are recorded for the undo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Entries of one block of the row-intersection product; bounds memory on wide relations.
_BLOCK_ENTRIES = 4_000_000


@dataclass(frozen=True)
class _ColumnStep:
    """One recorded column step: duplicates merged, or union columns removed."""

    kind: str  # "dup" | "union"
    members: dict[int, IntArray] = field(default_factory=dict)  # dup: representative -> all
    removed: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # union
    rows: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # rows active then


@dataclass(frozen=True)
class Reduction:
    """A reduced relation ``core`` (rows x cols of the original) and how to expand roles."""

    core: sp.csr_matrix
    rows: IntArray
    cols: IntArray
    steps: tuple[_ColumnStep, ...]

    def expand_roles(self, X: sp.csr_matrix, roles: list[IntArray]) -> list[IntArray]:
        """Map roles (column indices of ``core``) to sorted original column indices."""
        current = [set(self.cols[r].tolist()) for r in roles]
        X_csc = X.tocsc()
        for step in reversed(self.steps):
            if step.kind == "dup":
                for perms in current:
                    for rep in [c for c in perms if c in step.members]:
                        perms.update(step.members[rep].tolist())
            else:
                _undo_union_columns(X_csc, step, current)
        return [np.array(sorted(p), dtype=np.int64) for p in current]


def _undo_union_columns(X_csc: sp.csc_matrix, step: _ColumnStep, roles: list[set[int]]) -> None:
    """Add a removed column to every role whose holders (among the rows then active) all
    hold it. One sparse product finds the holders, another counts them per column."""
    if not roles:
        return
    sub = X_csc[step.rows].tocsr().astype(np.int32)
    sizes = np.array([len(p) for p in roles], dtype=np.int64)
    total = int(sizes.sum())
    flat = np.fromiter((c for p in roles for c in sorted(p)), dtype=np.int64, count=total)
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    P = sp.csr_matrix(
        (np.ones(flat.size, np.int32), flat, indptr), shape=(len(roles), sub.shape[1])
    )
    inside = (sub @ P.T).tocsc()  # rows x roles: how many of the role's permissions
    holders = _full_rows(inside, sizes)
    n_holders = np.asarray(holders.sum(axis=0)).ravel()
    counts = (holders.T @ sub[:, step.removed]).toarray()  # roles x removed columns
    ok = (counts == n_holders[:, None]) & (n_holders[:, None] > 0)
    for r, perms in enumerate(roles):
        perms.update(step.removed[ok[r]].tolist())


def _full_rows(inside: sp.csc_matrix, sizes: npt.NDArray[np.int64]) -> sp.csr_matrix:
    """0/1 rows x roles: the row holds every permission of the role."""
    coo = inside.tocoo()
    keep = coo.data == sizes[coo.col]
    return sp.csr_matrix(
        (np.ones(int(keep.sum()), np.int32), (coo.row[keep], coo.col[keep])), shape=inside.shape
    )


def reduce_relation(X: sp.csr_matrix) -> Reduction:
    """Apply the exact reductions to a fixpoint."""
    rows = np.flatnonzero(np.diff(X.indptr) > 0).astype(np.int64)
    cols = np.flatnonzero(np.bincount(X.indices, minlength=X.shape[1]) > 0).astype(np.int64)
    steps: list[_ColumnStep] = []
    while True:
        sub = X[rows][:, cols].tocsr()
        keep_r = _first_of_duplicates(sub)
        rows, sub = rows[keep_r], sub[keep_r]
        col_keep, members = _column_duplicates(sub, cols)
        if members:
            steps.append(_ColumnStep("dup", members=members))
        cols, sub = cols[col_keep], sub[:, col_keep].tocsr()
        row_union = _union_rows(sub)
        col_union = _union_rows(sub.T.tocsr())
        if not row_union.any() and not col_union.any():
            return Reduction(sub, rows, cols, tuple(steps))
        if col_union.any():
            steps.append(_ColumnStep("union", removed=cols[col_union], rows=rows.copy()))
        rows, cols = rows[~row_union], cols[~col_union]


def _row_keys(M: sp.csr_matrix) -> list[bytes]:
    ind = M.indices.astype(np.int32)
    return [ind[M.indptr[i] : M.indptr[i + 1]].tobytes() for i in range(M.shape[0])]


def _first_of_duplicates(M: sp.csr_matrix) -> BoolArray:
    seen: set[bytes] = set()
    keep = np.zeros(M.shape[0], dtype=np.bool_)
    for i, key in enumerate(_row_keys(M)):
        if key not in seen:
            seen.add(key)
            keep[i] = True
    return keep


def _column_duplicates(M: sp.csr_matrix, cols: IntArray) -> tuple[BoolArray, dict[int, IntArray]]:
    """Keep the first of each group of identical columns; map it to the whole group."""
    groups: dict[bytes, list[int]] = {}
    for j, key in enumerate(_row_keys(M.T.tocsr())):
        groups.setdefault(key, []).append(j)
    keep = np.zeros(M.shape[1], dtype=np.bool_)
    members: dict[int, IntArray] = {}
    for js in groups.values():
        keep[js[0]] = True
        if len(js) > 1:
            members[int(cols[js[0]])] = cols[js]
    return keep, members


def _union_rows(M: sp.csr_matrix) -> BoolArray:
    """Rows equal to the union of the rows strictly contained in them (rows are distinct)."""
    n_rows = M.shape[0]
    Mi = M.astype(np.int32).tocsr()
    Mt = Mi.T.tocsr()
    sizes = np.diff(Mi.indptr)
    out = np.zeros(n_rows, dtype=np.bool_)
    block = max(1, _BLOCK_ENTRIES // max(1, n_rows))
    for start in range(0, n_rows, block):
        stop = min(n_rows, start + block)
        inter = (Mi[start:stop] @ Mt).tocoo()
        inside = (inter.data == sizes[inter.col]) & (sizes[inter.col] < sizes[inter.row + start])
        sub = sp.csr_matrix(
            (np.ones(int(inside.sum()), np.int32), (inter.row[inside], inter.col[inside])),
            shape=(stop - start, n_rows),
        )
        union = (sub @ Mi).tocsr()
        union.eliminate_zeros()
        out[start:stop] = np.diff(union.indptr) == sizes[start:stop]
    return out


def components(M: sp.csr_matrix) -> list[tuple[IntArray, IntArray]]:
    """Connected components of the bipartite graph, as (row indices, column indices)."""
    n_rows = M.shape[0]
    coo = M.tocoo()
    size = n_rows + M.shape[1]
    graph = sp.csr_matrix(
        (np.ones(coo.nnz, dtype=np.int8), (coo.row, coo.col + n_rows)), shape=(size, size)
    )
    _, labels = connected_components(graph, directed=False)
    out: list[tuple[IntArray, IntArray]] = []
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for group in np.split(order, bounds):
        r = group[group < n_rows].astype(np.int64)
        c = (group[group >= n_rows] - n_rows).astype(np.int64)
        if r.size and c.size:
            out.append((r, c))
    out.sort(key=lambda rc: int(rc[0][0]))
    return out
