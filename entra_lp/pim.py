"""PIM settings for a proposed role: activation length from real sessions, and every gate explained.

:func:`sessions` turns the usage's 15-minute success buckets into working sessions;
:func:`recommend_settings` decides a :class:`~entra_lp.directory.PimSettings` for one role and a
one-line rationale per setting (:class:`~entra_lp.recommendation.PimDecision`);
:func:`current_settings_gap` lists, for the report, what would change against a role's current
policy.

The rules (defaults in :class:`PimOptions`; Entra's limits come from ``catalog.limits``)
    * **Assignment type.** People get *eligible* assignments. Service principals and managed
      identities cannot activate, so a role held only by them is proposed *active* (time-bound,
      see below); a role held by both stays eligible and the non-human holders' assignments are
      active. For an active-only role the activation settings (:data:`ACTIVATION_SETTINGS`) and
      the eligibility expiry do not apply, and each rationale says so: the values stay the safe
      ones computed below, as the policy's answer should a person ever be made eligible. What
      applies is the active assignment's expiry and the role's notifications.
    * **Activation length.** Sessions are runs of activity buckets whose gaps are shorter than
      ``max_gap_minutes``. The maximum activation is the 95th-percentile session (nearest rank:
      an observed session, never an interpolation) rounded up to whole hours, clamped to
      ``[1, tier cap]`` (control 4 h, management 8 h, user access 8 h) and to Entra's 1–24 h.
      No observed session: the tier cap.
    * **MFA** on activation always; **justification** always.
    * **Authentication context** for control-tier roles when the caller names one (a Conditional
      Access context such as phishing-resistant MFA or a privileged-access workstation).
    * **Ticket** for configuration-plane (or mixed) roles and for control-tier roles: the change
      they make should be traceable to a change record.
    * **Approval** (``PimOptions.approval="tenant_control"``, the default) for roles with a
      ``critical`` escalation path, i.e. whose rights reach tenant-wide control (assign roles,
      change tenant authentication policy, act as a Global Administrator...). A control-tier role
      whose worst path stops short of that (an AU-scoped helpdesk role that can reset only
      non-administrators) is *not* approval-gated: it is used many times a day, an approver queue
      there pushes people back to standing access, and MFA + justification + ticket + short
      activation + notification already bound it. ``"control_tier"`` gates every control-tier
      role (the stricter reading), ``"never"`` none.
    * **Approvers** are never the requester: explicit ``approvers`` (users or groups; a group
      whose only members are requesters is dropped), else the holders of Privileged Role
      Administrator in the directory (users, or the role-assignable group that holds it), minus
      the role's own principals and break-glass accounts. When none is found the rationale says
      so: Entra then routes requests to Privileged Role Administrators and Global Administrators.
    * **Notifications** on activation of control-tier roles go to the named recipients on top of
      Entra's default recipients.
    * **Eligibility expiry**: 180 days for control tier, 365 otherwise, so eligibility is
      re-justified. **Active assignments** expire after 90 / 180 days for service principals and
      managed identities, after 14 days for people (an active assignment of a person is an
      exception), and are left permanent only where a break-glass or directory-synchronization
      account holds the role: those are never touched.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .directory import PimSettings
from .errors import CatalogError, InvalidValueError, UnknownNameError
from .recommendation import PimDecision, RiskSummary

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog.catalog import Catalog

    from .directory import DirectorySnapshot

__all__ = [
    "ACTIVATION_SETTINGS",
    "NON_HUMAN_KINDS",
    "PRINCIPAL_KINDS",
    "PimOptions",
    "current_settings_gap",
    "recommend_settings",
    "sessions",
]

PRINCIPAL_KINDS = ("user", "service_principal", "managed_identity", "sync_account", "unknown")
"""Principal kinds of the usage contract (``UsageMatrix.principals.kind``)."""
NON_HUMAN_KINDS = frozenset({"service_principal", "managed_identity", "sync_account"})
"""Kinds that cannot activate an eligible assignment."""
ACTIVATION_SETTINGS = (
    "max_activation_hours",
    "require_mfa",
    "authentication_context",
    "require_justification",
    "require_ticket",
    "require_approval",
    "approvers",
)
"""Settings that only govern an activation (``PimSettings`` field names)."""
_TIERS = ("control", "management", "user_access")
_PLURAL = {
    "service_principal": "service principals",
    "managed_identity": "managed identities",
    "sync_account": "directory-sync accounts",
}


# --------------------------------------------------------------------------- sessions
def sessions(
    buckets: pd.DataFrame,
    principal_ids: Iterable[str],
    *,
    bucket_minutes: int = 15,
    max_gap_minutes: int = 30,
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Lengths in hours of the working sessions of ``principal_ids``.

    ``buckets`` follows the usage contract (``principal_id``, ``bucket_start`` UTC, ``count``
    of successes; rows with ``count == 0`` are ignored). A session is a run of buckets in which
    the gap between the end of one bucket and the start of the next is shorter than
    ``max_gap_minutes``; its length runs from its first bucket's start to its last bucket's end.
    Sorted by principal, then start. Buckets are multiples of 15 minutes, so the hours are exact.
    """
    if bucket_minutes <= 0 or max_gap_minutes < 0:
        raise InvalidValueError(
            f"sessions: bucket_minutes must be > 0 and max_gap_minutes >= 0, got "
            f"{bucket_minutes} and {max_gap_minutes}"
        )
    minutes, principals = _bucket_minutes(buckets, principal_ids)
    if minutes.size == 0:
        return np.zeros(0, dtype=np.float64)
    gap = minutes[1:] - minutes[:-1] - bucket_minutes
    starts = np.r_[True, (principals[1:] != principals[:-1]) | (gap >= max_gap_minutes)]
    ends = np.r_[starts[1:], True]
    lengths = minutes[ends] + bucket_minutes - minutes[starts]
    return np.asarray(lengths / 60.0, dtype=np.float64)


def _bucket_minutes(
    buckets: pd.DataFrame, principal_ids: Iterable[str]
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[Any]]]:
    """(bucket start in epoch minutes, principal id) of the wanted principals, sorted, unique."""
    missing = [c for c in ("principal_id", "bucket_start") if c not in buckets.columns]
    if missing:
        raise InvalidValueError(
            f"sessions: buckets lack column(s) {missing} (need principal_id, bucket_start, count)"
        )
    wanted = buckets[buckets["principal_id"].isin(set(principal_ids))]
    if "count" in wanted.columns:
        wanted = wanted[wanted["count"] > 0]
    try:
        starts = pd.to_datetime(wanted["bucket_start"], utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(f"sessions: column bucket_start is not a timestamp: {exc}") from exc
    frame = pd.DataFrame(
        {
            "p": wanted["principal_id"].astype(str).to_numpy(),
            "m": ((starts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(minutes=1)).to_numpy(),
        }
    )
    frame = frame.drop_duplicates().sort_values(["p", "m"], kind="stable")
    return frame["m"].to_numpy(dtype=np.int64), frame["p"].to_numpy()


# --------------------------------------------------------------------------- options
def _per_tier(control: int, other: int) -> dict[str, int]:
    return {"control": control, "management": other, "user_access": other}


@dataclass(frozen=True)
class PimOptions:
    """The policy knobs of :func:`recommend_settings` (defaults documented in the module)."""

    tier_cap_hours: Mapping[str, int] = field(default_factory=lambda: _per_tier(4, 8))
    """Longest activation per tier."""
    percentile: float = 95.0
    """Session percentile that sets the activation length."""
    eligibility_days: Mapping[str, int] = field(default_factory=lambda: _per_tier(180, 365))
    """Eligible assignments expire after this many days, per tier."""
    non_human_active_days: Mapping[str, int] = field(default_factory=lambda: _per_tier(90, 180))
    """Active assignments of service principals / managed identities expire after this, per tier."""
    human_active_days: int = 14
    """Active assignments of people (exceptions) expire after this many days."""
    approval: Literal["tenant_control", "control_tier", "never"] = "tenant_control"
    """Which roles need approval (module docstring)."""
    approver_role: str = "Privileged Role Administrator"
    """Holders of this built-in role are the default approvers."""
    max_approvers: int = 5
    """At most this many default approvers (sorted: groups, then users, by id)."""

    def check(self, catalog: Catalog) -> None:
        """InvalidValueError for a knob outside Entra's limits or without meaning."""
        lo, hi = _activation_range(catalog)
        for name, table in (
            ("tier_cap_hours", self.tier_cap_hours),
            ("eligibility_days", self.eligibility_days),
            ("non_human_active_days", self.non_human_active_days),
        ):
            if set(table) != set(_TIERS):
                raise InvalidValueError(f"PimOptions.{name}: needs exactly the tiers {_TIERS}")
            low, high = (lo, hi) if name == "tier_cap_hours" else (1, None)
            for tier, value in table.items():
                if value < low or (high is not None and value > high):
                    bound = f"[{low}, {high}]" if high is not None else f">= {low}"
                    raise InvalidValueError(f"PimOptions.{name}[{tier!r}] = {value}: not {bound}")
        if not 0 < self.percentile <= 100:
            raise InvalidValueError(f"PimOptions.percentile = {self.percentile}: not in (0, 100]")
        if self.human_active_days < 1 or self.max_approvers < 1:
            raise InvalidValueError("PimOptions.human_active_days and max_approvers must be >= 1")
        if self.approval not in ("tenant_control", "control_tier", "never"):
            raise UnknownNameError(
                "approval mode", self.approval, ("tenant_control", "control_tier", "never")
            )


# --------------------------------------------------------------------------- limits
def _limit(catalog: Catalog, key: str) -> Any:
    hit = catalog.limits.get(key)
    if hit is None:
        raise CatalogError(f"catalog limits.json has no {key!r}; rebuild the catalog")
    return hit.value


def _activation_range(catalog: Catalog) -> tuple[int, int]:
    lo, hi = _limit(catalog, "pim_activation_max_hours_range")
    return int(lo), int(hi)


def _check_limits(settings: PimSettings, catalog: Catalog) -> None:
    """Guard: the proposal respects every PIM limit the catalog records."""
    lo, hi = _activation_range(catalog)
    min_minutes = int(_limit(catalog, "pim_min_assignment_minutes"))
    max_recipients = int(_limit(catalog, "pim_max_notification_recipients"))
    durations = [settings.max_activation_hours * 60]
    durations += [
        d * 1440
        for d in (settings.eligibility_expiry_days, settings.active_assignment_expiry_days)
        if d is not None
    ]
    if not lo <= settings.max_activation_hours <= hi or min(durations) < min_minutes:
        raise InvalidValueError(f"PIM settings outside Entra's limits: {settings!r}")
    if len(settings.notify_on_activation) > max_recipients:
        raise InvalidValueError(
            f"{len(settings.notify_on_activation)} notification recipients: Entra allows "
            f"{max_recipients} per event"
        )


# --------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class _Context:
    """Everything one decision looks at, gathered once."""

    actions: tuple[str, ...]
    risk: RiskSummary
    kinds: Mapping[str, str]
    catalog: Catalog
    options: PimOptions
    directory: DirectorySnapshot | None
    break_glass: frozenset[str]
    role_id: str | None

    @property
    def humans(self) -> list[str]:
        return sorted(p for p, k in self.kinds.items() if k not in NON_HUMAN_KINDS)

    @property
    def non_humans(self) -> list[str]:
        return sorted(p for p, k in self.kinds.items() if k in NON_HUMAN_KINDS)

    @property
    def critical(self) -> bool:
        return any(p.severity == "critical" for p in self.risk.escalation_paths)


def _eligible(ctx: _Context) -> tuple[bool, str]:
    if not ctx.kinds:
        return True, "no principal observed yet: people get eligible (just-in-time) assignments"
    if not ctx.humans:
        kinds = sorted({_PLURAL[ctx.kinds[p]] for p in ctx.non_humans})
        return False, (
            f"held only by {' and '.join(kinds)}, which cannot activate: active, time-bound "
            "assignments instead"
        )
    note = ""
    if ctx.non_humans:
        note = f"; its {len(ctx.non_humans)} non-human holder(s) get active, time-bound assignments"
    return True, f"people activate just in time instead of holding the role standing{note}"


def _activation(
    ctx: _Context, session_hours: np.ndarray[Any, np.dtype[np.float64]]
) -> tuple[int, str]:
    lo, hi = _activation_range(ctx.catalog)
    cap = ctx.options.tier_cap_hours[ctx.risk.tier]
    cap_note = f"{ctx.risk.tier.replace('_', ' ')}-tier cap {cap} h"
    if session_hours.size == 0:
        return max(lo, min(cap, hi)), f"no session observed: the {cap_note}"
    p = float(np.percentile(session_hours, ctx.options.percentile, method="inverted_cdf"))
    wanted = max(1, math.ceil(round(p * 60) / 60))
    hours = max(lo, min(wanted, cap, hi))
    why = (
        f"{ctx.options.percentile:g}th percentile of {session_hours.size} observed sessions is "
        f"{p:g} h, rounded up to {wanted} h"
    )
    if wanted > hours:
        why += f", clamped to the {cap_note}"
    return hours, why


def _approval_needed(ctx: _Context, eligible: bool) -> tuple[bool, str]:
    mode = ctx.options.approval
    if not eligible:
        return False, "nobody activates (active assignments only), so there is nothing to approve"
    if mode == "never":
        return False, "approval disabled by option (approval='never')"
    if ctx.critical:
        worst = next(p for p in ctx.risk.escalation_paths if p.severity == "critical")
        return True, f"a critical escalation path gives {worst.gains} (through {worst.action})"
    if mode == "control_tier" and ctx.risk.tier == "control":
        return True, "control-tier role and approval='control_tier'"
    if ctx.risk.tier == "control":
        return False, (
            "control tier, but no path reaches tenant-wide control: MFA, justification, ticket, "
            "a short activation and notification bound it without an approval queue that would "
            "push people back to standing access"
        )
    return False, f"{ctx.risk.tier.replace('_', ' ')} tier without a path to tenant-wide control"


def _ticket(ctx: _Context) -> tuple[bool, str]:
    if ctx.risk.plane in ("configuration", "mixed"):
        return (
            True,
            f"{ctx.risk.plane} plane: each policy or setting change cites its change record",
        )
    if ctx.risk.tier == "control":
        return True, "control tier: each activation cites the incident or request it serves"
    tier = ctx.risk.tier.replace("_", " ")
    return False, f"{ctx.risk.plane} plane, {tier} tier: the justification suffices"


def _auth_context(ctx: _Context, requested: str | None) -> tuple[str | None, str]:
    if requested is not None and not requested.strip():
        raise InvalidValueError("authentication_context: empty string; pass None or e.g. 'c1'")
    if ctx.risk.tier != "control":
        return None, "not a control-tier role: MFA on activation is enough"
    if requested is None:
        return None, (
            "control tier, but no authentication context named: pass authentication_context= "
            "to require e.g. phishing-resistant MFA on activation"
        )
    return requested, "control tier: activation must satisfy the named Conditional Access context"


def _eligibility_days(ctx: _Context) -> tuple[int, str]:
    days = ctx.options.eligibility_days[ctx.risk.tier]
    return (
        days,
        f"{ctx.risk.tier.replace('_', ' ')} tier: eligibility is re-justified every {days} days",
    )


def _active_days(ctx: _Context) -> tuple[int | None, str]:
    kept = sorted(
        p for p in _standing_holders(ctx) | {p for p, k in ctx.kinds.items() if k == "sync_account"}
    )
    if kept:
        return None, (
            f"left permanent: break-glass / directory-sync account(s) {', '.join(kept)} hold "
            "this role and are never touched"
        )
    if ctx.non_humans:
        days = ctx.options.non_human_active_days[ctx.risk.tier]
        return days, (
            f"service principals / managed identities hold it actively: the assignment expires "
            f"after {days} days and must be renewed (reviewed)"
        )
    days = ctx.options.human_active_days
    return days, f"people should activate; an active assignment is an exception lasting {days} days"


def _standing_holders(ctx: _Context) -> set[str]:
    """Break-glass accounts that hold the role (by its definition id) in the directory."""
    if ctx.directory is None or ctx.role_id is None or not ctx.break_glass:
        return set()
    return {
        a.principal_id
        for a in ctx.directory.role_assignments
        if a.role_definition_id.lower() == ctx.role_id.lower() and a.principal_id in ctx.break_glass
    }


def _notify(ctx: _Context, recipients: Sequence[str]) -> tuple[tuple[str, ...], str]:
    named = tuple(sorted(set(recipients)))
    if ctx.risk.tier != "control":
        return (), "not control tier: Entra's default recipients only (no alert fatigue)"
    if not named:
        return (), (
            "control tier: Entra's default recipients are notified; pass "
            "notification_recipients= to add a security mailbox"
        )
    return named, "control tier: every activation is announced to the named recipients"


# --------------------------------------------------------------------------- approvers
def _typed(entry: str, directory: DirectorySnapshot | None) -> str:
    """``user:<id>`` / ``group:<id>`` from an id, a typed id, a UPN or a group display name."""
    kind, _, oid = entry.partition(":")
    if oid and kind in ("user", "group"):
        return entry
    if directory is None:
        raise InvalidValueError(
            f"approver {entry!r}: write 'user:<id>' or 'group:<id>' (no directory to resolve it)"
        )
    types = directory.object_types
    if types.get(entry) in ("user", "group"):
        return f"{types[entry]}:{entry}"
    by_name = {u.user_principal_name.lower(): f"user:{u.id}" for u in directory.users}
    by_name.update({g.display_name.lower(): f"group:{g.id}" for g in directory.groups})
    hit = by_name.get(entry.lower())
    if hit is None:
        raise UnknownNameError("approver (user or group)", entry, sorted(by_name))
    return hit


def _usable(approver: str, ctx: _Context) -> bool:
    """An approver who is not a requester (a group: at least one member who is not)."""
    kind, _, oid = approver.partition(":")
    excluded = set(ctx.kinds) | ctx.break_glass
    if kind == "user":
        return oid not in excluded
    group = next((g for g in ctx.directory.groups if g.id == oid), None) if ctx.directory else None
    if group is None:
        return True  # membership unknown: Entra still forbids self-approval
    return any(m not in excluded for m in group.members)


def _default_approvers(ctx: _Context) -> list[str]:
    """Holders of ``options.approver_role`` at tenant scope: groups, then users, by id."""
    if ctx.directory is None:
        return []
    role_id = ctx.catalog.role(ctx.options.approver_role).id
    types = ctx.directory.object_types
    disabled = {u.id for u in ctx.directory.users if not u.account_enabled}
    found = {
        f"{types[a.principal_id]}:{a.principal_id}"
        for a in ctx.directory.role_assignments
        if a.role_definition_id.lower() == role_id
        and a.directory_scope_id in ("", "/")
        and types.get(a.principal_id) in ("user", "group")
        and a.principal_id not in disabled
    }
    return sorted(found, key=lambda s: (not s.startswith("group:"), s))


def _approvers(ctx: _Context, requested: Sequence[str] | None) -> tuple[tuple[str, ...], str]:
    if requested:
        typed = sorted({_typed(e, ctx.directory) for e in requested})
        usable = [a for a in typed if _usable(a, ctx)]
        dropped = sorted(set(typed) - set(usable))
        if usable:
            note = f"; dropped {', '.join(dropped)} (requesters cannot approve)" if dropped else ""
            return tuple(usable), f"named by the caller{note}"
        fallback = "every named approver is a requester"
    else:
        fallback = "none named"
    found = [a for a in _default_approvers(ctx) if _usable(a, ctx)]
    if found:
        chosen = tuple(found[: ctx.options.max_approvers])
        return chosen, (
            f"{fallback}: holders of {ctx.options.approver_role} who do not hold this role"
        )
    where = "in the directory" if ctx.directory is not None else "(no directory given)"
    return (), (
        f"{fallback}, and no {ctx.options.approver_role} holder other than the role's own "
        f"principals {where}: Entra routes requests to Privileged Role Administrators and "
        "Global Administrators; name an approver group"
    )


# --------------------------------------------------------------------------- entry point
def recommend_settings(
    actions: Iterable[str],
    risk: RiskSummary,
    *,
    session_hours: Sequence[float] | np.ndarray[Any, np.dtype[np.float64]],
    principal_kinds: Mapping[str, str],
    directory: DirectorySnapshot | None = None,
    approvers: Sequence[str] | None = None,
    authentication_context: str | None = None,
    notification_recipients: Sequence[str] = (),
    break_glass_ids: Collection[str] = (),
    role_id: str | None = None,
    catalog: Catalog | None = None,
    options: PimOptions | None = None,
) -> PimDecision:
    """PIM settings for one role, with a one-line rationale per setting (module docstring).

    ``actions``: the role's actions; ``risk``: its :func:`~entra_lp.risk.assess_role` summary;
    ``session_hours``: :func:`sessions` of its principals; ``principal_kinds``: principal id →
    kind (``user``, ``service_principal``, ``managed_identity``, ``sync_account``, ``unknown``)
    of the principals the role is proposed for (they are the requesters). ``approvers``: users
    or groups (``user:<id>``, ``group:<id>``, or with a directory an id, UPN or group name).
    ``break_glass_ids``: never approvers; if they hold ``role_id`` (an existing role's definition
    id, e.g. a built-in fallback) permanent active assignments stay allowed.
    """
    from permission_catalog import load_catalog

    cat = catalog if catalog is not None else load_catalog()
    opts = options if options is not None else PimOptions()
    opts.check(cat)
    ctx = _Context(
        actions=tuple(sorted(set(actions))),
        risk=risk,
        kinds=_checked_kinds(principal_kinds),
        catalog=cat,
        options=opts,
        directory=directory,
        break_glass=frozenset(break_glass_ids),
        role_id=role_id,
    )
    hours = _checked_hours(session_hours)
    settings, rationale = _decide(
        ctx, hours, approvers, authentication_context, notification_recipients
    )
    _check_limits(settings, cat)
    return PimDecision(settings=settings, rationale=rationale)


def _decide(
    ctx: _Context,
    hours: np.ndarray[Any, np.dtype[np.float64]],
    approvers: Sequence[str] | None,
    auth_context: str | None,
    recipients: Sequence[str],
) -> tuple[PimSettings, dict[str, str]]:
    eligible, why_eligible = _eligible(ctx)
    approval, why_approval = _approval_needed(ctx, eligible)
    chosen: tuple[str, ...] = ()
    why_approvers = "no approval required"
    if approval:
        chosen, why_approvers = _approvers(ctx, approvers)
    decided: dict[str, tuple[Any, str]] = {
        "eligible": (eligible, why_eligible),
        "max_activation_hours": _activation(ctx, hours),
        "require_mfa": (True, "always: an activation must prove the person is present"),
        "authentication_context": _auth_context(ctx, auth_context),
        "require_justification": (True, "always: every activation records why it was needed"),
        "require_ticket": _ticket(ctx),
        "require_approval": (approval, why_approval),
        "approvers": (chosen, why_approvers),
        "eligibility_expiry_days": _eligibility_days(ctx),
        "active_assignment_expiry_days": _active_days(ctx),
        "notify_on_activation": _notify(ctx, recipients),
    }
    settings = PimSettings(**{k: v for k, (v, _) in decided.items()})
    rationale = {k: why for k, (_, why) in decided.items()}
    if not eligible:
        rationale.update(_active_only_rationale(ctx, settings))
    return settings, rationale


def _active_only_rationale(ctx: _Context, settings: PimSettings) -> dict[str, str]:
    """Reasons for a role nobody activates: activation and eligibility settings do not apply
    (their values are the policy's answer should a person ever be made eligible)."""
    kinds = " and ".join(sorted({_PLURAL[ctx.kinds[p]] for p in ctx.non_humans}))
    out = dict.fromkeys(ACTIVATION_SETTINGS, "does not apply (nobody activates); the policy "
                        "keeps this value for anyone made eligible later")
    out["max_activation_hours"] = (
        f"does not apply: held only by {kinds}, which hold it actively and never activate it; "
        f"the policy keeps {settings.max_activation_hours} h for anyone made eligible later")
    out["require_approval"] = "does not apply (nobody activates): there is nothing to approve"
    out["approvers"] = "no approval required"
    out["eligibility_expiry_days"] = (
        f"does not apply: nobody is eligible ({kinds} get active assignments)")
    out["notify_on_activation"] = (
        "no activation to announce (held actively); the policy's notifications of active "
        "assignments still reach Entra's default recipients when one is made or renewed")
    return out


def _checked_kinds(kinds: Mapping[str, str]) -> dict[str, str]:
    for pid, kind in sorted(kinds.items()):
        if kind not in PRINCIPAL_KINDS:
            raise UnknownNameError(f"principal kind (principal {pid})", kind, PRINCIPAL_KINDS)
    return dict(sorted(kinds.items()))


def _checked_hours(
    values: Sequence[float] | np.ndarray[Any, np.dtype[np.float64]],
) -> np.ndarray[Any, np.dtype[np.float64]]:
    arr = np.asarray(values, dtype=np.float64).ravel()
    bad = arr[~np.isfinite(arr) | (arr < 0)]
    if bad.size:
        raise InvalidValueError(f"session_hours: {bad[0]!r} is not a finite length >= 0")
    return arr


# --------------------------------------------------------------------------- gap report
def _hours(v: int) -> str:
    return f"{v} h"


def _days(v: int | None) -> str:
    return "permanent" if v is None else f"{v} days"


def _flag(v: bool) -> str:
    return "required" if v else "not required"


def _names(v: tuple[str, ...]) -> str:
    return ", ".join(v) if v else "none"


_GAP_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("eligible", "assignment type", lambda v: "eligible" if v else "active"),
    ("max_activation_hours", "maximum activation", _hours),
    ("require_mfa", "MFA on activation", _flag),
    ("authentication_context", "authentication context", lambda v: v or "none"),
    ("require_justification", "justification", _flag),
    ("require_ticket", "ticket", _flag),
    ("require_approval", "approval", _flag),
    ("approvers", "approvers", _names),
    ("eligibility_expiry_days", "eligible assignments expire after", _days),
    ("active_assignment_expiry_days", "active assignments expire after", _days),
    ("notify_on_activation", "extra activation notifications", _names),
)


def _direction(name: str, cur: Any, new: Any) -> str:
    """``stricter`` / ``looser`` / ``changed`` for one field."""
    if isinstance(cur, bool):
        return "stricter" if new else "looser"
    if name == "max_activation_hours":
        return "stricter" if new < cur else "looser"
    if name.endswith("_days"):
        if cur is None or new is None:
            return "stricter" if cur is None else "looser"
        return "stricter" if new < cur else "looser"
    if name == "authentication_context" and (cur is None) != (new is None):
        return "stricter" if cur is None else "looser"
    return "changed"


def current_settings_gap(current: PimSettings, proposed: PimSettings) -> list[str]:
    """One line per setting that differs, in a fixed order, e.g.
    ``"maximum activation: 8 h -> 2 h (stricter)"``; [] when the policy already matches."""
    lines = []
    for name, label, fmt in _GAP_FIELDS:
        cur, new = getattr(current, name), getattr(proposed, name)
        if name in ("approvers", "notify_on_activation"):
            cur, new = tuple(sorted(cur)), tuple(sorted(new))
        if cur != new:
            lines.append(f"{label}: {fmt(cur)} -> {fmt(new)} ({_direction(name, cur, new)})")
    return lines
