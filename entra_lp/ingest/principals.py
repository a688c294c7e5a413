"""Who initiated the audited operations: principal kinds and a per-principal table.

Kinds: ``user``, ``service_principal``, ``managed_identity``, ``sync_account`` (the
on-premises directory synchronization account, ``Sync_<host>_<hex>@...``) and ``system``
(Microsoft first-party initiators such as ``MS-PIM`` writing the Core Directory twin of a PIM
change: counted and reported, excluded from the usage matrix). The kind is derived from
what a usage row carries (type and name), so the KQL query's exported rows classify the same.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ._table import UsageTable

PRINCIPAL_KINDS: tuple[str, ...] = (
    "user",
    "service_principal",
    "managed_identity",
    "sync_account",
    "system",
    "unknown",
)
"""Every principal kind, in report order."""

SYSTEM_INITIATORS: frozenset[str] = frozenset({"ms-pim"})
"""Case-folded app display names treated as Microsoft's own service (extend per call)."""
MANAGED_IDENTITY_NAMES: frozenset[str] = frozenset({"managed service identity"})
_SYNC_DISPLAY_NAME = "on-premises directory synchronization service account"


def principal_kind(
    principal_type: str, principal_name: str, system_initiators: Iterable[str] = SYSTEM_INITIATORS
) -> str:
    """Kind of one initiator from its row type (``user``/``app``) and name."""
    name = principal_name.strip().casefold()
    if principal_type == "user":
        if name.startswith("sync_") or name == _SYNC_DISPLAY_NAME:
            return "sync_account"
        return "user"
    if principal_type == "app":
        systems = (
            system_initiators
            if isinstance(system_initiators, frozenset)
            else frozenset(s.casefold() for s in system_initiators)
        )
        if name in systems:
            return "system"
        if name in MANAGED_IDENTITY_NAMES:
            return "managed_identity"
        return "service_principal"
    return "unknown"


BLOCK_ROWS = 1 << 20
"""Usage rows whose per-principal temporaries are computed at once."""

_COLUMNS = (
    "principal_id",
    "principal_name",
    "principal_type",
    "kind",
    "records",
    "successes",
    "failures",
    "first_seen",
    "last_seen",
)


def principals_frame(
    rows: pd.DataFrame | UsageTable, system_initiators: Iterable[str] = SYSTEM_INITIATORS
) -> pd.DataFrame:
    """One line per principal of the usage rows: id, name, type, kind, records, successes,
    failures, first_seen, last_seen; sorted by principal_id. The name is that of the latest
    row that has one (ties: the larger example id), so a renamed user shows its newest UPN;
    a principal without any name keeps the type of its first row. Vectorised on the codes
    of a :class:`UsageTable` (a DataFrame is encoded first): no Python work per row."""
    from ._aggregate import utc_us

    table = rows if isinstance(rows, UsageTable) else UsageTable.from_frame(rows)
    codes = table.codes["principal_id"]
    if len(codes) > 1 and (codes[1:] < codes[:-1]).any():  # a table taken out of order
        table = table.take(np.argsort(codes, kind="stable"))
        codes = table.codes["principal_id"]
    systems = frozenset(s.casefold() for s in system_initiators)
    ids = table.values["principal_id"]
    n = len(ids)
    # rows are sorted by principal: per-principal sums and extremes over runs of rows
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else codes
    present = codes[starts]
    ok = table.codes["result"] == table.code_of("result", "success")
    records, successes = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    lo = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    chosen_type = np.zeros(n, dtype=np.int32)
    chosen_name = np.full(n, "", dtype=object)
    chosen_type[present] = table.codes["principal_type"][starts]  # first row's type
    for k, j in _blocks(starts, len(codes)):  # temporaries stay the size of a block
        a, b = int(starts[k]), int(starts[j]) if j < len(starts) else len(codes)
        local, mine = starts[k:j] - a, present[k:j]
        count = table.count[a:b]
        records[mine] = np.add.reduceat(count, local)
        successes[mine] = np.add.reduceat(np.where(ok[a:b], count, 0), local)
        lo[mine] = np.minimum.reduceat(table.first_us[a:b], local)
        hi[mine] = np.maximum.reduceat(table.last_us[a:b], local)
        at = a + _latest_named(table, a, b, local)
        chosen_name[codes[at]] = table.values["principal_name"][table.codes["principal_name"][at]]
        chosen_type[codes[at]] = table.codes["principal_type"][at]
        table.release_pages()  # a large log's rows are mapped: keep one block resident
    types = table.values["principal_type"][chosen_type] if n else np.array([], dtype=object)
    return pd.DataFrame(
        {
            "principal_id": pd.array(np.asarray(ids, dtype=object), dtype="str"),
            "principal_name": pd.array(chosen_name, dtype="str"),
            "principal_type": pd.array(types, dtype="str"),
            "kind": pd.array(
                [principal_kind(t, nm, systems) for t, nm in zip(types, chosen_name,
                                                                  strict=True)],
                dtype="str",
            ),
            "records": records,
            "successes": successes,
            "failures": records - successes,
            "first_seen": utc_us(lo),
            "last_seen": utc_us(hi),
        },
        columns=list(_COLUMNS),
    )


def _blocks(starts: np.ndarray, n_rows: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``[k, j)`` of the runs beginning at ``starts``, each of about
    :data:`BLOCK_ROWS` rows (a longer run has a block of its own)."""
    bounds = np.r_[starts, n_rows]
    out: list[tuple[int, int]] = []
    k = 0
    while k < len(starts):
        j = int(np.searchsorted(bounds, bounds[k] + BLOCK_ROWS, side="right")) - 1
        j = min(max(j, k + 1), len(starts))
        out.append((k, j))
        k = j
    return out


def _latest_named(table: UsageTable, a: int, b: int, starts: np.ndarray) -> np.ndarray:
    """Per principal (run of rows ``a:b`` from ``starts``, relative to ``a``) that has a
    named row, the named row with the latest last time, ties going to the larger example id
    (the only ids read: a tied principal's). Row numbers relative to ``a``."""
    last = table.last_us[a:b]
    named = table.codes["principal_name"][a:b] != table.code_of("principal_name", "")
    latest = np.where(named, last, np.iinfo(np.int64).min)
    top = np.maximum.reduceat(latest, starts)
    lengths = np.diff(np.r_[starts, len(last)])
    rows = np.flatnonzero(named & (latest == np.repeat(top, lengths)))
    del latest
    run = np.searchsorted(starts, rows, side="right") - 1
    tied = np.bincount(run, minlength=len(starts))[run] > 1
    if not tied.any():
        return rows
    pick = pd.DataFrame({"r": run[tied], "e": table.example_id.strings(a + rows[tied]),
                         "i": rows[tied]}).sort_values(["r", "e"]).drop_duplicates(
        "r", keep="last")
    return np.sort(np.concatenate([rows[~tied], pick["i"].to_numpy(dtype=np.int64)]))
