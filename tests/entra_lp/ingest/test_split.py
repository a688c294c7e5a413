"""read_audit_logs(..., split_at=T): one read, two logs, each exactly the separate call's.

``[since, T)`` and ``[T, until)`` must equal ``read_audit_logs(source, since=since, until=T)``
and ``read_audit_logs(source, since=T, until=until)`` on every engine and source shape:
usage rows, buckets, principals and the whole report (duplicates, rejected records,
time-filtered counts, samples and their locations).
"""

from __future__ import annotations

import copy
import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entra_lp.errors import InvalidValueError
from entra_lp.ingest import AuditLog, read_audit_logs

from .records import GROUP, HELPDESK, prop, record, sample, to_event_hub, to_log_analytics
from .test_duckdb import lines

T = "2025-05-13T10:00:00Z"
T_BEFORE = "2025-05-13T09:59:59.9999999Z"  # truncated to the microsecond before T


def straddling() -> list[dict[str, Any]]:
    """Records around T: one exactly at T, one a microsecond before, copies of records on
    both sides, an id reused by two different records on either side of T, and a record
    whose time cannot be read."""
    base = sample()  # 08:30 on the 12th .. 00:00 on the 15th
    at_t = record("Directory_T", when=T, props=[prop("AccountEnabled", [True], [False])])
    before = record("Directory_before", when=T_BEFORE, user=HELPDESK)
    reused_early = record("Directory_reused", when="2025-05-12T01:00:00Z")
    reused_late = record("Directory_reused", "Add member to group", op="Assign",
                         category="GroupManagement", when="2025-05-14T01:00:00Z",
                         props=[prop("Group.ObjectID", GROUP)])
    bad = record("Directory_bad", when="last tuesday")
    return [*base, at_t, before, base[0], base[5], at_t, reused_early, bad, reused_late,
            copy.deepcopy(at_t)]


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def snapshot(log: AuditLog, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Everything a log holds, in comparable form (``skip``: report fields left out)."""
    return {
        "rows": log.rows.to_dict("records"),
        "dtypes": {c: str(t) for c, t in log.rows.dtypes.items()},
        "buckets": log.buckets.to_dict("records"),
        "principals": log.principals.to_dict("records"),
        "report": log.report.model_dump(exclude=set(skip)),
    }


def check_halves(make: Callable[[], Any], engine: str, **bounds: Any) -> tuple[AuditLog, AuditLog]:
    """Split ``make()`` at T and compare each half with its separate call (same engine)."""
    early, late = read_audit_logs(make(), engine=engine, split_at=T, **bounds)
    alone_early = read_audit_logs(make(), engine=engine, since=bounds.get("since"), until=T)
    alone_late = read_audit_logs(make(), engine=engine, since=T, until=bounds.get("until"))
    assert snapshot(early) == snapshot(alone_early)
    assert snapshot(late) == snapshot(alone_late)
    return early, late


def examples(log: AuditLog) -> set[str]:
    return set(log.rows["example_id"])


def check_straddling(early: AuditLog, late: AuditLog) -> None:
    """What the halves of :func:`straddling` must hold, whatever the source shape."""
    assert "Directory_T" in examples(late) and "Directory_T" not in examples(early)
    assert "Directory_before" in examples(early) and "Directory_before" not in examples(late)
    assert "Directory_reused" in examples(early) and "Directory_reused" in examples(late)
    # copies: Directory_1 before T; Directory_6 and Directory_T (twice) after T
    assert (early.report.duplicates, late.report.duplicates) == (1, 3)
    assert early.report.records_rejected == late.report.records_rejected == 1
    parsed = early.report.records_parsed
    assert late.report.records_parsed == parsed
    assert early.report.filtered_out + late.report.filtered_out == parsed
    assert early.rows["last_seen"].max() < pd.Timestamp(T) <= late.rows["first_seen"].min()


# ---- the source shapes --------------------------------------------------------------------


def test_single_file_duckdb_engine(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", straddling())
    early, late = check_halves(lambda: path, "duckdb")
    assert early.report.engine == late.report.engine == "duckdb"
    assert not early.report.notes and not late.report.notes
    check_straddling(early, late)
    assert [s.location for s in early.report.rejected_samples] == [f"{path}:15"]
    assert late.report.duplicate_samples == [
        f"{path}:12: Directory_6", f"{path}:13: Directory_T", f"{path}:17: Directory_T"]


def _folder(tmp_path: Path) -> Path:
    """Graph lines, gzipped Event Hub lines (copies of some), a line only the Python path
    reads (a +02:00 offset landing exactly on T) and a Log Analytics file of other ids."""
    recs = straddling()
    write_jsonl(tmp_path / "a_graph.jsonl", recs[:10])
    (tmp_path / "b_hub.jsonl.gz").write_bytes(gzip.compress(
        b"".join(orjson.dumps(to_event_hub(r)) + b"\n" for r in recs[10:15])))
    offset = record("Directory_offset", when="2025-05-13T12:00:00+02:00", user=HELPDESK)
    write_jsonl(tmp_path / "c_graph.jsonl", [recs[15], offset, recs[16]])
    others = []
    for r in sample()[2:6]:
        r["id"] = r["id"].replace("Directory_", "Directory_la")
        others.append(to_log_analytics(r))
    write_jsonl(tmp_path / "d_la.jsonl", others)
    return tmp_path


def test_folder_duckdb_engine_with_python_path_lines(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    early, late = check_halves(lambda: folder, "duckdb")
    assert late.report.engine == "duckdb" and not late.report.notes
    check_straddling(early, late)
    assert "Directory_offset" in examples(late)  # 12:00+02:00 is T itself
    assert early.formats == late.formats == {"graph": 13, "log_analytics": 4, "event_hub": 4}


def test_file_python_engine(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", straddling())
    early, late = check_halves(lambda: path, "python")
    assert early.report.engine == "python"
    check_straddling(early, late)


def test_iterable_of_dicts() -> None:
    early, late = check_halves(straddling, "auto")
    check_straddling(early, late)
    assert early.report.rejected_samples[0].location == "<records>:15"


def test_one_shot_generator_is_read_for_both_halves() -> None:
    def once() -> Iterator[dict[str, Any]]:
        yield from straddling()

    halves = read_audit_logs(once(), split_at=T)
    from_list = read_audit_logs(straddling(), split_at=T)
    assert [snapshot(h) for h in halves] == [snapshot(h) for h in from_list]
    check_straddling(*halves)


def test_dataframe_of_log_analytics_rows() -> None:
    def frame() -> pd.DataFrame:
        return pd.DataFrame([to_log_analytics(r) for r in straddling()])

    early, late = check_halves(frame, "auto")
    assert early.formats == late.formats == {"log_analytics": 16}
    check_straddling(early, late)


def test_both_engines_agree_on_the_split(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    fast = read_audit_logs(folder, engine="duckdb", split_at=T)
    slow = read_audit_logs(folder, engine="python", split_at=T)
    assert fast[0].report.engine == "duckdb"
    skip = frozenset({"engine", "notes"})
    assert [snapshot(h, skip=skip) for h in fast] == [snapshot(h, skip=skip) for h in slow]


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_split_inside_since_until(tmp_path: Path, engine: str) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", straddling())
    early, late = check_halves(lambda: path, engine, since="2025-05-12T08:31:00Z",
                               until="2025-05-14T12:00:00Z")
    assert early.rows["first_seen"].min() >= pd.Timestamp("2025-05-12T08:31:00Z")
    assert late.rows["last_seen"].max() < pd.Timestamp("2025-05-14T12:00:00Z")
    assert "Directory_reused" not in examples(early)  # 01:00 on the 12th: before since


@pytest.mark.parametrize("engine", ["duckdb", "python"])
@pytest.mark.parametrize("at", ["2025-05-01T00:00:00Z", "2025-06-01T00:00:00Z"])
def test_split_leaving_one_half_empty(tmp_path: Path, engine: str, at: str) -> None:
    """Every record on one side of T: the other half is empty (no rows, no buckets) yet
    counts what it read, as a call with those bounds does."""
    path = write_jsonl(tmp_path / "a.jsonl", sample())
    early, late = read_audit_logs(path, engine=engine, split_at=at)
    empty, full = (early, late) if at < "2025-05-12" else (late, early)
    assert empty.rows.empty and empty.buckets.empty and empty.principals.empty
    assert empty.report.filtered_out == 8 and empty.report.engine == engine
    assert len(full.rows) == 7 and full.report.filtered_out == 0
    since_part: dict[str, Any] = {"until": at} if empty is early else {"since": at}
    assert snapshot(empty) == snapshot(read_audit_logs(path, engine=engine, **since_part))


def test_duckdb_window_without_successes(tmp_path: Path) -> None:
    """Regression: a DuckDB-engine window holding no successful record (none at all, or
    only failures) has empty buckets instead of failing."""
    path = write_jsonl(tmp_path / "a.jsonl", sample())
    windows: list[dict[str, Any]] = [
        {"since": "2030-01-01T00:00:00Z"},
        {"since": "2025-05-14T12:00:00Z", "until": "2025-05-14T12:00:01Z"}]
    for bounds in windows:
        fast = read_audit_logs(path, engine="duckdb", **bounds)
        slow = read_audit_logs(path, engine="python", **bounds)
        assert fast.report.engine == "duckdb" and fast.buckets.empty
        skip = frozenset({"engine", "notes"})
        assert snapshot(fast, skip=skip) == snapshot(slow, skip=skip)


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_encoding_repairs_are_counted_in_both_halves(tmp_path: Path, engine: str) -> None:
    """A cp1252 byte in a line after T: every window read the file, so each half reports
    the repair, as each separate call would."""
    late = record("Directory_enc", when="2025-05-14T01:00:00Z",
                  user={**HELPDESK, "userPrincipalName": "jos\u00e9@example.test"})
    raw = orjson.dumps(late).replace("\u00e9".encode(), b"\xe9")
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in sample()) + raw + b"\n")
    early, later = check_halves(lambda: path, engine)
    assert early.report.engine == engine
    assert early.report.encoding_repairs == later.report.encoding_repairs == 1
    assert "Directory_enc" in examples(later)


@pytest.mark.parametrize("bounds", [{"since": "2025-05-14T00:00:00Z"},
                                    {"until": "2025-05-12T00:00:00Z"}])
def test_split_outside_since_until_is_refused(bounds: dict[str, Any]) -> None:
    with pytest.raises(InvalidValueError, match="split_at="):
        read_audit_logs(sample(), split_at=T, **bounds)


def test_split_at_the_bounds_and_bad_values() -> None:
    early, late = read_audit_logs(sample(), since=T, until=T, split_at=T)
    assert early.rows.empty and late.rows.empty
    with pytest.raises(InvalidValueError, match="split_at"):
        read_audit_logs(sample(), split_at="next week")


# ---- property: any mix, any split point, both engines ------------------------------------

SPLITS = ["2025-05-12T08:30:15.123456Z", "2025-05-12T09:00:00Z", "2025-05-13T00:00:00Z",
          "2025-05-14T12:00:00Z", "2025-05-15T00:00:00.000001Z"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(lines(), min_size=1, max_size=2), at=st.sampled_from(SPLITS))
def test_any_mix_splits_like_separate_calls(tmp_path_factory: pytest.TempPathFactory,
                                           files: list[bytes], at: str) -> None:
    folder = tmp_path_factory.mktemp("split")
    for i, data in enumerate(files):
        (folder / f"f{i}.jsonl").write_bytes(data)
    skip = frozenset({"engine", "notes"})
    fast = read_audit_logs(folder, engine="duckdb", split_at=at)
    slow = read_audit_logs(folder, engine="python", split_at=at)
    assert [snapshot(h, skip=skip) for h in fast] == [snapshot(h, skip=skip) for h in slow]
    alone = [read_audit_logs(folder, engine="python", until=at),
             read_audit_logs(folder, engine="python", since=at)]
    assert [snapshot(h) for h in slow] == [snapshot(h) for h in alone]
