"""The recommendation as a Markdown report.

The report is written for a design workshop: three summary lines first (what changes, what it
buys, why it is safe), then the measures (current state, proposal, baselines, each saying what
it counts and which direction is better), one section per role (actions with their evidence,
who holds the role where and why, PIM settings with the reason for each, escalation paths,
what Entra cannot express), the page-level limits, exclusions and the attestation list grouped
by principal. The content comes from the shared report model (:mod:`entra_lp.export._report`);
this module only renders it.

``pseudonymize_salt`` replaces every principal name and id by a stable pseudonym (see
:func:`~entra_lp.export.from_recommendation.pseudonymize`). Option values whose key looks like
a secret are never written. Output is deterministic: no clock, sorted where order is free.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ._report import (
    BASELINE_LABEL,
    BASELINE_NOTE,
    DENY_LABEL,
    KIND_LABEL,
    MEASURES,
    REASON_LABEL,
    SOURCE_LABEL,
    TIER_LABEL,
    AttestationGroup,
    Measure,
    MetricColumn,
    ReportContext,
    RoleCounts,
    attestation_groups,
    attestation_overview,
    change,
    compact,
    entra_limits,
    escalation_order,
    evidence_rows,
    evidence_totals,
    fmt,
    holders,
    measure_change,
    measure_rows,
    new_principals_note,
    pim_group_steps,
    pim_rows,
    pim_summary,
    plain_reason,
    replay_overview,
    report_context,
    roles_intro,
    scope_summary,
    window,
)

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

    from ..recommendation import Recommendation, RoleProposal
    from ..validate import ValidationReport

# The report model's names stay importable from here, as before it moved to ``_report``.
__all__ = [
    "MEASURES",
    "AttestationGroup",
    "Measure",
    "MetricColumn",
    "ReportContext",
    "RoleCounts",
    "change",
    "compact",
    "fmt",
    "plain_reason",
    "report_context",
    "to_markdown",
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
    validation: ValidationReport | None = None,
) -> str:
    """The Markdown report (deterministic text). ``validation``: the report of
    :func:`~entra_lp.validate.validate` on this recommendation; its denied operations are
    listed (grouped by principal and action, with example targets)."""
    ctx = report_context(recommendation, pseudonymize_salt=pseudonymize_salt, catalog=catalog,
                         validation=validation)
    rec = ctx.rec
    lines = [
        "# Least-privilege recommendation",
        "",
        f"Catalog {rec.catalog_version} · source: {rec.source} · audit window: {window(rec)}"
        + (" · principal names are pseudonymised" if pseudonymize_salt else ""),
        "",
        "## Summary",
        "",
        *(f"- **{lead}:** {text}" for lead, text in ctx.summary_lines()),
    ]
    lines += _metrics_md(ctx)
    lines += ["", "## Roles", "", roles_intro(ctx)]
    for role in rec.roles:
        lines += _role_md(ctx, role)
    lines += _lists_md(ctx)
    return "\n".join(lines).rstrip() + "\n"


def _metrics_md(ctx: ReportContext) -> list[str]:
    if not ctx.columns:
        return []
    has_change = ctx.metrics("current") is not None
    head = ["Measure", *(c.label for c in ctx.columns)]
    head += ["Change", "Better"] if has_change else ["Better"]
    rows = []
    for m, values in measure_rows(ctx):
        row = [m.label, *(fmt(v, percent=m.percent) for v in values)]
        if has_change:
            text, word = measure_change(ctx, m)
            row.append(f"{text} ({word})" if text else "–")
        rows.append([*row, m.better])
    notes = [f"- **{m.label}**: {m.counts}" for m, _ in measure_rows(ctx)]
    notes += [f"- **{BASELINE_LABEL[c.key]}**: {BASELINE_NOTE[c.key]}." for c in ctx.columns
              if c.key in BASELINE_NOTE]
    return ["", "## Metrics", "", *_table(head, rows), "", *notes]


def _role_md(ctx: ReportContext, role: RoleProposal) -> list[str]:
    lines = ["", f"### {role.display_name}", "", role.description, ""]
    lines += [f"- {f}" for f in _facts_md(ctx, role)]
    lines += ["", "**Actions and evidence**", "", *_evidence_md(role)]
    groups = holders(ctx, role)
    if groups:
        lines += ["", "**Assignments**", ""]
        lines += _table(
            ["Principal", "Type", "Scope", "Why this scope"],
            [
                (", ".join(g.principals), g.assignment_type, ", ".join(g.scopes),
                 "; ".join(g.reasons))
                for g in groups
            ],
        )
    lines += ["", "**PIM settings**", ""]
    lines += _table(
        ["Setting", "Value", "Why"],
        [(p.label, p.value if p.applies else f"{p.value} (not used: nobody activates)", p.why)
         for p in pim_rows(role)],
    )
    return lines + _risk_md(ctx, role)


def _facts_md(ctx: ReportContext, role: RoleProposal) -> list[str]:
    r = role.risk
    facts = [
        f"**{KIND_LABEL[role.kind]}** · {TIER_LABEL[r.tier]} · {role.plane} plane · "
        f"risk score {fmt(r.score)} · assignable at {', '.join(role.assignable_scopes)}",
        f"Evidence: {evidence_totals(role)}",
        f"Assigned: {scope_summary(ctx, role)} · PIM: {pim_summary(role)}",
    ]
    if role.builtin_template_id:
        facts.append(f"Built-in role: {ctx.builtin(role)} (`{role.builtin_template_id}`)")
    if role.split_from:
        facts.append(f"Split from `{role.split_from}` (configuration and execution gated apart)")
    if role.tasks:
        facts.append("Tasks: " + ", ".join(f"`{t}`" for t in role.tasks))
    return facts


def _evidence_md(role: RoleProposal) -> list[str]:
    return _table(
        ["Action", "Evidence", "Events", "Targets", "Principals", "Last seen", "Mapping"],
        [
            (
                f"`{e.action}`",
                SOURCE_LABEL.get(e.source, e.source) or "none recorded",
                fmt(e.count) if e.count else "",
                fmt(e.n_targets) if e.n_targets else "",
                fmt(e.n_principals) if e.n_principals else "",
                e.last_seen,
                "; ".join(x for x in (e.confidence, ", ".join(e.rules + e.tasks)) if x),
            )
            for e in evidence_rows(role)
        ],
    )


def _risk_md(ctx: ReportContext, role: RoleProposal) -> list[str]:
    """Escalation paths, what Entra cannot express, extra actions, manual steps."""
    lines: list[str] = []
    if role.risk.escalation_paths:
        paths = [role.risk.escalation_paths[i] for i in escalation_order(role)]
        lines += ["", "**Escalation paths**", ""]
        lines += _table(
            ["Severity", "Action", "Gains", "Explanation"],
            [(p.severity, f"`{p.action}`", p.gains, p.explanation) for p in paths],
        )
    limits = entra_limits(ctx, role)
    if limits:
        lines += ["", "**What Entra cannot express**", "", *(f"- {x}" for x in limits)]
    if role.extra_actions:
        lines += [
            "",
            f"Granted beyond the need by the built-in role ({fmt(len(role.extra_actions))}): "
            + ", ".join(f"`{a}`" for a in role.extra_actions),
        ]
    if role.kind == "pim_group":
        lines += ["", "**Manual steps**", ""]
        lines += [f"{i}. {s}" for i, s in enumerate(pim_group_steps(ctx, role), 1)]
    return lines


def _lists_md(ctx: ReportContext) -> list[str]:
    rec = ctx.rec
    lines = ["", "## What Entra cannot express", ""]
    lines += [f"- {s}" for s in rec.cannot_express] or ["- Nothing: every need fits a custom role."]
    lines += _denied_md(ctx)
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
    lines += ["", "## Attestation", "", *_attestation_md(ctx)]
    if ctx.options:
        lines += ["", "## Options", "", *_table(["Option", "Value"], ctx.options)]
    return lines


def _denied_md(ctx: ReportContext) -> list[str]:
    """The validation's denied operations: one row per principal and action."""
    replay = ctx.replay
    if replay is None:
        return []
    lines = ["", "## Denied on replay", "", replay_overview(replay)]
    rows = [
        ("" if i else g.principal, f"`{r.action}`", fmt(r.count), fmt(r.n_targets),
         DENY_LABEL.get(r.reason, r.reason), ", ".join(r.examples))
        for g in replay.denied
        for i, r in enumerate(g.rows)
    ]
    if rows:
        lines += ["", *_table(["Principal", "Action", "Events", "Targets", "Why denied",
                               "Example targets"], rows)]
    note = new_principals_note(replay)
    return lines + (["", note] if note else [])


def _attestation_md(ctx: ReportContext) -> list[str]:
    """A table per principal and reason, then each principal's rights (by identical detail)."""
    if not ctx.rec.attestation:
        return ["None."]
    groups = attestation_groups(ctx)
    lines = [attestation_overview(ctx), ""]
    lines += _table(
        ["Principal", "Why", "Rights", "Held via"],
        [
            (
                g.principal,
                REASON_LABEL[g.reason],
                fmt(g.rights),
                "; ".join(f"{v}: {fmt(n)}" for v, n in g.held_via),
            )
            for g in groups
        ],
    )
    for g in groups:
        lines += ["", f"**{g.principal}**, {REASON_LABEL[g.reason].split(':')[0].lower()}:"]
        lines += [
            f"- {', '.join(f'`{a}`' for a in actions)}" + (f": {detail}" if detail else "")
            for detail, actions in g.by_detail()
        ]
    return lines
