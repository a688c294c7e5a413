"""The recommendation as a Markdown report (and the helpers the HTML report shares).

The report is written for a design workshop: a plain-language summary first, then the
metrics (current state, proposal, baselines), one section per role (actions with their
evidence, tasks, scopes, assignments, PIM settings with the reason for each, risk and
escalation paths), what Entra cannot express, exclusions and the attestation list.

``pseudonymize_salt`` replaces every principal name and id by a stable pseudonym (see
:func:`~entra_lp.export.from_recommendation.pseudonymize`). Option values whose key looks like
a secret are never written. Output is deterministic: no clock, sorted where order is free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import EntraLPError
from ..recommendation import MetricSet, Recommendation, RoleProposal
from .from_recommendation import pseudonymize

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

__all__ = ["MetricColumn", "ReportContext", "report_context", "to_markdown"]

_SECRET_KEY = re.compile(r"secret|token|password|passwd|credential|api[_-]?key|private|cert", re.I)
_SECRET_VALUE = re.compile(r"^(eyJ|-----BEGIN)")
KIND_LABEL = {
    "custom": "Custom role",
    "builtin": "Built-in role (fallback)",
    "pim_group": "PIM for Groups (manual)",
}
TIER_LABEL = {
    "control": "Control plane",
    "management": "Management plane",
    "user_access": "User access",
}
REASON_LABEL = {
    "unobservable": "Never audited: confirm it is needed",
    "held_never_seen": "Held today but never used in the window: confirm or remove",
    "ambiguous_mapping": "Audit record maps to several actions: confirm which one",
}
BASELINE_LABEL = {
    "exact_union": "Baseline: one role per principal",
    "least_privileged_builtin": "Baseline: least-privileged built-in roles",
}


# ---- shared facts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricColumn:
    """One column of the metrics table: a label and its metric set."""

    key: str
    label: str
    metrics: MetricSet


@dataclass(frozen=True)
class ReportContext:
    """What both reports show, computed once (after pseudonymisation)."""

    rec: Recommendation
    columns: tuple[MetricColumn, ...]
    builtin_names: dict[str, str]
    options: tuple[tuple[str, str], ...]
    names: dict[str, str]

    def principal(self, principal_id: str | None, name: str = "") -> str:
        """How a principal is shown: its name when known, else its id."""
        if principal_id is None:
            return name or "(all principals)"
        return name or self.names.get(principal_id) or principal_id

    def builtin(self, role: RoleProposal) -> str:
        """Name of the built-in role a fallback / PIM-group role uses."""
        tid = role.builtin_template_id or ""
        return self.builtin_names.get(tid, tid)

    def summary_sentences(self) -> list[str]:
        """Plain-language headline: roles, over-privilege and standing exposure."""
        return _summary(self)


def report_context(
    recommendation: Recommendation,
    *,
    pseudonymize_salt: str | None = None,
    catalog: Catalog | None = None,
) -> ReportContext:
    """Prepare a recommendation for a report (pseudonymised when a salt is given)."""
    rec = pseudonymize(recommendation, pseudonymize_salt) if pseudonymize_salt else recommendation
    columns: list[MetricColumn] = []
    if rec.metrics is not None:
        if rec.metrics.current is not None:
            columns.append(MetricColumn("current", "Current", rec.metrics.current))
        columns.append(MetricColumn("proposed", "Proposed", rec.metrics.proposed))
        for key in sorted(rec.metrics.baselines):
            label = BASELINE_LABEL.get(key, "Baseline: " + key.replace("_", " "))
            columns.append(MetricColumn(key, label, rec.metrics.baselines[key]))
    names = {a.principal_id: a.principal_name for a in rec.assignments if a.principal_name}
    names.update({e.principal_id: e.principal_name for e in rec.exclusions if e.principal_name})
    return ReportContext(
        rec,
        tuple(columns),
        _builtin_names(rec, catalog),
        _options(rec),
        dict(sorted(names.items())),
    )


def _builtin_names(rec: Recommendation, catalog: Catalog | None) -> dict[str, str]:
    ids = sorted({r.builtin_template_id for r in rec.roles if r.builtin_template_id})
    if not ids:
        return {}
    try:
        if catalog is None:
            from permission_catalog import load_catalog

            catalog = load_catalog()
        out = {}
        for tid in ids:
            try:
                out[tid] = catalog.role(tid).name
            except KeyError:
                continue
        return out
    except (OSError, EntraLPError):  # names are a nicety: the template id is shown instead
        return {}


def _options(rec: Recommendation) -> tuple[tuple[str, str], ...]:
    out = []
    for key in sorted(rec.options):
        value = rec.options[key]
        text = value if isinstance(value, str) else repr(value)
        if _SECRET_KEY.search(key) or _SECRET_VALUE.match(text):
            text = "(redacted)"
        out.append((key, text))
    return tuple(out)


def fmt(value: float | int | None, *, percent: bool = False) -> str:
    """Numbers for people: thousands separators, at most one decimal; '–' for missing."""
    if value is None:
        return "–"
    if percent:
        return f"{value * 100:.2f} %"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def change(before: float, after: float) -> str:
    """Relative change as a signed percentage ('−98.9 %')."""
    if before == 0:
        return "n/a" if after else "0 %"
    pct = (after - before) / before * 100
    return f"{'+' if pct > 0 else '−' if pct < 0 else ''}{abs(pct):.1f} %"


METRIC_ROWS: tuple[tuple[str, str, str], ...] = (
    ("n_roles", "Roles", "Distinct role definitions used"),
    ("n_assignments", "Assignments", "Principal × role × scope"),
    ("wsc", "Structural complexity (WSC)", "Weighted size of roles and assignments"),
    ("over_privilege", "Over-privilege (risk-weighted)", "Granted but unused, weighted by risk"),
    ("over_privilege_actions", "Over-privilege (pairs)", "Granted-but-unused principal × action"),
    (
        "standing_control_plane_hours",
        "Standing control-plane exposure (action-hours)",
        "Control-plane rights held outside activation",
    ),
    ("coverage", "Replay coverage", "Later operations the design allows"),
    ("denied_operations", "Denied operations", "Later operations the design would deny"),
)


def metric_value(m: MetricSet, attr: str) -> float | int | None:
    """One metric of a set (``None`` when not measured)."""
    value: float | int | None = getattr(m, attr)
    return value


def _summary(ctx: ReportContext) -> list[str]:
    rec = ctx.rec
    custom = sum(r.kind == "custom" for r in rec.roles)
    eligible = sum(a.assignment_type == "eligible" for a in rec.assignments)
    principals = len({a.principal_id for a in rec.assignments})
    out = [
        f"{len(rec.roles)} roles ({custom} custom) for {principals} principals: "
        f"{eligible} of {len(rec.assignments)} assignments are eligible (just in time), "
        "the rest are active."
    ]
    cols = {c.key: c.metrics for c in ctx.columns}
    now, new = cols.get("current"), cols.get("proposed")
    if now is not None and new is not None:
        out.append(
            f"Roles: {fmt(now.n_roles)} today, {fmt(new.n_roles)} proposed. Over-privilege: "
            f"{fmt(now.over_privilege)} → {fmt(new.over_privilege)} "
            f"({change(now.over_privilege, new.over_privilege)}). Standing control-plane "
            f"exposure: {fmt(now.standing_control_plane_hours)} → "
            f"{fmt(new.standing_control_plane_hours)} action-hours "
            f"({change(now.standing_control_plane_hours, new.standing_control_plane_hours)})."
        )
    if new is not None and new.coverage is not None:
        out.append(
            f"Replayed on a later window, the design allows {fmt(new.coverage, percent=True)} of "
            f"the operations ({fmt(new.denied_operations)} would be denied)."
        )
    if rec.exclusions or rec.attestation:
        out.append(
            f"{len(rec.exclusions)} principals are left unchanged on purpose; "
            f"{len(rec.attestation)} rights need a person to confirm or remove them."
        )
    return out


def window(rec: Recommendation) -> str:
    """The analysed window, or '(design)' for a workshop design."""

    def day(d: datetime | None) -> str:
        return d.strftime("%Y-%m-%d") if d else "?"

    if rec.window_start is None and rec.window_end is None:
        return "no audit window (design)"
    return f"{day(rec.window_start)} to {day(rec.window_end)}"


def pim_rows(role: RoleProposal) -> list[tuple[str, str, str]]:
    """(setting, value, why) rows of a role's PIM decision."""
    s, why = role.pim.settings, role.pim.rationale

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    rows = [
        ("eligible", "Assignment", "eligible (just in time)" if s.eligible else "active"),
        ("max_activation_hours", "Maximum activation", f"{s.max_activation_hours} h"),
        ("require_mfa", "MFA on activation", yes(s.require_mfa)),
        ("authentication_context", "Authentication context", s.authentication_context or "none"),
        ("require_justification", "Justification", yes(s.require_justification)),
        ("require_ticket", "Ticket", yes(s.require_ticket)),
        (
            "require_approval",
            "Approval",
            f"yes ({len(s.approvers)} approver(s))" if s.require_approval else "no",
        ),
        (
            "eligibility_expiry_days",
            "Eligibility ends after",
            f"{s.eligibility_expiry_days} days" if s.eligibility_expiry_days else "never",
        ),
        (
            "active_assignment_expiry_days",
            "Active assignment ends after",
            f"{s.active_assignment_expiry_days} days"
            if s.active_assignment_expiry_days
            else "never",
        ),
        (
            "notify_on_activation",
            "Notify on activation",
            ", ".join(s.notify_on_activation) or "default recipients",
        ),
    ]
    return [(label, value, why.get(key, "")) for key, label, value in rows]


def evidence_rows(role: RoleProposal) -> list[tuple[str, str, str, str, str, str, str]]:
    """(action, source, events, targets, principals, last seen, detail) per action."""
    by_action: dict[str, list[Any]] = {a: [] for a in role.actions}
    for e in role.evidence:
        by_action.setdefault(e.action, []).append(e)
    rows = []
    for action in sorted(by_action):
        items = by_action[action] or [None]
        for e in items:
            if e is None:
                rows.append((action, "none recorded", "", "", "", "", ""))
                continue
            detail = ", ".join([*e.task_ids, *e.rule_ids])
            if e.confidence:
                detail = f"{e.confidence}; {detail}" if detail else e.confidence
            rows.append(
                (
                    action,
                    e.source,
                    fmt(e.count) if e.count else "",
                    fmt(e.n_targets) if e.n_targets else "",
                    fmt(e.n_principals) if e.n_principals else "",
                    e.last_seen.strftime("%Y-%m-%d") if e.last_seen else "",
                    detail,
                )
            )
    return rows


def scope_reason(a: Any) -> str:
    """Why this scope: the recorded reason plus what narrower scopes would have denied."""
    parts = [a.scope.reason] if a.scope.reason else []
    denied = [f"{label}: {n} denied" for label, n in sorted(a.scope.denied_by_narrower.items())]
    if denied:
        parts.append("narrower: " + "; ".join(denied))
    return " — ".join(parts)


def pim_group_steps(ctx: ReportContext, role: RoleProposal) -> list[str]:
    """What a person does by hand for a PIM-for-Groups role."""
    s = role.pim.settings
    return [
        f"Create a role-assignable security group for “{role.display_name}”.",
        f"Assign the built-in role {ctx.builtin(role)} to the group.",
        "Make the principals listed under Assignments eligible members (PIM for Groups), "
        f"activation at most {s.max_activation_hours} h.",
        "Remove their direct assignments of the role.",
    ]


# ---- Markdown -------------------------------------------------------------------------------
def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def to_markdown(
    recommendation: Recommendation,
    *,
    pseudonymize_salt: str | None = None,
    catalog: Catalog | None = None,
) -> str:
    """The Markdown report (deterministic text)."""
    ctx = report_context(recommendation, pseudonymize_salt=pseudonymize_salt, catalog=catalog)
    rec = ctx.rec
    lines = [
        "# Least-privilege recommendation",
        "",
        f"Catalog {rec.catalog_version} · source: {rec.source} · audit window: {window(rec)}"
        + (" · principal names are pseudonymised" if pseudonymize_salt else ""),
        "",
        "## Summary",
        "",
        *(f"- {s}" for s in ctx.summary_sentences()),
    ]
    lines += _metrics_md(ctx)
    lines += ["", "## Roles"]
    for role in rec.roles:
        lines += _role_md(ctx, role)
    lines += _lists_md(ctx)
    return "\n".join(lines).rstrip() + "\n"


def _metrics_md(ctx: ReportContext) -> list[str]:
    if not ctx.columns:
        return []
    rows = [
        [
            label,
            *(fmt(metric_value(c.metrics, attr), percent=attr == "coverage") for c in ctx.columns),
        ]
        for attr, label, _ in METRIC_ROWS
        if any(metric_value(c.metrics, attr) is not None for c in ctx.columns)
    ]
    return ["", "## Metrics", "", *_table(["Measure", *(c.label for c in ctx.columns)], rows)]


def _role_md(ctx: ReportContext, role: RoleProposal) -> list[str]:
    r = role.risk
    facts = [
        f"**{KIND_LABEL[role.kind]}** · {TIER_LABEL[r.tier]} · {role.plane} plane · "
        f"risk score {fmt(r.score)} · assignable at {', '.join(role.assignable_scopes)}",
    ]
    if role.builtin_template_id:
        facts.append(f"Built-in role: {ctx.builtin(role)} (`{role.builtin_template_id}`)")
    if role.split_from:
        facts.append(f"Split from `{role.split_from}` (configuration and execution gated apart)")
    if role.tasks:
        facts.append("Tasks: " + ", ".join(f"`{t}`" for t in role.tasks))
    lines = ["", f"### {role.display_name}", "", role.description, "", *(f"- {f}" for f in facts)]
    lines += ["", "**Actions and evidence**", ""]
    lines += _table(
        ["Action", "Source", "Events", "Targets", "Principals", "Last seen", "Detail"],
        evidence_rows(role),
    )
    if role.extra_actions:
        lines += [
            "",
            "Granted beyond the need by the built-in role: "
            + ", ".join(f"`{a}`" for a in role.extra_actions),
        ]
    assigned = [a for a in ctx.rec.assignments if a.role_key == role.key]
    if assigned:
        lines += ["", "**Assignments**", ""]
        lines += _table(
            ["Principal", "Scope", "Type", "Why this scope"],
            [
                (
                    ctx.principal(a.principal_id, a.principal_name),
                    a.scope.display_name or a.scope.directory_scope_id,
                    a.assignment_type,
                    scope_reason(a),
                )
                for a in assigned
            ],
        )
    lines += ["", "**PIM settings**", "", *_table(["Setting", "Value", "Why"], pim_rows(role))]
    if r.escalation_paths:
        lines += ["", "**Escalation paths**", ""]
        lines += _table(
            ["Severity", "Action", "Gains", "Explanation"],
            [(p.severity, p.action, p.gains, p.explanation) for p in r.escalation_paths],
        )
    if role.limitations:
        lines += ["", "**Limitations**", "", *(f"- {x}" for x in role.limitations)]
    if role.kind == "pim_group":
        lines += ["", "**Manual steps**", ""]
        lines += [f"{i}. {s}" for i, s in enumerate(pim_group_steps(ctx, role), 1)]
    return lines


def _lists_md(ctx: ReportContext) -> list[str]:
    rec = ctx.rec
    lines = ["", "## What Entra cannot express", ""]
    lines += [f"- {s}" for s in rec.cannot_express] or ["- Nothing: every need fits a custom role."]
    lines += ["", "## Exclusions", ""]
    lines += (
        _table(
            ["Principal", "Kind", "Reason"],
            [
                (
                    ctx.principal(e.principal_id, e.principal_name),
                    e.kind.replace("_", " "),
                    e.reason,
                )
                for e in rec.exclusions
            ],
        )
        if rec.exclusions
        else ["None."]
    )
    lines += ["", "## Attestation", ""]
    if rec.attestation:
        rows = sorted(rec.attestation, key=lambda t: (t.reason, t.principal_id or "", t.action))
        lines += _table(
            ["Principal", "Action", "Why", "Held via", "Detail"],
            [
                (
                    ctx.principal(t.principal_id),
                    t.action,
                    REASON_LABEL[t.reason],
                    t.held_via or "",
                    t.detail,
                )
                for t in rows
            ],
        )
    else:
        lines.append("None.")
    if ctx.options:
        lines += ["", "## Options", "", *_table(["Option", "Value"], ctx.options)]
    return lines
