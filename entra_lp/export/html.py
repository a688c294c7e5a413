"""The recommendation as one self-contained HTML page for a design workshop.

Everything is inline: the stylesheet (``templates/report.css``) and the charts, which are SVG
drawn here (bars for role definitions, over-privilege and standing control-plane exposure
across the current state, the proposal and the baselines; a logarithmic axis when the values
span more than :data:`LOG_RATIO`). There is no script: long lists (evidence rules, rights
granted beyond the need, attestation items, options) sit in ``<details>`` elements, closed by
default, so the page stays short and works offline. A Content Security Policy
(``default-src 'none'``) forbids any network request, so the file can be mailed or archived
as is. Same content as the Markdown report (both render :mod:`entra_lp.export._report`), the same
optional pseudonymisation, deterministic bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from html import escape
from importlib.resources import files
from typing import TYPE_CHECKING, Literal, TypeAlias

from ..recommendation import RoleProposal
from ._report import (
    BASELINE_LABEL,
    BASELINE_NOTE,
    DENY_LABEL,
    KEY_PIM,
    KEY_PIM_ACTIVE,
    KIND_LABEL,
    MEASURE,
    REASON_LABEL,
    SOURCE_LABEL,
    TIER_LABEL,
    AttestationGroup,
    EvidenceRow,
    PimRow,
    ReportContext,
    action_parts,
    attestation_groups,
    attestation_overview,
    attestation_rights,
    by_resource,
    change,
    compact,
    escalation_order,
    evidence_rows,
    evidence_summary,
    fmt,
    holders,
    mapping_text,
    measure_change,
    measure_rows,
    metric_value,
    new_principals_note,
    pim_group_steps,
    pim_rows,
    pim_summary,
    plural,
    replay_overview,
    report_context,
    roles_intro,
    scope_summary,
    short_action,
    verdict,
    window,
)

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

    from ..recommendation import Recommendation
    from ..validate import ValidationReport

__all__ = ["CHARTS", "LOG_RATIO", "bar_chart", "to_html"]

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CHARTS: tuple[tuple[str, str, str], ...] = (
    ("chart-roles", "Role definitions", "n_roles"),
    ("chart-over-privilege", "Over-privilege (risk-weighted)", "over_privilege"),
    (
        "chart-exposure",
        "Standing control-plane exposure (action-hours)",
        "standing_control_plane_hours",
    ),
)
"""(element id, title, metric) of each chart."""

LOG_RATIO = 20.0
"""A chart whose largest value exceeds its smallest positive one by this factor uses a log axis:
on a linear axis the small bars would vanish."""

_SHORT = {
    "current": "Current",
    "proposed": "Proposed",
    "exact_union": "One role per principal",
    "least_privileged_builtin": "Built-in roles",
}
_TASKS_SHOWN = 6
_LIMITS_SHOWN = 6
_DENIED_SHOWN = 20
_COMMON_NS = "microsoft.directory"
_Scale: TypeAlias = Callable[[float], float]


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _code(name: str) -> str:
    """An action name as code, breakable after each '/' (long names must wrap, not overflow)."""
    return "<code>" + _e(name).replace("/", "/<wbr>") + "</code>"


def _css() -> str:
    return files("entra_lp.export").joinpath("templates/report.css").read_text(encoding="utf-8")


# ---- charts ---------------------------------------------------------------------------------
def bar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    scale: Literal["auto", "linear", "log"] = "auto",
) -> str:
    """A horizontal bar chart as inline SVG; ``rows`` are (label, value, css class).

    Values are labelled in a column reserved to the right of the longest bar, so no label is
    ever cut off. ``scale="auto"`` switches to a log axis (gridlines at powers of ten, labelled
    underneath) when the positive values span more than :data:`LOG_RATIO`.
    """
    width, label_w, bar_w, row_h, pad = 360, 144, 130, 24, 6
    positive = [v for _, v, _ in rows if v > 0]
    log = scale == "log" or (
        scale == "auto" and len(positive) > 1 and max(positive) >= LOG_RATIO * min(positive)
    )
    axis_h = 20 if log and positive else 0
    height = pad * 2 + row_h * max(len(rows), 1) + axis_h
    x = _log_x(positive, bar_w) if log and positive else _linear_x(positive, bar_w)
    parts = [
        f'<svg id="{_e(chart_id)}" class="chart" role="img" aria-labelledby="{_e(chart_id)}-t" '
        f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<title id="{_e(chart_id)}-t">{_e(title)}{" (logarithmic scale)" if log else ""}</title>',
    ]
    if axis_h:
        parts += _log_axis(positive, label_w, bar_w, pad, height - axis_h)
    for i, (label, value, css) in enumerate(rows):
        y = pad + i * row_h
        w = x(value)
        parts += [
            f'<text x="0" y="{y + 16}">{_e(label[:24])}</text>',
            f'<rect class="{_e(css)}" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="16" '
            f'rx="2"><title>{_e(label)}: {_e(fmt(value))}</title></rect>',
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 16}">'
            f"{_e(compact(value))}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def _linear_x(positive: Sequence[float], bar_w: int) -> _Scale:
    top = max(positive, default=0.0) or 1.0
    return lambda v: bar_w * max(v, 0.0) / top


def _decades(positive: Sequence[float]) -> tuple[int, int]:
    lo = math.floor(math.log10(min(positive)))
    hi = max(math.ceil(math.log10(max(positive))), lo + 1)
    return lo, hi


def _log_x(positive: Sequence[float], bar_w: int) -> _Scale:
    lo, hi = _decades(positive)

    def x(v: float) -> float:
        if v <= 0:
            return 0.0
        return max(bar_w * (math.log10(v) - lo) / (hi - lo), 2.0)  # 2 px: a value stays visible

    return x


def _log_axis(positive: Sequence[float], left: int, bar_w: int, top: int, base: int) -> list[str]:
    lo, hi = _decades(positive)
    out = []
    for k in range(lo, hi + 1):
        gx = left + bar_w * (k - lo) / (hi - lo)
        out.append(f'<line class="grid" x1="{gx:.1f}" y1="{top}" x2="{gx:.1f}" y2="{base}"/>')
        out.append(
            f'<text class="axis" x="{gx:.1f}" y="{base + 14}" text-anchor="middle">'
            f"{_e(compact(10.0**k))}</text>"
        )
    return out



def _chart_rows(ctx: ReportContext, attr: str) -> list[tuple[str, float, str]]:
    rows = []
    for col in ctx.columns:
        value = metric_value(col.metrics, attr)
        if value is None:
            continue
        css = "bar-" + (col.key if col.key in ("current", "proposed") else "baseline")
        rows.append((_SHORT.get(col.key, col.label), float(value), css))
    return rows


# ---- page -----------------------------------------------------------------------------------
def to_html(
    recommendation: Recommendation,
    *,
    pseudonymize_salt: str | None = None,
    catalog: Catalog | None = None,
    title: str = "Least-privilege recommendation",
    validation: ValidationReport | None = None,
) -> str:
    """The self-contained HTML report (deterministic text). ``validation``: the report of
    :func:`~entra_lp.validate.validate` on this recommendation; its denied operations are
    listed (grouped by principal and action, with example targets)."""
    ctx = report_context(recommendation, pseudonymize_salt=pseudonymize_salt, catalog=catalog,
                         validation=validation)
    rec = ctx.rec
    meta = f"Catalog {rec.catalog_version} · source: {rec.source} · audit window: {window(rec)}"
    if pseudonymize_salt:
        meta += " · principal names are pseudonymised"
    body = [
        f'<header class="page"><h1>{_e(title)}</h1><p>{_e(meta)}</p></header>',
        '<nav class="toc"><a href="#summary">Summary</a><a href="#metrics">Metrics</a>'
        '<a href="#roles">Roles</a><a href="#cannot-express">Limits</a>'
        + ('<a href="#denied">Denied</a>' if ctx.replay is not None else "")
        + '<a href="#exclusions">Exclusions</a><a href="#attestation">Attestation</a></nav>',
        "<main>",
        _summary(ctx),
        _metrics(ctx),
        _roles(ctx),
        _lists(ctx),
        "</main>",
        "<footer>Generated by entra-lp. Review before applying anything.</footer>",
    ]
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n"
    )
    return head + "\n".join(p for p in body if p) + "\n</body>\n</html>\n"


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[object]],
    numeric: Sequence[int] = (),
    *,
    css: str = "",
    raw: Sequence[int] = (),
) -> str:
    """A table; cells in ``raw`` columns are trusted HTML built here, the others are escaped."""

    def cell(tag: str, i: int, value: object) -> str:
        cls = ' class="num"' if i in numeric else ""
        text = str(value) if i in raw and tag == "td" else _e(value)
        return f"<{tag}{cls}>{text}</{tag}>"

    out = [
        f'<table{f" class={chr(34)}{css}{chr(34)}" if css else ""}><thead><tr>',
        *(cell("th", i, h) for i, h in enumerate(head)),
        "</tr></thead><tbody>",
    ]
    for row in rows:
        out += ["<tr>", *(cell("td", i, v) for i, v in enumerate(row)), "</tr>"]
    out.append("</tbody></table>")
    return "".join(out)


def _details(summary: str, body: str, css: str = "") -> str:
    """A closed disclosure; ``summary`` is text, ``body`` trusted HTML."""
    cls = f' class="{css}"' if css else ""
    return f"<details{cls}><summary>{_e(summary)}</summary>{body}</details>"


# ---- summary and metrics --------------------------------------------------------------------
def _summary(ctx: ReportContext) -> str:
    lines = "".join(
        f"<div><dt>{_e(lead)}</dt><dd>{_e(text)}</dd></div>" for lead, text in ctx.summary_lines()
    )
    return (
        '<section id="summary"><h2>Summary</h2>'
        f'<dl class="headline">{lines}</dl>{_tiles(ctx)}</section>'
    )


def _tiles(ctx: ReportContext) -> str:
    now, new = ctx.metrics("current"), ctx.metrics("proposed")
    if new is None:
        return ""
    tiles = []
    for attr in ("n_roles", "over_privilege", "standing_control_plane_hours"):
        m = MEASURE[attr]
        after = float(getattr(new, attr))
        delta, css, hint = "", "", f"{m.better.capitalize()} is better."
        if now is not None:
            before = float(getattr(now, attr))
            css = verdict(m, before, after)
            delta = f"{change(before, after)} vs {fmt(before)} today"
            if css == "same":
                delta = "same as today"
            hint = f"{css.capitalize()}: {m.better} is better."
        tiles.append((m.label, fmt(after), delta, css, hint))
    if new.coverage is not None:
        denied = new.denied_operations
        tiles.append(
            (
                "Replay coverage",
                fmt(new.coverage, percent=True),
                "" if denied is None else f"{plural(denied, 'operation')} denied",
                "",
                "Share of a later window's operations the design allows.",
            )
        )
    cells = "".join(
        f'<div class="tile"><div class="label">{_e(label)}</div><div class="value">{_e(value)}'
        f'</div><div class="delta {css}">{_e(delta)}</div><div class="hint">{_e(hint)}</div></div>'
        for label, value, delta, css, hint in tiles
    )
    return f'<div class="tiles">{cells}</div>'


def _metrics(ctx: ReportContext) -> str:
    if not ctx.columns:
        return '<section id="metrics"><h2>Metrics</h2><p>No metrics were computed.</p></section>'
    charts = "".join(_figure(ctx, cid, title, attr) for cid, title, attr in CHARTS)
    has_change = ctx.metrics("current") is not None
    head = ["Measure", *(c.label for c in ctx.columns)] + (["Change"] if has_change else [])
    rows = []
    for m, values in measure_rows(ctx):
        # The change column says better / worse; only an unusual direction needs saying.
        counts = m.counts + (" Higher is better." if m.better == "higher" else "")
        label = f'{_e(m.label)}<div class="counts">{_e(counts)}</div>'
        row: list[object] = [label, *(_e(fmt(v, percent=m.percent)) for v in values)]
        if has_change:
            text, word = measure_change(ctx, m)
            cell = f'<span class="delta {word}">{_e(text)} ({_e(word)})</span>'
            row.append(cell if text else "–")
        rows.append(row)
    numeric = range(1, len(head))
    table = _table(head, rows, numeric, css="metrics", raw=range(len(head)))
    notes = "".join(
        f"<li><b>{_e(BASELINE_LABEL[c.key])}</b>: {_e(BASELINE_NOTE[c.key])}.</li>"
        for c in ctx.columns
        if c.key in BASELINE_NOTE
    )
    return (
        f'<section id="metrics"><h2>Metrics</h2><div class="charts">{charts}</div>'
        + (f'<ul class="note">{notes}</ul>' if notes else "")
        + f"{table}</section>"
    )


def _figure(ctx: ReportContext, chart_id: str, title: str, attr: str) -> str:
    rows = _chart_rows(ctx, attr)
    svg = bar_chart(chart_id, title, rows)
    log = "logarithmic scale" in svg[: svg.index("</title>")]
    note = f"{MEASURE[attr].better.capitalize()} is better."
    if log:
        note += " Logarithmic scale: each gridline is ten times the previous one."
    return (
        f'<figure class="chart"><figcaption>{_e(title)}<span class="note">{_e(note)}</span>'
        f"</figcaption>{svg}</figure>"
    )


# ---- roles ----------------------------------------------------------------------------------
def _roles(ctx: ReportContext) -> str:
    c = ctx.role_counts()
    cards = "".join(_role_card(ctx, r) for r in ctx.rec.roles)
    return (
        f'<section id="roles"><h2>Roles: {plural(c.proposals, "proposal")}, '
        f"{plural(c.definitions, 'role definition')}</h2>"
        f'<p class="intro">{_e(roles_intro(ctx))} Resources without a namespace are in '
        f"<code>{_COMMON_NS}</code>.</p>{cards}</section>"
    )


def _role_card(ctx: ReportContext, role: RoleProposal) -> str:
    r = role.risk
    badges = (
        f'<span class="badge kind">{_e(KIND_LABEL[role.kind])}</span>'
        f'<span class="badge {_e(r.tier)}">{_e(TIER_LABEL[r.tier])}</span>'
        f'<span class="badge">{_e(role.plane)} plane</span>'
        f'<span class="badge">risk score {_e(fmt(r.score))}</span>'
    )
    parts = [
        f'<article class="role-card tier-{_e(r.tier)}" id="role-{_e(role.key)}" '
        f'data-role-key="{_e(role.key)}">',
        f'<div class="card-head"><h3>{_e(role.display_name)}</h3><div class="badges">{badges}'
        "</div></div>",
        f'<p class="desc">{_wrap(role.description)}</p>',
        _facts(ctx, role),
        _actions(role),
        _holders(ctx, role),
        _columns(_pim(role), _risk(role), _limits(ctx, role)),
    ]
    if role.kind == "pim_group":
        steps = "".join(f"<li>{_e(s)}</li>" for s in pim_group_steps(ctx, role))
        parts.append(
            _details("Manual steps for the PIM-for-Groups group", f'<ol class="steps">{steps}</ol>')
        )
    parts.append("</article>")
    return "".join(p for p in parts if p)


def _columns(*blocks: str) -> str:
    """Side-by-side blocks (they wrap under each other on narrow screens); empty ones dropped."""
    cells = "".join(f"<div>{b}</div>" for b in blocks if b)
    return f'<div class="cols">{cells}</div>'


def _facts(ctx: ReportContext, role: RoleProposal) -> str:
    """One line of key facts: who holds it, where, how it is gated, what it packages."""
    held = [a for a in ctx.rec.assignments if a.role_key == role.key]
    eligible = sum(a.assignment_type == "eligible" for a in held)
    active = len(held) - eligible
    who = plural(len({a.principal_id for a in held}), "principal")
    if held:
        split = f"{fmt(eligible)} eligible, {fmt(active)} active"
        who += f" ({'all eligible' if not active else 'all active' if not eligible else split})"
    facts = [
        ("Held by", _e(who)),
        ("Scope", _e(scope_summary(ctx, role))),
        ("PIM", _e(pim_summary(role))),
    ]
    if role.builtin_template_id:
        facts.append(
            (
                "Built-in role",
                f"{_e(ctx.builtin(role))} <code>{_e(role.builtin_template_id)}</code>",
            )
        )
    if role.split_from:
        facts.append(
            ("Split from", f"{_e(role.split_from)} (configuration and execution gated apart)")
        )
    if role.tasks:
        facts.append(("Tasks", _task_list(role.tasks)))
    cells = "".join(f"<span><b>{_e(k)}</b> {v}</span>" for k, v in facts)
    return f'<div class="facts">{cells}</div>'


def _task_list(tasks: Sequence[str]) -> str:
    if len(tasks) <= _TASKS_SHOWN:
        return ", ".join(_e(t) for t in tasks)
    return _details(f"{len(tasks)} tasks", ", ".join(_e(t) for t in tasks), "inline")


def _actions(role: RoleProposal) -> str:
    """Actions grouped by resource with their evidence summed; per-action rows collapsed."""
    rows = evidence_rows(role)
    body = []
    for prefix, group in by_resource(rows):
        ns, _, resource = prefix.rstrip("/").rpartition("/")
        shown = "" if ns == _COMMON_NS else f'<span class="ns">{_e(ns)}/</span><wbr>'
        names = dict.fromkeys(action_parts(e.action)[1] for e in group)
        body.append(
            f'<tr><td class="resource" title="{_e(prefix)}">{shown}<b>{_e(resource)}</b>/</td>'
            f"<td>{' '.join(_code(n) for n in names)}</td>"
            f"<td>{_e(evidence_summary(group))}</td></tr>"
        )
    # No header row: resource / actions / evidence read for themselves (and save height).
    table = (
        '<table class="actions"><colgroup><col class="c-resource"><col><col class="c-evidence">'
        f'</colgroup><tbody>{"".join(body)}</tbody></table>'
    )
    per_action = _details(
        f"Evidence per action ({plural(len(rows), 'row')}: events, targets, principals, "
        "last seen, audit rules)",
        _evidence_table(rows),
    )
    return f"<h4>Actions by resource</h4>{table}{per_action}"


def _evidence_table(rows: Sequence[EvidenceRow]) -> str:
    head = ["Resource", "Action", "Evidence", "Events", "Targets", "Principals", "Last seen",
            "Mapping"]
    body = []
    for prefix, group in by_resource(rows):
        ns, _, resource = prefix.rstrip("/").rpartition("/")
        # The namespace nearly every action shares is left out (said in the roles intro).
        shown = "" if ns == _COMMON_NS else f'<span class="ns">{_e(ns)}/</span><wbr>'
        lead = (
            f'<td rowspan="{len(group)}" class="resource" title="{_e(prefix)}">{shown}'
            f"<b>{_e(resource)}</b>/</td>"
        )
        for i, e in enumerate(group):
            cells = [lead] if i == 0 else []
            cells += [
                f"<td>{_code(action_parts(e.action)[1])}</td>",
                f"<td>{_e(SOURCE_LABEL.get(e.source, e.source) or 'none recorded')}</td>",
                *(
                    f'<td class="num">{_e(fmt(n) if n else "")}</td>'
                    for n in (e.count, e.n_targets, e.n_principals)
                ),
                f'<td class="date">{_e(e.last_seen)}</td>',
                f"<td>{_mapping(e)}</td>",
            ]
            body.append("<tr>" + "".join(cells) + "</tr>")
    ths = "".join(
        f'<th{" class=" + chr(34) + "num" + chr(34) if i in (3, 4, 5) else ""}>{_e(h)}</th>'
        for i, h in enumerate(head)
    )
    return (
        f'<table class="evidence"><thead><tr>{ths}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table>'
    )


def _mapping(e: EvidenceRow) -> str:
    """Confidence and a count of rules / tasks; the ids themselves collapsed."""
    ids = e.rules + e.tasks
    if not ids:
        return _e(e.confidence)
    return _details(mapping_text(e), "<br>".join(_e(x) for x in ids), "inline")


def _holders(ctx: ReportContext, role: RoleProposal) -> str:
    groups = holders(ctx, role)
    if not groups:
        return "<h4>Assignments</h4><p>None.</p>"
    rows = [
        (
            "<br>".join(_e(p) for p in g.principals)
            + f' <span class="badge {_e(g.assignment_type)}">{_e(g.assignment_type)}</span>',
            "<br>".join(_e(s) for s in g.scopes),
            "<br>".join(_e(x) for x in g.reasons),
        )
        for g in groups
    ]
    table = _table(["Principal", "Scope", "Why this scope"], rows, css="holders", raw=range(3))
    return f"<h4>Assignments and scope</h4>{table}"


def _pim_item(p: PimRow) -> str:
    why = f' <span class="why">— {_e(p.why)}</span>' if p.why else ""
    css = "" if p.applies else ' class="na"'
    return f"<li{css}><b>{_e(p.label)}: {_e(p.value)}</b>{why}</li>"


def _pim(role: RoleProposal) -> str:
    rows = pim_rows(role)
    keys = KEY_PIM if role.pim.settings.eligible else KEY_PIM_ACTIVE
    key = "".join(_pim_item(p) for p in rows if p.key in keys)
    note = (
        ""
        if role.pim.settings.eligible
        else '<p class="note">Held actively only: nobody activates this role, so its activation '
        "and eligibility settings (greyed) do not apply; the active assignment's expiry and the "
        "notifications do.</p>"
    )
    every = _details(
        f"All {len(rows)} PIM settings with their reasons",
        note + '<ul class="pim">' + "".join(_pim_item(p) for p in rows) + "</ul>",
    )
    return f'<h4>PIM settings</h4><ul class="pim">{key}</ul>{every}'


def _risk(role: RoleProposal) -> str:
    paths = role.risk.escalation_paths
    if not paths:
        return ""
    items = []
    for i in escalation_order(role):
        p = paths[i]
        how = _details("how", f'<div class="why">{_wrap(p.explanation)}</div>', "inline")
        items.append(
            f'<li><span class="badge {_e(p.severity)}">{_e(p.severity)}</span>'
            f"<b>{_e(p.gains)}</b> through {_code(short_action(p.action))}"
            + (f" {how}" if p.explanation else "")
            + "</li>"
        )
    return f'<h4>Risk: escalation paths</h4><ul class="paths">{"".join(items)}</ul>'


def _limits(ctx: ReportContext, role: RoleProposal) -> str:
    blocked = ctx.not_custom.get(role.key, ())
    limits = [_e(x) for x in role.limitations]
    if blocked:
        names = ", ".join(_code(short_action(a)) for a in blocked)
        limits.insert(
            0,
            f"Custom roles cannot hold {fmt(len(blocked))} of its actions: the built-in role "
            f"{_e(ctx.builtin(role))} is used instead "
            + _details("which", names, "inline"),
        )
    extra = ""
    if role.extra_actions:
        groups: dict[str, list[str]] = {}
        for a in role.extra_actions:
            prefix, rest = action_parts(a)
            groups.setdefault(prefix, []).append(rest)
        body = "<ul>" + "".join(
            f"<li>{_code(prefix)} {', '.join(_code(r) for r in rests)}</li>"
            for prefix, rests in sorted(groups.items())
        ) + "</ul>"
        extra = _details(
            f"Show the {plural(len(role.extra_actions), 'action')} granted beyond the need", body
        )
    if not limits and not extra:
        return ""
    items = "".join(f"<li>{x}</li>" for x in limits)
    return f'<h4>What Entra cannot express</h4>{f"<ul>{items}</ul>" if items else ""}{extra}'


def _wrap(text: str) -> str:
    """Escaped prose whose long slash-joined names may break after each '/'."""
    return _e(text).replace("/", "/<wbr>")


# ---- lists ----------------------------------------------------------------------------------
def _lists(ctx: ReportContext) -> str:
    rec = ctx.rec
    items = [f"<li>{_wrap(s)}</li>" for s in rec.cannot_express]
    limits = "".join(items[:_LIMITS_SHOWN]) or "<li>Nothing: every need fits a custom role.</li>"
    if len(items) > _LIMITS_SHOWN:
        rest = len(items) - _LIMITS_SHOWN
        limits += "<li>" + _details(
            f"and {rest} more", '<ul class="limits">' + "".join(items[_LIMITS_SHOWN:]) + "</ul>"
        ) + "</li>"
    excl = (
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
            css="plain",
        )
        if rec.exclusions
        else "<p>None.</p>"
    )
    options = ""
    if ctx.options:
        used = plural(len(ctx.options), "option") + " used"
        options = (
            '<section id="options"><h2>Options</h2>'
            f'{_details(used, _table(["Option", "Value"], ctx.options, css="plain"))}</section>'
        )
    return (
        '<section id="cannot-express"><h2>What Entra cannot express</h2>'
        f'<ul class="limits">{limits}</ul></section>{_denied(ctx)}'
        f'<section id="exclusions"><h2>Exclusions</h2>{excl}</section>'
        f"{_attestation(ctx)}{options}"
    )


def _denied(ctx: ReportContext) -> str:
    """The validation's denied operations: one row per principal and action; beyond the first
    rows, the rest in a closed disclosure."""
    replay = ctx.replay
    if replay is None:
        return ""
    rows = [
        (
            "" if i else _e(g.principal),
            _code(r.action),
            _e(fmt(r.count)),
            _e(fmt(r.n_targets)),
            _e(DENY_LABEL.get(r.reason, r.reason)),
            "<br>".join(_e(x) for x in r.examples),
        )
        for g in replay.denied
        for i, r in enumerate(g.rows)
    ]
    head = ["Principal", "Action", "Events", "Targets", "Why denied", "Example targets"]
    table = ""
    if rows:
        table = _table(head, rows[:_DENIED_SHOWN], (2, 3), css="denied", raw=range(len(head)))
        if len(rows) > _DENIED_SHOWN:
            rest = _table(head, rows[_DENIED_SHOWN:], (2, 3), css="denied", raw=range(len(head)))
            table += _details(f"and {plural(len(rows) - _DENIED_SHOWN, 'more row')}", rest)
    note = new_principals_note(replay)
    return (
        f'<section id="denied"><h2>Denied on replay ({fmt(replay.denied_operations)})</h2>'
        f'<p class="note">{_e(replay_overview(replay))}</p>{table}'
        + (f'<p class="note">{_e(note)}</p>' if note else "")
        + "</section>"
    )


def _attestation(ctx: ReportContext) -> str:
    n = attestation_rights(ctx.rec)
    head = f'<section id="attestation"><h2>Attestation ({fmt(n)})</h2>'
    if not n:
        return head + "<p>None.</p></section>"
    body = []
    groups = attestation_groups(ctx)
    for reason, label in REASON_LABEL.items():
        mine = [g for g in groups if g.reason == reason]
        if not mine:
            continue
        rights = sum(g.rights for g in mine)
        body.append(
            f'<tr class="group"><th colspan="4">{_e(label)}: {_e(plural(rights, "right"))}, '
            f"{_e(plural(len(mine), 'principal'))}</th></tr>"
        )
        body += [
            f"<tr><td>{_e(g.principal)}</td><td class={chr(34)}num{chr(34)}>{_e(fmt(g.rights))}"
            f"</td><td>{'<br>'.join(_e(f'{v}: {fmt(c)}') for v, c in g.held_via)}</td>"
            f"<td>{_attestation_details(g)}</td></tr>"
            for g in mine
        ]
    table = (
        '<table class="attest"><thead><tr><th>Principal</th><th class="num">Rights</th>'
        "<th>Held today via</th><th>Rights and detail</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    return (
        head
        + '<p class="note">Rights a person must confirm or remove: never audited, held and '
        f"unused, or used once unlike any peer. {_e(attestation_overview(ctx))}</p>{table}"
        "</section>"
    )


def _attestation_details(g: AttestationGroup) -> str:
    items = "".join(
        f"<li>{', '.join(_code(a) for a in actions)}"
        + (f'<div class="why">{_wrap(detail)}</div>' if detail else "")
        + "</li>"
        for detail, actions in g.by_detail()
    )
    on = plural(len(g.resources()), "resource")
    summary = f"show the {plural(g.rights, 'right')} on {on}"
    return _details(summary, f"<ul>{items}</ul>")
