"""Stage 1 at scale: the usage-row aggregation as a KQL query for Log Analytics / Sentinel / ADX.

``usage_query()`` returns KQL that computes, inside the workspace, exactly the usage rows that
``read_audit_logs`` computes locally (same columns, names, types and rules: trimmed
activity, first target, sorted distinct modified-property names with ``Included Updated
Properties`` expanded, ``Group.ObjectID`` decoded from new or old value, the decoded new value
of the properties audit rules test in ``property_values``, duplicates by ``Id`` counted once).
Export its result as CSV or JSON and pass the file to ``read_audit_logs``, or
call ``run_usage_query`` with the optional ``azure-monitor-query`` package installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from entra_lp.errors import IngestError, InvalidValueError
from entra_lp.ingest import USAGE_COLUMNS, AuditLog, read_audit_logs
from entra_lp.ingest._timeparse import to_epoch_us, us_to_datetime
from entra_lp.ingest.log import _value_names

__all__ = ["run_usage_query", "usage_query"]

_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# The query body after the time filter. A modifiedProperties value is JSON text decoded once
# more (an array yields its first element), mirroring entra_lp.ingest._records; ``_vt`` is
# its first text as ``_first_text`` gives it ("" for numbers, booleans, objects), kept as
# ``name=value`` (lower-case name) for the properties in {values} only.
_BODY = """\
| summarize arg_min(ActivityDateTime, *) by Id
| extend _u = InitiatedBy.user, _a = InitiatedBy.app
| extend _uid = trim(@"\\s+", tostring(_u.id)),
         _upn = trim(@"\\s+", tostring(_u.userPrincipalName)),
         _udn = trim(@"\\s+", tostring(_u.displayName)),
         _spid = trim(@"\\s+", tostring(_a.servicePrincipalId)),
         _appid = trim(@"\\s+", tostring(_a.appId)),
         _adn = trim(@"\\s+", tostring(_a.displayName))
| extend principal_type = case(isnotempty(coalesce(_uid, _upn, _udn)), "user",
                               isnotempty(coalesce(_spid, _appid, _adn)), "app", "")
| extend principal_id = case(principal_type == "user", coalesce(_uid, _upn, _udn),
                             principal_type == "app", coalesce(_spid, _appid, _adn), ""),
         principal_name = case(principal_type == "user", coalesce(_upn, _udn, _uid),
                               principal_type == "app", coalesce(_adn, _spid, _appid), "")
| where isnotempty(principal_id)
| extend _t0 = TargetResources[0]
| extend target_type = trim(@"\\s+", coalesce(tostring(_t0.type), tostring(_t0.Type))),
         target_id = trim(@"\\s+", tostring(_t0.id))
| extend _trs = iff(array_length(TargetResources) > 0, TargetResources, dynamic([{}]))
| mv-apply _t = _trs on (
    extend _mps = iff(array_length(_t.modifiedProperties) > 0, _t.modifiedProperties,
                      dynamic([{}]))
    | mv-expand _p = _mps
    | extend _n = trim(@"\\s+", tostring(_p.displayName)),
             _nd = todynamic(tostring(_p.newValue)), _od = todynamic(tostring(_p.oldValue))
    | extend _names = iff(_n == "Included Updated Properties",
                          split(iff(gettype(_nd) == "array", strcat_array(_nd, ","),
                                    tostring(_nd)), ","),
                          pack_array(_n)),
             _gid = iff(_n == "Group.ObjectID",
                        coalesce(trim(@"\\s+", iff(gettype(_nd) == "array", tostring(_nd[0]),
                                                    tostring(_nd))),
                                 trim(@"\\s+", iff(gettype(_od) == "array", tostring(_od[0]),
                                                    tostring(_od)))),
                        ""),
             _v = iff(gettype(_nd) == "array", _nd[0], _nd)
    | extend _vt = iff(gettype(_v) == "string", trim(@"\\s+", tostring(_v)), "")
    | extend _pv = iff(isnotempty(_vt)
                       and set_has_element(dynamic({values}), tolower(_n)),
                       strcat(tolower(_n), "=", _vt), "")
    | mv-expand _name = _names to typeof(string)
    | extend _name = trim(@"\\s+", _name)
    | summarize _props = make_set_if(_name, isnotempty(_name)),
                _gids = make_list_if(_gid, isnotempty(_gid)),
                _pvs = make_set_if(_pv, isnotempty(_pv))
)
| extend modified_properties = strcat_array(array_sort_asc(_props), "|"),
         property_values = strcat_array(array_sort_asc(_pvs), "|"),
         related_group_id = tostring(_gids[0]),
         service = trim(@"\\s+", tostring(LoggedByService)),
         category = trim(@"\\s+", tostring(Category)),
         activity = trim(@"\\s+", coalesce(ActivityDisplayName, OperationName)),
         operation_type = trim(@"\\s+", tostring(AADOperationType)),
         result = tolower(trim(@"\\s+", tostring(Result))),
         _ts = ActivityDateTime,
         _nts = iff(isnotempty(principal_name), ActivityDateTime, datetime(null))
| summarize ['count'] = count(), first_seen = min(_ts), last_seen = max(_ts),
            (_et, example_id) = arg_min(_ts, Id),
            (_nt, principal_name) = arg_max(_nts, principal_name)
    by principal_id, principal_type, service, category, activity, operation_type, result,
       target_type, target_id, related_group_id, modified_properties, property_values
| project {columns}
| order by principal_id asc, service asc, category asc, activity asc, operation_type asc,
           result asc, target_type asc, target_id asc, related_group_id asc,
           modified_properties asc, property_values asc, principal_type asc
"""


def _kql_datetime(value: object, name: str) -> str:
    us = to_epoch_us(value)
    if us is None:
        raise InvalidValueError(f"{name}={value!r}: expected a datetime or an ISO 8601 string")
    return f"datetime({us_to_datetime(us):%Y-%m-%dT%H:%M:%S.%fZ})"


def usage_query(
    days: int = 30,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    table: str = "AuditLogs",
    value_properties: Iterable[str] | None = None,
) -> str:
    """KQL computing the stage-1 usage rows over the last ``days`` (or ``since``..``until``,
    ``until`` exclusive) of ``table``; its exported result reads back with
    ``read_audit_logs`` as the ``kql_usage`` format and gives the same rows.
    ``value_properties``: as for ``read_audit_logs`` (default: the properties whose values
    the default catalog's audit rules test)."""
    if not _TABLE.fullmatch(table):
        raise InvalidValueError(f"table={table!r}: expected a KQL table name")
    if since is None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
        raise InvalidValueError(f"days={days!r}: expected a positive number of days")
    start = _kql_datetime(since, "since") if since is not None else f"ago({days}d)"
    lines = [
        table,
        # TimeGenerated >= ActivityDateTime always, so this prefilter only prunes partitions.
        f"| where TimeGenerated >= {start}",
        f"| where ActivityDateTime >= {start}",
    ]
    if until is not None:
        lines.append(f"| where ActivityDateTime < {_kql_datetime(until, 'until')}")
    values = orjson.dumps(sorted(_value_names(value_properties))).decode()
    body = _BODY.replace("{columns}", ", ".join(USAGE_COLUMNS)).replace("{values}", values)
    return "\n".join(lines) + "\n" + body


def run_usage_query(
    workspace_id: str,
    credential: Any,
    days: int = 30,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    table: str = "AuditLogs",
    value_properties: Iterable[str] | None = None,
) -> AuditLog:
    """Run ``usage_query`` in a Log Analytics workspace and read its rows (needs the optional
    ``azure-monitor-query`` package; ``credential`` is an azure-identity credential)."""
    try:
        from azure.monitor.query import LogsQueryClient, LogsQueryStatus
    except ImportError as exc:
        raise IngestError(
            "run_usage_query needs the optional package azure-monitor-query "
            "(pip install azure-monitor-query)"
        ) from exc
    query = usage_query(days, since=since, until=until, table=table,
                        value_properties=value_properties)
    end = datetime.now(UTC)
    start = (
        us_to_datetime(to_epoch_us(since) or 0) if since is not None else end - timedelta(days=days)
    )
    client = LogsQueryClient(credential)
    answer = client.query_workspace(workspace_id, query, timespan=(start, end))
    if answer.status != LogsQueryStatus.SUCCESS:
        raise IngestError(
            f"workspace {workspace_id}: usage query failed "
            f"({getattr(answer, 'partial_error', answer.status)})"
        )
    rows = [
        dict(zip(table_.columns, row, strict=False))
        for table_ in answer.tables
        for row in table_.rows
    ]
    return read_audit_logs(rows, format="kql_usage")
