"""read_audit_logs on well-formed input: every delivery form gives the same usage rows."""

from __future__ import annotations

import csv
import gzip
import io
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from entra_lp.errors import InvalidValueError, UnknownNameError
from entra_lp.ingest import USAGE_COLUMNS, read_audit_logs

from .records import (
    ADMIN,
    GROUP,
    HELPDESK,
    USER_T,
    portal_time,
    record,
    sample,
    to_event_hub,
    to_log_analytics,
)


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def rows_of(log: Any) -> list[dict[str, Any]]:
    return log.rows.to_dict("records")


def test_rows_follow_the_contract_schema(tmp_path: Path) -> None:
    log = read_audit_logs(write_jsonl(tmp_path / "a.jsonl", sample()))
    assert tuple(log.rows.columns) == USAGE_COLUMNS
    assert str(log.rows["count"].dtype) == "int64"
    assert str(log.rows["first_seen"].dtype) == "datetime64[us, UTC]"
    assert all(str(log.rows[c].dtype) == "str" for c in USAGE_COLUMNS
               if c not in ("count", "first_seen", "last_seen"))
    assert log.formats == {"graph": 8}
    assert log.report.records_read == log.report.records_parsed == 8


def test_update_user_rows_merge_names_and_included_properties(tmp_path: Path) -> None:
    log = read_audit_logs(write_jsonl(tmp_path / "a.jsonl", sample()))
    rows = log.rows[(log.rows["activity"] == "Update user")
                    & (log.rows["principal_id"] == ADMIN["id"])]
    assert len(rows) == 1  # trailing space trimmed; property order does not matter
    row = rows.iloc[0]
    assert row["modified_properties"] == "AccountEnabled|JobTitle"
    assert row["count"] == 2
    assert row["principal_name"] == "admin@example.test"
    assert row["principal_type"] == "user"
    assert row["first_seen"] == pd.Timestamp("2025-05-12T08:30:15.123456Z")  # truncated
    assert row["last_seen"] == pd.Timestamp("2025-05-12T09:00:00Z")
    assert row["example_id"] == "Directory_1"
    assert row["target_type"] == "User" and row["target_id"] == USER_T


def test_group_membership_rows_carry_the_group(tmp_path: Path) -> None:
    log = read_audit_logs(write_jsonl(tmp_path / "a.jsonl", sample()))
    by_activity = {r["activity"]: r for r in rows_of(log)}
    assert by_activity["Add member to group"]["related_group_id"] == GROUP
    # removals put the group id in oldValue
    assert by_activity["Remove member from group"]["related_group_id"] == GROUP
    assert by_activity["Add member to group"]["modified_properties"] == (
        "Group.DisplayName|Group.ObjectID")
    app_row = by_activity["Update application – Certificates and secrets management"]
    assert app_row["principal_type"] == "app"
    assert app_row["principal_name"] == "automation-app"
    assert by_activity["Reset user password"]["result"] == "failure"


def test_example_id_ties_pick_the_smallest_id(tmp_path: Path) -> None:
    same = "2025-05-12T08:00:00Z"
    recs = [record("Directory_b", when=same), record("Directory_a", when=same),
            record("Directory_c", when="2025-05-12T07:00:00Z")]
    log = read_audit_logs(write_jsonl(tmp_path / "a.jsonl", recs[:2]))
    assert log.rows["example_id"].tolist() == ["Directory_a"]
    log = read_audit_logs(write_jsonl(tmp_path / "b.jsonl", recs))
    assert log.rows["example_id"].tolist() == ["Directory_c"]


def test_buckets_count_successes_per_quarter_hour(tmp_path: Path) -> None:
    log = read_audit_logs(write_jsonl(tmp_path / "a.jsonl", sample()))
    admin = log.buckets[log.buckets["principal_id"] == ADMIN["id"]]
    assert admin["bucket_start"].tolist() == [pd.Timestamp("2025-05-12T08:30Z"),
                                              pd.Timestamp("2025-05-12T09:00Z")]
    assert admin["count"].tolist() == [1, 1]
    helpdesk = log.buckets[log.buckets["principal_id"] == HELPDESK["id"]]
    assert helpdesk["count"].sum() == 2  # the failed password reset is not counted


def test_principal_kinds_and_system_initiators(tmp_path: Path) -> None:
    log = read_audit_logs(write_jsonl(tmp_path / "a.jsonl", sample()))
    kinds = dict(zip(log.principals["principal_name"], log.principals["kind"], strict=True))
    assert kinds == {"admin@example.test": "user", "helpdesk@example.test": "user",
                     "automation-app": "service_principal", "MS-PIM": "system",
                     "Managed Service Identity": "managed_identity"}
    assert log.report.principals_by_kind == {"user": 2, "service_principal": 1,
                                             "managed_identity": 1, "system": 1}
    assert log.report.records_by_kind["system"] == 1
    extra = read_audit_logs(write_jsonl(tmp_path / "a.jsonl", sample()),
                            system_initiators={"MS-PIM", "automation-app"})
    assert extra.report.principals_by_kind["system"] == 2


def test_sync_account_and_missing_initiator(tmp_path: Path) -> None:
    from .records import SYNC

    no_one = record("Directory_x")
    no_one["initiatedBy"] = {}
    log = read_audit_logs([record("Directory_s", user=SYNC), no_one])
    assert log.principals["kind"].tolist() == ["sync_account"]
    assert log.report.no_initiator == 1
    assert len(log.rows) == 1


def test_every_delivery_form_gives_the_same_rows(tmp_path: Path) -> None:
    recs = sample()
    expected = rows_of(read_audit_logs(recs))
    page = tmp_path / "page.json"
    page.write_bytes(orjson.dumps({"@odata.context": "x", "value": recs},
                                  option=orjson.OPT_INDENT_2))
    la = write_jsonl(tmp_path / "la.jsonl", [to_log_analytics(r) for r in recs])
    hub = tmp_path / "hub.json"
    hub.write_bytes(orjson.dumps({"records": [to_event_hub(r) for r in recs]}))
    hub_lines = write_jsonl(tmp_path / "hub.jsonl", [to_event_hub(r) for r in recs])
    listed = tmp_path / "list.json.gz"
    listed.write_bytes(gzip.compress(orjson.dumps(recs)))
    columns = list(to_log_analytics(recs[0]))
    tables = tmp_path / "api.json"
    tables.write_bytes(orjson.dumps({"tables": [{"name": "PrimaryResult", "columns": [
        {"name": c, "type": "string"} for c in columns], "rows": [
        [to_log_analytics(r)[c] for c in columns] for r in recs]}]}))
    for path, fmt in [(page, "graph"), (la, "log_analytics"), (hub, "event_hub"),
                      (hub_lines, "event_hub"), (listed, "graph"), (tables, "log_analytics")]:
        log = read_audit_logs(path, engine="python")
        assert log.formats == {fmt: 8}, path
        assert rows_of(log) == expected, path
        assert read_audit_logs(path, format=fmt, engine="python").formats == {fmt: 8}
    df_log = read_audit_logs(pd.DataFrame([to_log_analytics(r) for r in recs]))
    assert rows_of(df_log) == expected


def test_portal_csv_with_utc_headers_and_am_pm_times(tmp_path: Path) -> None:
    recs = sample()
    for n, r in enumerate(recs):  # the portal shows milliseconds
        r["activityDateTime"] = f"2025-05-1{n}T{5 + 2 * n:02d}:0{n}:05.{n}50Z"
    expected = rows_of(read_audit_logs(recs))
    rows = [to_log_analytics(r) for r in recs]
    header = [c + (" [UTC]" if c in ("TimeGenerated", "ActivityDateTime") else "")
              for c in rows[0]]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        row["TimeGenerated"] = row["ActivityDateTime"] = portal_time(row["ActivityDateTime"])
        row["ResultReason"] = row["ResultReason"] or "(blank)"
        writer.writerow(["" if v is None else v for v in row.values()])
    path = tmp_path / "portal.csv"
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    log = read_audit_logs(path)
    assert log.formats == {"log_analytics": 8}
    assert rows_of(log) == expected
    assert "AM" in rows[0]["ActivityDateTime"] and "PM" in rows[-1]["ActivityDateTime"]


def test_folder_with_mixed_formats_and_duplicates(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    recs = sample()
    write_jsonl(tmp_path / "a_graph.jsonl", recs[:5])
    write_jsonl(tmp_path / "b_la.jsonl", [to_log_analytics(r) for r in recs[3:]])  # 2 overlap
    (tmp_path / "notes.txt").write_text("not a log")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "empty.json").write_bytes(b"")
    with caplog.at_level(logging.INFO, logger="entra_lp.ingest"):
        log = read_audit_logs(tmp_path)
    assert rows_of(log) == rows_of(read_audit_logs(recs))
    assert log.report.duplicates == 2
    assert log.report.duplicate_samples == [f"{tmp_path / 'b_la.jsonl'}:1: Directory_4",
                                            f"{tmp_path / 'b_la.jsonl'}:2: Directory_5"]
    assert log.formats == {"graph": 5, "log_analytics": 5}
    assert [s.format for s in log.report.sources] == ["graph", "log_analytics", "empty"]
    assert log.report.skipped_files == [str(tmp_path / "notes.txt")]
    assert "b_la.jsonl: log_analytics, 5 records" in caplog.text


def test_since_until_window(tmp_path: Path) -> None:
    log = read_audit_logs(sample(), since="2025-05-13T00:00:00Z",
                          until=datetime(2025, 5, 14, 12, 0, tzinfo=UTC))
    assert sorted(log.rows["example_id"]) == ["Directory_4", "Directory_5"]
    assert log.report.filtered_out == 6
    with pytest.raises(InvalidValueError, match="since"):
        read_audit_logs(sample(), since="yesterday")


def test_unknown_format_or_engine_suggests() -> None:
    with pytest.raises(UnknownNameError, match="log_analytics"):
        read_audit_logs([], format="log-analytics")
    with pytest.raises(UnknownNameError, match="python"):
        read_audit_logs([], engine="pyhton")


def test_quirks_type_capital_t_singular_target_and_int_result() -> None:
    rec = record("Directory_q")
    rec["targetResources"][0]["Type"] = rec["targetResources"][0].pop("type")
    singular = record("Directory_s", target="c0000000-0000-4000-8000-000000000009")
    singular["targetResource"] = singular.pop("targetResources")[0]
    singular["targetResource"]["@odata.type"] = "#microsoft.graph.group"
    del singular["targetResource"]["type"]
    singular["result"] = 0
    log = read_audit_logs([rec, singular])
    assert sorted(log.rows["target_type"]) == ["Group", "User"]
    assert set(log.rows["result"]) == {"success"}


def test_report_summary_and_json_round_trip() -> None:
    from entra_lp.ingest import IngestReport

    log = read_audit_logs(sample())
    text = log.report.summary()
    assert "read 8 records" in text and "graph=8" in text
    again = IngestReport.model_validate_json(log.report.model_dump_json())
    assert again == log.report


def test_output_is_deterministic_whatever_the_record_order() -> None:
    recs = sample()
    one = read_audit_logs(recs)
    other = read_audit_logs(list(reversed(recs)))
    assert one.rows.to_csv() == other.rows.to_csv()
    assert one.buckets.to_csv() == other.buckets.to_csv()
    assert one.principals.to_csv() == other.principals.to_csv()
