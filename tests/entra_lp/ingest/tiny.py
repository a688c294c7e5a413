"""Engine sizes shrunk to a handful, so every memory-saving step of the DuckDB engine runs
many times on a small log (shared by the tests that compare its results)."""

from __future__ import annotations

import pytest

import entra_lp.ingest._duck as duck
import entra_lp.ingest._group as group
import entra_lp.ingest._scan as scan
import entra_lp.ingest._spill as spill

TINY = {"BATCH_ROWS": 7, "READ_ROWS": 5, "MERGE_AT": 4, "MERGE_ROWS": 9, "CHUNK_ROWS": 40,
        "HASH_PART_ROWS": 8}
BUDGETS = [0, 6000]
"""Memory budgets of the tests: every column on disk; a few kilobytes in memory."""


def shrink(monkeypatch: pytest.MonkeyPatch, budget: int = 0) -> None:
    monkeypatch.setattr(duck, "BATCH_ROWS", TINY["BATCH_ROWS"])
    monkeypatch.setattr(scan, "READ_ROWS", TINY["READ_ROWS"])
    monkeypatch.setattr(scan, "_MERGE_AT", TINY["MERGE_AT"])
    monkeypatch.setattr(scan, "_MERGE_ROWS", TINY["MERGE_ROWS"])
    monkeypatch.setattr(group, "CHUNK_ROWS", TINY["CHUNK_ROWS"])
    monkeypatch.setattr(duck, "HASH_PART_ROWS", TINY["HASH_PART_ROWS"])
    monkeypatch.setattr(spill, "MEMORY_BUDGET", budget)
