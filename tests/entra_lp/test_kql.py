"""The KQL usage query: its (hand-computed) result reads back as the same usage rows."""

# ruff: noqa: E501  (the expected export is verbatim CSV, one row per line)

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from entra_lp.errors import IngestError, InvalidValueError
from entra_lp.ingest import USAGE_COLUMNS, read_audit_logs
from entra_lp.kql import run_usage_query, usage_query

from .ingest.records import sample

# What usage_query() returns for the eight records of records.sample(), worked out by hand
# from the query text, as the Log Analytics portal exports it (CSV, 7-digit datetimes, rows
# in the query's order). The MS-PIM row is there: stage 1 keeps system initiators.
EXPECTED_CSV = """\
principal_id,principal_name,principal_type,service,category,activity,operation_type,result,target_type,target_id,related_group_id,modified_properties,count,first_seen,last_seen,example_id
a0000000-0000-4000-8000-000000000001,admin@example.test,user,Core Directory,UserManagement,Update user,Update,success,User,c0000000-0000-4000-8000-000000000001,,AccountEnabled|JobTitle,2,2025-05-12T08:30:15.1234567Z,2025-05-12T09:00:00.0000000Z,Directory_1
a0000000-0000-4000-8000-000000000002,helpdesk@example.test,user,Core Directory,GroupManagement,Add member to group,Assign,success,User,c0000000-0000-4000-8000-000000000001,d0000000-0000-4000-8000-000000000001,Group.DisplayName|Group.ObjectID,1,2025-05-12T08:31:00.5000000Z,2025-05-12T08:31:00.5000000Z,Directory_3
a0000000-0000-4000-8000-000000000002,helpdesk@example.test,user,Core Directory,GroupManagement,Remove member from group,Unassign,success,User,c0000000-0000-4000-8000-000000000001,d0000000-0000-4000-8000-000000000001,Group.ObjectID,1,2025-05-13T10:00:00.0000000Z,2025-05-13T10:00:00.0000000Z,Directory_4
a0000000-0000-4000-8000-000000000002,helpdesk@example.test,user,Core Directory,UserManagement,Reset user password,Update,failure,User,c0000000-0000-4000-8000-000000000001,,,1,2025-05-14T12:00:00.0000000Z,2025-05-14T12:00:00.0000000Z,Directory_6
b0000000-0000-4000-8000-000000000001,automation-app,app,Core Directory,ApplicationManagement,Update application – Certificates and secrets management,Update,success,Application,f0000000-0000-4000-8000-000000000001,,KeyDescription,1,2025-05-14T00:00:01.0000000Z,2025-05-14T00:00:01.0000000Z,Directory_5
b0000000-0000-4000-8000-000000000002,Managed Service Identity,app,Core Directory,UserManagement,Update user,Update,success,User,c0000000-0000-4000-8000-000000000001,,Department,1,2025-05-15T00:00:00.0000010Z,2025-05-15T00:00:00.0000010Z,Directory_8
b0000000-0000-4000-8000-000000000003,MS-PIM,app,Core Directory,RoleManagement,Add member to role,Assign,success,User,c0000000-0000-4000-8000-000000000001,,Role.ObjectID|Role.TemplateId,1,2025-05-14T12:05:00.0000000Z,2025-05-14T12:05:00.0000000Z,Directory_7
"""


def test_hand_computed_kql_result_equals_local_stage1(tmp_path: Path) -> None:
    path = tmp_path / "kql_export.csv"
    path.write_text(EXPECTED_CSV, encoding="utf-8")
    remote = read_audit_logs(path)
    local = read_audit_logs(sample())
    assert remote.formats == {"kql_usage": 7}
    assert remote.rows.to_dict("records") == local.rows.to_dict("records")
    assert tuple(remote.rows.columns) == USAGE_COLUMNS
    # JSON export of the same result (list of objects, counts as numbers) reads the same
    lines = EXPECTED_CSV.splitlines()
    header = lines[0].split(",")
    objs = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    for obj in objs:
        obj["count"] = int(obj["count"])
    as_json = tmp_path / "kql_export.json"
    as_json.write_bytes(orjson.dumps(objs))
    again = read_audit_logs(as_json)
    assert again.rows.to_dict("records") == local.rows.to_dict("records")
    assert again.principals["kind"].tolist() == local.principals["kind"].tolist()


def test_kql_rows_merge_and_validate() -> None:
    lines = EXPECTED_CSV.splitlines()
    header = lines[0].split(",")
    row = dict(zip(header, lines[1].split(","), strict=True))
    later = {**row, "count": "3", "first_seen": "2025-05-20T00:00:00Z",
             "last_seen": "2025-05-21T00:00:00Z", "example_id": "Directory_9"}
    broken = {**row, "count": "many"}
    log = read_audit_logs([row, later, broken])
    assert log.rows["count"].tolist() == [5]
    assert log.rows["example_id"].tolist() == ["Directory_1"]
    assert str(log.rows["last_seen"].iloc[0]) == "2025-05-21 00:00:00+00:00"
    assert [(s.location, s.field) for s in log.report.rejected_samples] == [
        ("<records>:3", "count")]
    assert log.buckets.empty  # aggregated rows carry no per-record times


def test_query_text_covers_the_contract() -> None:
    text = usage_query(7)
    assert text.startswith("AuditLogs\n| where TimeGenerated >= ago(7d)")
    for needle in ("mv-apply _t = _trs", "Included Updated Properties", "Group.ObjectID",
                   "summarize arg_min(ActivityDateTime, *) by Id", "array_sort_asc"):
        assert needle in text
    assert "| project " + ", ".join(USAGE_COLUMNS) in text
    window = usage_query(since="2025-05-01T00:00:00Z", until="2025-06-01", table="AuditLogs_CL")
    assert window.startswith("AuditLogs_CL\n")
    assert "ActivityDateTime >= datetime(2025-05-01T00:00:00.000000Z)" in window
    assert "ActivityDateTime < datetime(2025-06-01T00:00:00.000000Z)" in window
    assert usage_query(3) == usage_query(3)


@pytest.mark.parametrize("kwargs", [{"table": "AuditLogs | take 1"}, {"days": 0},
                                    {"since": "not a date"}])
def test_query_arguments_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidValueError):
        usage_query(**kwargs)  # type: ignore[arg-type]


def test_run_usage_query_without_the_extra_says_what_to_install() -> None:
    pytest.importorskip("pytest")
    try:
        import azure.monitor.query  # noqa: F401
    except ImportError:
        with pytest.raises(IngestError, match="azure-monitor-query"):
            run_usage_query("workspace", credential=None)
    else:
        pytest.skip("azure-monitor-query is installed here; the missing-extra path is moot")
