"""SQL of the DuckDB engine: one audit record per JSON line to canonical usage-row fields.

The projection mirrors ``_records.canon_graph`` / ``canon_event_hub`` for the records it can
read faithfully and sets ``bad`` for every other record, which the engine then hands to the
exact Python path with its file and line. DuckDB's typed JSON reader is lenient where Python
is strict, so ``bad`` is deliberately broad (a false alarm only costs speed):

* a non-string where a string is expected is stringified by DuckDB (``5``, ``true``,
  ``{"a":1}``): any field that *looks* like such a rendering is flagged;
* a non-object where an object is expected reads as an object of NULLs, a non-list where a
  list is expected reads as NULL: objects whose fields are all NULL and NULL lists are flagged
  (so are ``{}`` and missing lists, which Python would accept: a false alarm);
* Python's ``str.strip`` removes more characters than DuckDB's ``trim``: a field with any
  whitespace at either edge (a space included, except around the activity name, which real
  logs pad) is flagged; fields that are part of the grouping key are checked once per
  distinct value after grouping (``suspect_value``) instead of once per record;
* timestamps other than ``YYYY-MM-DDTHH:MM:SS[.f]Z`` / ``+00:00``, ``Type``/``@odata.type``
  target types, the singular ``targetResource``, JSON inside strings, records without an
  initiator, results outside the four enum values, modified-property values that are not a
  plain JSON string (or a one-string list): all flagged.

Not detectable from typed values, so documented instead (see ``_duck``): a JSON object with a
duplicate member name (DuckDB keeps the first value, orjson the last) and trailing commas
(DuckDB accepts them, orjson rejects the line).
"""

from __future__ import annotations

from ._records import KEY_COLUMNS

USER = "STRUCT(id VARCHAR, userPrincipalName VARCHAR, displayName VARCHAR)"
APP = "STRUCT(servicePrincipalId VARCHAR, appId VARCHAR, displayName VARCHAR)"
PROP = "STRUCT(displayName VARCHAR, newValue VARCHAR, oldValue VARCHAR)"
TARGET = f'STRUCT(id VARCHAR, "type" VARCHAR, modifiedProperties {PROP}[])'
_RECORD: dict[str, str] = {
    "id": "VARCHAR",
    "category": "VARCHAR",
    "result": "VARCHAR",
    "activityDisplayName": "VARCHAR",
    "activityDateTime": "VARCHAR",
    "loggedByService": "VARCHAR",
    "operationType": "VARCHAR",
    "initiatedBy": f'STRUCT("user" {USER}, app {APP})',
    "targetResources": f"{TARGET}[]",
}
_ENVELOPE = {"time": "VARCHAR", "operationName": "VARCHAR", "resourceId": "VARCHAR"}

# Python's str.strip() set (str.isspace) plus the space; DuckDB's trim() removes spaces only.
_WS = (
    r"[ \t-\r\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)
# A field (between \x01 separators) that may be DuckDB's rendering of a non-string JSON value.
_NON_STRING = (
    r"([\[{]|(true|false|NaN|-?Infinity|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)(\x01|$))"
)
_SUSPECT = rf"(^|\x01)({_WS}|{_NON_STRING})|{_WS}(\x01|$)"
_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?(Z|\+00:00)$"
)
_JSON_TEXT = r'^"[^"\\\x00-\x1f]*"$'
_JSON_LIST1 = r'^\["[^"\\\x00-\x1f]*"\]$'
RESULTS = ("success", "failure", "timeout", "unknownfuturevalue")
INCLUDED = "Included Updated Properties"
GROUP_ID = "Group.ObjectID"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def columns(form: str) -> str:
    """The ``columns=`` struct literal of ``read_json`` for ``graph`` or ``event_hub``."""
    if form == "graph":
        cols = {**_RECORD, "properties": "JSON", **_ENVELOPE}
    else:
        body = ", ".join(f'"{k}" {v}' for k, v in _RECORD.items())
        cols = {"properties": f"STRUCT({body})", **_ENVELOPE}
    return "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in cols.items()) + "}"


MAX_RECORD_BYTES = 16 << 20
"""DuckDB's ``maximum_object_size`` (16 MB is also its floor). Its read buffers scale with it:
32 MB cost 30 MB more peak memory than 16 MB, at the same speed. DuckDB reads lines up to
about twice this size. A longer line is a DuckDB error, and the whole input is then read by
the Python engine (exact, and said in ``report.notes``)."""


def reader(path: str, form: str) -> str:
    """``read_json`` over one JSON-lines file (gzip by extension), never failing on a line."""
    return (
        f"read_json({_quote(path)}, format='newline_delimited', columns={columns(form)}, "
        f"ignore_errors=true, maximum_object_size={MAX_RECORD_BYTES}, compression='auto')"
    )


def _decoded(value: str) -> str:
    """First text of a simple JSON value (``"x"`` or ``["x"]``) trimmed; NULL when not simple,
    '' when the value is NULL."""
    return (
        f"(CASE WHEN {value} IS NULL THEN '' "
        f"WHEN regexp_matches({value}, {_quote(_JSON_TEXT)}) THEN trim({value}[2:-2]) "
        f"WHEN regexp_matches({value}, {_quote(_JSON_LIST1)}) THEN trim({value}[3:-3]) END)"
    )


def _raw(path: str, form: str) -> str:
    """Layer 1: the record's fields (top level, or under ``properties`` for Event Hub)."""
    p = "" if form == "graph" else "properties."
    hub = (
        "(properties IS NOT NULL AND "
        'coalesce("time", operationName, resourceId) IS NOT NULL)'
    )
    return f"""SELECT {hub if form == "graph" else "NOT " + hub} AS form_bad,
  {p}id AS rid, {p}category AS cat, {p}result AS res, trim({p}activityDisplayName) AS act,
  {p}activityDateTime AS ts, {p}loggedByService AS svc, {p}operationType AS op,
  {p}initiatedBy."user" AS u, {p}initiatedBy.app AS a, {p}targetResources AS trs,
  {p}targetResources[1] AS t1,
  list_transform({p}targetResources, lambda lt: lt.modifiedProperties) AS mpl
FROM {reader(path, form)}"""


def _flat(inner: str) -> str:
    """Layer 1b: every target's modified properties in one list."""
    return f"SELECT *, flatten(mpl) AS mps FROM ({inner})"


def _fields(inner: str, values: frozenset[str]) -> str:
    """Layer 2: property names, the raw special values, who acted and the time."""
    frac = (
        "CASE WHEN ts[20] = '.' THEN "
        "ts[21:len(ts) - CASE WHEN ts[-1:] = 'Z' THEN 1 ELSE 6 END][1:6] ELSE '' END"
    )
    return f"""SELECT *,
  list_transform(mps, lambda m: m.displayName) AS names,
  list_transform(list_filter(mps, lambda m: m.displayName = {_quote(INCLUDED)}),
                 lambda m: m.newValue) AS iups,
  list_transform(list_filter(mps, lambda m: m.displayName = {_quote(GROUP_ID)}),
                 lambda m: [{_decoded("m.newValue")}, {_decoded("m.oldValue")}]) AS gvals,
  {_value_pairs(values)} AS pvals,
  coalesce(nullif(u.id, ''), nullif(u.userPrincipalName, ''), nullif(u.displayName, ''))
    IS NOT NULL AS by_user,
  TRY(epoch_us(TRY_CAST(ts[1:19] AS TIMESTAMP))
      + CAST(rpad({frac}, 6, '0') AS BIGINT)) AS t
FROM ({inner})"""


def _value_pairs(values: frozenset[str]) -> str:
    """``[name, decoded new value]`` of the properties whose values the key keeps."""
    if not values:
        return "[]::VARCHAR[][]"
    names = ", ".join(_quote(v) for v in sorted(values))
    return (
        f"list_transform(list_filter(mps, lambda m: lower(m.displayName) IN ({names})), "
        f"lambda m: [lower(m.displayName), {_decoded('m.newValue')}])"
    )


def _derived(inner: str) -> str:
    """Layer 3: principal, group id and the property-name list."""
    iup_names = (
        "flatten(list_transform(iups, lambda v: "
        "list_transform(string_split(v[2:-2], ','), lambda s: trim(s))))"
    )
    return f"""SELECT *,
  CASE WHEN by_user THEN coalesce(nullif(u.id, ''), nullif(u.userPrincipalName, ''),
                                  u.displayName)
       ELSE coalesce(nullif(a.servicePrincipalId, ''), nullif(a.appId, ''),
                     nullif(a.displayName, ''), '') END AS pid,
  CASE WHEN by_user THEN coalesce(nullif(u.userPrincipalName, ''), nullif(u.displayName, ''),
                                  u.id)
       ELSE coalesce(nullif(a.displayName, ''), nullif(a.servicePrincipalId, ''),
                     a.appId, '') END AS pname,
  coalesce(list_filter(list_transform(gvals, lambda g: coalesce(nullif(g[1], ''),
                                                               nullif(g[2], ''))),
                       lambda x: x IS NOT NULL)[1], '') AS gid,
  list_concat(names, {iup_names}) AS all_names
FROM ({inner})"""


def _flag() -> str:
    """Per-record ``bad``: any reason to hand the record to the Python path. Fields that end
    up in the grouping key are checked once per distinct value instead (``suspect_values``)."""
    suspects = (
        "concat_ws(chr(1), rid, u.id, u.userPrincipalName, u.displayName, "
        "a.servicePrincipalId, a.appId, a.displayName, t1.id)"
    )
    checks = [
        "form_bad",
        "rid IS NULL OR rid = ''",
        "act IS NULL OR act = ''",
        f"NOT regexp_matches(ts, {_quote(_TIMESTAMP)}) OR ts[1:4] = '0000' OR t IS NULL",
        f"lower(trim(res)) NOT IN ({', '.join(_quote(r) for r in RESULTS)}) OR res IS NULL",
        "u IS NOT NULL AND u.id IS NULL AND u.userPrincipalName IS NULL AND u.displayName IS NULL",
        "a IS NOT NULL AND a.servicePrincipalId IS NULL AND a.appId IS NULL "
        "AND a.displayName IS NULL",
        "pid = ''",
        "trs IS NULL",
        # a NULL or non-object target, a missing or non-list modifiedProperties
        "list_aggregate(mpl, 'count') <> len(trs)",
        "len(trs) > 0 AND coalesce(t1.\"type\", '') = ''",
        # a NULL or non-object property, or one without a name
        "list_aggregate(names, 'count') <> len(names)",
        f"list_bool_or(list_transform(iups, lambda v: v IS NOT NULL AND "
        f"NOT regexp_matches(v, {_quote(_JSON_TEXT)})))",
        "list_bool_or(list_transform(gvals, lambda g: g[1] IS NULL OR g[2] IS NULL))",
        "list_bool_or(list_transform(pvals, lambda p: p[2] IS NULL))",
        f"regexp_matches({suspects}, {_quote(_SUSPECT)})",
    ]
    return " OR ".join(f"coalesce({c}, false)" for c in checks)


def projection(  # noqa: PLR0917
    path: str, form: str, file_index: int, since_us: int | None, until_us: int | None,
    values: frozenset[str] = frozenset(),
) -> str:
    """One row per JSON line of ``path``: ``f``, ``state`` (0 kept, 1 bad, 2 outside the
    since/until window) and the canonical fields, ``t``, ``rid`` and its hash ``h``;
    ``values``: lower-case names of the properties whose decoded new values the key keeps."""
    window = ["false"]
    if since_us is not None:
        window.append(f"t < {int(since_us)}")
    if until_us is not None:
        window.append(f"t >= {int(until_us)}")
    props = (
        "array_to_string(list_sort(list_distinct(list_filter(all_names, "
        f"lambda n: n <> '' AND n <> {_quote(INCLUDED)}))), '|')"
    )
    pairs = (
        "array_to_string(list_sort(list_distinct(list_transform(list_filter(pvals, "
        "lambda p: p[2] <> ''), lambda p: p[1] || '=' || p[2]))), '|')"
    )
    inner = _derived(_fields(_flat(_raw(path, form)), values))
    return f"""SELECT {int(file_index)}::USMALLINT AS f,
  CASE WHEN bad THEN 1::UTINYINT WHEN {" OR ".join(window)} THEN 2::UTINYINT
       ELSE 0::UTINYINT END AS state,
  pid, pname, CASE WHEN by_user THEN 'user' ELSE 'app' END AS ptype,
  coalesce(svc, '') AS service, coalesce(cat, '') AS category, act AS activity,
  coalesce(op, '') AS operation_type, lower(trim(res)) AS result,
  coalesce(t1."type", '') AS target_type, coalesce(t1.id, '') AS target_id,
  gid AS related_group_id, {props} AS modified_properties, {pairs} AS property_values,
  t, rid, hash(rid) AS h
FROM (SELECT *, ({_flag()}) AS bad FROM ({inner}))"""


SUSPECT_COLUMNS = (
    "service",
    "category",
    "activity",
    "operation_type",
    "target_type",
    "related_group_id",
)
"""Key columns checked once per distinct value (with ``modified_properties`` split on |)."""


def suspect_value(column: str) -> str:
    """SQL predicate: a distinct value of a key column that Python might read differently
    (non-string rendering, whitespace at an edge of it or of one of its |-parts, or of the
    value of a ``name=value`` part)."""
    if column == "property_values":
        parts = f"string_split({column}, '|')"
        return (
            f"list_bool_or(list_transform({parts}, lambda x: "
            f"regexp_matches(x[position('=' IN x) + 1:], {_quote(_SUSPECT)})))"
        )
    if column == "modified_properties":
        parts = f"string_split({column}, '|')"
        return (
            f"list_bool_or(list_transform({parts}, lambda x: "
            f"regexp_matches(x, {_quote(_SUSPECT)})))"
        )
    return f"regexp_matches({column}, {_quote(_SUSPECT)})"


KEY = tuple({"principal_id": "pid", "principal_type": "ptype"}.get(c, c) for c in KEY_COLUMNS)
"""Grouping key of kept rows (``_records.KEY_COLUMNS`` order)."""
