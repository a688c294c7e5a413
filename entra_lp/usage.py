"""Stage 2: usage rows to a principals x resource-actions matrix, with evidence.

Each DISTINCT activity signature (service, category, activity, modified properties, target
type; plus the initiator name when a rule tests it, and whether the initiator acted on
itself) is mapped once with ``catalog.map_activity``; the mapping is joined back to the rows
with pandas, never per row. Successful admin operations give ``counts``/``evidence``/
``targets``; failed ones give ``failed``; activities no rule knows are in ``unmapped`` and
those that need no admin right in ``no_admin_right``. System initiators (``MS-PIM``...) are
left out of the matrix (their records are counted in the ingest report).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from entra_lp.errors import UnknownNameError

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
_SIG_COLUMNS = [
    "service",
    "category",
    "activity",
    "modified_properties",
    "target_type",
    "initiator",
    "self_flag",
]
_EXAMPLES = 3


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


def _codes(values: Any, sort: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a column and its distinct values (sorted: codes follow value order)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=sort)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _combine(parts: list[np.ndarray]) -> np.ndarray:
    """One int64 per row from several code arrays (mixed radix keeps their joint order)."""
    key = np.zeros(len(parts[0]) if parts else 0, dtype=np.int64)
    for codes in parts:
        radix = int(codes.max(initial=-1)) + 1
        if int(key.max(initial=0)) + 1 > (1 << 62) // max(radix, 1):
            key = _codes(key)[0]  # renumber densely (order kept) before it could overflow
        key = key * radix + codes
    return key


def _signatures(rows: pd.DataFrame, catalog: Any) -> tuple[np.ndarray, pd.DataFrame]:
    """Code of each row's signature, and one mapped line per distinct signature. Strings are
    only touched once per distinct value: rows become integer codes first."""
    names = _initiator_names(catalog)
    name_codes, name_values = _codes(rows["principal_name"])
    tests = np.array([str(v).casefold() in names for v in name_values], dtype=bool)
    empty = np.array([], dtype=object)
    initiator: np.ndarray = (
        np.where(tests[name_codes], name_values[name_codes], "") if len(rows) else empty
    )
    pid_codes, pid_values = _codes(rows["principal_id"])
    tid_codes, tid_values = _codes(rows["target_id"])
    _, folded = np.unique(  # one code space for the case-folded ids of both columns
        np.array([str(v).casefold() for v in (*pid_values, *tid_values)], dtype=object),
        return_inverse=True,
    )
    same = folded[: len(pid_values)][pid_codes] == folded[len(pid_values):][tid_codes]
    self_flag: np.ndarray = (
        np.where(tid_values[tid_codes] == "", "", np.where(same, "1", "0")) if len(rows) else empty
    )
    sig = rows[_SIG_COLUMNS[:5]].assign(initiator=initiator, self_flag=self_flag)
    codes = _codes(_combine([_codes(sig[c])[0] for c in _SIG_COLUMNS]))[0]
    _, first = np.unique(codes, return_index=True)
    distinct = sig.iloc[first].reset_index(drop=True)
    mapped = [
        catalog.map_activity(
            s.service,
            s.category or None,
            s.activity,
            s.modified_properties,
            s.target_type or None,
            initiated_by=s.initiator or None,
            self_initiated=None if s.self_flag == "" else s.self_flag == "1",
        )
        for s in distinct.itertuples(index=False)
    ]
    distinct["kind"] = [m.kind for m in mapped]
    distinct["actions"] = [tuple(m.actions) for m in mapped]
    distinct["rule_ids"] = [tuple(m.rule_ids) for m in mapped]
    distinct["confidence"] = [m.confidence for m in mapped]
    return codes, distinct


_LONG = ["principal_id", "result", "count", "first_seen", "last_seen", "example_id"]


def _explode(rows: pd.DataFrame, codes: np.ndarray, sigs: pd.DataFrame) -> pd.DataFrame:
    """One line per (usage row, action) of admin signatures, with the acted-on object; built
    with numpy repeats over the signatures' action lists (no per-row Python)."""
    admin = (sigs["kind"] == "admin").to_numpy()
    per_sig = [a if ok else () for a, ok in zip(sigs["actions"], admin, strict=True)]
    n_actions = np.array([len(a) for a in per_sig], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_actions)])
    flat = np.array([a for t in per_sig for a in t], dtype=object)
    per_row = n_actions[codes] if len(codes) else np.zeros(0, dtype=np.int64)
    row = np.repeat(np.arange(len(rows)), per_row)
    step = np.arange(len(row)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    sig = codes[row] if len(row) else np.zeros(0, dtype=np.int64)
    long = rows[_LONG].iloc[row].reset_index(drop=True)
    long["action"] = flat[offsets[sig] + step] if len(row) else np.array([], dtype=object)
    long["_sig"] = sig
    group = rows["related_group_id"].to_numpy(dtype=object)[row]
    by_group = group != ""
    long["object_type"] = np.where(by_group, "Group",
                                   rows["target_type"].to_numpy(dtype=object)[row])
    long["object_id"] = np.where(by_group, group, rows["target_id"].to_numpy(dtype=object)[row])
    long["confidence"] = sigs["confidence"].to_numpy(dtype=object)[sig]
    return long


def _group_keys(long: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per line the code of its (principal, action) group (in sorted order), and per group
    the index of its first line."""
    p_codes, _ = _codes(long["principal_id"])
    a_codes, _ = _codes(long["action"])
    groups = _codes(_combine([p_codes, a_codes]))[0]
    _, first = np.unique(groups, return_index=True)
    return groups, first


def _examples(long: pd.DataFrame, groups: np.ndarray, n_groups: int) -> list[tuple[str, ...]]:
    """Per group the first ids by (first_seen, example_id), at most _EXAMPLES of them."""
    times = long["first_seen"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    order = np.lexsort((times, groups))
    rank = np.arange(len(order)) - np.searchsorted(groups[order], groups[order])
    cutoff = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    last = order[rank == _EXAMPLES - 1]
    cutoff[groups[last]] = times[last]
    # every line up to the n-th earliest time (ties included) may be among the first n ids
    keep = times <= cutoff[groups]
    small = pd.DataFrame({"g": groups[keep], "t": times[keep],
                          "e": long["example_id"].to_numpy(dtype=object)[keep]})
    small = small.sort_values(["g", "t", "e"], kind="stable")
    return [
        tuple(dict.fromkeys(ids))[:_EXAMPLES]
        for _, ids in small.groupby("g", sort=True)["e"]
    ]


def _evidence(long: pd.DataFrame, sigs: pd.DataFrame) -> pd.DataFrame:
    columns = [
        "principal_id",
        "action",
        "count",
        "n_targets",
        "first_seen",
        "last_seen",
        "example_ids",
        "rule_ids",
        "confidence",
    ]
    if long.empty:
        return _empty(columns)
    long = long.reset_index(drop=True)
    groups, first = _group_keys(long)
    n = len(first)
    agg = _sum_min_max(long, groups)
    has_object = (long["object_id"] != "").to_numpy()
    o_codes = _codes(_combine([_codes(long["object_type"])[0], _codes(long["object_id"])[0]]))[0]
    n_obj = int(o_codes.max(initial=-1)) + 1
    pairs = np.unique(groups[has_object] * n_obj + o_codes[has_object])
    n_targets = np.bincount(pairs // max(n_obj, 1), minlength=n).astype(np.int64)
    rules, ranks = _rules(groups, long["_sig"].to_numpy(), sigs, n)
    out = pd.DataFrame(
        {
            "principal_id": long["principal_id"].iloc[first].reset_index(drop=True),
            "action": pd.array(long["action"].to_numpy(dtype=object)[first], dtype="str"),
            "count": agg["count"],
            "n_targets": n_targets,
            "first_seen": agg["first_seen"],
            "last_seen": agg["last_seen"],
            "example_ids": _examples(long, groups, n),
            "rule_ids": [tuple(sorted(r)) for r in rules],
            "confidence": [_CONFIDENCES[r] for r in ranks],
        }
    )
    return out[columns]


def _sum_min_max(long: pd.DataFrame, key: np.ndarray) -> pd.DataFrame:
    """count (sum), first_seen (min), last_seen (max) per key code, in key order."""
    frame = pd.DataFrame({"k": key, "count": long["count"].to_numpy(dtype=np.int64),
                          "first_seen": long["first_seen"], "last_seen": long["last_seen"]})
    agg = frame.groupby("k", sort=True).agg(
        count=("count", "sum"), first_seen=("first_seen", "min"), last_seen=("last_seen", "max")
    )
    agg["count"] = agg["count"].astype(np.int64)
    return agg.reset_index(drop=True)


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


def _targets(long: pd.DataFrame) -> pd.DataFrame:
    columns = [
        "principal_id",
        "action",
        "target_type",
        "target_id",
        "count",
        "first_seen",
        "last_seen",
    ]
    if long.empty:
        return _empty(columns)
    long = long.reset_index(drop=True)
    key = _codes(_combine([_codes(long[c])[0] for c in
                           ("principal_id", "action", "object_type", "object_id")]))[0]
    _, first = np.unique(key, return_index=True)
    agg = _sum_min_max(long, key)
    out = pd.DataFrame(
        {
            "principal_id": long["principal_id"].iloc[first].reset_index(drop=True),
            "action": pd.array(long["action"].to_numpy(dtype=object)[first], dtype="str"),
            "target_type": pd.Series(long["object_type"].to_numpy(dtype=object)[first]),
            "target_id": pd.Series(long["object_id"].to_numpy(dtype=object)[first]),
            "count": agg["count"],
            "first_seen": agg["first_seen"],
            "last_seen": agg["last_seen"],
        }
    )
    return out[columns]


def _activity_table(rows: pd.DataFrame, mask: np.ndarray, kinds: pd.Series | None) -> pd.DataFrame:
    keys = ["service", "category", "activity"] + (["kind"] if kinds is not None else [])
    columns = [*keys, "count", "failures", "principals", "example_id"]
    part = rows[mask]
    if kinds is not None:
        part = part.assign(kind=kinds[mask])
    if part.empty:
        return _empty(columns)
    part = part.assign(failures=np.where(part["result"] != "success", part["count"], 0))
    out = (
        part.sort_values(["first_seen", "example_id"])
        .groupby(keys, sort=True)
        .agg(
            count=("count", "sum"),
            failures=("failures", "sum"),
            principals=("principal_id", "nunique"),
            example_id=("example_id", "first"),
        )
    )
    out = out.reset_index()
    for column in ("count", "failures", "principals"):
        out[column] = out[column].astype(np.int64)
    return out[columns]


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
    """Map ``log.rows`` through ``catalog`` (default: ``load_catalog()``); see the module."""
    if catalog is None:
        from permission_catalog import load_catalog

        catalog = load_catalog()
    principals = _matrix_principals(log)
    rows = log.rows[log.rows["principal_id"].isin(set(principals["principal_id"]))]
    rows = rows.reset_index(drop=True)
    codes, sigs = _signatures(rows, catalog)
    long = _explode(rows, codes, sigs)
    ok = long["result"] == "success"
    evidence, failed = _evidence(long[ok], sigs), _evidence(long[~ok], sigs)
    actions = tuple(sorted(set(evidence["action"])))
    counts = _counts(evidence, principals, actions)
    kinds = sigs["kind"].to_numpy()[codes] if len(rows) else np.array([], dtype=object)
    window = (
        (log.rows["first_seen"].min(), log.rows["last_seen"].max())
        if len(log.rows)
        else (None, None)
    )
    return UsageMatrix(
        principals=principals,
        actions=actions,
        counts=counts,
        evidence=evidence,
        targets=_targets(long[ok]),
        failed=failed,
        unmapped=_activity_table(rows, kinds == "unmapped", None),
        no_admin_right=_activity_table(
            rows, (kinds != "unmapped") & (kinds != "admin"), pd.Series(kinds)
        ),
        window=window,
        buckets=log.buckets,
        risk_weights=np.array([catalog.risk_weight(a) for a in actions], dtype=float),
        unobservable=frozenset(getattr(catalog, "unobservable_actions", frozenset())),
    )


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
