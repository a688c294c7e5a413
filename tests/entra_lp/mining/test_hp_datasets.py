"""The HP Labs relations (../shared/datasets/rolemining): known optima are proven."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from entra_lp.mining import RoleMiner, read_upa

# file, users, permissions, assignments, minimum number of roles (MANIFEST.md)
KNOWN = {
    "healthcare": ("hc.txt", 46, 46, 1486, 14),
    "domino": ("domino.txt", 79, 231, 730, 20),
    "emea": ("emea.txt", 35, 3046, 7220, 34),
    "firewall1": ("fire1.txt", 365, 709, 31951, 64),
    "americas_small": ("americas_small.txt", 3477, 1587, 105205, 178),
}


def _load(shared: Path, name: str) -> sp.csr_matrix:
    file, users, perms, upa, _ = KNOWN[name]
    X = read_upa(shared / "datasets" / "rolemining" / file)
    assert X.shape == (users, perms) and X.nnz == upa
    return X


@pytest.mark.shared
def test_healthcare_minimum_is_14_and_proven(shared: Path) -> None:
    X = _load(shared, "healthcare")
    miner = RoleMiner(solver="exact").fit(X)
    assert miner.n_roles_ == 14 and miner.lower_bound_ == 14 and miner.is_optimal_
    granted = miner.assignment_matrix_.astype(int) @ _roles_matrix(miner, X.shape[1])
    assert ((granted > 0) != X.toarray()).sum() == 0
    assert miner.score(X) == 1.0


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(KNOWN))
def test_exact_proves_every_known_optimum(shared: Path, name: str) -> None:
    X = _load(shared, name)
    miner = RoleMiner(solver="exact").fit(X)
    assert (miner.n_roles_, miner.lower_bound_) == (KNOWN[name][4], KNOWN[name][4])
    assert miner.over_assignment_ == 0 and miner.under_assignment_ == 0


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(KNOWN))
def test_heuristic_within_five_percent(shared: Path, name: str) -> None:
    X = _load(shared, name)
    miner = RoleMiner(solver="heuristic").fit(X)
    assert miner.under_assignment_ == 0 and miner.over_assignment_ == 0
    assert KNOWN[name][4] <= miner.n_roles_ <= 1.05 * KNOWN[name][4]


def _roles_matrix(miner: RoleMiner, n_cols: int) -> np.ndarray:
    out = np.zeros((miner.n_roles_, n_cols), dtype=int)
    for i, perms in enumerate(miner.roles_):
        out[i, perms] = 1
    return out
