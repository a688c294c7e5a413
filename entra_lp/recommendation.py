"""The Recommendation: proposed roles, scoped assignments, PIM settings and their evidence.

This is the boundary between the analysis (``recommend`` / ``design_roles``) and everything
that consumes it (``validate``, ``entra_lp.export``, ``entra_lp.tenant``, the report, the
CLI). It is plain pydantic data with an exact JSON round-trip, so a recommendation can be
saved in a workshop, reviewed in git, and exported or applied later.

Every proposed action carries its evidence: the audit records that showed it (count, distinct
targets, first/last seen, example record ids, the rules that mapped them) or the task that put
it there. Nothing is silently dropped: actions held but never seen, and actions Entra never
audits, are listed for human attestation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from ._models import FrozenModel, JsonDocument
from .directory import PimSettings
from .errors import EntraLPError, RecommendationError

__all__ = [
    "AssignmentProposal",
    "AttestationItem",
    "EscalationPath",
    "Evidence",
    "Exclusion",
    "MetricSet",
    "Metrics",
    "PimDecision",
    "Recommendation",
    "RiskSummary",
    "RoleProposal",
    "ScopeChoice",
]

ScopeKind = Literal["tenant", "administrative_unit", "application"]
Plane = Literal["read", "execution", "configuration", "mixed"]
Tier = Literal["control", "management", "user_access"]




class Evidence(FrozenModel):
    """Why one action is in a role.

    ``source``: ``observed`` (audit records of the role's principals), ``task`` (a catalog task
    the role realises put it there, e.g. a read no audit record can show), ``peer`` (observed
    for another principal sharing the role), or ``design`` (a workshop runbook asked for it).
    """

    action: str
    source: Literal["observed", "task", "peer", "design"]
    count: int = 0
    n_targets: int = 0
    n_principals: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    example_ids: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()
    confidence: Literal["exact", "likely", "ambiguous"] | None = None
    task_ids: tuple[str, ...] = ()


class EscalationPath(FrozenModel):
    """A way the role's rights reach further than they look (e.g. act as a privileged app)."""

    action: str
    gains: str
    severity: Literal["critical", "high", "medium", "low"]
    via: tuple[str, ...] = ()
    explanation: str = ""


class RiskSummary(FrozenModel):
    """Tier, plane and escalation paths of a role at its scope."""

    tier: Tier
    plane: Plane
    score: float = Field(ge=0)
    escalation_paths: tuple[EscalationPath, ...] = ()


class PimDecision(FrozenModel):
    """Proposed PIM settings and, per setting, the reason it was chosen."""

    settings: PimSettings
    rationale: dict[str, str] = Field(default_factory=dict)


class RoleProposal(FrozenModel):
    """A role to create (custom) or to use as a fallback (built-in / PIM for Groups).

    ``key`` is a stable identifier within the recommendation; assignments refer to it.
    ``kind="builtin"`` names the least-privileged built-in role covering actions a custom role
    cannot hold (``extra_actions``: what it grants beyond the need). ``kind="pim_group"`` is the
    PIM-for-Groups pattern: a role-assignable group holding ``builtin_template_id`` whose
    membership is eligible.
    """

    key: str
    display_name: str
    description: str
    kind: Literal["custom", "builtin", "pim_group"]
    builtin_template_id: str | None = None
    actions: tuple[str, ...]
    extra_actions: tuple[str, ...] = ()
    plane: Plane
    assignable_scopes: tuple[ScopeKind, ...] = ("tenant",)
    tasks: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    risk: RiskSummary
    pim: PimDecision
    split_from: str | None = None
    limitations: tuple[str, ...] = ()


class ScopeChoice(FrozenModel):
    """The narrowest scope that allowed every observed operation of one assignment.

    ``denied_by_narrower`` counts past events each narrower candidate would have denied
    (keyed by a readable candidate label), so the choice is explained, not asserted.
    """

    kind: ScopeKind
    directory_scope_id: str
    display_name: str = ""
    reason: str = ""
    denied_by_narrower: dict[str, int] = Field(default_factory=dict)


class AssignmentProposal(FrozenModel):
    """Principal → role at a scope, eligible (just in time) or active (standing)."""

    principal_id: str
    principal_name: str = ""
    principal_kind: str = "user"
    role_key: str
    scope: ScopeChoice
    assignment_type: Literal["eligible", "active"]
    reason: str = ""


class Exclusion(FrozenModel):
    """A principal deliberately left unchanged (break-glass, directory sync, system)."""

    principal_id: str
    principal_name: str = ""
    kind: Literal["break_glass", "sync_account", "system", "other"]
    reason: str


class AttestationItem(FrozenModel):
    """A right a human must confirm or remove: never audited, held and never used, mapped
    ambiguously, or used once unlike any peer (a one-off left out of the roles)."""

    principal_id: str | None
    action: str
    reason: Literal["unobservable", "held_never_seen", "ambiguous_mapping", "one_off"]
    held_via: str | None = None
    detail: str = ""


class MetricSet(FrozenModel):
    """Quality measures of one way of granting rights (proposal, current state, baseline)."""

    n_roles: int
    n_assignments: int
    wsc: float
    over_privilege: float
    """Risk-weighted granted-but-unused actions, summed over principals."""
    over_privilege_actions: int
    """Granted-but-unused (principal, action) pairs, unweighted."""
    standing_control_plane_hours: float
    coverage: float | None = None
    """Share of the later window's successful operations allowed (None before validation)."""
    denied_operations: int | None = None


class Metrics(FrozenModel):
    """Before/after and baselines on the same data."""

    proposed: MetricSet
    current: MetricSet | None = None
    baselines: dict[str, MetricSet] = Field(default_factory=dict)


class Recommendation(JsonDocument):
    """The full output of ``recommend`` / ``design_roles``."""

    document_kind: ClassVar[str] = "recommendation"
    document_error: ClassVar[type[EntraLPError]] = RecommendationError

    schema_version: Literal[1] = 1
    catalog_version: str
    source: Literal["usage", "design"]
    window_start: datetime | None = None
    window_end: datetime | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    roles: tuple[RoleProposal, ...] = ()
    assignments: tuple[AssignmentProposal, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    attestation: tuple[AttestationItem, ...] = ()
    cannot_express: tuple[str, ...] = ()
    """Plain sentences: boundaries Entra cannot express and what was done instead."""
    metrics: Metrics | None = None

    # ---- look-ups ---------------------------------------------------------------------
    def role(self, key: str) -> RoleProposal:
        """The role with ``key``; ``RecommendationError`` if absent."""
        for r in self.roles:
            if r.key == key:
                return r
        raise RecommendationError(f"no role with key {key!r} in this recommendation")

    def assignments_of(self, principal_id: str) -> tuple[AssignmentProposal, ...]:
        """Every proposed assignment of one principal."""
        return tuple(a for a in self.assignments if a.principal_id == principal_id)
