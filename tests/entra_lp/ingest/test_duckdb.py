"""The DuckDB engine gives exactly what the Python engine gives, on good and bad input alike."""

from __future__ import annotations

import copy
import gzip
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import entra_lp.ingest._duck as duck
import entra_lp.ingest._duck_sql as duck_sql
import entra_lp.ingest.log as ingest_log
from entra_lp.ingest import AuditLog, read_audit_logs
from entra_lp.ingest._duck import sniff_form

from .records import HELPDESK, prop, record, sample, to_event_hub, to_log_analytics
from .tiny import shrink


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def same(source: Path, **kwargs: Any) -> AuditLog:
    """Read ``source`` with both engines, assert identical results, return the DuckDB one."""
    ref = read_audit_logs(source, engine="python", **kwargs)
    fast = read_audit_logs(source, engine="duckdb", **kwargs)
    assert fast.rows.to_dict("records") == ref.rows.to_dict("records")
    assert fast.rows.dtypes.to_dict() == ref.rows.dtypes.to_dict()
    assert fast.buckets.to_dict("records") == ref.buckets.to_dict("records")
    assert fast.principals.to_dict("records") == ref.principals.to_dict("records")
    skip = {"engine", "notes"}
    assert fast.report.model_dump(exclude=skip) == ref.report.model_dump(exclude=skip)
    return fast


def test_graph_and_event_hub_lines_are_read_in_sql(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a_graph.jsonl", sample())
    write_jsonl(tmp_path / "b_hub.jsonl", [to_event_hub(r) for r in sample()])  # all dups
    log = same(tmp_path)
    assert log.report.engine == "duckdb" and not log.report.notes
    assert log.report.duplicates == 8
    assert log.formats == {"graph": 8, "event_hub": 8}


def test_gzip_and_mixed_sources_in_one_folder(tmp_path: Path) -> None:
    recs = sample()
    for i, r in enumerate(recs):
        r["id"] = f"Directory_g{i}"
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(b"".join(
        orjson.dumps(r) + b"\n" for r in recs)))
    write_jsonl(tmp_path / "b_la.jsonl", [to_log_analytics(r) for r in sample()])
    log = same(tmp_path)
    assert log.report.engine == "duckdb"
    assert [s.format for s in log.report.sources] == ["graph", "log_analytics"]


def test_bad_lines_go_through_the_python_path_with_their_line(tmp_path: Path) -> None:
    good = sample()
    odd = record("Directory_odd", when="2025-05-12T10:30:15.5+02:00")  # offset: Python only
    odd["targetResources"][0]["Type"] = odd["targetResources"][0].pop("type")
    no_id = record("Directory_x")
    del no_id["id"]
    la_line = to_log_analytics(record("Directory_la"))
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [
        good[0], odd, good[1], no_id, la_line, *good[2:]]) + b"\n\n" + orjson.dumps(good[0])[:40])
    log = same(path)
    assert log.report.engine == "duckdb"
    assert [(s.location, s.field) for s in log.report.rejected_samples] == [
        (f"{path}:4", "id"), (f"{path}:14", "")]
    assert log.report.records_parsed == 10
    assert log.formats == {"graph": 9, "log_analytics": 1}


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda r: r.update(activityDisplayName=123), "activityDisplayName"),
    (lambda r: r.update(activityDateTime="last tuesday"), "activityDateTime"),
    (lambda r: r.update(result=True), "result"),
    (lambda r: r.update(initiatedBy="[\"x\"]"), "initiatedBy"),
    (lambda r: r["initiatedBy"].update(user={"id": 5}), "initiatedBy.user.id"),
    (lambda r: r.update(targetResources="abc"), "targetResources"),
    (lambda r: r.update(targetResources=[1]), "targetResources[0]"),
    (lambda r: r["targetResources"][0].update(modifiedProperties={}),
     "targetResources[0].modifiedProperties"),
    (lambda r: r["targetResources"][0].update(modifiedProperties=[{"displayName": 1}]),
     "targetResources[0].modifiedProperties[0].displayName"),
    (lambda r: r["targetResources"][0].update(modifiedProperties=[
        {"displayName": "Group.ObjectID", "newValue": {"a": 1}}]),
     "targetResources[0].modifiedProperties[0].newValue"),
    (lambda r: r.update(loggedByService=["Core Directory"]), "loggedByService"),
    (lambda r: r.update(category=" Spaced\t"), None),
    (lambda r: r.update(id=" Directory_bad\u00a0"), None),
])
def test_field_level_problems_match_the_python_engine(tmp_path: Path, mutate: Any,
                                                       field: str | None) -> None:
    bad = record("Directory_bad")
    mutate(bad)
    log = same(write_jsonl(tmp_path / "x.jsonl", [*sample()[:2], bad, sample()[2]]))
    if field is not None:
        assert [s.field for s in log.report.rejected_samples] == [field]


def test_duplicated_copies_are_counted_once_and_located(tmp_path: Path) -> None:
    recs = sample()
    write_jsonl(tmp_path / "a.jsonl", [*recs, recs[0], recs[3]])
    write_jsonl(tmp_path / "b.jsonl", [recs[0], recs[5]])
    log = same(tmp_path)
    assert log.report.engine == "duckdb"
    assert log.report.duplicates == 4
    assert log.report.duplicate_samples == [
        f"{tmp_path / 'a.jsonl'}:9: Directory_1", f"{tmp_path / 'a.jsonl'}:10: Directory_4",
        f"{tmp_path / 'b.jsonl'}:1: Directory_1", f"{tmp_path / 'b.jsonl'}:2: Directory_6"]


def test_an_id_reused_with_other_content_falls_back_to_python(tmp_path: Path) -> None:
    recs = sample()
    other = copy.deepcopy(recs[2])
    other["id"] = recs[0]["id"]
    log = same(write_jsonl(tmp_path / "a.jsonl", [*recs, other]))
    assert log.report.engine == "python"
    assert log.report.notes and "fell back" in log.report.notes[0]


def test_a_line_beyond_duckdbs_object_size_falls_back_to_python(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # DuckDB reads lines up to about twice maximum_object_size (16 MB is also its minimum)
    recs = sample()
    big = copy.deepcopy(recs[1])
    big["targetResources"][0]["displayName"] = "y" * (33 << 20)
    path = write_jsonl(tmp_path / "a.jsonl", [*recs, big])
    log = same(path)
    assert log.report.engine == "python" and log.report.records_parsed == len(recs) + 1
    assert "fell back" in log.report.notes[0] and "maximum_object_size" in log.report.notes[0]
    monkeypatch.setattr(duck_sql, "MAX_RECORD_BYTES", 32 << 20)  # the same line fits
    assert same(path).report.engine == "duckdb"


def test_a_duckdb_error_while_batches_flow_is_a_fallback(tmp_path: Path) -> None:
    # the long line comes after many batches and one thread reads the file in order: DuckDB
    # raises its error once batches flow, through Arrow, as an OSError
    path = tmp_path / "late.jsonl"
    with path.open("wb") as fh:
        fh.writelines(orjson.dumps({"id": f"r{i}"}) + b"\n" for i in range(200_000))
        fh.write(orjson.dumps({"id": "long", "x": "y" * (40 << 20)}) + b"\n")
    con = duckdb.connect(config={"threads": 1})
    reader = con.sql(
        f"SELECT id FROM read_json('{path}', format='newline_delimited', columns={{'id': "
        "'VARCHAR'}, maximum_object_size=16777216)").to_arrow_reader(1024)
    with pytest.raises(duck.Fallback, match="maximum_object_size"):
        for _ in duck._streamed(reader):
            pass


def test_since_until_window(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [*sample(), sample()[4]])
    log = same(path, since="2025-05-13T00:00:00Z", until="2025-05-14T12:00:00Z")
    assert log.report.filtered_out == 6 and log.report.duplicates == 1


def test_auto_uses_duckdb_only_for_enough_json_lines(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", sample())
    assert read_audit_logs(path).report.engine == "python"
    monkeypatch.setattr(ingest_log, "AUTO_MIN_BYTES", 1)
    assert read_audit_logs(path).report.engine == "duckdb"
    assert read_audit_logs(sample()).report.engine == "python"  # not a file


def test_sniff_form(tmp_path: Path) -> None:
    rec = sample()[0]
    cases = {
        "a.jsonl": orjson.dumps(rec) + b"\n",
        "b.jsonl": orjson.dumps(to_event_hub(rec)) + b"\n",
        "c.jsonl": orjson.dumps(to_log_analytics(rec)) + b"\n",
        "d.json": orjson.dumps({"value": [rec]}),
        "e.jsonl": b"\xef\xbb\xbf" + orjson.dumps(rec) + b"\n",
        "f.csv": b"a,b\n1,2\n",
        "g.jsonl.gz": gzip.compress(orjson.dumps(rec) + b"\n"),
        "h.jsonl.gz": b"\x1f\x8b\x08\x00broken",
    }
    got = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        got[name] = sniff_form(tmp_path / name)
    assert got == {"a.jsonl": "graph", "b.jsonl": "event_hub", "c.jsonl": None, "d.json": None,
                   "e.jsonl": None, "f.csv": None, "g.jsonl.gz": "graph", "h.jsonl.gz": None}


# ---- property: any mix of good, odd and broken records reads the same in both engines ------

SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(
    ["", " ", "x", " padded ", "\tTab", "5", "true", "[1]", "2025-05-12T08:30:15Z", "User",
     "Group.ObjectID", "Included Updated Properties", "\"A, B\"", "[\"g1\"]", "\u00a0nbsp"])
FIELDS = [("id",), ("activityDisplayName",), ("activityDateTime",), ("result",), ("category",),
          ("loggedByService",), ("operationType",), ("initiatedBy",), ("initiatedBy", "user"),
          ("initiatedBy", "user", "id"), ("initiatedBy", "user", "userPrincipalName"),
          ("initiatedBy", "app"), ("targetResources",), ("targetResources", 0),
          ("targetResources", 0, "type"), ("targetResources", 0, "id"),
          ("targetResources", 0, "modifiedProperties"),
          ("targetResources", 0, "modifiedProperties", 0),
          ("targetResources", 0, "modifiedProperties", 0, "displayName"),
          ("targetResources", 0, "modifiedProperties", 0, "newValue")]
TIMES = ["2025-05-12T08:30:15Z", "2025-05-12T08:30:15.1234567Z", "2025-05-12T08:30:15+00:00",
         "2025-05-12T10:30:15.5+02:00", "2025-05-12 08:30:15.123456000", "2025-05-12T23:59:60Z",
         "2025-05-12T24:00:00Z", "0000-01-01T00:00:00Z"]


def _mutate(rec: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> None:
    target: Any = rec
    for step in path[:-1]:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(target, dict):
        if delete:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    elif isinstance(target, list) and isinstance(path[-1], int) and path[-1] < len(target):
        target[path[-1]] = value


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    """One JSON-lines file: a good first record (so DuckDB reads the file), then sample
    records plain, altered, in another form, broken, or repeated byte for byte."""
    extra = record("Directory_9", "Add member to group", user=HELPDESK,
                   props=[prop("Group.ObjectID", None, "g-old"),
                          prop("Included Updated Properties", "A,  B")])
    base = [*sample(), extra]
    hub = draw(st.booleans())
    out: list[bytes] = []
    for n in range(draw(st.integers(1, 10))):
        kind = "plain" if n == 0 else draw(st.sampled_from(
            ["plain", "plain", "copy", "mutate", "mutate", "time", "la", "raw"]))
        if kind == "copy":
            out.append(draw(st.sampled_from(out)))
            continue
        rec = copy.deepcopy(draw(st.sampled_from(base)))
        rec["id"] = f"Directory_{draw(st.integers(0, 10**6))}"
        if kind == "mutate":
            _mutate(rec, draw(st.sampled_from(FIELDS)), draw(SCALARS), draw(st.booleans()))
        elif kind == "time":
            rec["activityDateTime"] = draw(st.sampled_from(TIMES))
        try:  # the converters expect the fields they move around
            form = to_log_analytics(rec) if kind == "la" else to_event_hub(rec) if hub else rec
        except (KeyError, TypeError, AttributeError):
            form = rec
        text = orjson.dumps(form)
        if kind == "raw":
            text = draw(st.sampled_from([text[: len(text) // 2], b"[1, 2]", b"{}", b"nope",
                                         b'{"records": [' + text + b"]}"]))
        out.append(text)
    return b"\n".join(out) + b"\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(lines(), min_size=1, max_size=3), window=st.booleans(),
       spilled=st.booleans())
def test_any_mix_reads_the_same_in_both_engines(tmp_path_factory: pytest.TempPathFactory,
                                                files: list[bytes], window: bool,
                                                spilled: bool) -> None:
    folder = tmp_path_factory.mktemp("mix")
    for i, data in enumerate(files):
        (folder / f"f{i}.jsonl").write_bytes(data)
    kwargs = {"since": "2025-05-13T00:00:00Z"} if window else {}
    with pytest.MonkeyPatch.context() as patch:
        if spilled:  # every column on disk, every step run on a handful of records
            shrink(patch, budget=0)
        same(folder, **kwargs)
