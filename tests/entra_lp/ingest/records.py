"""Hand-made audit records for the ingest tests, and converters between delivery forms.

Everything is synthetic (made-up ids and names), shaped like forms A, B and C of
../shared/reference/audit-log-formats.md.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

ADMIN = {"id": "a0000000-0000-4000-8000-000000000001", "displayName": None,
         "userPrincipalName": "admin@example.test", "ipAddress": None}
HELPDESK = {"id": "a0000000-0000-4000-8000-000000000002", "displayName": None,
            "userPrincipalName": "helpdesk@example.test", "ipAddress": "192.0.2.1"}
AUTOMATION = {"appId": None, "displayName": "automation-app",
              "servicePrincipalId": "b0000000-0000-4000-8000-000000000001",
              "servicePrincipalName": None}
MSI = {"appId": None, "displayName": "Managed Service Identity",
       "servicePrincipalId": "b0000000-0000-4000-8000-000000000002", "servicePrincipalName": None}
PIM = {"appId": None, "displayName": "MS-PIM",
       "servicePrincipalId": "b0000000-0000-4000-8000-000000000003", "servicePrincipalName": None}
SYNC = {"id": "a0000000-0000-4000-8000-000000000003", "displayName": None,
        "userPrincipalName": "Sync_DC01_0a1b2c3d4e5f@example.onmicrosoft.test", "ipAddress": None}
USER_T = "c0000000-0000-4000-8000-000000000001"
GROUP = "d0000000-0000-4000-8000-000000000001"


def prop(name: str, new: Any = None, old: Any = None) -> dict[str, Any]:
    """A modifiedProperty whose values are JSON-encoded strings, as Entra writes them."""
    def enc(value: Any) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    return {"displayName": name, "oldValue": enc(old), "newValue": enc(new)}


def record(rid: str, activity: str = "Update user", *, when: str = "2025-05-12T08:30:15.1234567Z",
           user: dict[str, Any] | None = None, app: dict[str, Any] | None = None,
           target: str = USER_T, target_type: str = "User", props: list[Any] | None = None,
           result: str = "success", category: str = "UserManagement",
           service: str = "Core Directory", op: str = "Update") -> dict[str, Any]:
    """A Graph directoryAudit record (form A)."""
    initiated = copy.deepcopy({"user": user, "app": app} if (user or app)
                              else {"user": ADMIN, "app": None})
    return {
        "id": rid, "category": category, "correlationId": "e0000000-0000-4000-8000-000000000000",
        "result": result, "resultReason": "", "activityDisplayName": activity,
        "activityDateTime": when, "loggedByService": service, "operationType": op,
        "initiatedBy": initiated,
        "targetResources": [{"id": target, "displayName": None, "type": target_type,
                             "userPrincipalName": None, "modifiedProperties": props or []}],
        "additionalDetails": [{"key": "User-Agent", "value": "Test/1.0"}],
    }


def sample() -> list[dict[str, Any]]:
    """Eight records covering the interesting cases (names, props, groups, kinds, failure)."""
    return [
        record("Directory_1", "Update user ", when="2025-05-12T08:30:15.1234567Z",
               props=[prop("AccountEnabled", [False], [True]),
                      prop("Included Updated Properties", "AccountEnabled, JobTitle")]),
        record("Directory_2", "Update user", when="2025-05-12T09:00:00Z",
               props=[prop("Included Updated Properties", "JobTitle, AccountEnabled"),
                      prop("AccountEnabled", [True], [False])]),
        record("Directory_3", "Add member to group", op="Assign", category="GroupManagement",
               when="2025-05-12T08:31:00.5Z", user=HELPDESK,
               props=[prop("Group.ObjectID", GROUP), prop("Group.DisplayName", "Helpdesk")]),
        record("Directory_4", "Remove member from group", op="Unassign",
               category="GroupManagement", when="2025-05-13T10:00:00+00:00", user=HELPDESK,
               props=[prop("Group.ObjectID", None, GROUP)]),
        record("Directory_5", "Update application – Certificates and secrets management ",
               category="ApplicationManagement", app=AUTOMATION, target_type="Application",
               target="f0000000-0000-4000-8000-000000000001", when="2025-05-14T00:00:01Z",
               props=[prop("KeyDescription", ["[KeyIdentifier=1]"], []),
                      prop("Included Updated Properties", "KeyDescription")]),
        record("Directory_6", "Reset user password", result="failure", user=HELPDESK,
               when="2025-05-14T12:00:00Z"),
        record("Directory_7", "Add member to role", op="Assign", category="RoleManagement",
               app=PIM, when="2025-05-14T12:05:00Z",
               props=[prop("Role.ObjectID", "r1"), prop("Role.TemplateId", "r1")]),
        record("Directory_8", "Update user", app=MSI, when="2025-05-15T00:00:00.000001Z",
               props=[prop("Included Updated Properties", "Department")]),
    ]


LA_MAP = {"id": "Id", "category": "Category", "result": "Result",
          "activityDisplayName": "ActivityDisplayName", "activityDateTime": "ActivityDateTime",
          "loggedByService": "LoggedByService", "operationType": "AADOperationType",
          "correlationId": "CorrelationId", "resultReason": "ResultReason"}


def to_log_analytics(rec: dict[str, Any]) -> dict[str, Any]:
    """Form B: PascalCase row, dynamic columns as JSON text, extra query columns."""
    row: dict[str, Any] = {"TenantId": "00000000-0000-0000-0000-000000000000",
                           "SourceSystem": "Azure AD", "TimeGenerated": rec["activityDateTime"],
                           "OperationName": rec["activityDisplayName"], "Type": "AuditLogs"}
    for graph, column in LA_MAP.items():
        row[column] = rec.get(graph)
    for graph, column in (("initiatedBy", "InitiatedBy"), ("targetResources", "TargetResources"),
                          ("additionalDetails", "AdditionalDetails")):
        row[column] = orjson.dumps(rec[graph]).decode()
    row["targetDisplayName"] = "query-added column"
    return row


def to_event_hub(rec: dict[str, Any]) -> dict[str, Any]:
    """Form C: Azure Monitor envelope with the record under properties (+00:00 offsets)."""
    props = copy.deepcopy(rec)
    props["activityDateTime"] = props["activityDateTime"].replace("Z", "+00:00")
    for target in props["targetResources"]:
        target["administrativeUnits"] = []
    return {"time": rec["activityDateTime"], "resourceId": "/tenants/t/providers/Microsoft.aadiam",
            "operationName": rec["activityDisplayName"], "operationVersion": "1.0",
            "category": "AuditLogs", "tenantId": "t", "resultSignature": "None",
            "durationMs": 0, "correlationId": rec["correlationId"], "Level": 4,
            "properties": props}


def portal_time(iso: str) -> str:
    """``2025-05-12T08:30:15.1234567Z`` -> ``5/12/2025, 8:30:15.123 AM`` (portal CSV)."""
    from datetime import datetime

    stamp = datetime.fromisoformat(iso.replace("Z", "+00:00"))  # <= 6 fractional digits
    hour = stamp.hour % 12 or 12
    ampm = "AM" if stamp.hour < 12 else "PM"
    return (f"{stamp.month}/{stamp.day}/{stamp.year}, {hour}:{stamp:%M:%S}."
            f"{stamp.microsecond // 1000:03d} {ampm}")
