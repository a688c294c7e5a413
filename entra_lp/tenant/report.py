"""Privileged-access report: who holds, may activate and did activate which directory role.

:func:`privileged_access` reads PIM state (eligibilities, assignments in force, activation
requests) and optionally the PIM audit records of a window, and returns one long
DataFrame (schema: :data:`REPORT_COLUMNS`). :func:`render_privileged_access_html` turns it
into a self-contained HTML fragment (inline, scoped CSS; no script) for the report stage.

``state`` is one of:

* ``eligible`` — may activate (from ``roleEligibilitySchedules``);
* ``active`` — holds the role now, assigned (standing or time-bound);
* ``activated`` — holds the role now through a PIM activation;
* ``activation`` — an activation request (history, with justification and duration),
  from ``roleAssignmentScheduleRequests`` or, when not found there, from a PIM audit record.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ..errors import InvalidValueError
from ..export.graph import parse_iso_duration
from ._http import GraphHttp
from .audits import AUDITS_PATH, audit_query
from .reads import PERMISSIONS, parse_graph_datetime, role_definitions

__all__ = ["REPORT_COLUMNS", "privileged_access", "render_privileged_access_html"]

REPORT_COLUMNS = (
    "principal_id",
    "principal_name",
    "principal_type",
    "role_definition_id",
    "role_name",
    "directory_scope_id",
    "state",
    "member_type",
    "start",
    "end",
    "duration_minutes",
    "justification",
    "status",
    "source",
    "request_id",
)
_STATE_ORDER = {"active": 0, "activated": 1, "eligible": 2, "activation": 3}

# PIM writes one audit record per stage of an activation; the completed one is the grant.
_ACTIVATION_MARK = "(PIM activation)"
_COMPLETED = "completed"


def _principal(item: Mapping[str, Any]) -> tuple[str, str]:
    p = item.get("principal") or {}
    kind = str(p.get("@odata.type", "")).rsplit(".", 1)[-1] or "unknown"
    name = p.get("userPrincipalName") or p.get("displayName") or ""
    return str(name), kind


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() / 60 if start and end else None


def _row(item: Mapping[str, Any], state: str, source: str, **extra: Any) -> dict[str, Any]:
    name, kind = _principal(item)
    start = parse_graph_datetime(item.get("startDateTime"))
    end = parse_graph_datetime(item.get("endDateTime"))
    row: dict[str, Any] = {
        "principal_id": str(item.get("principalId") or ""),
        "principal_name": name,
        "principal_type": kind,
        "role_definition_id": str(item.get("roleDefinitionId") or ""),
        "directory_scope_id": str(item.get("directoryScopeId") or "/"),
        "state": state,
        "member_type": str(item.get("memberType") or ""),
        "start": start,
        "end": end,
        "duration_minutes": _minutes(start, end),
        "justification": "",
        "status": str(item.get("status") or ""),
        "source": source,
        "request_id": "",
    }
    row.update(extra)
    return row


def _eligible_rows(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        info = item.get("scheduleInfo") or {}
        start = parse_graph_datetime(info.get("startDateTime"))
        end = parse_graph_datetime((info.get("expiration") or {}).get("endDateTime"))
        out.append(
            _row(
                item,
                "eligible",
                "roleEligibilitySchedules",
                start=start,
                end=end,
                duration_minutes=_minutes(start, end),
            )
        )
    return out


def _active_rows(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        _row(
            i,
            "activated" if i.get("assignmentType") == "Activated" else "active",
            "roleAssignmentScheduleInstances",
        )
        for i in items
    ]


def _request_rows(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        info = item.get("scheduleInfo") or {}
        expiration = info.get("expiration") or {}
        start = parse_graph_datetime(info.get("startDateTime") or item.get("createdDateTime"))
        end = parse_graph_datetime(expiration.get("endDateTime"))
        if end is None and start is not None and expiration.get("duration"):
            try:
                end = start + parse_iso_duration(str(expiration["duration"]))
            except InvalidValueError:
                end = None
        out.append(
            _row(
                item,
                "activation",
                "roleAssignmentScheduleRequests",
                start=start,
                end=end,
                duration_minutes=_minutes(start, end),
                justification=str(item.get("justification") or ""),
                request_id=str(item.get("id") or ""),
            )
        )
    return out


def _details(record: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(d.get("key", "")).casefold(): str(d.get("value") or "")
        for d in record.get("additionalDetails") or []
    }


def _is_activation(record: Mapping[str, Any]) -> bool:
    activity = str(record.get("activityDisplayName") or "").strip()
    return _ACTIVATION_MARK in activity and _COMPLETED in activity


def _audit_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    details = _details(rec)
    targets = rec.get("targetResources") or []
    role: Mapping[str, Any] = next(
        (t for t in targets if str(t.get("type")).casefold() == "role"), {}
    )
    kinds = ("User", "ServicePrincipal", "Group")
    who = next((t for t in targets if str(t.get("type")) in kinds), None)
    who = who or (rec.get("initiatedBy") or {}).get("user") or {}
    start = parse_graph_datetime(details.get("starttime") or rec.get("activityDateTime"))
    end = parse_graph_datetime(details.get("expirationtime") or details.get("endtime"))
    return {
        "principal_id": str(who.get("id") or ""),
        "principal_name": str(who.get("userPrincipalName") or who.get("displayName") or ""),
        "principal_type": str(who.get("type") or "user").lower(),
        "role_definition_id": details.get("roledefinitionoriginid")
        or details.get("templateid")
        or str(role.get("id") or ""),
        "role_name": str(role.get("displayName") or ""),
        "directory_scope_id": "/",
        "state": "activation",
        "member_type": "",
        "start": start,
        "end": end,
        "duration_minutes": _minutes(start, end),
        "justification": details.get("justification", ""),
        "status": str(rec.get("result") or ""),
        "source": "directoryAudits",
        "request_id": details.get("requestid", ""),
    }


def _audit_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Completed PIM activations found in audit records (other PIM stages are skipped)."""
    return [_audit_row(r) for r in records if _is_activation(r)]


async def privileged_access(
    http: GraphHttp,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> pd.DataFrame:
    """Read PIM state (and, given ``since`` and ``until``, PIM audit records) into a DataFrame."""
    expand = {"$expand": "principal"}
    base = "/roleManagement/directory/"
    names, eligible, active, requests = await asyncio.gather(
        role_definitions(http),
        http.collect(
            base + "roleEligibilitySchedules",
            expand,
            permission=PERMISSIONS["eligibility_schedules"],
        ),
        http.collect(
            base + "roleAssignmentScheduleInstances",
            expand,
            permission=PERMISSIONS["active_schedule_instances"],
        ),
        http.collect(
            base + "roleAssignmentScheduleRequests",
            {**expand, "$filter": "action eq 'selfActivate'"},
            permission=PERMISSIONS["activation_requests"],
        ),
    )
    rows = _eligible_rows(eligible) + _active_rows(active) + _request_rows(requests)
    if since is not None and until is not None:
        query = audit_query(since, until, "loggedByService eq 'PIM'", None)
        audits = await http.collect(AUDITS_PATH, query, permission=PERMISSIONS["directory_audits"])
        known = {r["request_id"].casefold() for r in rows if r["request_id"]}
        rows += [
            r
            for r in _audit_rows(audits)
            if not r["request_id"] or r["request_id"].casefold() not in known
        ]
    role_names = {str(d.get("id")): str(d.get("displayName") or "") for d in names}
    return _frame(rows, role_names)


def _frame(rows: list[dict[str, Any]], role_names: Mapping[str, str]) -> pd.DataFrame:
    for row in rows:
        row["role_name"] = role_names.get(row["role_definition_id"]) or row.get("role_name", "")
    df = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[us, UTC]")
    df["duration_minutes"] = df["duration_minutes"].astype("float64")
    df["_order"] = df["state"].map(_STATE_ORDER)
    df = df.sort_values(
        ["principal_name", "principal_id", "role_name", "_order", "start", "source", "request_id"],
        na_position="last",
        kind="mergesort",
    )
    return df.drop(columns="_order").reset_index(drop=True)


# ---- HTML -----------------------------------------------------------------------------------
_CSS = """
.elp-pa{font:13px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;color:#1b1b1b}
.elp-pa h2{font-size:16px;margin:0 0 6px}
.elp-pa .elp-summary{margin:0 0 8px;color:#444}
.elp-pa table{border-collapse:collapse;width:100%}
.elp-pa th,.elp-pa td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left}
.elp-pa td{vertical-align:top}
.elp-pa th{background:#f3f3f3;font-weight:600}
.elp-pa tr.elp-first td{border-top:2px solid #999}
.elp-pa .elp-state-activated,.elp-pa .elp-state-active{color:#a4262c;font-weight:600}
.elp-pa .elp-state-eligible{color:#0b6a0b}
""".strip()

_HTML_COLUMNS = (
    ("principal_name", "Principal"),
    ("role_name", "Role"),
    ("directory_scope_id", "Scope"),
    ("state", "State"),
    ("start", "Start"),
    ("end", "End"),
    ("duration_minutes", "Duration"),
    ("justification", "Justification"),
    ("status", "Status"),
)


def _cell(column: str, value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if column in ("start", "end"):
        return str(pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC"))
    if column == "duration_minutes":
        total = timedelta(minutes=float(value))
        hours, minutes = divmod(int(total.total_seconds() // 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return str(value)


def render_privileged_access_html(df: pd.DataFrame, title: str = "Privileged access") -> str:
    """A self-contained HTML fragment (scoped CSS, no script, every value escaped)."""
    missing = [c for c, _ in _HTML_COLUMNS if c not in df.columns]
    if missing:
        raise InvalidValueError(f"privileged-access frame lacks column(s) {missing}")
    counts = df["state"].value_counts()
    summary = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in _STATE_ORDER)
    principals = df["principal_id"].nunique()
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in _HTML_COLUMNS)
    body, previous = [], None
    for record in df.to_dict("records"):
        key = record["principal_id"]
        cls = ' class="elp-first"' if key != previous else ""
        cells = []
        for col, _ in _HTML_COLUMNS:
            text = _cell(col, record[col])
            if col == "principal_name" and key == previous:
                text = ""
            attr = f' class="elp-state-{html.escape(text)}"' if col == "state" else ""
            cells.append(f"<td{attr}>{html.escape(text)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
        previous = key
    return (
        f'<section class="elp-pa"><style>{_CSS}</style>'
        f"<h2>{html.escape(title)}</h2>"
        f'<p class="elp-summary">{principals} principals: {html.escape(summary)}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )
