"""Test oracle: stage-2 semantics of docs/dev/contracts.md applied to usage rows."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from permission_catalog import Catalog


def map_rows(rows: Any, catalog: Catalog) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Stage-2 semantics of docs/dev/contracts.md applied to usage rows: successful and
    failed actions per principal (the oracle until ``entra_lp.usage`` lands)."""
    names = {n.casefold() for r in catalog.audit_rules for n in r.when.initiated_by_any}
    ok: dict[str, set[str]] = defaultdict(set)
    failed: dict[str, set[str]] = defaultdict(set)
    for r in rows.itertuples():
        initiator = r.principal_name if r.principal_name.casefold() in names else None
        self_init = True if r.principal_id == r.target_id else None
        mapping = catalog.map_activity(r.service, r.category, r.activity, r.modified_properties,
                                       r.target_type, initiated_by=initiator,
                                       self_initiated=self_init)
        assert mapping.kind != "unmapped", (r.service, r.activity, r.modified_properties)
        (ok if r.result == "success" else failed)[r.principal_id].update(mapping.actions)
    return ok, failed

