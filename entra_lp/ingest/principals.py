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
    systems = frozenset(s.casefold() for s in system_initiators)
    codes = table.codes["principal_id"]
    ids = table.values["principal_id"]
    n = len(ids)
    count = table.count
    ok = table.codes["result"] == table.code_of("result", "success")
    first, last = table.first_us, table.last_us
    name_codes = table.codes["principal_name"]
    records = np.bincount(codes, weights=count, minlength=n).astype(np.int64)
    successes = np.bincount(codes, weights=np.where(ok, count, 0), minlength=n).astype(np.int64)
    lo = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(lo, codes, first)
    np.maximum.at(hi, codes, last)
    chosen_name = np.full(n, "", dtype=object)
    type_codes = table.codes["principal_type"]
    chosen_type = np.empty(n, dtype=np.int32)
    firsts = np.unique(codes, return_index=True)[1]
    chosen_type[codes[firsts]] = type_codes[firsts]
    named = np.flatnonzero(name_codes != table.code_of("principal_name", ""))
    if len(named):
        latest = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(latest, codes[named], last[named])
        best = named[last[named] == latest[codes[named]]]
        examples = table.example_id.strings(best)
        pick = pd.DataFrame({"c": codes[best], "e": examples, "i": best}).sort_values(
            ["c", "e"]).drop_duplicates("c", keep="last")
        at = pick["i"].to_numpy()
        chosen_name[codes[at]] = table.values["principal_name"][name_codes[at]]
        chosen_type[codes[at]] = type_codes[at]
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
