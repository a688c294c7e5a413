"""Input validation: turn what a user passes to ``RoleMiner.fit`` into a CSR bool matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from entra_lp.errors import MiningError

BoolCSR = sp.csr_matrix
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MiningInput:
    """A validated relation: the matrix plus what a ``UsageMatrix`` carried with it."""

    matrix: sp.csr_matrix
    risk_weights: FloatArray | None
    actions: tuple[str, ...] | None
    principals: tuple[str, ...] | None


def as_relation(X: Any, what: str = "X") -> MiningInput:
    """Validate ``X`` (bool array, sparse matrix or duck-typed ``UsageMatrix``)."""
    if hasattr(X, "to_bool") and callable(X.to_bool):
        matrix = _as_bool_csr(X.to_bool(), f"{what}.to_bool()")
        weights = getattr(X, "risk_weights", None)
        actions = getattr(X, "actions", None)
        return MiningInput(
            matrix=matrix,
            risk_weights=None if weights is None else as_weights(weights, matrix.shape[1], what),
            actions=None if actions is None else tuple(str(a) for a in actions),
            principals=_principal_ids(X),
        )
    return MiningInput(_as_bool_csr(X, what), None, None, None)


def _principal_ids(X: Any) -> tuple[str, ...] | None:
    frame = getattr(X, "principals", None)
    if frame is None:
        return None
    try:
        return tuple(str(v) for v in frame["principal_id"])
    except (KeyError, TypeError, IndexError):
        return None


def _as_bool_csr(X: Any, what: str) -> sp.csr_matrix:
    if sp.issparse(X):
        mat = sp.csr_matrix(cast(Any, X))
    else:
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise MiningError(f"{what}: cannot be read as a matrix ({exc})") from exc
        if arr.dtype == object:
            raise MiningError(f"{what}: expected a numeric or boolean matrix, got dtype object")
        if arr.ndim != 2:
            raise MiningError(f"{what}: expected a 2-D principals x permissions matrix, "
                              f"got {arr.ndim}-D with shape {arr.shape}")
        mat = sp.csr_matrix(arr)
    if mat.ndim != 2 or mat.shape[0] == 0 or mat.shape[1] == 0:
        raise MiningError(f"{what}: expected a non-empty 2-D matrix, got shape {mat.shape}")
    if mat.dtype != np.bool_:
        _check_zero_one(mat, what)
    mat.eliminate_zeros()
    out = sp.csr_matrix(
        (np.ones(mat.nnz, dtype=np.bool_), mat.indices.astype(np.int32), mat.indptr),
        shape=mat.shape,
    )
    out.sum_duplicates()
    out.sort_indices()
    return out


def _check_zero_one(mat: sp.csr_matrix, what: str) -> None:
    data = mat.data
    if data.dtype.kind not in "biuf":
        raise MiningError(f"{what}: expected boolean values, got dtype {data.dtype}")
    bad = ~((data == 0) | (data == 1))
    if bad.any():
        coo = mat.tocoo()
        i = int(np.flatnonzero(bad)[0])
        raise MiningError(
            f"{what}: non-boolean value {data[i].item()!r} at (row {int(coo.row[i])}, "
            f"column {int(coo.col[i])}); the relation must hold only 0/1 or True/False"
        )


def as_weights(weights: Any, n_cols: int, what: str = "risk_weights") -> FloatArray:
    """Validate per-permission risk weights: finite, non-negative, one per column."""
    try:
        arr = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MiningError(f"{what}: risk weights must be numbers ({exc})") from exc
    if arr.shape != (n_cols,):
        raise MiningError(
            f"{what}: risk weights need one value per permission ({n_cols}), got shape {arr.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if bad.size:
        i = int(bad[0])
        raise MiningError(f"{what}: risk weight of permission {i} is {arr[i]!r}; "
                          "weights must be finite and >= 0")
    return arr
