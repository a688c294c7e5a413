"""The report model both reports render from: context, measures, rows, labels, grouping.

:func:`report_context` prepares a recommendation once (pseudonymised when a salt is given,
built-in role names and the actions custom roles cannot hold looked up in the catalog); the
helpers here turn it into what a reader sees: the three summary lines (what changes, what it
buys, why it is safe), the measures with what each counts and which direction is better,
evidence rows grouped by resource, holders grouped by identical scope and reasons, PIM rows
with their reasons, escalation order, what Entra cannot express, and the attestation list
grouped by reason and principal. :mod:`entra_lp.export.markdown` and
:mod:`entra_lp.export.html` only render it.

Option values whose key looks like a secret are never shown. Everything is deterministic: no
clock, sorted where order is free.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ..errors import EntraLPError, RecommendationError
from ..pim import ACTIVATION_SETTINGS
from ..recommendation import (
    AssignmentProposal,
    AttestationItem,
    Evidence,
    MetricSet,
    Recommendation,
    RoleProposal,
)
from .from_recommendation import pseudonym_map, pseudonymize

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

    from ..validate import ValidationReport

__all__ = [
    "MEASURES",
    "AttestationGroup",
    "DeniedGroup",
    "Measure",
    "MetricColumn",
    "ReplaySummary",
    "ReportContext",
    "RoleCounts",
    "report_context",
]

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
    "one_off": "Used once, unlike any peer: grant by exception (request) or confirm",
}
SOURCE_LABEL = {
    "observed": "seen in the logs",
    "peer": "seen for a peer",
    "task": "needed by a task",
    "design": "asked for by the design",
}
"""How each kind of evidence reads in a report (``peer``: another holder of the role did it)."""
BASELINE_LABEL = {
    "exact_union": "Baseline: one role per principal",
    "least_privileged_builtin": "Baseline: least-privileged built-in roles",
}
BASELINE_NOTE = {
    "exact_union": "one custom role per distinct need, held standing (ignores actions custom "
    "roles cannot hold)",
    "least_privileged_builtin": "the least-privileged built-in roles covering each principal, "
    "held standing",
}
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


# ---- measures -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measure:
    """One quality measure: its label, what the number counts and which direction is better."""

    attr: str
    label: str
    counts: str
    better: Literal["lower", "higher"] = "lower"
    percent: bool = False


MEASURES: tuple[Measure, ...] = (
    Measure(
        "n_roles",
        "Role definitions",
        "Distinct role definitions in use: each custom role and each built-in role once, even "
        "when a built-in role is used both directly and through a PIM-for-Groups group.",
    ),
    Measure("n_assignments", "Assignments", "Holdings: principal × role × scope."),
    Measure(
        "wsc",
        "Structural complexity (WSC)",
        "Roles + principal–role pairs + actions summed over roles: how much there is to "
        "maintain and review.",
    ),
    Measure(
        "over_privilege",
        "Over-privilege (risk-weighted)",
        "Rights granted but not needed, summed over principals, each weighted by its risk.",
    ),
    Measure(
        "over_privilege_actions",
        "Over-privilege (pairs)",
        "Granted-but-unneeded (principal, action) pairs, unweighted.",
    ),
    Measure(
        "standing_control_plane_hours",
        "Standing control-plane exposure (action-hours)",
        "Hours control-plane rights are usable, summed over principals and actions: standing "
        "holdings count the whole window, eligible ones only their estimated activations.",
    ),
    Measure(
        "coverage",
        "Replay coverage",
        "Share of a later window's successful operations the design allows.",
        better="higher",
        percent=True,
    ),
    Measure("denied_operations", "Denied operations", "Later operations the design would deny."),
)
"""Every measure the reports show, in order."""

MEASURE = {m.attr: m for m in MEASURES}


def verdict(measure: Measure, before: float, after: float) -> Literal["better", "worse", "same"]:
    """Whether going from ``before`` to ``after`` improves ``measure``."""
    if math.isclose(before, after, rel_tol=1e-9, abs_tol=1e-9):
        return "same"
    improved = after < before if measure.better == "lower" else after > before
    return "better" if improved else "worse"


# ---- shared facts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricColumn:
    """One column of the metrics table: a label and its metric set."""

    key: str
    label: str
    metrics: MetricSet


@dataclass(frozen=True)
class RoleCounts:
    """How the proposed roles count: proposals by kind and distinct role definitions.

    A PIM-for-Groups proposal packages a built-in role in a group, so a built-in role used both
    directly and through a group is two proposals but one definition (``repeated`` names it).
    The ``n_roles`` measure counts definitions.
    """

    proposals: int
    custom: int
    builtin: int
    pim_group: int
    definitions: int
    repeated: tuple[str, ...]


DENY_LABEL = {
    "no_assignment": "no proposed assignment (the principal is attested, excluded or new)",
    "action_not_granted": "no proposed role grants this action",
    "outside_scope": "granted, but the target is outside the assigned scope",
}
"""Why a replayed operation was denied, in words (``DeniedOperation.reason``)."""


@dataclass(frozen=True)
class DeniedRow:
    """Later operations of one principal and action the proposal would deny."""

    action: str
    count: int
    n_targets: int
    reason: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class DeniedGroup:
    """One principal's denied operations, by action (most events first)."""

    principal: str
    rows: tuple[DeniedRow, ...]

    @property
    def count(self) -> int:
        """Events denied for this principal."""
        return sum(r.count for r in self.rows)


@dataclass(frozen=True)
class ReplaySummary:
    """The replay of a later window (``validate``): what it allowed and what it denied."""

    total: int
    excluded: int
    allowed: int
    coverage: float
    denied: tuple[DeniedGroup, ...]
    new_principals: tuple[str, ...]

    @property
    def denied_operations(self) -> int:
        """Events denied."""
        return sum(g.count for g in self.denied)


@dataclass(frozen=True)
class ReportContext:
    """What both reports show, computed once (after pseudonymisation)."""

    rec: Recommendation
    columns: tuple[MetricColumn, ...]
    builtin_names: dict[str, str]
    options: tuple[tuple[str, str], ...]
    names: dict[str, str]
    not_custom: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Role key → its actions no custom role may hold (from the catalog; empty without one)."""
    replay: ReplaySummary | None = None
    """The validation's denied operations, when a validation was given."""

    def principal(self, principal_id: str | None, name: str = "") -> str:
        """How a principal is shown: its name when known, else its id."""
        if principal_id is None:
            return name or "(all principals)"
        return name or self.names.get(principal_id) or principal_id

    def builtin(self, role: RoleProposal) -> str:
        """Name of the built-in role a fallback / PIM-group role uses."""
        tid = role.builtin_template_id or ""
        return self.builtin_names.get(tid, tid)

    def metrics(self, key: str) -> MetricSet | None:
        """The metric set of one column (``current``, ``proposed``, a baseline), if measured."""
        return next((c.metrics for c in self.columns if c.key == key), None)

    def role_counts(self) -> RoleCounts:
        """Proposals by kind and the distinct role definitions they use."""
        roles = self.rec.roles
        defs: dict[str, int] = {}
        for r in roles:
            ref = r.key if r.kind == "custom" else (r.builtin_template_id or r.key)
            defs[ref] = defs.get(ref, 0) + 1
        by_id = {r.builtin_template_id: r for r in roles if r.builtin_template_id}
        repeated = sorted(self.builtin(by_id[t]) for t, n in defs.items() if n > 1 and t in by_id)
        return RoleCounts(
            proposals=len(roles),
            custom=sum(r.kind == "custom" for r in roles),
            builtin=sum(r.kind == "builtin" for r in roles),
            pim_group=sum(r.kind == "pim_group" for r in roles),
            definitions=len(defs),
            repeated=tuple(repeated),
        )

    def summary_lines(self) -> list[tuple[str, str]]:
        """(lead, sentence) pairs: what changes, what it buys, why it is safe, what to attest."""
        return _summary(self)

    def summary_sentences(self) -> list[str]:
        """The summary lines as plain sentences ("Changes: ...")."""
        return [f"{lead}: {text}" for lead, text in self.summary_lines()]


def report_context(
    recommendation: Recommendation,
    *,
    pseudonymize_salt: str | None = None,
    catalog: Catalog | None = None,
    validation: ValidationReport | None = None,
) -> ReportContext:
    """Prepare a recommendation for a report (pseudonymised when a salt is given).

    ``validation`` (from :func:`~entra_lp.validate.validate` on this recommendation) adds its
    denied operations, and its coverage when the recommendation does not carry it yet;
    :class:`RecommendationError` when it replayed another recommendation."""
    if validation is not None:
        recommendation = _with_replay_metrics(recommendation, validation)
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
    builtin_names, not_custom = _catalog_facts(rec, catalog)
    replay = None
    if validation is not None:
        replay = _replay(validation, recommendation, pseudonymize_salt)
    return ReportContext(
        rec,
        tuple(columns),
        builtin_names,
        _options(rec),
        dict(sorted(names.items())),
        not_custom,
        replay,
    )


def replay_overview(replay: ReplaySummary) -> str:
    """One sentence: what the replay allowed and denied, and what it left out."""
    replayed = replay.total - replay.excluded
    text = (
        f"Replaying the later window allowed {fmt(replay.allowed)} of "
        f"{plural(replayed, 'operation')} ({fmt(replay.coverage, percent=True)}); "
        f"{fmt(replay.denied_operations)} would be denied"
    )
    if replay.denied:
        text += ", grouped below by principal and action (most events first)"
    if replay.excluded:
        text += (f". {plural(replay.excluded, 'operation')} of principals left unchanged "
                 "(break-glass, sync, excluded) were not replayed")
    return text + "."


def new_principals_note(replay: ReplaySummary) -> str:
    """Principals active later that the recommendation does not know ('' when none)."""
    n = len(replay.new_principals)
    if not n:
        return ""
    shown = ", ".join(replay.new_principals[:10])
    more = f" and {n - 10} more" if n > 10 else ""
    return (f"{plural(n, 'principal')} active in the later window {'is' if n == 1 else 'are'} "
            f"not in the recommendation (their operations count as denied): {shown}{more}.")


def _with_replay_metrics(rec: Recommendation, validation: ValidationReport) -> Recommendation:
    """The recommendation, with the validation's coverage when it has none (after checking
    that the validation replayed this recommendation)."""
    replayed = validation.recommendation
    if {r.key for r in replayed.roles} != {r.key for r in rec.roles} or {
        (a.principal_id, a.role_key, a.scope.directory_scope_id) for a in replayed.assignments
    } != {(a.principal_id, a.role_key, a.scope.directory_scope_id) for a in rec.assignments}:
        raise RecommendationError(
            "validation: it replayed another recommendation (its roles or assignments differ); "
            "pass the report of validate() on this recommendation"
        )
    if rec.metrics is not None and rec.metrics.proposed.coverage is None:
        return rec.model_copy(update={"metrics": replayed.metrics})
    return rec


def _replay(
    validation: ValidationReport, rec: Recommendation, salt: str | None
) -> ReplaySummary:
    """Denied operations grouped by principal (most events first), then action; principal
    names, ids and example targets pseudonymised with the report's salt."""
    hide = _hider(rec, validation, salt)
    named = {d.principal_id: d.principal_name for d in validation.denied if d.principal_name}
    by_principal: dict[str, list[DeniedRow]] = {}
    for d in validation.denied:
        who = hide(d.principal_name or d.principal_id, "User")
        by_principal.setdefault(who, []).append(DeniedRow(
            d.action, d.count, d.n_targets, d.reason,
            tuple(hide(x, "object") for x in d.example_targets)))
    groups = [DeniedGroup(who, tuple(sorted(rows, key=lambda r: (-r.count, r.action))))
              for who, rows in by_principal.items()]
    groups.sort(key=lambda g: (-g.count, g.principal))
    return ReplaySummary(
        total=validation.total_operations,
        excluded=validation.excluded_operations,
        allowed=validation.allowed_operations,
        coverage=validation.coverage,
        denied=tuple(groups),
        new_principals=tuple(hide(named.get(p, p), "User") for p in validation.new_principals),
    )


def _hider(rec: Recommendation, validation: ValidationReport, salt: str | None
           ) -> Callable[[str, str], str]:
    """Names and ids as they show in the report: as given, or (with a salt) the pseudonyms
    of the recommendation's principals, else an HMAC pseudonym of the value."""
    if not salt:
        return lambda value, kind: value
    known = pseudonym_map(rec, salt)
    for d in validation.denied:  # a name and its id share one pseudonym
        if d.principal_id in known and d.principal_name and d.principal_name not in known:
            known[d.principal_name] = known[d.principal_id]

    def hide(value: str, kind: str) -> str:
        hit = known.get(value)
        if hit is not None:
            return hit
        digest = hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:8]
        return f"{kind} {digest.upper()}"

    return hide


def _catalog_facts(
    rec: Recommendation, catalog: Catalog | None
) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Built-in role names, and per fallback role the actions custom roles cannot hold."""
    fallbacks = [r for r in rec.roles if r.kind != "custom"]
    if not fallbacks:
        return {}, {}
    try:
        if catalog is None:
            from permission_catalog import load_catalog

            catalog = load_catalog()
    except (OSError, EntraLPError):  # names are a nicety: template ids are shown instead
        return {}, {}
    names: dict[str, str] = {}
    for tid in sorted({r.builtin_template_id for r in fallbacks if r.builtin_template_id}):
        try:
            names[tid] = catalog.role(tid).name
        except (KeyError, EntraLPError):
            continue
    not_custom = {}
    for r in fallbacks:
        known = [catalog.actions.get(a) for a in r.actions]
        blocked = tuple(sorted(a.name for a in known if a is not None and not a.custom_role_ok))
        if blocked:
            not_custom[r.key] = blocked
    return names, not_custom


def _options(rec: Recommendation) -> tuple[tuple[str, str], ...]:
    out = []
    for key in sorted(rec.options):
        value = rec.options[key]
        text = value if isinstance(value, str) else repr(value)
        if _SECRET_KEY.search(key) or _SECRET_VALUE.match(text):
            text = "(redacted)"
        out.append((key, text))
    return tuple(out)


# ---- numbers --------------------------------------------------------------------------------
def fmt(value: float | None, *, percent: bool = False) -> str:
    """Numbers for people: thousands separators; decimals only below 1,000; '–' for missing."""
    if value is None:
        return "–"
    if percent:
        return f"{value * 100:.2f} %"
    if float(value).is_integer() or abs(value) >= 1000:
        return f"{round(value):,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def compact(value: float) -> str:
    """A short label for a chart: '17.5 k', '1.37 M' (exact figures are in the tables)."""
    a = abs(value)
    if a >= 999_500:
        return f"{value / 1e6:.3g} M"
    if a >= 10_000:
        return f"{value / 1e3:.3g} k"
    return fmt(value)


def change(before: float, after: float) -> str:
    """Relative change as a signed percentage ('−98.9 %')."""
    if before == 0:
        return "n/a" if after else "0 %"
    pct = (after - before) / before * 100
    return f"{'+' if pct > 0 else '−' if pct < 0 else ''}{abs(pct):.1f} %"


def metric_value(m: MetricSet, attr: str) -> float | None:
    """One metric of a set (``None`` when not measured)."""
    value: float | None = getattr(m, attr)
    return value


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 role', '3 roles' (``many`` for irregular plurals)."""
    return f"{fmt(n)} {word if n == 1 else many or word + 's'}"


# ---- summary --------------------------------------------------------------------------------
def _summary(ctx: ReportContext) -> list[tuple[str, str]]:
    rec = ctx.rec
    counts = ctx.role_counts()
    n = len(rec.assignments)
    eligible = sum(a.assignment_type == "eligible" for a in rec.assignments)
    principals = len({a.principal_id for a in rec.assignments})
    now, new = ctx.metrics("current"), ctx.metrics("proposed")
    today = ""
    if now is not None:
        today = f"today {plural(now.n_roles, 'role definition')} in "
        today += f"{plural(now.n_assignments, 'assignment')}; "
    both = f" ({', '.join(counts.repeated)} both ways, counted once)" if counts.repeated else ""
    text = (
        f"{today}proposed {plural(counts.definitions, 'role definition')} in "
        f"{plural(n, 'assignment')} for {plural(principals, 'principal')}: {_kinds(counts)}{both}. "
        f"{_eligibility(eligible, n)}"
    )
    out = [("Changes", text[0].upper() + text[1:])]
    if now is not None and new is not None:
        out.append(("Effect", _effect(now, new)))
    out.append(("Safety", _safety(ctx, new)))
    return out


def _eligibility(eligible: int, n: int) -> str:
    if n and eligible == n:
        return f"All {plural(n, 'assignment')} are eligible (activated just in time)."
    if eligible == 0:
        return "All assignments are active (standing)." if n else ""
    return (
        f"{fmt(eligible)} of {fmt(n)} assignments are eligible (activated just in time), "
        f"{fmt(n - eligible)} active."
    )


def _kinds(c: RoleCounts) -> str:
    text = f"{plural(c.custom, 'new custom role')}, {plural(c.builtin, 'built-in role')} assigned "
    text += "directly"
    if c.pim_group:
        text += f" and {fmt(c.pim_group)} through PIM-for-Groups groups"
    return text


def _effect(now: MetricSet, new: MetricSet) -> str:
    def move(what: str, before: float, after: float, unit: str = "") -> str:
        if after == before:
            return f"{what} stays at {fmt(after)}{unit}"
        verb = "falls" if after < before else "rises"
        amount = change(before, after).lstrip("−+") + " " if before else ""
        return f"{what} {verb} {amount}({fmt(before)} → {fmt(after)}{unit})"

    return (
        move("Risk-weighted over-privilege", now.over_privilege, new.over_privilege)
        + "; "
        + move(
            "standing control-plane exposure",
            now.standing_control_plane_hours,
            new.standing_control_plane_hours,
            " action-hours",
        )
        + "."
    )


def _safety(ctx: ReportContext, new: MetricSet | None) -> str:
    rec = ctx.rec
    if new is not None and new.coverage is not None:
        denied = new.denied_operations
        first = (
            f"replayed on a later audit window, the design allows "
            f"{fmt(new.coverage, percent=True)} of the operations actually performed"
            + (f" ({plural(denied, 'operation')} would be denied)" if denied is not None else "")
        )
    else:
        first = "not yet replayed on a later window: validate before applying anything"
    rest = [
        plural(len(rec.exclusions), "account") + " (break-glass, sync) stay as they are"
        if rec.exclusions
        else "",
        _to_attest(rec) if rec.attestation else "",
    ]
    tail = "; ".join(r for r in rest if r)
    return first[0].upper() + first[1:] + (f"; {tail}." if tail else ".")


def _to_attest(rec: Recommendation) -> str:
    """'31 rights wait for a person ...', saying how many no log can show."""
    n, hidden = attestation_rights(rec), attestation_rights(rec, "unobservable")
    if n == hidden:
        return f"{plural(n, 'right')} no log can show wait for a person to confirm or remove them"
    note = f" ({fmt(hidden)} of them no log can show)" if hidden else ""
    return f"{plural(n, 'right')} wait for a person to confirm or remove them{note}"


def window(rec: Recommendation) -> str:
    """The analysed window, or '(design)' for a workshop design."""

    def day(d: datetime | None) -> str:
        return d.strftime("%Y-%m-%d") if d else "?"

    if rec.window_start is None and rec.window_end is None:
        return "no audit window (design)"
    return f"{day(rec.window_start)} to {day(rec.window_end)}"


# ---- actions and evidence -------------------------------------------------------------------
def action_parts(action: str) -> tuple[str, str]:
    """(resource prefix, rest): ``microsoft.directory/users/`` and ``password/update``."""
    parts = action.split("/")
    if len(parts) < 3:
        return "", action
    return "/".join(parts[:2]) + "/", "/".join(parts[2:])


@dataclass(frozen=True)
class EvidenceRow:
    """One piece of evidence for one action, ready to show."""

    action: str
    source: str
    count: int
    n_targets: int
    n_principals: int
    last_seen: str
    confidence: str
    rules: tuple[str, ...]
    tasks: tuple[str, ...]


def evidence_rows(role: RoleProposal) -> list[EvidenceRow]:
    """Every (action, evidence) of a role, sorted by action; '' source for no evidence."""
    by_action: dict[str, list[Evidence]] = {a: [] for a in role.actions}
    for e in role.evidence:
        by_action.setdefault(e.action, []).append(e)
    rows = []
    for action in sorted(by_action):
        if not by_action[action]:
            rows.append(EvidenceRow(action, "", 0, 0, 0, "", "", (), ()))
        for e in by_action[action]:
            rows.append(
                EvidenceRow(
                    action,
                    e.source,
                    e.count,
                    e.n_targets,
                    e.n_principals,
                    e.last_seen.strftime("%Y-%m-%d") if e.last_seen else "",
                    e.confidence or "",
                    e.rule_ids,
                    e.task_ids,
                )
            )
    return rows


def by_resource(rows: Sequence[EvidenceRow]) -> list[tuple[str, list[EvidenceRow]]]:
    """Rows grouped by resource prefix (``microsoft.directory/users/``), in action order."""
    out: dict[str, list[EvidenceRow]] = {}
    for row in rows:
        out.setdefault(action_parts(row.action)[0], []).append(row)
    return list(out.items())


def mapping_text(row: EvidenceRow) -> str:
    """Short form of how an action was inferred: 'exact · 2 rules', '3 tasks'."""
    bits = [row.confidence] if row.confidence else []
    if row.rules:
        bits.append(plural(len(row.rules), "rule"))
    if row.tasks:
        bits.append(plural(len(row.tasks), "task"))
    return " · ".join(bits)


_SOURCE_RANK = {"observed": 0, "peer": 1, "task": 2, "design": 3, "": 4}


def evidence_summary(rows: Sequence[EvidenceRow]) -> str:
    """Actions by their strongest evidence, then events and last use: '3 seen in the logs,
    1 needed by a task · 76 events, last 2025-04-30'."""
    best: dict[str, str] = {}
    for r in rows:
        if r.action not in best or _SOURCE_RANK[r.source] < _SOURCE_RANK[best[r.action]]:
            best[r.action] = r.source
    parts = []
    for source in _SOURCE_RANK:
        n = sum(1 for b in best.values() if b == source)
        if n:
            parts.append(f"{fmt(n)} {SOURCE_LABEL.get(source) or 'without evidence'}")
    events = sum(r.count for r in rows if r.source in ("observed", "peer"))
    last = max((r.last_seen for r in rows if r.last_seen), default="")
    text = ", ".join(parts)
    if events:
        text += f" · {plural(events, 'event')}" + (f", last {last}" if last else "")
    return text


def evidence_totals(role: RoleProposal) -> str:
    """'4 actions: 3 seen in the logs, 1 needed by a task · 76 events, last 2025-04-30'."""
    return f"{plural(len(role.actions), 'action')}: {evidence_summary(evidence_rows(role))}"


# ---- assignments and scope ------------------------------------------------------------------
_OPTION_WORDS = {
    "max_au_share": lambda v: (
        f"the {float(v):.0%} of the tenant an administrative-unit scope may cover (max_au_share)"
    ),
    "max_scoped_assignments": lambda v: (
        f"the limit of {v} scoped assignments per principal (max_scoped_assignments)"
    ),
}
_OPTION_TOKEN = re.compile(r"\b(" + "|".join(_OPTION_WORDS) + r")=([0-9.]+)")
_OPTION_BARE = re.compile(r"\((" + "|".join(_OPTION_WORDS) + r")\)")


def plain_reason(text: str) -> str:
    """A scope reason with option settings said in words (``max_au_share=0.75`` → '75 % ...')."""
    text = _OPTION_BARE.sub(lambda m: f"(the limit set by option {m[1]})", text)
    return _OPTION_TOKEN.sub(lambda m: _OPTION_WORDS[m[1]](m[2]), text)


def scope_clauses(a: AssignmentProposal, *, with_own: bool = True) -> list[str]:
    """Why this scope, one clause each: the recorded reasons, then what narrower scopes would
    have denied. ``with_own=False`` leaves out the count only this scope allows (see
    :func:`scope_label`, which can carry it next to the scope's name)."""
    out = [plain_reason(c.strip()) for c in a.scope.reason.split("; ") if c.strip()]
    for label, n in sorted(a.scope.denied_by_narrower.items()):
        if not label.startswith("without "):
            out.append(f"narrower ({label}) would have denied {plural(n, 'past operation')}")
        elif with_own:
            out.append(f"only this scope allows {plural(n, 'past operation')}")
    return out


def scope_reason(a: AssignmentProposal) -> str:
    """Why this scope, as one sentence."""
    return "; ".join(scope_clauses(a))


def scope_label(a: AssignmentProposal, *, with_own: bool = False) -> str:
    """Where an assignment applies: 'tenant', 'AU North region', 'app HR Portal';
    ``with_own`` adds the past operations only this scope allowed ('app HR Portal (needed by
    4 past operations)')."""
    name = a.scope.display_name or a.scope.directory_scope_id
    if a.scope.kind == "tenant":
        text = "tenant"
    else:
        text = ("AU " if a.scope.kind == "administrative_unit" else "app ") + name
    own = sum(n for k, n in a.scope.denied_by_narrower.items() if k.startswith("without "))
    return f"{text} (needed by {plural(own, 'past operation')})" if with_own and own else text


@dataclass(frozen=True)
class HolderGroup:
    """Principals holding a role the same way: same type, scopes and reasons. A scope's label
    says how many past operations only it allowed."""

    principals: tuple[str, ...]
    assignment_type: str
    scopes: tuple[str, ...]
    reasons: tuple[str, ...]


def holders(ctx: ReportContext, role: RoleProposal) -> list[HolderGroup]:
    """The role's assignments grouped by principal and type, then principals with identical
    scopes and reasons merged (in order of first assignment)."""
    per: dict[tuple[str, str], list[AssignmentProposal]] = {}
    for a in ctx.rec.assignments:
        if a.role_key == role.key:
            per.setdefault((a.principal_id, a.assignment_type), []).append(a)
    merged: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for (pid, kind), items in per.items():
        reasons: dict[str, None] = {}
        for a in items:
            reasons.update(dict.fromkeys(scope_clauses(a, with_own=False)))
        key = (kind, tuple(scope_label(a, with_own=True) for a in items), tuple(reasons))
        merged.setdefault(key, []).append(ctx.principal(pid, items[0].principal_name))
    return [
        HolderGroup(tuple(people), kind, scopes, reasons)
        for (kind, scopes, reasons), people in merged.items()
    ]


def scope_summary(ctx: ReportContext, role: RoleProposal) -> str:
    """Where the role is assigned: 'tenant (2), 3 app registrations'."""
    kinds: dict[str, int] = {}
    for a in ctx.rec.assignments:
        if a.role_key == role.key:
            kinds[a.scope.kind] = kinds.get(a.scope.kind, 0) + 1
    words = {
        "tenant": ("tenant-wide", "tenant-wide"),
        "administrative_unit": ("administrative unit", "administrative units"),
        "application": ("app registration", "app registrations"),
    }
    parts = []
    for kind in ("tenant", "administrative_unit", "application"):
        if kind in kinds:
            one, many = words[kind]
            parts.append(one + (f" ({kinds[kind]})" if kinds[kind] > 1 else "")
                         if kind == "tenant" else plural(kinds[kind], one, many))
    return ", ".join(parts) or "not assigned"


# ---- PIM ------------------------------------------------------------------------------------
_NOT_FOR_ACTIVE_ONLY = frozenset({*ACTIVATION_SETTINGS, "eligibility_expiry_days"})
"""Settings that do not apply to a role held actively only, as ``entra_lp.pim`` decides them:
activation gates and the expiry of eligibility nobody has."""
_NOT_APPLYING = "does not apply: the role is held actively only, so nobody activates it"


@dataclass(frozen=True)
class PimRow:
    """One PIM setting: its label, the proposed value, why, and whether it applies at all."""

    key: str
    label: str
    value: str
    why: str
    applies: bool = True


def pim_rows(role: RoleProposal) -> list[PimRow]:
    """The role's PIM settings with their reasons. The activation and eligibility settings of
    a role nobody activates (held actively only) are kept, marked as not applying and said to
    be so; its active-assignment expiry and notifications apply."""
    s, why = role.pim.settings, role.pim.rationale

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    def days(n: int | None) -> str:
        return f"{n} days" if n else "never"

    approval = f"yes ({plural(len(s.approvers), 'approver')})" if s.require_approval else "no"
    if s.require_approval and not s.approvers:
        approval = "yes (default approvers)"
    rows = [
        ("eligible", "Assignment", "eligible (just in time)" if s.eligible else "active"),
        ("max_activation_hours", "Maximum activation", f"{s.max_activation_hours} h"),
        ("require_mfa", "MFA on activation", yes(s.require_mfa)),
        ("authentication_context", "Authentication context", s.authentication_context or "none"),
        ("require_justification", "Justification", yes(s.require_justification)),
        ("require_ticket", "Ticket", yes(s.require_ticket)),
        ("require_approval", "Approval", approval),
        ("eligibility_expiry_days", "Eligibility ends after", days(s.eligibility_expiry_days)),
        (
            "active_assignment_expiry_days",
            "Active assignment ends after",
            days(s.active_assignment_expiry_days),
        ),
        (
            "notify_on_activation",
            "Notify on activation",
            ", ".join(s.notify_on_activation) or "default recipients",
        ),
    ]
    out = []
    for key, label, value in rows:
        reason = why.get(key, "")
        if key == "require_approval" and s.require_approval and why.get("approvers"):
            reason = "; ".join(r for r in (reason, "approvers: " + why["approvers"]) if r)
        applies = s.eligible or key not in _NOT_FOR_ACTIVE_ONLY
        if not applies and not reason.startswith("does not apply"):
            reason = _NOT_APPLYING  # a recommendation saved before reasons said so
        out.append(PimRow(key, label, value, reason, applies))
    return out


KEY_PIM = ("max_activation_hours", "require_approval")
"""The PIM decisions a workshop debates first (shown with their reasons on each role card)."""
KEY_PIM_ACTIVE = ("eligible", "active_assignment_expiry_days")
"""The same for a role held actively only (its activation settings do not apply)."""


def pim_summary(role: RoleProposal) -> str:
    """The PIM settings in one line: 'eligible, up to 1 h, MFA, justification, ticket'."""
    s = role.pim.settings
    if not s.eligible:
        return "active, time-bound" + (
            f" (expires after {s.active_assignment_expiry_days} days)"
            if s.active_assignment_expiry_days
            else ""
        )
    bits = [f"eligible, up to {s.max_activation_hours} h"]
    bits += [name for flag, name in (
        (s.require_mfa, "MFA"),
        (bool(s.authentication_context), f"auth context {s.authentication_context}"),
        (s.require_justification, "justification"),
        (s.require_ticket, "ticket"),
        (s.require_approval, "approval"),
    ) if flag]
    return ", ".join(bits)


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


def escalation_order(role: RoleProposal) -> list[int]:
    """Indexes of the role's escalation paths, most severe first (stable)."""
    paths = role.risk.escalation_paths
    return sorted(range(len(paths)), key=lambda i: (_SEVERITY_ORDER[paths[i].severity], i))


def short_action(action: str) -> str:
    """An action name without the ``microsoft.directory/`` namespace most actions share."""
    return action.removeprefix("microsoft.directory/")


def entra_limits(ctx: ReportContext, role: RoleProposal, *, short: bool = False) -> list[str]:
    """What Entra cannot express for this role: why a built-in role, and its limitations.
    ``short`` drops the common ``microsoft.directory/`` namespace from action names."""
    out = []
    blocked = ctx.not_custom.get(role.key, ())
    if blocked:
        names = ", ".join(short_action(a) if short else a for a in blocked)
        out.append(
            f"Custom roles cannot hold {fmt(len(blocked))} of its actions ({names}): the built-in "
            f"role {ctx.builtin(role)} is used instead."
        )
    out += list(role.limitations)
    return out


# ---- attestation ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AttestationGroup:
    """The rights one principal must have confirmed for one reason."""

    principal: str
    reason: str
    items: tuple[AttestationItem, ...]

    @property
    def rights(self) -> int:
        """Distinct rights: an action held through two roles is one right (two items)."""
        return len({attestation_right(t) for t in self.items})

    @property
    def held_via(self) -> list[tuple[str, int]]:
        """(how the right is held today, count), most common first."""
        counts: dict[str, int] = {}
        for t in self.items:
            via = held_via_label(t.held_via)
            counts[via] = counts.get(via, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def resources(self) -> list[tuple[str, int]]:
        """(resource, rights) most common first: 'applications', 'users', ..."""
        counts: dict[str, int] = {}
        for action in sorted({t.action for t in self.items}):
            prefix = action_parts(action)[0].rstrip("/")
            name = prefix.removeprefix("microsoft.directory/") or action
            counts[name] = counts.get(name, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def by_detail(self) -> list[tuple[str, tuple[str, ...]]]:
        """(detail, actions) with identical details merged, in action order."""
        out: dict[str, dict[str, None]] = {}
        for t in sorted(self.items, key=lambda t: t.action):
            out.setdefault(t.detail, {})[t.action] = None
        return [(d, tuple(a)) for d, a in out.items()]


def held_via_label(held_via: str | None) -> str:
    """'Global Administrator at /' → 'Global Administrator (tenant-wide)'; '' when unknown."""
    if not held_via:
        return "not held today"
    return held_via[: -len(" at /")] + " (tenant-wide)" if held_via.endswith(" at /") else held_via


def attestation_groups(ctx: ReportContext) -> list[AttestationGroup]:
    """Attestation items grouped by reason and principal, largest groups first per reason."""
    order = list(REASON_LABEL)
    groups: dict[tuple[str, str | None], list[AttestationItem]] = {}
    for t in ctx.rec.attestation:
        groups.setdefault((t.reason, t.principal_id), []).append(t)
    out = [
        AttestationGroup(ctx.principal(pid), reason, tuple(items))
        for (reason, pid), items in groups.items()
    ]
    return sorted(out, key=lambda g: (order.index(g.reason), -g.rights, g.principal))


def attestation_right(item: AttestationItem) -> tuple[str, str]:
    """The right an item is about: (principal, action). Items repeat a right once per role
    that grants it today; ``"*"`` (every action of a role held and never used) is a right per
    role."""
    action = item.action if item.action != "*" else f"* via {item.held_via or ''}"
    return item.principal_id or "", action


def attestation_rights(rec: Recommendation, reason: str | None = None) -> int:
    """Distinct rights to attest (of one ``reason`` when given), however many roles grant
    each one today."""
    return len({attestation_right(t) for t in rec.attestation
                if reason is None or t.reason == reason})


def attestation_overview(ctx: ReportContext) -> str:
    """One sentence: how many rights, for whom, why, and through which roles."""
    items = ctx.rec.attestation
    people = len({t.principal_id for t in items})
    reasons = {r: attestation_rights(ctx.rec, r) for r in REASON_LABEL}
    why = ", ".join(
        f"{fmt(n)} {label}"
        for r, n in reasons.items()
        if n
        for label in [
            {
                "unobservable": "never audited",
                "held_never_seen": "held but unused",
                "ambiguous_mapping": "from ambiguous audit records",
                "one_off": "used once, unlike any peer",
            }[r]
        ]
    )
    via: dict[str, int] = {}
    for t in items:
        via[held_via_label(t.held_via)] = via.get(held_via_label(t.held_via), 0) + 1
    top = sorted(via.items(), key=lambda kv: (-kv[1], kv[0]))
    held = "; ".join(f"{name} {fmt(n)}" for name, n in top[:4])
    held += f"; {fmt(len(top) - 4)} more" if len(top) > 4 else ""
    rights = attestation_rights(ctx.rec)
    per_right: dict[tuple[str, str], int] = {}
    for t in items:
        per_right[attestation_right(t)] = per_right.get(attestation_right(t), 0) + 1
    several = sum(1 for n in per_right.values() if n > 1)
    twice = f" ({fmt(several)} of them through two roles or more)" if several else ""
    return (
        f"{plural(rights, 'right')} for {plural(people, 'principal')} ({why}). "
        f"Held today through{twice}: {held}."
    )


def roles_intro(ctx: ReportContext) -> str:
    """What the role count counts: proposals by kind versus distinct role definitions."""
    c = ctx.role_counts()
    text = (
        f"{plural(c.proposals, 'proposal')} using {plural(c.definitions, 'role definition')}: "
        f"{_kinds(c)}."
    )
    if c.repeated:
        names = ", ".join(c.repeated)
        text += (
            f" The measures count role definitions, so {names} (used directly and through a "
            "group) counts once."
        )
    return text


def measure_rows(ctx: ReportContext) -> list[tuple[Measure, list[float | None]]]:
    """Each measured measure with its value per column."""
    out = []
    for m in MEASURES:
        values = [metric_value(c.metrics, m.attr) for c in ctx.columns]
        if any(v is not None for v in values):
            out.append((m, values))
    return out


def measure_change(ctx: ReportContext, m: Measure) -> tuple[str, str]:
    """(proposed vs current as text, verdict) for one measure; ('', '') when not comparable."""
    now, new = ctx.metrics("current"), ctx.metrics("proposed")
    if now is None or new is None:
        return "", ""
    before, after = metric_value(now, m.attr), metric_value(new, m.attr)
    if before is None or after is None:
        return "", ""
    return change(before, after), verdict(m, before, after)
