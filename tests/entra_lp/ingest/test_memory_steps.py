"""The DuckDB engine's memory-saving steps change nothing in what it returns.

The scan hands Python small batches, merges each column's dictionary only now and then,
writes the record ids to a mapped file, appends its numeric columns in blocks, counts the
buckets a slice of records at a time and groups a slice of principals at a time. With every
one of those sizes shrunk to a handful (so each step runs many times, and slices cut
through the Python path's rows, copies and both windows of a split), the logs must be equal
to the ones the default sizes give, and to the Python engine's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import entra_lp.ingest._duck as duck
import entra_lp.ingest._group as group
import entra_lp.ingest._scan as scan
from entra_lp.errors import IngestError
from entra_lp.ingest import read_audit_logs
from entra_lp.simulate import simulate_tenant
from entra_lp.simulate.tenant import FILE_NAMES

from .test_split import T, _folder, snapshot

TINY = {"BATCH_ROWS": 7, "SLICE_ROWS": 5, "MERGE_AT": 4, "CHUNK_ROWS": 40, "BLOCK": 16}


def shrink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duck, "BATCH_ROWS", TINY["BATCH_ROWS"])
    monkeypatch.setattr(duck, "SLICE_ROWS", TINY["SLICE_ROWS"])
    monkeypatch.setattr(scan, "_MERGE_AT", TINY["MERGE_AT"])
    monkeypatch.setattr(group, "CHUNK_ROWS", TINY["CHUNK_ROWS"])
    monkeypatch.setattr(scan.Growing, "BLOCK", TINY["BLOCK"])


@pytest.fixture(scope="module")
def tenant_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated tenant's Graph lines: a few thousand records, 25 principals."""
    folder = tmp_path_factory.mktemp("tenant")
    simulate_tenant(admins=25, days=6, seed=3, volume=0.4).write(folder, formats=("graph",))
    return folder / FILE_NAMES["graph"]


def test_tiny_sizes_give_the_same_log_as_the_defaults(
    tenant_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = read_audit_logs(tenant_file, engine="duckdb")
    assert default.report.engine == "duckdb" and not default.report.notes
    calls = {"slices": 0, "merges": 0}
    slice_group, merge = group._group_slice, scan.Dictionary._merge

    def counted_slice(*args: Any) -> Any:
        calls["slices"] += 1
        return slice_group(*args)

    def counted_merge(self: scan.Dictionary) -> None:
        calls["merges"] += 1
        merge(self)

    shrink(monkeypatch)
    monkeypatch.setattr(group, "_group_slice", counted_slice)
    monkeypatch.setattr(scan.Dictionary, "_merge", counted_merge)
    tiny = read_audit_logs(tenant_file, engine="duckdb")
    assert snapshot(tiny) == snapshot(default)
    assert len(default.rows) > 1000
    # every step really ran many times (a principal with more records than a slice holds is
    # a slice of its own)
    assert calls["slices"] >= 10
    assert calls["merges"] > 13 * 10


def test_tiny_sizes_match_the_python_engine(tenant_file: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    shrink(monkeypatch)
    fast = read_audit_logs(tenant_file, engine="duckdb")
    ref = read_audit_logs(tenant_file, engine="python")
    skip = frozenset({"engine", "notes"})
    assert snapshot(fast, skip=skip) == snapshot(ref, skip=skip)


def test_tiny_sizes_with_python_path_rows_copies_and_a_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    default = read_audit_logs(folder, engine="duckdb", split_at=T)
    shrink(monkeypatch)
    monkeypatch.setattr(group, "CHUNK_ROWS", 1)  # a slice per principal
    tiny = read_audit_logs(folder, engine="duckdb", split_at=T)
    assert [snapshot(h) for h in tiny] == [snapshot(h) for h in default]
    assert tiny[0].report.records_rejected == 1 and tiny[1].report.duplicates == 3


def test_the_record_id_file_is_gone_and_the_ids_still_read(
    tenant_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    made: list[str] = []
    init = scan.SpilledIds.__init__

    def tracked(self: scan.SpilledIds, folder: str | None = None) -> None:
        init(self, folder)
        made.append(self.path)

    monkeypatch.setattr(scan.SpilledIds, "__init__", tracked)
    log = read_audit_logs(tenant_file, engine="duckdb")
    assert made and all(Path(p).parent == spill for p in made)
    assert not list(spill.iterdir())  # removed once mapped (DuckDB's spill folder too)
    ref = read_audit_logs(tenant_file, engine="python")
    assert log.rows["example_id"].tolist() == ref.rows["example_id"].tolist()
    assert log.rows["example_id"].str.len().min() > 10


def test_a_failed_scan_leaves_no_id_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         tenant_file: Path) -> None:
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))

    def broken(self: scan.Records) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(scan.Records, "finish", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        read_audit_logs(tenant_file, engine="duckdb")
    assert not list(spill.iterdir())


def test_no_room_for_the_ids_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              tenant_file: Path) -> None:
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))

    def full(self: Any, batch: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pa.ipc.RecordBatchFileWriter, "write_batch", full)
    with pytest.raises(IngestError, match=r"cannot write the record ids to .*TMPDIR"):
        read_audit_logs(tenant_file, engine="duckdb")
    assert not list(spill.iterdir())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=12), st.integers(1, 9))
def test_growing_columns_hold_what_was_appended(sizes: list[int], block: int) -> None:
    rng = np.random.default_rng(len(sizes) * 100 + block)
    parts = [rng.integers(-(1 << 40), 1 << 40, size=n) for n in sizes]
    column = scan.Growing(np.int64)
    column.BLOCK = block
    for part in parts:
        column.append(part)
    out = column.finish()
    expected = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    assert out.dtype == np.int64 and np.array_equal(out, expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["", "a", "b", "ab", " a", "é", "z" * 40, "0"]),
                         max_size=15), max_size=10),
       st.integers(1, 6))
def test_dictionary_codes_decode_to_the_values(batches: list[list[str]], merge_at: int) -> None:
    default, scan._MERGE_AT = scan._MERGE_AT, merge_at
    try:
        column = scan.Dictionary()
        for batch in batches:
            column.add(pa.array(batch, type=pa.string()))
        codes, values = column.finish()
    finally:
        scan._MERGE_AT = default
    flat = [v for batch in batches for v in batch]
    assert list(values) == sorted(set(flat))  # sorted, every value once, none unused
    assert [values[c] for c in codes.tolist()] == flat
    assert codes.dtype == np.int8  # fewer than 128 values: one byte a record

