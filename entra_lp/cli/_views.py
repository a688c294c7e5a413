"""What the commands show: each result as a JSON-ready dict and as Rich tables."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from entra_lp.directory import DirectorySnapshot
    from entra_lp.ingest import AuditLog
    from entra_lp.recommendation import MetricSet, Recommendation
    from entra_lp.usage import UsageMatrix
    from entra_lp.validate import ValidationReport

    from ._common import Output

TOP = 15
"""Rows shown per table on screen (``--json`` always has everything)."""
NARROW = 120
"""Below this console width, tables drop their least useful columns."""


def _table(title: str, *columns: str, right: tuple[str, ...] = (),
           wrap: tuple[str, ...] = ()) -> Table:
    """A left-titled table; numbers right-aligned; only ``wrap`` columns may wrap."""
    table = Table(title=title, title_justify="left", title_style="bold")
    for c in columns:
        if c in wrap:
            table.add_column(c, overflow="fold", min_width=16)
        elif c in right:
            table.add_column(c, justify="right", no_wrap=True, min_width=len(c))
        else:
            table.add_column(c, no_wrap=True, overflow="ellipsis", max_width=44)
    return table


def _more(out: Output, shown: int, total: int, what: str) -> None:
    if total > shown:
        out.out.print(f"  … and {total - shown} more {what} (--json lists all)")


# ---- ingest ----------------------------------------------------------------------------------
def ingest_json(log: AuditLog) -> dict[str, Any]:
    """The ingest report as a dict (the pydantic model's JSON form)."""
    data: dict[str, Any] = log.report.model_dump(mode="json")
    data["usage_rows"] = len(log.rows)
    return data


def print_ingest(out: Output, log: AuditLog) -> None:
    """The ingest report: what was read, kept and rejected, and why."""
    r = log.report
    out.out.print("[bold]Ingest[/bold]")
    for line in r.summary().splitlines():
        out.out.print(f"  {line}")
    if r.rejected_by_field:
        out.out.print("  rejected by field: " + ", ".join(
            f"{k or '<record>'}={v}" for k, v in r.rejected_by_field.items()))
    if r.skipped_files:
        out.out.print(f"  skipped {len(r.skipped_files)} file(s) of unknown type: "
                      + ", ".join(r.skipped_files[:5]))


# ---- usage -----------------------------------------------------------------------------------
def held_roles(directory: DirectorySnapshot | None) -> dict[str, list[str]]:
    """Principal id → names of the directory roles it holds (active or eligible)."""
    if directory is None:
        return {}
    from permission_catalog import load_catalog

    cat = load_catalog()
    custom = {d.id: d.display_name for d in directory.custom_role_definitions}
    out: dict[str, set[str]] = {}
    for a in directory.role_assignments:
        rid = a.role_definition_id
        name = custom.get(rid) or (cat.roles[rid].name if rid in cat.roles else rid)
        out.setdefault(a.principal_id, set()).add(name)
    return {p: sorted(v) for p, v in out.items()}


def usage_json(usage: UsageMatrix, held: dict[str, list[str]]) -> dict[str, Any]:
    """Per principal activity, unmapped activities and the matrix shape."""
    summary = usage.summary()
    actions = _actions_by_principal(usage)
    principals = []
    row: dict[Any, Any]
    for row in summary.to_dict("records"):
        pid = str(row["principal_id"])
        principals.append({
            "principal_id": pid,
            "name": str(row["name"]),
            "kind": str(row["kind"]),
            "actions": int(row["actions"]),
            "operations": int(row["operations"]),
            "failed": int(row["failed"]),
            "risk": round(float(row["risk"]), 3),
            "last_seen": _iso(row["last_seen"]),
            "used_actions": actions.get(pid, []),
            "held_roles": held.get(pid, []),
        })
    return {
        "shape": list(usage.shape),
        "window": [_iso(w) for w in usage.window],
        "principals": principals,
        "unmapped": _records(usage.unmapped),
        "no_admin_right": _records(usage.no_admin_right),
    }


def _actions_by_principal(usage: UsageMatrix) -> dict[str, list[str]]:
    ev = usage.evidence
    out: dict[str, list[str]] = {}
    for pid, action in zip(ev["principal_id"].tolist(), ev["action"].tolist(), strict=True):
        out.setdefault(str(pid), []).append(str(action))
    return {k: sorted(v) for k, v in out.items()}


def _isna(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for rec in frame.to_dict("records"):
        rows.append({str(k): _plain(v) for k, v in rec.items()})
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if _isna(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def print_usage(out: Output, usage: UsageMatrix, held: dict[str, list[str]]) -> None:
    """What each principal does, then the activities no rule maps."""
    data = usage_json(usage, held)
    n, m = usage.shape
    out.out.print(f"\n[bold]Usage[/bold]: {n} principals × {m} resource actions")
    if not data["principals"]:
        out.out.print("No admin activity in these logs.")
    # Narrow terminals: the role names matter more than the kind and the last-seen time.
    wide = out.out.width >= NARROW
    cols = ["principal", *(["kind"] if wide else []), "actions", "operations", "failed",
            *(["last seen"] if wide else []), *(["holds"] if held else [])]
    table = _table("What each principal does (busiest first)", *cols,
                   right=("actions", "operations", "failed"), wrap=("principal", "holds"))
    for p in data["principals"][:TOP]:
        cells = {"principal": p["name"], "kind": p["kind"], "actions": str(p["actions"]),
                 "operations": str(p["operations"]), "failed": str(p["failed"]),
                 "last seen": (p["last_seen"] or "")[:16].replace("T", " "),
                 "holds": ", ".join(p["held_roles"]) or "-"}
        table.add_row(*[cells[c] for c in cols])
    if data["principals"]:
        out.out.print(table)
    _more(out, TOP, len(data["principals"]), "principals")
    print_unmapped(out, data["unmapped"])
    if data["no_admin_right"]:
        total = sum(int(r["count"]) for r in data["no_admin_right"])
        out.out.print(f"{total} record(s) of {len(data['no_admin_right'])} activities need no "
                      "admin right (self-service, sign-in, system) and are not in the matrix.")


def print_unmapped(out: Output, rows: list[dict[str, Any]]) -> None:
    """Activities no audit rule maps (reported, never dropped)."""
    if not rows:
        out.out.print("Every activity was mapped to resource actions.")
        return
    table = _table(f"{len(rows)} unmapped activities (no audit rule: add one or report it)",
                   "service", "category", "activity", "records", "principals",
                   right=("records", "principals"), wrap=("activity",))
    for r in sorted(rows, key=lambda r: (-int(r["count"]), r["activity"]))[:TOP]:
        table.add_row(r["service"], r["category"], r["activity"], str(r["count"]),
                      str(r["principals"]))
    out.out.print(table)
    _more(out, TOP, len(rows), "activities")


# ---- recommendation --------------------------------------------------------------------------
METRIC_FIELDS = ("n_roles", "n_assignments", "wsc", "over_privilege", "over_privilege_actions",
                 "standing_control_plane_hours", "coverage", "denied_operations")


def recommendation_json(rec: Recommendation) -> dict[str, Any]:
    """Counts, roles and metrics of a recommendation (the full model is its own JSON file).

    ``attestation`` counts distinct rights to attest (principal, action); an item per role
    that grants a right today is in ``attestation_items``."""
    from entra_lp.export._report import attestation_rights

    kinds = Counter(r.kind for r in rec.roles)
    metrics = rec.metrics.model_dump(mode="json") if rec.metrics is not None else None
    return {
        "source": rec.source,
        "catalog_version": rec.catalog_version,
        "window": [_iso(rec.window_start), _iso(rec.window_end)],
        "roles": {k: kinds.get(k, 0) for k in ("custom", "builtin", "pim_group")},
        "assignments": len(rec.assignments),
        "exclusions": len(rec.exclusions),
        "attestation": attestation_rights(rec),
        "attestation_items": len(rec.attestation),
        "cannot_express": len(rec.cannot_express),
        "role_list": [
            {"key": r.key, "name": r.display_name, "kind": r.kind, "plane": r.plane,
             "tier": r.risk.tier, "actions": len(r.actions),
             "holders": sum(1 for a in rec.assignments if a.role_key == r.key),
             "scopes": sorted({a.scope.kind for a in rec.assignments if a.role_key == r.key}),
             "max_activation_hours": r.pim.settings.max_activation_hours,
             "approval": r.pim.settings.require_approval}
            for r in rec.roles
        ],
        "metrics": metrics,
        "before_after": before_after(rec),
    }


def _iso(value: Any) -> str | None:
    return None if _isna(value) else str(value.isoformat())


def before_after(rec: Recommendation) -> dict[str, Any] | None:
    """Over-privilege and standing exposure: current assignments (or, without a directory,
    the least-privileged built-in baseline) against the proposal."""
    m = rec.metrics
    if m is None:
        return None
    before, label = _before(rec)
    if before is None:
        return None
    after = m.proposed
    return {
        "before": label,
        "over_privilege": [before.over_privilege, after.over_privilege],
        "over_privilege_actions": [before.over_privilege_actions, after.over_privilege_actions],
        "standing_control_plane_hours": [before.standing_control_plane_hours,
                                         after.standing_control_plane_hours],
        "roles": [before.n_roles, after.n_roles],
    }


def _before(rec: Recommendation) -> tuple[MetricSet | None, str]:
    m = rec.metrics
    if m is None:
        return None, ""
    if m.current is not None:
        return m.current, "current assignments"
    base = m.baselines.get("least_privileged_builtin")
    return base, "least-privileged built-in roles (no directory snapshot given)"


def reduction(before: float, after: float) -> str:
    """``-85%`` style change, or ``n/a`` when there is nothing before."""
    if before <= 0:
        return "n/a"
    return f"{(after - before) / before:+.0%}"


def print_roles(out: Output, rec: Recommendation) -> None:
    """One line per proposed role."""
    table = _table(f"{len(rec.roles)} proposed role(s)", "role", "kind", "tier / plane",
                   "actions", "holders", "scopes", "PIM", right=("actions", "holders"),
                   wrap=("role", "scopes"))
    for r in recommendation_json(rec)["role_list"]:
        pim = f"≤{r['max_activation_hours']} h" + (", approval" if r["approval"] else "")
        table.add_row(r["name"], r["kind"], f"{r['tier']} / {r['plane']}", str(r["actions"]),
                      str(r["holders"]), ", ".join(r["scopes"]) or "-", pim)
    out.out.print(table)


def print_metrics(out: Output, rec: Recommendation) -> None:
    """Proposal against current state and baselines."""
    m = rec.metrics
    if m is None:
        return
    sets: list[tuple[str, MetricSet]] = []
    if m.current is not None:
        sets.append(("current", m.current))
    sets.append(("proposed", m.proposed))
    sets += sorted(m.baselines.items())
    table = _table("Metrics", "measure", *[s for s, _ in sets], right=tuple(s for s, _ in sets))
    labels = {"n_roles": "roles", "n_assignments": "assignments", "wsc": "WSC",
              "over_privilege": "over-privilege (risk-weighted)",
              "over_privilege_actions": "granted, unused (pairs)",
              "standing_control_plane_hours": "standing control-plane hours",
              "coverage": "coverage (later window)", "denied_operations": "denied operations"}
    for f in METRIC_FIELDS:
        values = [getattr(ms, f) for _, ms in sets]
        if all(v is None for v in values):
            continue
        table.add_row(labels[f], *[_fmt(f, v) for v in values])
    out.out.print(table)


def _fmt(field: str, value: Any) -> str:
    if value is None:
        return "-"
    if field == "coverage":
        return f"{value:.2%}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


# ---- validation ------------------------------------------------------------------------------
def validation_json(rep: ValidationReport, min_coverage: float) -> dict[str, Any]:
    """Coverage, threshold and the denied operations."""
    return {
        "coverage": rep.coverage,
        "min_coverage": min_coverage,
        "passed": rep.coverage >= min_coverage,
        "total_operations": rep.total_operations,
        "excluded_operations": rep.excluded_operations,
        "allowed_operations": rep.allowed_operations,
        "denied_operations": rep.denied_operations,
        "denied": [d.model_dump(mode="json") for d in rep.denied],
        "new_principals": list(rep.new_principals),
    }


def print_validation(out: Output, rep: ValidationReport, min_coverage: float) -> None:
    """Coverage line and the denied operations, most events first."""
    ok = rep.coverage >= min_coverage
    mark = "[green]pass[/green]" if ok else "[red]below threshold[/red]"
    replayed = rep.total_operations - rep.excluded_operations
    out.out.print(
        f"[bold]Coverage[/bold] {rep.coverage:.2%} of {replayed:,} later operations "
        f"({mark}, threshold {min_coverage:.2%}); "
        f"{rep.denied_operations} denied, {rep.excluded_operations:,} by excluded principals"
    )
    if rep.denied:
        table = _table("Denied operations", "principal", "action", "events", "targets", "reason",
                       right=("events", "targets"), wrap=("principal", "action"))
        for d in rep.denied[:TOP]:
            table.add_row(d.principal_name or d.principal_id, d.action, str(d.count),
                          str(d.n_targets), d.reason.replace("_", " "))
        out.out.print(table)
        _more(out, TOP, len(rep.denied), "denied groups")
    if rep.new_principals:
        out.out.print(f"{len(rep.new_principals)} principal(s) active later are not in the "
                      "recommendation: " + ", ".join(rep.new_principals[:5]))
