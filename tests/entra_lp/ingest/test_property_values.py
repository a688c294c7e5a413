"""Property values in the usage key: "Consent to application" by a user for themself (no admin
right) versus admin consent, end to end in every input shape and with both engines.

The audit rules tell the two apart only by the new value of ``ConsentContext.IsAdminConsent``
(``False``: a user consenting within the user-consent policy; ``True``: admin consent). Stage 1
keeps that decoded value in ``property_values``; stage 2 passes it to ``catalog.map_activity``.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from entra_lp.ingest import AuditLog, read_audit_logs
from entra_lp.usage import UsageMatrix

from .records import ADMIN, HELPDESK, prop, record, to_event_hub, to_log_analytics

APP_SP = "e1000000-0000-4000-8000-000000000001"
CONSENT_ACTION = (
    "microsoft.directory/servicePrincipals/managePermissionGrantsForAll.microsoft-application-admin"
)
KEY = "consentcontext.isadminconsent"


def consent(rid: str, is_admin: Any, *, user: dict[str, Any],
            name: str = "ConsentContext.IsAdminConsent",
            when: str = "2025-05-12T10:00:00Z") -> dict[str, Any]:
    """A Core Directory consent record shaped like real ones (the values are JSON-encoded
    strings such as ``"\\"False\\""``)."""
    rec: dict[str, Any] = record(
        rid, "Consent to application", category="ApplicationManagement", op="Assign",
        user=user, target=APP_SP, target_type="ServicePrincipal", when=when,
        props=[prop(name, is_admin), prop("ConsentContext.IsAppOnly", "False"),
               prop("ConsentContext.OnBehalfOfAll", is_admin),
               prop("ConsentAction.Permissions", "[] => [[Scope: User.Read]]"),
               prop("TargetId.ServicePrincipalNames", APP_SP)],
    )
    return rec


def consents() -> list[dict[str, Any]]:
    """A user consenting for themself, and an admin consenting for the organisation."""
    return [consent("Directory_user_consent", "False", user=HELPDESK),
            consent("Directory_admin_consent", "True", user=ADMIN, when="2025-05-12T11:00:00Z")]


def check_consents(log: AuditLog) -> None:
    """The user's consent needs no admin right; the admin's maps to the consent action."""
    values = dict(zip(log.rows["example_id"], log.rows["property_values"], strict=True))
    assert values == {"Directory_user_consent": f"{KEY}=False",
                      "Directory_admin_consent": f"{KEY}=True"}
    matrix = log.usage()
    assert set(matrix.evidence["principal_id"]) == {ADMIN["id"]}
    admin = matrix.evidence.iloc[0]
    assert admin["action"] == CONSENT_ACTION
    assert admin["rule_ids"] == ("core.consent-to-application",)
    assert admin["example_ids"] == ("Directory_admin_consent",)
    assert _row_total(matrix, HELPDESK["id"]) == 0 and _row_total(matrix, ADMIN["id"]) == 1
    assert matrix.no_admin_right[["activity", "kind", "count", "example_id"]].to_dict(
        "records") == [{"activity": "Consent to application", "kind": "self_service",
                        "count": 1, "example_id": "Directory_user_consent"}]
    assert matrix.unmapped.empty


def _row_total(matrix: UsageMatrix, principal_id: str) -> int:
    return int(matrix.counts[matrix.principal_index(principal_id)].sum())


# ---- the input shapes ---------------------------------------------------------------------


def _jsonl(path: Path, records: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _la_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    """Log Analytics export as CSV: the dynamic columns are JSON text inside CSV cells, so
    a property value is three layers deep (CSV quoting, column JSON, value JSON)."""
    rows = [to_log_analytics(r) for r in records]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow(["" if v is None else v for v in row.values()])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


SHAPES: dict[str, Callable[[Path, list[dict[str, Any]]], Any]] = {
    "graph_jsonl": lambda d, rs: _jsonl(d / "g.jsonl", rs),
    "graph_page": lambda d, rs: _write(d / "page.json", orjson.dumps(
        {"@odata.context": "x", "value": rs})),
    "graph_dicts": lambda d, rs: rs,
    "event_hub_jsonl_gz": lambda d, rs: _write(d / "h.jsonl.gz", gzip.compress(
        b"".join(orjson.dumps(to_event_hub(r)) + b"\n" for r in rs))),
    "event_hub_batch": lambda d, rs: _write(d / "h.json", orjson.dumps(
        {"records": [to_event_hub(r) for r in rs]})),
    "log_analytics_jsonl": lambda d, rs: _jsonl(d / "la.jsonl", [to_log_analytics(r) for r in rs]),
    "log_analytics_csv": lambda d, rs: _la_csv(d / "la.csv", rs),
    "log_analytics_frame": lambda d, rs: pd.DataFrame([to_log_analytics(r) for r in rs]),
}
DUCKDB_SHAPES = ("graph_jsonl", "event_hub_jsonl_gz")  # the forms the DuckDB engine reads in SQL


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_on_the_python_engine(tmp_path: Path, shape: str) -> None:
    log = read_audit_logs(SHAPES[shape](tmp_path, consents()), engine="python")
    assert log.report.records_parsed == 2 and log.report.engine == "python"
    check_consents(log)


@pytest.mark.parametrize("shape", DUCKDB_SHAPES)
def test_duckdb_engine_reads_the_values_in_sql(tmp_path: Path, shape: str) -> None:
    log = read_audit_logs(SHAPES[shape](tmp_path, consents()), engine="duckdb")
    assert log.report.engine == "duckdb" and not log.report.notes
    check_consents(log)


def test_duckdb_engine_on_a_mixed_folder(tmp_path: Path) -> None:
    """Graph and Event Hub lines read in SQL, a Log Analytics CSV on the Python path of the
    same run: each consent kind arrives in every form, under other ids."""
    recs = [*consents(), consent("Directory_user_consent2", "False", user=HELPDESK,
                                 when="2025-05-13T10:00:00Z")]
    for i, r in enumerate(recs):
        r["id"] = f"Directory_mix{i}"
    hub = [*consents()]
    la = [consent("Directory_la_user", "False", user=HELPDESK, when="2025-05-14T00:00:00Z"),
          consent("Directory_la_admin", "True", user=ADMIN, when="2025-05-14T00:00:00Z")]
    _jsonl(tmp_path / "a.jsonl", recs)
    _jsonl(tmp_path / "b.jsonl", [to_event_hub(r) for r in hub])
    _la_csv(tmp_path / "c.csv", la)
    fast = read_audit_logs(tmp_path, engine="duckdb")
    slow = read_audit_logs(tmp_path, engine="python")
    assert fast.report.engine == "duckdb" and not fast.report.notes
    assert fast.formats == {"graph": 3, "log_analytics": 2, "event_hub": 2}
    assert fast.rows.to_dict("records") == slow.rows.to_dict("records")
    by_principal = fast.rows.groupby("principal_id")["property_values"].agg(set).to_dict()
    assert by_principal == {HELPDESK["id"]: {f"{KEY}=False"}, ADMIN["id"]: {f"{KEY}=True"}}
    matrix = fast.usage()
    assert _row_total(matrix, HELPDESK["id"]) == 0
    assert _row_total(matrix, ADMIN["id"]) == 3
    assert matrix.no_admin_right["count"].tolist() == [4]


# ---- what exactly enters the key -----------------------------------------------------------


@pytest.mark.parametrize(("name", "raw", "kept"), [
    ("ConsentContext.IsAdminConsent", '"False"', "False"),
    ("ConsentContext.IsAdminConsent", '["False"]', "False"),  # a one-string list
    ("ConsentContext.IsAdminConsent", '" false "', "false"),  # trimmed; rules ignore case
    ("consentcontext.isadminconsent", '"False"', "False"),  # names compare case-insensitively
    ("ConsentContext.IsAdminConsent", "False", "False"),  # not JSON: the raw text
])
@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_value_spellings_map_alike_in_both_engines(tmp_path: Path, name: str, raw: str,
                                                    kept: str, engine: str) -> None:
    rec = consent("Directory_c", "False", user=HELPDESK, name=name)
    rec["targetResources"][0]["modifiedProperties"][0]["newValue"] = raw
    log = read_audit_logs(_jsonl(tmp_path / "a.jsonl", [rec]), engine=engine)
    assert log.rows["property_values"].tolist() == [f"{KEY}={kept}"]
    matrix = log.usage()
    assert matrix.counts.nnz == 0
    assert matrix.no_admin_right["kind"].tolist() == ["self_service"]


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_values_keep_otherwise_identical_records_apart(tmp_path: Path, engine: str) -> None:
    """Same principal, app, activity and property names: only the value differs, and the
    two records stay two usage rows with different meanings."""
    recs = [consent("Directory_mine", "False", user=ADMIN),
            consent("Directory_org", "True", user=ADMIN, when="2025-05-12T12:00:00Z")]
    log = read_audit_logs(_jsonl(tmp_path / "a.jsonl", recs), engine=engine)
    assert log.report.engine == engine
    assert log.rows["property_values"].tolist() == [f"{KEY}=False", f"{KEY}=True"]
    assert log.rows["count"].tolist() == [1, 1]
    matrix = log.usage()
    assert matrix.evidence["example_ids"].tolist() == [("Directory_org",)]
    assert matrix.no_admin_right["example_id"].tolist() == ["Directory_mine"]


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_value_properties_choose_what_is_kept(tmp_path: Path, engine: str) -> None:
    path = _jsonl(tmp_path / "a.jsonl", consents())
    nothing = read_audit_logs(path, engine=engine, value_properties=())
    assert set(nothing.rows["property_values"]) == {""}
    # without the value the rules cannot tell user consent from admin consent: both are
    # read as the (ambiguous) admin act
    evidence = nothing.usage().evidence
    assert sorted(evidence["principal_id"]) == sorted([ADMIN["id"], HELPDESK["id"]])
    assert set(evidence["confidence"]) == {"ambiguous"}
    other = read_audit_logs(path, engine=engine, value_properties=["ConsentContext.IsAppOnly"])
    assert set(other.rows["property_values"]) == {"consentcontext.isapponly=False"}
