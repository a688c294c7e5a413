"""The per-principal table follows its documented rules on any usage rows.

A plain-Python reference computes what ``principals_frame`` promises: per principal the
record, success and failure counts, the earliest first and latest last time, and the name
(with its type) of the latest row that has one, ties going to the larger example id; a
principal without any name keeps the type of its first row. Rows are drawn with few distinct
times so that ties are common; the table is also tried in a shuffled row order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from entra_lp.ingest import principals
from entra_lp.ingest._records import USAGE_COLUMNS
from entra_lp.ingest._table import UsageTable
from entra_lp.ingest.principals import principal_kind, principals_frame

BASE = pd.Timestamp("2025-05-01T00:00:00Z")


@st.composite
def usage_rows(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for i in range(draw(st.integers(1, 30))):
        first = draw(st.integers(0, 3))
        rows.append({
            "principal_id": draw(st.sampled_from(["p1", "p2", "p3"])),
            "principal_name": draw(st.sampled_from(["", "", "ann@x", "bob@x", "Sync_H_1@x"])),
            "principal_type": draw(st.sampled_from(["user", "app"])),
            "service": "Core Directory", "category": "UserManagement",
            "activity": "Update user", "operation_type": "Update",
            "result": draw(st.sampled_from(["success", "failure"])),
            "target_type": "User", "target_id": f"t{i}",  # keys stay unique
            "related_group_id": "", "modified_properties": "", "property_values": "",
            "count": draw(st.integers(1, 5)),
            "first_seen": BASE + pd.Timedelta(minutes=first),
            "last_seen": BASE + pd.Timedelta(minutes=first + draw(st.integers(0, 2))),
            # a record is the example of one row only: example ids differ between rows
            "example_id": f"Directory_{draw(st.integers(0, 5))}_{i}",
        })
    frame = pd.DataFrame(rows, columns=list(USAGE_COLUMNS))
    for column in ("first_seen", "last_seen"):
        frame[column] = frame[column].astype("datetime64[us, UTC]")
    return frame


def reference(table: UsageTable) -> list[dict[str, Any]]:
    rows = table.to_frame().to_dict("records")
    out = []
    for pid in sorted({r["principal_id"] for r in rows}):
        mine = [r for r in rows if r["principal_id"] == pid]
        named = [r for r in mine if r["principal_name"] != ""]
        best = max(named, key=lambda r: (r["last_seen"], r["example_id"])) if named else None
        ptype = (best or mine[0])["principal_type"]
        name = best["principal_name"] if best else ""
        records = sum(r["count"] for r in mine)
        successes = sum(r["count"] for r in mine if r["result"] == "success")
        out.append({
            "principal_id": pid, "principal_name": name, "principal_type": ptype,
            "kind": principal_kind(ptype, name), "records": records, "successes": successes,
            "failures": records - successes,
            "first_seen": min(r["first_seen"] for r in mine),
            "last_seen": max(r["last_seen"] for r in mine),
        })
    return out


@settings(max_examples=150, deadline=None)
@given(usage_rows(), st.randoms(use_true_random=False))
def test_principals_follow_the_rules_in_any_row_order(frame: pd.DataFrame, rnd: Any) -> None:
    table = UsageTable.from_frame(frame)
    assert principals_frame(table).to_dict("records") == reference(table)
    shuffled = table.take(np.asarray(rnd.sample(range(len(table)), len(table))))
    assert principals_frame(shuffled).to_dict("records") == reference(shuffled)


def test_a_tie_on_the_latest_time_goes_to_the_larger_example_id() -> None:
    rows = []
    for i, (name, example) in enumerate([("ann@x", "Directory_2"), ("bob@x", "Directory_9"),
                                         ("", "Directory_z")]):
        rows.append(dict.fromkeys(USAGE_COLUMNS, "") | {
            "principal_id": "p1", "principal_name": name, "principal_type": "user",
            "result": "success", "target_id": f"t{i}", "count": 1,
            "first_seen": BASE, "last_seen": BASE, "example_id": example})
    frame = pd.DataFrame(rows, columns=list(USAGE_COLUMNS))
    for column in ("first_seen", "last_seen"):
        frame[column] = frame[column].astype("datetime64[us, UTC]")
    line = principals_frame(UsageTable.from_frame(frame)).iloc[0]
    assert line["principal_name"] == "bob@x" and line["records"] == 3


@settings(max_examples=100, deadline=None)
@given(usage_rows(), st.integers(1, 6))
def test_principals_follow_the_rules_a_block_at_a_time(frame: pd.DataFrame, block: int) -> None:
    # blocks of a few rows: runs are cut into many blocks, and a long run gets its own
    table = UsageTable.from_frame(frame)
    default, principals.BLOCK_ROWS = principals.BLOCK_ROWS, block
    try:
        starts, n = _starts(table)
        blocks = principals._blocks(starts, n)
        assert [k for k, _ in blocks] == [0] + [j for _, j in blocks[:-1]]
        assert blocks[-1][1] == len(starts)
        bounds = np.r_[starts, n]
        for k, j in blocks:  # a block of several runs holds at most BLOCK_ROWS rows
            assert j - k == 1 or bounds[j] - bounds[k] <= block
        assert principals_frame(table).to_dict("records") == reference(table)
    finally:
        principals.BLOCK_ROWS = default


def _starts(table: UsageTable) -> tuple[np.ndarray, int]:
    codes = table.codes["principal_id"]
    return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]), len(codes)
