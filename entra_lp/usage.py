"""Stage 2: usage rows to a principals x resource-actions matrix, with evidence.

Each DISTINCT activity signature (service, category, activity, modified properties, target
type, the values of the properties audit rules test; plus the initiator name when a rule
tests it, and whether the initiator acted on itself) is mapped once with
``catalog.map_activity``; the mapping is joined back to the rows on integer codes (stage 1's
:class:`~entra_lp.ingest.UsageTable`), never per row. Successful admin operations give
``counts``/``evidence``/``targets``; failed ones give ``failed``; activities no rule knows
are in ``unmapped`` and those that need no admin right in ``no_admin_right``. System
initiators (``MS-PIM``...) are left out of the matrix (their records are counted in the
ingest report).

The object an action acts on (``targets``, ``n_targets``) is the record's first target,
except for actions on groups, which act on the group named by ``Group.ObjectID`` when the
record has one (a membership change targets the member first): an app role assigned to a
group acts on the service principal, not on the group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from entra_lp._memory import release_memory
from entra_lp.errors import UnknownNameError
from entra_lp.ingest._table import UsageTable, combine

if TYPE_CHECKING:
    from entra_lp.ingest import AuditLog

__all__ = ["MATRIX_KINDS", "UsageMatrix", "build_usage_matrix"]

MATRIX_KINDS: tuple[str, ...] = (
    "user",
    "service_principal",
    "managed_identity",
    "sync_account",
    "unknown",
)
"""Principal kinds that enter the matrix (``system`` initiators do not)."""
_CONFIDENCE_RANK = {"exact": 0, "likely": 1, "ambiguous": 2}
_CONFIDENCES = ("exact", "likely", "ambiguous")
_SIG_COLUMNS = (
    "service",
    "category",
    "activity",
    "modified_properties",
    "target_type",
    "property_values",
)
_EXAMPLES = 3
_NO_SELF, _NOT_SELF, _SELF = 0, 1, 2  # no target / another object / the initiator itself


class UsageMatrix:
    """Principals x resource actions observed in audit logs (docs/dev/contracts.md).

    ``principals`` (principal_id, name, kind; row order), ``actions`` (sorted column
    names), ``counts`` (csr int64), ``evidence`` / ``failed`` (long tables per principal and
    action), ``targets`` (per principal, action and target object), ``unmapped`` and
    ``no_admin_right`` (activity-level counts), ``window`` (first, last), ``buckets``,
    ``risk_weights`` (aligned with ``actions``), ``unobservable`` (actions that never leave
    an audit record, so absence of evidence says nothing about them).
    """

    def __init__(
        self,
        *,
        principals: pd.DataFrame,
        actions: tuple[str, ...],
        counts: sp.csr_matrix,
        evidence: pd.DataFrame,
        targets: pd.DataFrame,
        failed: pd.DataFrame,
        unmapped: pd.DataFrame,
        no_admin_right: pd.DataFrame,
        window: tuple[pd.Timestamp | None, pd.Timestamp | None],
        buckets: pd.DataFrame,
        risk_weights: np.ndarray,
        unobservable: frozenset[str],
    ) -> None:
        self.principals = principals
        self.actions = actions
        self.counts = counts
        self.evidence = evidence
        self.targets = targets
        self.failed = failed
        self.unmapped = unmapped
        self.no_admin_right = no_admin_right
        self.window = window
        self.buckets = buckets
        self.risk_weights = risk_weights
        self.unobservable = unobservable
        self._row = {p: i for i, p in enumerate(principals["principal_id"])}

    @property
    def shape(self) -> tuple[int, int]:
        """(principals, actions)."""
        return (len(self.principals), len(self.actions))

    def to_bool(self) -> sp.csr_matrix:
        """The matrix as csr bool: did the principal successfully use the action."""
        return sp.csr_matrix(self.counts > 0)

    def principal_index(self, principal_id: str) -> int:
        """Row of a principal; UnknownNameError (with close ids) when absent."""
        hit = self._row.get(principal_id)
        if hit is None:
            raise UnknownNameError("principal", principal_id, self._row)
        return hit

    def subset(
        self, principals: Iterable[str] | None = None, actions: Iterable[str] | None = None
    ) -> UsageMatrix:
        """The same matrix restricted to some principals and/or actions (order kept)."""
        rows = (
            np.arange(len(self.principals))
            if principals is None
            else np.array(sorted({self.principal_index(p) for p in principals}), dtype=int)
        )
        known = {a: i for i, a in enumerate(self.actions)}
        if actions is None:
            cols = np.arange(len(self.actions))
        else:
            wanted = list(actions)
            for name in wanted:
                if name not in known:
                    raise UnknownNameError("action", name, known)
            cols = np.array(sorted({known[a] for a in wanted}), dtype=int)
        keep_p = set(self.principals["principal_id"].iloc[rows])
        keep_a = {self.actions[i] for i in cols}

        def cut(frame: pd.DataFrame) -> pd.DataFrame:
            if "action" not in frame:
                return frame.reset_index(drop=True)
            mask = frame["principal_id"].isin(keep_p) & frame["action"].isin(keep_a)
            return frame[mask].reset_index(drop=True)

        return UsageMatrix(
            principals=self.principals.iloc[rows].reset_index(drop=True),
            actions=tuple(self.actions[i] for i in cols),
            counts=sp.csr_matrix(self.counts[rows][:, cols]),
            evidence=cut(self.evidence),
            targets=cut(self.targets),
            failed=cut(self.failed),
            unmapped=self.unmapped,
            no_admin_right=self.no_admin_right,
            window=self.window,
            buckets=self.buckets[self.buckets["principal_id"].isin(keep_p)].reset_index(drop=True),
            risk_weights=self.risk_weights[cols],
            unobservable=self.unobservable,
        )

    def summary(self) -> pd.DataFrame:
        """Per principal: name, kind, distinct actions, successful admin operations, failed
        admin operations, risk-weighted action count, last seen; busiest first."""
        used = self.to_bool()
        failed = self.failed.groupby("principal_id")["count"].sum()
        last = self.evidence.groupby("principal_id")["last_seen"].max()
        ids = self.principals["principal_id"]
        frame = pd.DataFrame(
            {
                "principal_id": ids,
                "name": self.principals["name"],
                "kind": self.principals["kind"],
                "actions": np.asarray(used.sum(axis=1)).ravel().astype(np.int64),
                "operations": np.asarray(self.counts.sum(axis=1)).ravel().astype(np.int64),
                "failed": ids.map(failed).fillna(0).astype(np.int64).to_numpy(),
                "risk": np.asarray(used @ self.risk_weights).ravel(),
                "last_seen": ids.map(last).to_numpy(),
            }
        )
        return frame.sort_values(
            ["operations", "principal_id"], ascending=[False, True], kind="stable"
        ).reset_index(drop=True)

    def __repr__(self) -> str:
        n, m = self.shape
        return (
            f"UsageMatrix({n} principals x {m} actions, {self.counts.nnz} non-zero, "
            f"{len(self.unmapped)} unmapped activities)"
        )


# ---------------------------------------------------------------------------------------------


def _initiator_names(catalog: Any) -> frozenset[str]:
    """Folded initiator names some rule tests (public rule data; empty for duck types)."""
    names: set[str] = set()
    for rule in getattr(catalog, "audit_rules", ()):
        when = getattr(rule, "when", None)
        names.update(n.casefold() for n in getattr(when, "initiated_by_any", ()))
    return frozenset(names)


def _dense(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes of an int64 key (in key order) and the index of each code's first row."""
    uniques, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    del uniques
    return inverse.reshape(-1).astype(np.int64), first


def _self_flags(table: UsageTable, rows: np.ndarray) -> np.ndarray:
    """Per row: no target, another object, or the initiator itself (ids compared
    case-insensitively)."""
    pid_values, tid_values = table.values["principal_id"], table.values["target_id"]
    _, folded = np.unique(
        np.array([str(v).casefold() for v in (*pid_values, *tid_values)], dtype=object),
        return_inverse=True,
    )
    folded = folded.reshape(-1)
    pid, tid = table.codes["principal_id"][rows], table.codes["target_id"][rows]
    same = folded[: len(pid_values)][pid] == folded[len(pid_values):][tid]
    empty = np.array([v == "" for v in tid_values], dtype=bool)
    return np.where(empty[tid], _NO_SELF, np.where(same, _SELF, _NOT_SELF)).astype(np.int8)


def _signatures(table: UsageTable, rows: np.ndarray, catalog: Any
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """Code of each row's signature, and one mapped line per distinct signature. Strings are
    only touched once per distinct value: the rows are integer codes already."""
    names = _initiator_names(catalog)
    name_values = table.values["principal_name"]
    tested = np.array([str(v).casefold() in names for v in name_values], dtype=bool)
    name_codes = table.codes["principal_name"][rows].astype(np.int64)
    initiator = np.where(tested[name_codes], name_codes, -1) + 1 if len(rows) else name_codes
    self_flag = _self_flags(table, rows)
    parts = [table.codes[c][rows] for c in _SIG_COLUMNS]
    codes, first = _dense(combine([*parts, initiator, self_flag]))
    at = rows[first]
    distinct = pd.DataFrame({c: table.values[c][table.codes[c][at]] for c in _SIG_COLUMNS})
    inits = initiator[first]
    distinct["initiator"] = np.where(inits > 0, name_values[np.maximum(inits - 1, 0)], "")
    distinct["self_flag"] = self_flag[first]
    mapped = [
        catalog.map_activity(
            s.service,
            s.category or None,
            s.activity,
            s.modified_properties,
            s.target_type or None,
            initiated_by=s.initiator or None,
            self_initiated=None if s.self_flag == _NO_SELF else s.self_flag == _SELF,
            **({"property_values": s.property_values} if s.property_values else {}),
        )
        for s in distinct.itertuples(index=False)
    ]
    distinct["kind"] = [m.kind for m in mapped]
    distinct["actions"] = [tuple(m.actions) for m in mapped]
    distinct["rule_ids"] = [tuple(m.rule_ids) for m in mapped]
    distinct["confidence"] = [m.confidence for m in mapped]
    return codes, distinct


def _acts_on_group(catalog: Any, action: str) -> bool:
    """Whether ``action`` acts on groups (its object is the ``Group.ObjectID`` group)."""
    try:
        return str(catalog.action(action).resource) == "groups"
    except Exception:
        return action.split("/")[1:2] == ["groups"] or action.split("/")[1:2] == [
            "groups.security"] or action.split("/")[1:2] == ["groups.unified"]


class _Long:
    """One line per (usage row, action) of admin signatures, as integer arrays: the row,
    the signature, the action (index into ``actions``) and the object acted on (codes into
    ``object_types`` / ``object_ids``)."""

    def __init__(self, table: UsageTable, rows: np.ndarray, codes: np.ndarray,
                 sigs: pd.DataFrame, catalog: Any) -> None:
        admin = (sigs["kind"] == "admin").to_numpy()
        per_sig = [a if ok else () for a, ok in zip(sigs["actions"], admin, strict=True)]
        self.actions = np.array(sorted({a for t in per_sig for a in t}), dtype=object)
        index = {a: i for i, a in enumerate(self.actions)}
        flat = np.array([index[a] for t in per_sig for a in t], dtype=np.int64)
        n_actions = np.array([len(a) for a in per_sig], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(n_actions)])
        per_row = n_actions[codes] if len(codes) else np.zeros(0, dtype=np.int64)
        line_row = np.repeat(np.arange(len(rows)), per_row)
        step = np.arange(len(line_row)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        self.sig = codes[line_row] if len(line_row) else np.zeros(0, dtype=np.int64)
        self.action = flat[offsets[self.sig] + step] if len(line_row) else self.sig
        self.row = rows[line_row]
        self._objects(table, catalog)

    def _objects(self, table: UsageTable, catalog: Any) -> None:
        grouped = np.array([_acts_on_group(catalog, a) for a in self.actions], dtype=bool)
        ttypes, tids, gids = (table.values[c] for c in
                              ("target_type", "target_id", "related_group_id"))
        self.object_types, type_code = np.unique(
            np.array([*ttypes, "Group"], dtype=object), return_inverse=True)
        self.object_ids, id_code = np.unique(
            np.array([*tids, *gids], dtype=object), return_inverse=True)
        type_code, id_code = type_code.reshape(-1), id_code.reshape(-1)
        gid = table.codes["related_group_id"][self.row].astype(np.int64)
        has_group = np.array([v != "" for v in gids], dtype=bool)[gid]
        by_group = has_group & grouped[self.action] if len(self.row) else has_group
        ttype = type_code[table.codes["target_type"][self.row]]
        tid = id_code[table.codes["target_id"][self.row]]
        self.otype = np.where(by_group, type_code[-1], ttype)
        self.oid = np.where(by_group, id_code[len(tids) + gid], tid)
        self.has_object = np.array([v != "" for v in self.object_ids], dtype=bool)[self.oid]

    def take(self, mask: np.ndarray) -> _Long:
        """The lines where ``mask`` holds."""
        out = object.__new__(_Long)
        out.__dict__.update(self.__dict__)
        for name in ("sig", "action", "row", "otype", "oid", "has_object"):
            setattr(out, name, getattr(self, name)[mask])
        return out


def _reduce(key: np.ndarray, table: UsageTable, rows: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Dense group codes of ``key`` (key order), each group's first line, and per group the
    count (sum), first_seen (min) and last_seen (max) of the lines' rows."""
    groups, first = _dense(key)
    n = len(first)
    count = np.bincount(groups, weights=table.count[rows], minlength=n).astype(np.int64)
    lo = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(lo, groups, table.first_us[rows])
    np.maximum.at(hi, groups, table.last_us[rows])
    frame = pd.DataFrame({"count": count, "first_seen": _utc(lo), "last_seen": _utc(hi)})
    return groups, first, frame


def _utc(values: np.ndarray) -> pd.DatetimeIndex:
    from entra_lp.ingest._aggregate import utc_us

    return utc_us(values)


def _examples(table: UsageTable, rows: np.ndarray, groups: np.ndarray, n_groups: int
              ) -> list[tuple[str, ...]]:
    """Per group the first ids by (first_seen, example_id), at most _EXAMPLES of them."""
    times = table.first_us[rows]
    order = np.lexsort((times, groups))
    rank = np.arange(len(order)) - np.searchsorted(groups[order], groups[order])
    cutoff = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    last = order[rank == _EXAMPLES - 1]
    cutoff[groups[last]] = times[last]
    # every line up to the n-th earliest time (ties included) may be among the first n ids
    keep = np.flatnonzero(times <= cutoff[groups])
    small = pd.DataFrame({"g": groups[keep], "t": times[keep],
                          "e": table.example_id.strings(rows[keep])})
    small = small.sort_values(["g", "t", "e"], kind="stable")
    return [
        tuple(dict.fromkeys(ids))[:_EXAMPLES]
        for _, ids in small.groupby("g", sort=True)["e"]
    ]


_EVIDENCE = ["principal_id", "action", "count", "n_targets", "first_seen", "last_seen",
             "example_ids", "rule_ids", "confidence"]


def _evidence(table: UsageTable, long: _Long, sigs: pd.DataFrame) -> pd.DataFrame:
    if not len(long.row):
        return _empty(_EVIDENCE)
    pid = table.codes["principal_id"][long.row]
    groups, first, agg = _reduce(combine([pid, long.action]), table, long.row)
    n = len(first)
    n_obj = max(len(long.object_ids), 1)
    obj = long.otype.astype(np.int64) * n_obj + long.oid
    pairs = np.unique(groups[long.has_object] * (len(long.object_types) * n_obj)
                      + obj[long.has_object])
    n_targets = np.bincount(pairs // (len(long.object_types) * n_obj), minlength=n)
    rules, ranks = _rules(groups, long.sig, sigs, n)
    out = pd.DataFrame(
        {
            "principal_id": pd.array(table.values["principal_id"][pid[first]], dtype="str"),
            "action": pd.array(long.actions[long.action[first]], dtype="str"),
            "count": agg["count"],
            "n_targets": n_targets.astype(np.int64),
            "first_seen": agg["first_seen"],
            "last_seen": agg["last_seen"],
            "example_ids": _examples(table, long.row, groups, n),
            "rule_ids": [tuple(sorted(r)) for r in rules],
            "confidence": [_CONFIDENCES[r] for r in ranks],
        }
    )
    return out[_EVIDENCE]


def _rules(groups: np.ndarray, sig: np.ndarray, sigs: pd.DataFrame, n: int
           ) -> tuple[list[set[str]], list[int]]:
    """Per group the union of its signatures' rule ids and the worst confidence rank."""
    rules: list[set[str]] = [set() for _ in range(n)]
    ranks = [0] * n
    sig_rules = list(sigs["rule_ids"])
    sig_rank = [_CONFIDENCE_RANK.get(c, 2) for c in sigs["confidence"]]
    for value in np.unique(groups * len(sigs) + sig).tolist():
        g, s = divmod(value, len(sigs))
        rules[g].update(sig_rules[s])
        ranks[g] = max(ranks[g], sig_rank[s])
    return rules, ranks


_TARGETS = ["principal_id", "action", "target_type", "target_id", "count", "first_seen",
            "last_seen"]


def _targets(table: UsageTable, long: _Long) -> pd.DataFrame:
    if not len(long.row):
        return _empty(_TARGETS)
    pid = table.codes["principal_id"][long.row]
    _, first, agg = _reduce(combine([pid, long.action, long.otype, long.oid]), table, long.row)
    # Millions of rows but few distinct strings: categorical columns (codes into sorted
    # values) hold them in a fraction of the memory of one string per cell.
    out = pd.DataFrame(
        {
            "principal_id": _categorical(pid[first], table.values["principal_id"]),
            "action": _categorical(long.action[first], long.actions),
            "target_type": _categorical(long.otype[first], long.object_types),
            "target_id": _categorical(long.oid[first], long.object_ids),
            "count": agg["count"],
            "first_seen": agg["first_seen"],
            "last_seen": agg["last_seen"],
        }
    )
    return out[_TARGETS]


def _categorical(codes: np.ndarray, values: np.ndarray) -> pd.Categorical:
    """``values[codes]`` as a categorical over the values used. ``values`` are distinct and
    sorted (a stage-1 dictionary, or ``np.unique`` output), so the categories are too."""
    codes = np.asarray(codes, dtype=np.int64)
    used = np.flatnonzero(np.bincount(codes, minlength=len(values)))
    dense = np.zeros(len(values), dtype=np.int64)
    dense[used] = np.arange(len(used))
    return pd.Categorical.from_codes(
        dense[codes], categories=pd.Index(np.asarray(values, dtype=object)[used], dtype="str"))


def _activity_table(table: UsageTable, rows: np.ndarray, kinds: np.ndarray | None
                    ) -> pd.DataFrame:
    """Activity-level counts of ``rows``: count, failures, distinct principals and the
    example of the earliest row (ties: smallest id); per kind too when ``kinds`` is given."""
    keys = ["service", "category", "activity"] + (["kind"] if kinds is not None else [])
    columns = [*keys, "count", "failures", "principals", "example_id"]
    if not len(rows):
        return _empty(columns)
    kind_codes, kind_values = (np.unique(kinds, return_inverse=True) if kinds is not None
                               else (np.array([], dtype=object), np.zeros(0, np.int64)))
    parts = [table.codes[c][rows] for c in keys[:3]]
    if kinds is not None:
        parts.append(kind_values.reshape(-1))
    groups, first, agg = _reduce(combine(parts), table, rows)
    n = len(first)
    failed = table.codes["result"][rows] != table.code_of("result", "success")
    failures = np.bincount(groups, weights=np.where(failed, table.count[rows], 0),
                           minlength=n).astype(np.int64)
    pid = table.codes["principal_id"][rows].astype(np.int64)
    principals = np.bincount(np.unique(groups * (int(pid.max()) + 1) + pid)
                             // (int(pid.max()) + 1), minlength=n).astype(np.int64)
    out = pd.DataFrame({c: table.values[c][table.codes[c][rows[first]]] for c in keys[:3]})
    if kinds is not None:
        out["kind"] = kind_codes[kind_values.reshape(-1)[first]]
    out["count"] = agg["count"]
    out["failures"] = failures
    out["principals"] = principals
    out["example_id"] = _earliest(table, rows, groups, n)
    return out[columns]


def _earliest(table: UsageTable, rows: np.ndarray, groups: np.ndarray, n: int) -> list[str]:
    """Per group the example id of its row with the smallest (first_seen, example_id)."""
    times = table.first_us[rows]
    order = np.lexsort((times, groups))
    starts = np.searchsorted(groups[order], np.arange(n))
    best = order[starts]
    ids = table.example_id.strings(rows[best])
    tied = np.flatnonzero((starts + 1 < len(order))
                          & (groups[order[np.minimum(starts + 1, len(order) - 1)]]
                             == np.arange(n))
                          & (times[order[np.minimum(starts + 1, len(order) - 1)]]
                             == times[best]))
    for g in tied.tolist():
        members = np.flatnonzero((groups == g) & (times == times[best[g]]))
        ids[g] = min(table.example_id.strings(rows[members]))
    return ids


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def _matrix_principals(log: AuditLog) -> pd.DataFrame:
    p = log.principals
    keep = p[p["kind"] != "system"]
    return pd.DataFrame(
        {
            "principal_id": keep["principal_id"].to_numpy(),
            "name": keep["principal_name"].to_numpy(),
            "kind": keep["kind"].to_numpy(),
        }
    ).astype("str")


def build_usage_matrix(log: AuditLog, catalog: Any = None) -> UsageMatrix:
    """Map ``log``'s usage rows through ``catalog`` (default: ``load_catalog()``); see the
    module."""
    if catalog is None:
        from permission_catalog import load_catalog

        catalog = load_catalog()
    table = log.table
    principals = _matrix_principals(log)
    wanted = np.isin(table.values["principal_id"], principals["principal_id"].to_numpy(object))
    rows = np.flatnonzero(wanted[table.codes["principal_id"]]) if len(table) else np.zeros(
        0, dtype=np.int64)
    codes, sigs = _signatures(table, rows, catalog)
    long = _Long(table, rows, codes, sigs, catalog)
    ok = table.codes["result"][long.row] == table.code_of("result", "success")
    good = long.take(ok)
    evidence, failed = _evidence(table, good, sigs), _evidence(table, long.take(~ok), sigs)
    actions = tuple(sorted(set(evidence["action"])))
    counts = _counts(evidence, principals, actions)
    kinds = sigs["kind"].to_numpy(dtype=object)[codes] if len(rows) else np.array([], object)
    window = (
        (_timestamp(int(table.first_us.min())), _timestamp(int(table.last_us.max())))
        if len(table)
        else (None, None)
    )
    other = (kinds != "unmapped") & (kinds != "admin")
    matrix = UsageMatrix(
        principals=principals,
        actions=actions,
        counts=counts,
        evidence=evidence,
        targets=_targets(table, good),
        failed=failed,
        unmapped=_activity_table(table, rows[kinds == "unmapped"], None),
        no_admin_right=_activity_table(table, rows[other], kinds[other]),
        window=window,
        buckets=log.buckets,
        risk_weights=np.array([catalog.risk_weight(a) for a in actions], dtype=float),
        unobservable=frozenset(getattr(catalog, "unobservable_actions", frozenset())),
    )
    del long, good
    release_memory()  # the per-line arrays are gone: keep them out of the next stage's peak
    return matrix


def _timestamp(us: int) -> pd.Timestamp:
    return pd.Timestamp(np.datetime64(us, "us")).tz_localize("UTC")


def _counts(
    evidence: pd.DataFrame, principals: pd.DataFrame, actions: tuple[str, ...]
) -> sp.csr_matrix:
    row_of = {p: i for i, p in enumerate(principals["principal_id"])}
    col_of = {a: i for i, a in enumerate(actions)}
    rows = evidence["principal_id"].map(row_of).to_numpy(dtype=np.int64)
    cols = evidence["action"].map(col_of).to_numpy(dtype=np.int64)
    data = evidence["count"].to_numpy(dtype=np.int64)
    return sp.csr_matrix(
        (data, (rows, cols)), shape=(len(principals), len(actions)), dtype=np.int64
    )
