"""One audit record (any delivery form) to the canonical fields of a usage row.

This is the reference semantics of stage 1: the DuckDB engine and the KQL query compute the
same fields and are tested against it. Shapes handled (see
../shared/reference/audit-log-formats.md): Graph ``directoryAudit`` (camelCase, real JSON),
Log Analytics ``AuditLogs`` (PascalCase, JSON inside string columns), diagnostic settings /
Event Hub (envelope with the record under ``properties``), and the rows of our own KQL usage
query (already aggregated).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson

from ._timeparse import parse_time_us

GRAPH = "graph"
LOG_ANALYTICS = "log_analytics"
EVENT_HUB = "event_hub"
KQL_USAGE = "kql_usage"
FORMATS: tuple[str, ...] = (GRAPH, LOG_ANALYTICS, EVENT_HUB, KQL_USAGE)
"""Record formats ``read_audit_logs`` understands (``format=`` accepts these or ``"auto"``)."""

INCLUDED = "Included Updated Properties"
GROUP_ID_PROPERTY = "Group.ObjectID"
# microsoft.graph.auditResult enum order, for the integer results some exports carry.
_RESULT_ENUM = ("success", "failure", "timeout", "unknownFutureValue")

# Log Analytics column -> Graph field. Dynamic columns may hold JSON text.
LA_COLUMNS: dict[str, str] = {
    "Id": "id",
    "Category": "category",
    "Result": "result",
    "ActivityDisplayName": "activityDisplayName",
    "ActivityDateTime": "activityDateTime",
    "LoggedByService": "loggedByService",
    "AADOperationType": "operationType",
    "InitiatedBy": "initiatedBy",
    "TargetResources": "targetResources",
}
_LA_FALLBACK = {"activityDisplayName": "OperationName", "activityDateTime": "TimeGenerated"}
_GRAPH_TO_LA = {v: k for k, v in LA_COLUMNS.items()}


class BadRecord(Exception):
    """A record that cannot be normalized: the field (dotted path) and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Canon(NamedTuple):
    """Canonical fields of one audit record (the usage-row key plus per-record values)."""

    key: tuple[str, ...]  # KEY_COLUMNS, in order
    principal_name: str
    time_us: int
    record_id: str


KEY_COLUMNS: tuple[str, ...] = (
    "principal_id",
    "principal_type",
    "service",
    "category",
    "activity",
    "operation_type",
    "result",
    "target_type",
    "target_id",
    "related_group_id",
    "modified_properties",
    "property_values",
)
"""The grouping key of usage rows (``principal_name`` is the latest name seen, not a key)."""


def _describe(value: object) -> str:
    if value is None:
        return "null"
    return type(value).__name__


def opt_str(obj: Mapping[str, Any], name: str, path: str) -> str:
    """``obj[name]`` as a stripped string; ``""`` when missing or null."""
    value = obj.get(name)
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    raise BadRecord(path, f"expected a string, got {_describe(value)}")


def req_str(obj: Mapping[str, Any], name: str, path: str) -> str:
    """``obj[name]`` as a non-empty stripped string."""
    value = opt_str(obj, name, path)
    if not value:
        raise BadRecord(path, "missing" if obj.get(name) is None else "empty")
    return value


def _maybe_json(value: object, path: str) -> object:
    """Dynamic columns arrive as JSON text in Log Analytics exports: decode them."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise BadRecord(path, f"not valid JSON text ({exc.msg})") from None
    return value


def _obj(value: object, path: str) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    raise BadRecord(path, f"expected an object, got {_describe(value)}")


def _principal(initiated: object) -> tuple[str, str, str]:
    """(principal_id, principal_name, principal_type) of ``initiatedBy``; ids may be any
    string (anonymised logs carry non-hex GUIDs), so they are not validated."""
    ib = _obj(_maybe_json(initiated, "initiatedBy"), "initiatedBy") or {}
    user = _obj(ib.get("user"), "initiatedBy.user")
    if user:
        uid = opt_str(user, "id", "initiatedBy.user.id")
        upn = opt_str(user, "userPrincipalName", "initiatedBy.user.userPrincipalName")
        name = opt_str(user, "displayName", "initiatedBy.user.displayName")
        if uid or upn or name:
            return uid or upn or name, upn or name or uid, "user"
    app = _obj(ib.get("app"), "initiatedBy.app")
    if app:
        spid = opt_str(app, "servicePrincipalId", "initiatedBy.app.servicePrincipalId")
        app_id = opt_str(app, "appId", "initiatedBy.app.appId")
        name = opt_str(app, "displayName", "initiatedBy.app.displayName")
        if spid or app_id or name:
            return spid or app_id or name, name or spid or app_id, "app"
    return "", "", ""


def decode_value(raw: object, path: str) -> object:
    """A ``modifiedProperties`` value: JSON text (decoded once more), else the raw text."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise BadRecord(path, f"expected a string, got {_describe(raw)}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.strip()


def _first_text(value: object) -> str:
    """A decoded value as one string (``"x"`` or ``["x"]``); ``""`` otherwise."""
    if isinstance(value, list) and value:
        value = value[0]
    return value.strip() if isinstance(value, str) else ""


def _included_names(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [n.strip() for item in items if isinstance(item, str) for n in item.split(",")]


def _targets(record: Mapping[str, Any]) -> list[Any]:
    raw = record.get("targetResources")
    if raw is None:
        raw = record.get("targetResource")  # singular in some documentation examples
    raw = _maybe_json(raw, "targetResources")
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        return [raw]
    if not isinstance(raw, list):
        raise BadRecord("targetResources", f"expected a list, got {_describe(raw)}")
    return raw


def _target_type(target: Mapping[str, Any]) -> str:
    for name in ("type", "Type"):
        value = opt_str(target, name, f"targetResources[0].{name}")
        if value:
            return value
    odata = opt_str(target, "@odata.type", "targetResources[0].@odata.type")
    short = odata.rsplit(".", 1)[-1].lstrip("#")
    return short[:1].upper() + short[1:]


def _modified(targets: list[Any], values: frozenset[str] = frozenset()) -> tuple[str, str, str]:
    """(related_group_id, ``a|b`` property names, ``name=value|...`` property values) over
    every target's modifiedProperties. Values are kept only for the properties named in
    ``values`` (lower-case names; the ones audit rules test), as the first text of the decoded
    new value, under the lower-case name."""
    names: set[str] = set()
    pairs: set[str] = set()
    group_id = ""
    for i, target in enumerate(targets):
        if not isinstance(target, Mapping):
            raise BadRecord(f"targetResources[{i}]", f"expected an object, got {_describe(target)}")
        props = target.get("modifiedProperties")
        if props is None:
            continue
        if not isinstance(props, list):
            raise BadRecord(
                f"targetResources[{i}].modifiedProperties",
                f"expected a list, got {_describe(props)}",
            )
        for j, prop in enumerate(props):
            where = f"targetResources[{i}].modifiedProperties[{j}]"
            if not isinstance(prop, Mapping):
                raise BadRecord(where, f"expected an object, got {_describe(prop)}")
            name = opt_str(prop, "displayName", where + ".displayName")
            if name == INCLUDED:
                names.update(
                    _included_names(decode_value(prop.get("newValue"), where + ".newValue"))
                )
            elif name:
                names.add(name)
                if name == GROUP_ID_PROPERTY and not group_id:
                    group_id = _first_text(decode_value(prop.get("newValue"), where + ".newValue"))
                    group_id = group_id or _first_text(
                        decode_value(prop.get("oldValue"), where + ".oldValue")
                    )
                if values and name.lower() in values:
                    text = _first_text(decode_value(prop.get("newValue"), where + ".newValue"))
                    if text:
                        pairs.add(f"{name.lower()}={text}")
    names.discard("")
    return group_id, "|".join(sorted(names)), "|".join(sorted(pairs))


def _result(record: Mapping[str, Any]) -> str:
    value = record.get("result")
    if isinstance(value, str) and value.strip():
        return value.strip().lower()
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(_RESULT_ENUM):
        return _RESULT_ENUM[value].lower()
    if value is None or value == "":
        raise BadRecord("result", "missing")
    raise BadRecord("result", f"expected a result string, got {_describe(value)} {value!r:.40}")


def _time_us(record: Mapping[str, Any], fallback: str) -> int:
    raw = record.get("activityDateTime")
    field = "activityDateTime"
    if raw is None or raw == "":
        raw, field = record.get(fallback), fallback
    if raw is None or raw == "":
        raise BadRecord("activityDateTime", "missing")
    if not isinstance(raw, str):
        raise BadRecord(field, f"expected a timestamp string, got {_describe(raw)}")
    value = parse_time_us(raw)
    if value is None:
        raise BadRecord(field, f"not a timestamp: {raw[:60]!r}")
    return value


def canon_graph(
    record: Mapping[str, Any],
    time_fallback: str = "createdDateTime",
    values: frozenset[str] = frozenset(),
) -> Canon:
    """Canonical fields of a Graph ``directoryAudit`` record (camelCase); ``values``: the
    lower-case property names whose new values enter the key (``_modified``)."""
    record_id = req_str(record, "id", "id")
    activity = req_str(record, "activityDisplayName", "activityDisplayName")
    time_us = _time_us(record, time_fallback)
    result = _result(record)
    principal_id, principal_name, principal_type = _principal(record.get("initiatedBy"))
    targets = _targets(record)
    target_type = target_id = ""
    if targets:
        first = _obj(targets[0], "targetResources[0]") or {}
        target_type = _target_type(first)
        target_id = opt_str(first, "id", "targetResources[0].id")
    group_id, props, pairs = _modified(targets, values)
    key = (
        principal_id,
        principal_type,
        opt_str(record, "loggedByService", "loggedByService"),
        opt_str(record, "category", "category"),
        activity,
        opt_str(record, "operationType", "operationType"),
        result,
        target_type,
        target_id,
        group_id,
        props,
        pairs,
    )
    return Canon(key, principal_name, time_us, record_id)


def canon_log_analytics(
    record: Mapping[str, Any], values: frozenset[str] = frozenset()
) -> Canon:
    """Canonical fields of a Log Analytics ``AuditLogs`` row (PascalCase columns)."""
    view: dict[str, Any] = {}
    for column, name in LA_COLUMNS.items():
        value = record.get(column)
        if (value is None or value == "") and name in _LA_FALLBACK:
            value = record.get(_LA_FALLBACK[name])
        view[name] = value
    try:
        return canon_graph(view, time_fallback="activityDateTime", values=values)
    except BadRecord as bad:
        head, _, rest = bad.field.partition(".")
        head_name, bracket, index = head.partition("[")
        column = _GRAPH_TO_LA.get(head_name, head_name) + bracket + index
        raise BadRecord(column + ("." + rest if rest else ""), bad.reason) from None


def is_legacy_event(record: Mapping[str, Any], props: Mapping[str, Any]) -> bool:
    """The 2018 preview shape (``targetResourceName`` joined with ``__``) we reject."""
    return "activityDisplayName" not in props and (
        "targetUpdatedProperties" in props
        or "targetResourceType" in props
        or record.get("category") == "Audit"
    )


def canon_event_hub(record: Mapping[str, Any], values: frozenset[str] = frozenset()) -> Canon:
    """Canonical fields of a diagnostic-settings / Event Hub record (envelope + properties)."""
    props = _obj(_maybe_json(record.get("properties"), "properties"), "properties")
    if props is None:
        raise BadRecord("properties", "missing (expected the directoryAudit record)")
    if is_legacy_event(record, props):
        raise BadRecord("properties", "legacy 2018 preview audit schema is not supported")
    view = dict(props)
    if not view.get("activityDateTime") and not view.get("createdDateTime"):
        view["activityDateTime"] = record.get("time")
    if not view.get("activityDisplayName") and isinstance(record.get("operationName"), str):
        view["activityDisplayName"] = record["operationName"]
    try:
        return canon_graph(view, values=values)
    except BadRecord as bad:
        raise BadRecord("properties." + bad.field, bad.reason) from None


def detect_record(record: Mapping[str, Any]) -> str | None:
    """Which form one record is in, from its keys; None when none fits."""
    # A null envelope member counts as absent (typed readers cannot tell the two apart).
    if record.get("properties") is not None and (
        record.get("operationName") is not None
        or record.get("time") is not None
        or record.get("resourceId") is not None
    ):
        return EVENT_HUB
    if "activityDisplayName" in record or "initiatedBy" in record:
        return GRAPH
    if "ActivityDisplayName" in record or "OperationName" in record or "TargetResources" in record:
        return LOG_ANALYTICS
    if "principal_id" in record and "activity" in record and "count" in record:
        return KQL_USAGE
    return None


CANONICALIZERS: dict[str, Callable[..., Canon]] = {
    GRAPH: canon_graph,
    LOG_ANALYTICS: canon_log_analytics,
    EVENT_HUB: canon_event_hub,
}


USAGE_COLUMNS: tuple[str, ...] = (
    KEY_COLUMNS[0],
    "principal_name",
    *KEY_COLUMNS[1:],
    "count",
    "first_seen",
    "last_seen",
    "example_id",
)
"""Stage-1 usage-row columns, in order (docs/dev/contracts.md)."""


class UsageRow(NamedTuple):
    """One already-aggregated row (our KQL query's exported result)."""

    key: tuple[str, ...]
    principal_name: str
    n: int
    first_us: int
    last_us: int
    example_id: str


def _row_time(row: Mapping[str, Any], name: str) -> int:
    from ._timeparse import to_epoch_us

    raw = row.get(name)
    if raw is None or raw == "":
        raise BadRecord(name, "missing")
    value = to_epoch_us(raw)
    if value is None:
        raise BadRecord(name, f"not a timestamp: {str(raw)[:60]!r}")
    return value


def _row_count(row: Mapping[str, Any]) -> int:
    raw = row.get("count")
    if isinstance(raw, bool):
        raise BadRecord("count", "expected an integer, got bool")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int) or raw < 1:
        raise BadRecord("count", f"expected a positive integer, got {raw!r:.40}")
    return raw


def canon_usage_row(row: Mapping[str, Any]) -> UsageRow:
    """Validate one row of the KQL usage query's result."""
    key = []
    for column in KEY_COLUMNS:
        value = row.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):  # pandas NaN
            value = ""
        if not isinstance(value, str):
            raise BadRecord(column, f"expected a string, got {_describe(value)}")
        key.append(value.strip())
    if not key[0]:
        raise BadRecord("principal_id", "empty")
    if not key[4]:
        raise BadRecord("activity", "empty")
    first, last = _row_time(row, "first_seen"), _row_time(row, "last_seen")
    if last < first:
        raise BadRecord("last_seen", "earlier than first_seen")
    name = row.get("principal_name")
    example = row.get("example_id")
    return UsageRow(
        tuple(key),
        name.strip() if isinstance(name, str) else "",
        _row_count(row),
        first,
        last,
        example.strip() if isinstance(example, str) else "",
    )
