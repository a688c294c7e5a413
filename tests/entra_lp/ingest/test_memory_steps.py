"""The DuckDB engine's memory-saving steps change nothing in what it returns.

The scan hands Python small batches, merges each column's dictionary only now and then,
writes the record ids to a mapped file, keeps its columns in memory up to a budget and in a
scratch file beyond it, reads them back a range at a time, sorts the id hashes a part of
the hash range at a time and groups a slice of principals at a time. With every one of
those sizes shrunk to a handful (so each step runs many times, and slices cut through the
Python path's rows, copies and both windows of a split), and with a budget of nothing (every
column and the rows on disk) or of a few kilobytes (some in memory, some on disk), the logs
must be equal to the ones the default sizes give, and to the Python engine's.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import entra_lp.ingest._group as group
import entra_lp.ingest._scan as scan
import entra_lp.ingest._spill as spill
from entra_lp.errors import IngestError, InvalidValueError
from entra_lp.ingest import read_audit_logs
from entra_lp.simulate import simulate_tenant
from entra_lp.simulate.tenant import FILE_NAMES

from .test_split import T, _folder, snapshot
from .tiny import BUDGETS, shrink


@pytest.fixture(scope="module")
def tenant_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated tenant's Graph lines: a few thousand records, 25 principals."""
    folder = tmp_path_factory.mktemp("tenant")
    simulate_tenant(admins=25, days=6, seed=3, volume=0.4).write(folder, formats=("graph",))
    return folder / FILE_NAMES["graph"]


@pytest.mark.parametrize("budget", BUDGETS)
def test_tiny_sizes_give_the_same_log_as_the_defaults(
    tenant_file: Path, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    default = read_audit_logs(tenant_file, engine="duckdb")
    assert default.report.engine == "duckdb" and not default.report.notes
    calls = {"slices": 0, "merges": 0, "spilled": 0, "held": 0}
    slice_group, merge, put = group._group_slice, scan.Dictionary._merge, spill.Store.put

    def counted_slice(*args: Any) -> Any:
        calls["slices"] += 1
        return slice_group(*args)

    def counted_merge(self: scan.Dictionary) -> None:
        calls["merges"] += 1
        merge(self)

    def counted_put(self: spill.Store, values: np.ndarray) -> Any:
        segment = put(self, values)
        calls["spilled"] += segment.data is None
        calls["held"] += segment.data is not None
        return segment

    shrink(monkeypatch, budget)
    monkeypatch.setattr(group, "_group_slice", counted_slice)
    monkeypatch.setattr(scan.Dictionary, "_merge", counted_merge)
    monkeypatch.setattr(spill.Store, "put", counted_put)
    tiny = read_audit_logs(tenant_file, engine="duckdb")
    assert snapshot(tiny) == snapshot(default)
    assert len(default.rows) > 1000
    # every step really ran many times (a principal with more records than a slice holds is
    # a slice of its own), and columns went to disk (with a budget, some stayed in memory)
    assert calls["slices"] >= 10
    assert calls["merges"] > 13 * 10
    assert calls["spilled"] > 1000
    assert (calls["held"] > 100) == (budget > 0)
    assert spill._mapping(tiny.table.count) is not None  # rows past the budget: mapped


def test_tiny_sizes_match_the_python_engine(tenant_file: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    shrink(monkeypatch)
    fast = read_audit_logs(tenant_file, engine="duckdb")
    ref = read_audit_logs(tenant_file, engine="python")
    skip = frozenset({"engine", "notes"})
    assert snapshot(fast, skip=skip) == snapshot(ref, skip=skip)


@pytest.mark.parametrize("budget", BUDGETS)
def test_tiny_sizes_with_python_path_rows_copies_and_a_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    folder = _folder(tmp_path)
    default = read_audit_logs(folder, engine="duckdb", split_at=T)
    shrink(monkeypatch, budget)
    monkeypatch.setattr(group, "CHUNK_ROWS", 1)  # a slice per principal
    tiny = read_audit_logs(folder, engine="duckdb", split_at=T)
    assert [snapshot(h) for h in tiny] == [snapshot(h) for h in default]
    assert tiny[0].report.records_rejected == 1 and tiny[1].report.duplicates == 3


@pytest.mark.parametrize("budget", [None, 0])
def test_the_record_id_file_is_gone_and_the_ids_still_read(
    tenant_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    monkeypatch.setattr(spill, "MEMORY_BUDGET", budget)
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    made: list[str] = []
    init = scan.SpilledIds.__init__

    def tracked(self: scan.SpilledIds, folder: str | None = None) -> None:
        init(self, folder)
        made.append(self.path)

    monkeypatch.setattr(scan.SpilledIds, "__init__", tracked)
    log = read_audit_logs(tenant_file, engine="duckdb")
    assert made and all(Path(p).parent == folder for p in made)
    # removed once mapped (DuckDB's spill folder, the scratch columns and row files too)
    assert not list(folder.iterdir())
    ref = read_audit_logs(tenant_file, engine="python")
    assert log.rows["example_id"].tolist() == ref.rows["example_id"].tolist()
    assert log.rows["example_id"].str.len().min() > 10


def test_a_failed_scan_leaves_no_id_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         tenant_file: Path) -> None:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))

    def broken(self: scan.Records) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(scan.Records, "finish", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        read_audit_logs(tenant_file, engine="duckdb")
    assert not list(folder.iterdir())


def test_no_room_for_the_ids_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              tenant_file: Path) -> None:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))

    def full(self: Any, batch: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pa.ipc.RecordBatchFileWriter, "write_batch", full)
    with pytest.raises(IngestError, match=r"cannot write the record ids to .*TMPDIR"):
        read_audit_logs(tenant_file, engine="duckdb")
    assert not list(folder.iterdir())


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["int8", "int16", "int64"])),
                max_size=12),
       st.integers(0, 400), st.integers(1, 9), st.integers(0, 9), st.data())
def test_columns_hold_what_was_appended(parts_spec: list[tuple[int, str]], budget: int,
                                        step: int, block: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(len(parts_spec) * 1000 + budget)
    parts = [rng.integers(-100, 100, size=n).astype(dtype) for n, dtype in parts_spec]
    expected = (np.concatenate([p.astype(np.int64) for p in parts]) if parts
                else np.zeros(0, dtype=np.int64))
    store = spill.Store(budget)
    try:
        column = spill.Column(store, np.int64, block)  # block 0: a segment per append
        for part in parts:
            column.append(part)
        assert len(column) == len(expected) and store.held <= budget
        a = data.draw(st.integers(0, len(expected)))
        b = data.draw(st.integers(a, len(expected) + 3))
        assert np.array_equal(column.read(a, b), expected[a:b])
        positions = np.asarray(sorted(data.draw(st.sets(st.integers(0, max(len(expected) - 1, 0)),
                                                        max_size=10))), dtype=np.int64)
        if len(expected):
            assert np.array_equal(column.gather(positions, step=step), expected[positions])
        out = column.array(transform=lambda v: v.astype(np.int64) * 3, step=step)
        assert np.array_equal(out, expected * 3)
        assert (spill._mapping(out) is not None) == (store.written > 0 and len(expected) > 0)
        spill.release_pages(out)  # the pages are read back when touched again
        assert np.array_equal(out, expected * 3)
        assert len(column) == 0 and store.held == 0
    finally:
        store.close()


def test_the_budget_reads_sizes_and_names_a_bad_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENTRA_LP_INGEST_MEMORY", raising=False)
    assert spill.memory_budget() == 64 << 20
    for text, size in (("256MB", 256 << 20), ("1gb", 1 << 30), ("512 KB", 512 << 10),
                       ("4096", 4096), ("2G", 2 << 30)):
        monkeypatch.setenv("ENTRA_LP_INGEST_MEMORY", text)
        assert spill.memory_budget() == size
    monkeypatch.setenv("ENTRA_LP_INGEST_MEMORY", "lots")
    with pytest.raises(InvalidValueError, match="ENTRA_LP_INGEST_MEMORY='lots'"):
        spill.memory_budget()
    monkeypatch.setattr(spill, "MEMORY_BUDGET", 5)  # set in code: the variable is not read
    assert spill.memory_budget() == 5


def test_a_cut_scratch_file_is_an_error_not_zeros() -> None:
    store = spill.Store(0)
    try:
        column = spill.Column(store, np.int64)
        column.append(np.arange(100, dtype=np.int64))
        assert np.array_equal(column.read(10, 20), np.arange(10, 20))
        assert store._file is not None
        os.ftruncate(store._file.fileno(), 400)  # half of it
        assert np.array_equal(column.read(0, 50), np.arange(50))
        with pytest.raises(IngestError, match=r"scratch file .* cut short"):
            column.read(40, 60)
    finally:
        store.close()


def test_views_count_at_their_own_size_in_the_budget() -> None:
    big = np.arange(1000, dtype=np.int64)
    store = spill.Store(1 << 20)
    segment = store.put(big[:10])
    assert segment.data is not None and segment.data.base is None  # big is not kept alive
    assert store.held == 80


def test_a_full_disk_for_the_scratch_columns_is_a_clear_error(
    tenant_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    shrink(monkeypatch, budget=0)

    def full(array: np.ndarray) -> memoryview:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spill, "_bytes", full)
    with pytest.raises(IngestError, match=r"scratch columns to .*TMPDIR.*INGEST_MEMORY"):
        read_audit_logs(tenant_file, engine="duckdb")
    assert not list(folder.iterdir())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["", "a", "b", "ab", " a", "é", "z" * 40, "0"]),
                         max_size=15), max_size=10),
       st.integers(1, 6))
def test_dictionary_codes_decode_to_the_values(batches: list[list[str]], merge_at: int) -> None:
    default, scan._MERGE_AT = scan._MERGE_AT, merge_at
    try:
        column = scan.Dictionary(spill.Store(0))
        for batch in batches:
            column.add(pa.array(batch, type=pa.string()))
        codes_column, values = column.finish()
        codes = codes_column.read()
    finally:
        scan._MERGE_AT = default
    flat = [v for batch in batches for v in batch]
    assert list(values) == sorted(set(flat))  # sorted, every value once, none unused
    assert [values[c] for c in codes.tolist()] == flat
    assert codes.dtype == np.int8  # fewer than 128 values: one byte a record

