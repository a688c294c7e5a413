"""The KQL usage query: its (hand-computed) result reads back as the same usage rows."""

# ruff: noqa: E501  (the expected export is verbatim CSV, one row per line)

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from entra_lp.errors import IngestError, InvalidValueError
from entra_lp.ingest import KEY_COLUMNS, USAGE_COLUMNS, read_audit_logs
from entra_lp.kql import run_usage_query, usage_query

from .ingest.records import ADMIN, HELPDESK, prop, record, sample

# What usage_query() returns for the eight records of records.sample(), worked out by hand
# from the query text, as the Log Analytics portal exports it (CSV, 7-digit datetimes, rows
# in the query's order). The MS-PIM row is there: stage 1 keeps system initiators. It has
# no property_values column (an export of the query before that column existed): the column
# reads as empty, which is what the query gives for these records.
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


# ---- property values: "Consent to application" by a user for themself vs by an admin ------

APP_SP = "e1000000-0000-4000-8000-000000000001"


def consent(rid: str, new_value: str, user: dict[str, Any], when: str) -> dict[str, Any]:
    """A consent record whose ``ConsentContext.IsAdminConsent`` new value is ``new_value``
    (the raw JSON text, as Entra writes it)."""
    rec: dict[str, Any] = record(rid, "Consent to application", category="ApplicationManagement", op="Assign",
                 user=user, target=APP_SP, target_type="ServicePrincipal", when=when,
                 props=[prop("ConsentContext.IsAdminConsent"),
                        prop("ConsentContext.IsAppOnly", "False")])
    rec["targetResources"][0]["modifiedProperties"][0]["newValue"] = new_value
    return rec


def consent_records() -> list[dict[str, Any]]:
    """A user consenting for themself (sent twice: one Id), and two admin consents, the
    second with its value as a one-string list."""
    mine = consent("Directory_c1", '"False"', HELPDESK, "2025-05-12T10:00:00Z")
    org = consent("Directory_c2", '"True"', ADMIN, "2025-05-12T11:00:00Z")
    org_list = consent("Directory_c3", '["True"]', ADMIN, "2025-05-12T12:00:00Z")
    return [mine, org, org_list, mine]


# What usage_query() returns for sample() + consent_records(), worked out by hand from the
# query text: the sample rows with an empty property_values, and the consent rows with the
# lower-case name and the decoded new value (mv-apply: _vt, _pv, _pvs).
CONSENT_ROWS = """\
a0000000-0000-4000-8000-000000000001,admin@example.test,user,Core Directory,ApplicationManagement,Consent to application,Assign,success,ServicePrincipal,e1000000-0000-4000-8000-000000000001,,ConsentContext.IsAdminConsent|ConsentContext.IsAppOnly,consentcontext.isadminconsent=True,2,2025-05-12T11:00:00.0000000Z,2025-05-12T12:00:00.0000000Z,Directory_c2
a0000000-0000-4000-8000-000000000002,helpdesk@example.test,user,Core Directory,ApplicationManagement,Consent to application,Assign,success,ServicePrincipal,e1000000-0000-4000-8000-000000000001,,ConsentContext.IsAdminConsent|ConsentContext.IsAppOnly,consentcontext.isadminconsent=False,1,2025-05-12T10:00:00.0000000Z,2025-05-12T10:00:00.0000000Z,Directory_c1
"""


def _with_property_values(csv_text: str) -> list[str]:
    """EXPECTED_CSV's lines with the (empty) property_values column the query now emits."""
    at = USAGE_COLUMNS.index("property_values")
    out = []
    for n, line in enumerate(csv_text.splitlines()):
        cells = line.split(",")
        out.append(",".join([*cells[:at], "property_values" if n == 0 else "", *cells[at:]]))
    return out


def test_hand_computed_kql_result_with_consent_values(tmp_path: Path) -> None:
    lines = _with_property_values(EXPECTED_CSV)
    assert lines[0] == ",".join(USAGE_COLUMNS)
    path = tmp_path / "kql_export.csv"
    path.write_text("\n".join([*lines, *CONSENT_ROWS.splitlines()]) + "\n", encoding="utf-8")
    remote = read_audit_logs(path)
    for engine in ("python", "duckdb"):
        source = tmp_path / f"records_{engine}.jsonl"
        source.write_bytes(b"".join(orjson.dumps(r) + b"\n"
                                    for r in [*sample(), *consent_records()]))
        local = read_audit_logs(source, engine=engine)
        assert local.report.engine == engine and local.report.duplicates == 1
        assert remote.rows.to_dict("records") == local.rows.to_dict("records")
    remote_m, local_m = remote.usage(), local.usage()
    assert remote_m.evidence.to_dict("records") == local_m.evidence.to_dict("records")
    assert remote_m.no_admin_right.to_dict("records") == local_m.no_admin_right.to_dict("records")
    # the user's own consent needs no admin right; the admin's is the consent action
    consent_rows = local_m.no_admin_right[local_m.no_admin_right["activity"]
                                          == "Consent to application"]
    assert consent_rows[["kind", "count", "example_id"]].to_dict("records") == [
        {"kind": "self_service", "count": 1, "example_id": "Directory_c1"}]
    helpdesk = local_m.evidence[local_m.evidence["principal_id"] == HELPDESK["id"]]
    assert not any("PermissionGrants" in a for a in helpdesk["action"])
    admin = local_m.evidence[local_m.evidence["example_ids"].apply(lambda e: "Directory_c2" in e)]
    assert admin["action"].tolist() == [
        "microsoft.directory/servicePrincipals/managePermissionGrantsForAll"
        ".microsoft-application-admin"]
    assert admin["count"].tolist() == [2]


def test_query_groups_by_every_key_column_and_decodes_rule_values() -> None:
    text = usage_query(7)
    by = text.split("\n    by ", 1)[1].split("\n| project", 1)[0]
    assert {c.strip() for c in by.split(",")} == set(KEY_COLUMNS) - {"principal_name"}
    assert "modified_properties asc, property_values asc, principal_type asc" in text
    # the properties the default catalog's rules test, as ingest keeps them
    assert 'set_has_element(dynamic(["consentcontext.isadminconsent"]), tolower(_n))' in text
    assert "property_values = strcat_array(array_sort_asc(_pvs), \"|\")" in text
    chosen = usage_query(7, value_properties=["Some.Property", "ConsentContext.IsAppOnly"])
    assert 'dynamic(["consentcontext.isapponly","some.property"])' in chosen
    assert "dynamic([])" in usage_query(7, value_properties=())
