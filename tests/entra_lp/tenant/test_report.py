"""The privileged-access report: eligibilities, standing and activated roles, activations."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from fake_graph import BUILTIN_ADMIN, BUILTIN_READER, USER_1, USER_2, audit_record

from entra_lp.errors import InvalidValueError
from entra_lp.tenant import REPORT_COLUMNS, render_privileged_access_html


def _pim_audit(i: int, when: datetime, request_id: str, justification: str) -> dict:
    return audit_record(
        i,
        when,
        service="PIM",
        activity="Add member to role completed (PIM activation)",
        targets=[
            {
                "id": BUILTIN_ADMIN,
                "displayName": "Synthetic User Administrator",
                "type": "Role",
                "modifiedProperties": [],
            },
            {
                "id": USER_1,
                "displayName": "Ada",
                "type": "User",
                "userPrincipalName": "ada@example.test",
                "modifiedProperties": [],
            },
        ],
        details=[
            {"key": "RoleDefinitionOriginId", "value": BUILTIN_ADMIN},
            {"key": "Justification", "value": justification},
            {"key": "RequestId", "value": request_id},
            {"key": "StartTime", "value": when.isoformat()},
            {"key": "ExpirationTime", "value": when.replace(hour=when.hour + 1).isoformat()},
        ],
    )


@pytest.fixture
def frame(tenant, fake) -> pd.DataFrame:
    when = datetime(2025, 2, 3, 10, 0, tzinfo=UTC)
    fake.add(
        "/auditLogs/directoryAudits",
        _pim_audit(1, when, "req-old", "CHG-7 quarterly cleanup"),
        _pim_audit(2, when.replace(day=4), "REQ-1", "duplicate of the request"),
        audit_record(
            3, when, service="PIM", activity="Add member to role requested (PIM activation)"
        ),
    )
    df = tenant.report_privileged_access(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)
    )
    return df


def test_report_rows(frame, fake):
    assert tuple(frame.columns) == REPORT_COLUMNS
    rows = [tuple(r) for r in frame[["principal_name", "role_name", "state", "source"]].values]
    assert rows == [
        (
            "ada@example.test",
            "Synthetic User Administrator",
            "activated",
            "roleAssignmentScheduleInstances",
        ),
        (
            "ada@example.test",
            "Synthetic User Administrator",
            "eligible",
            "roleEligibilitySchedules",
        ),
        ("ada@example.test", "Synthetic User Administrator", "activation", "directoryAudits"),
        (
            "ada@example.test",
            "Synthetic User Administrator",
            "activation",
            "roleAssignmentScheduleRequests",
        ),
        (
            "bob@example.test",
            "Synthetic Directory Reader",
            "active",
            "roleAssignmentScheduleInstances",
        ),
    ]
    request = frame[frame.source == "roleAssignmentScheduleRequests"].iloc[0]
    assert request.justification == "INC-42 <urgent>" and request.duration_minutes == 120.0
    audit = frame[frame.source == "directoryAudits"].iloc[0]
    assert audit.justification == "CHG-7 quarterly cleanup" and audit.duration_minutes == 60.0
    assert str(frame["start"].dtype) == "datetime64[us, UTC]"
    standing = frame[frame.state == "active"].iloc[0]
    assert standing.principal_id == USER_2 and standing.role_definition_id == BUILTIN_READER
    assert pd.isna(standing.end)
    (audits,) = fake.gets("/auditLogs/directoryAudits")[:1]
    assert audits.query["$filter"].endswith("and (loggedByService eq 'PIM')")
    (req,) = fake.gets("/roleManagement/directory/roleAssignmentScheduleRequests")
    assert req.query == {"$expand": "principal", "$filter": "action eq 'selfActivate'"}


def test_report_without_window_reads_no_audits(tenant, fake):
    df = tenant.report_privileged_access()
    assert "directoryAudits" not in set(df.source)
    assert not fake.gets("/auditLogs/directoryAudits")


def test_html_fragment_is_self_contained_and_escaped(frame):
    html = render_privileged_access_html(frame, title="Access <review>")
    assert html.startswith('<section class="elp-pa"><style>') and html.endswith("</section>")
    assert "<script" not in html and "http" not in html
    assert "INC-42 &lt;urgent&gt;" in html and "<urgent>" not in html
    assert "Access &lt;review&gt;" in html
    assert "2 principals: 1 active, 1 activated, 1 eligible, 2 activation" in html
    assert "2 h" in html and "2025-03-01 09:00 UTC" in html
    assert html == render_privileged_access_html(frame, title="Access <review>")


def test_html_needs_the_report_columns():
    with pytest.raises(InvalidValueError, match="lacks column"):
        render_privileged_access_html(pd.DataFrame({"state": []}))
