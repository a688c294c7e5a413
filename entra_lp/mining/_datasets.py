"""Readers for role-mining benchmark relations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from entra_lp.errors import MiningError


def read_upa(path: str | Path) -> sp.csr_matrix:
    """Read a user-permission relation: one ``<user> <permission>`` pair of 1-based integers
    per line (the HP Labs format). Returns a users x permissions bool CSR matrix."""
    path = Path(path)
    users: list[int] = []
    perms: list[int] = []
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MiningError(f"{path}: cannot read ({exc})") from exc
    for n, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or "0" in (parts[0], parts[1]):
            raise MiningError(f"{path}:{n}: expected two positive integers, got {line.strip()!r}")
        users.append(int(parts[0]) - 1)
        perms.append(int(parts[1]) - 1)
    if not users:
        raise MiningError(f"{path}: no assignments")
    u, p = np.array(users), np.array(perms)
    mat = sp.csr_matrix((np.ones(u.size, dtype=np.bool_), (u, p)), shape=(u.max() + 1, p.max() + 1))
    mat.sum_duplicates()
    mat.sort_indices()
    return mat
