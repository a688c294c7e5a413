"""Records look like real Entra exports in all three forms, quirks included."""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import defaultdict
from typing import Any

import orjson
import pytest

from entra_lp.simulate import SimulatedTenant, WriteResult
from entra_lp.simulate.render import LA_HEADER
from entra_lp.simulate.templates import id_prefix

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
RECORD_ID = re.compile(rf"^([A-Za-z][A-Za-z0-9 ]*)_({GUID})_[A-Z0-9]{{5}}_\d+$")


def _graph(written: WriteResult) -> list[dict[str, Any]]:
    with gzip.open(written.files["graph"], "rb") as fh:
        return [orjson.loads(line) for line in fh]


@pytest.fixture(scope="module")
def graph(written: WriteResult) -> list[dict[str, Any]]:
    return _graph(written)


def test_graph_ids_and_correlation(graph: list[dict[str, Any]]) -> None:
    ids = [r["id"] for r in graph]
    assert len(set(ids)) == len(ids)
    for r in graph:
        m = RECORD_ID.match(r["id"])
        assert m, r["id"]
        assert m.group(2) == r["correlationId"]
        assert m.group(1) == id_prefix(r["loggedByService"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", r["activityDateTime"])
    times = [r["activityDateTime"] for r in graph]
    assert times == sorted(times)


def test_graph_initiators(graph: list[dict[str, Any]]) -> None:
    users = [r["initiatedBy"]["user"] for r in graph if r["initiatedBy"]["user"]]
    apps = [r["initiatedBy"]["app"] for r in graph if r["initiatedBy"]["app"]]
    assert users and apps
    assert all(u["displayName"] is None and "@" in u["userPrincipalName"] for u in users)
    assert all(a["appId"] is None and a["servicePrincipalId"] for a in apps)
    names = {a["displayName"] for a in apps}
    assert {"MS-PIM", "Managed Service Identity"} <= names


def test_modified_properties_are_json_encoded_twice(graph: list[dict[str, Any]]) -> None:
    seen_included = 0
    for r in graph:
        for target in r["targetResources"]:
            for prop in target["modifiedProperties"]:
                for side in ("oldValue", "newValue"):
                    value = prop[side]
                    assert value is None or isinstance(value, str)
                    if value is not None:
                        orjson.loads(value)  # the second decode must work
                if prop["displayName"] == "Included Updated Properties":
                    seen_included += 1
                    names = orjson.loads(prop["newValue"])
                    assert isinstance(names, str) and names.strip()
    assert seen_included > 0


def test_membership_records_name_the_group(graph: list[dict[str, Any]]) -> None:
    adds = [r for r in graph if r["activityDisplayName"] == "Add member to group"]
    assert adds
    for r in adds:
        props = {p["displayName"]: p for p in r["targetResources"][0]["modifiedProperties"]}
        group_id = orjson.loads(props["Group.ObjectID"]["newValue"])
        assert r["targetResources"][1]["id"] == group_id
        assert r["operationType"] == "Assign" and r["category"] == "GroupManagement"


def test_pim_twins_share_the_correlation_id(graph: list[dict[str, Any]]) -> None:
    by_corr: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in graph:
        by_corr[r["correlationId"]].append(r)
    activations = [rs for rs in by_corr.values()
                   if any(r["activityDisplayName"] ==
                          "Add member to role requested (PIM activation)" for r in rs)]
    assert activations
    for records in activations:
        twin = [r for r in records if r["loggedByService"] == "Core Directory"]
        assert len(twin) == 1
        assert twin[0]["activityDisplayName"] == "Add member to role"
        assert twin[0]["initiatedBy"]["app"]["displayName"] == "MS-PIM"
        requester = records[0]["initiatedBy"]["user"]["id"]
        assert twin[0]["targetResources"][0]["id"] == requester
        assert {r["id"].split("_")[0] for r in records} == {"PIM", "Directory"}


def test_failures_carry_reasons(graph: list[dict[str, Any]]) -> None:
    failures = [r for r in graph if r["result"] == "failure"]
    successes = [r for r in graph if r["result"] == "success"]
    assert failures and all(r["resultReason"] for r in failures)
    assert all(r["resultReason"] == "" for r in successes)
    share = len(failures) / len(graph)
    assert 0.005 < share < 0.08


def test_log_analytics_portal_csv(written: WriteResult, graph: list[dict[str, Any]]) -> None:
    with gzip.open(written.files["log_analytics"], "rt", encoding="utf-8", newline="") as fh:
        text = fh.read()
    header, _, body = text.partition("\r\n")
    assert header == LA_HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(graph)
    first, record = rows[0], graph[0]
    assert first["Id"] == record["id"]
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d\d:\d\d\.\d{3} [AP]M",
                        first["ActivityDateTime [UTC]"])
    assert first["Type"] == "AuditLogs" and first["SourceSystem"] == "Azure AD"
    targets = orjson.loads(first["TargetResources"])  # JSON inside a string column
    assert targets[0]["id"] == record["targetResources"][0]["id"]
    assert orjson.loads(first["InitiatedBy"])
    assert {row["ResultReason"] for row in rows if row["Result"] == "success"} == {"(blank)"}
    assert first["TenantId"] != first["AADTenantId"]  # the workspace, not the Entra tenant
    assert body.endswith("\r\n")


def test_event_hub_batches(written: WriteResult, graph: list[dict[str, Any]]) -> None:
    with gzip.open(written.files["event_hub"], "rb") as fh:
        batches = [orjson.loads(line) for line in fh]
    records = [r for b in batches for r in b["records"]]
    assert all(set(b) == {"records"} for b in batches)
    assert len(records) == len(graph)
    first = records[0]
    assert first["category"] == "AuditLogs" and first["Level"] == 4
    assert first["resourceId"] == f"/tenants/{first['tenantId']}/providers/Microsoft.aadiam"
    props = first["properties"]
    assert props["id"] == graph[0]["id"]
    assert props["activityDateTime"].endswith("+00:00")
    assert props["category"] == graph[0]["category"]
    users = [r["properties"]["initiatedBy"]["user"] for r in records
             if "user" in r["properties"]["initiatedBy"]]
    assert users and all(u["roles"] == [] for u in users)
    assert all("app" not in r["properties"]["initiatedBy"] for r in records
               if "user" in r["properties"]["initiatedBy"])
    assert all("administrativeUnits" in t for r in records
               for t in r["properties"]["targetResources"])


def test_alternative_spellings_appear(every_persona: SimulatedTenant) -> None:
    names = {r["activityDisplayName"] for r in every_persona.events()}
    assert any(n != n.strip() or "–" in n for n in names)
