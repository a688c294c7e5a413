"""Desired state: the custom roles, PIM assignments and PIM policies a tenant should have.

``DesiredState`` is what a recommendation becomes before it is planned against a live tenant
(:meth:`entra_lp.tenant.Tenant.plan`) or exported as code. It is plain data with a JSON
round-trip; :func:`validate_desired` checks it against Entra's rules offline (no tenant
needed), so a design workshop sees every violation before anything is sent anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol

from pydantic import Field, field_validator, model_validator

from .._models import FrozenModel, JsonDocument
from ..directory import PimSettings

__all__ = [
    "AssignmentSpec",
    "CatalogLike",
    "DesiredState",
    "EntraLimits",
    "PolicySpec",
    "RoleSpec",
    "ScopeKind",
    "Violation",
    "scope_kind",
    "validate_desired",
]

ScopeKind = Literal["tenant", "administrative_unit", "application"]

_AU_SCOPE = re.compile(r"^/administrativeUnits/[^/\s]+$")
_OBJECT_SCOPE = re.compile(r"^/[^/\s]+$")


def scope_kind(directory_scope_id: str) -> ScopeKind:
    """Classify a ``directoryScopeId``: ``/``, ``/administrativeUnits/<id>`` or ``/<objectId>``.

    An object scope is reported as ``"application"``: for custom directory roles the only
    object scope Entra accepts is an app registration (or enterprise app).
    """
    if directory_scope_id == "/":
        return "tenant"
    if _AU_SCOPE.match(directory_scope_id):
        return "administrative_unit"
    if _OBJECT_SCOPE.match(directory_scope_id):
        return "application"
    raise ValueError(
        f"directory_scope_id {directory_scope_id!r} is not '/', '/administrativeUnits/<id>' "
        "or '/<objectId>'"
    )




class RoleSpec(FrozenModel):
    """A custom role definition to create or keep up to date (matched by display name)."""

    display_name: str = Field(min_length=1, max_length=256)
    description: str = ""
    actions: tuple[str, ...]
    template_id: str | None = None
    is_enabled: bool = True

    @field_validator("actions")
    @classmethod
    def _sorted_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(value)))

    @field_validator("display_name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        # Plans refer to roles they create as ``${role:<name>}``; keep that unambiguous.
        if "${" in value or "}" in value:
            raise ValueError(f"display name {value!r} must not contain '${{' or '}}'")
        return value


class AssignmentSpec(FrozenModel):
    """A PIM assignment of a role to a principal at a scope.

    ``kind="eligible"`` creates an eligibility (activated just in time); ``"active"`` a
    standing assignment. Give at most one of ``duration`` (from ``start`` or from when it is
    applied) and ``expiry``; neither means permanent, which the role's PIM policy may forbid.
    """

    principal_id: str = Field(min_length=1)
    role_display_name: str = Field(min_length=1)
    directory_scope_id: str = "/"
    kind: Literal["eligible", "active"] = "eligible"
    duration: timedelta | None = None
    start: datetime | None = None
    expiry: datetime | None = None
    justification: str = "Assigned by entra-lp from a reviewed desired state"

    @field_validator("directory_scope_id")
    @classmethod
    def _scope(cls, value: str) -> str:
        scope_kind(value)
        return value

    @field_validator("start", "expiry")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware (UTC)")
        return value

    @model_validator(mode="after")
    def _one_end(self) -> AssignmentSpec:
        if self.duration is not None and self.expiry is not None:
            raise ValueError("give either duration or expiry, not both")
        return self

    @property
    def scope(self) -> ScopeKind:
        """The scope kind of ``directory_scope_id``."""
        return scope_kind(self.directory_scope_id)

    @property
    def length(self) -> timedelta | None:
        """How long the assignment lasts, when that is known without a clock."""
        if self.duration is not None:
            return self.duration
        if self.expiry is not None and self.start is not None:
            return self.expiry - self.start
        return None


class PolicySpec(FrozenModel):
    """The PIM settings a role (by display name) should have."""

    role_display_name: str = Field(min_length=1)
    settings: PimSettings


class DesiredState(JsonDocument):
    """Roles, assignments and policies a tenant should have; JSON round-trips exactly
    (durations as ISO 8601)."""

    document_kind: ClassVar[str] = "desired state"
    roles: tuple[RoleSpec, ...] = ()
    assignments: tuple[AssignmentSpec, ...] = ()
    policies: tuple[PolicySpec, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> DesiredState:
        _no_duplicates((r.display_name for r in self.roles), "role display name")
        _no_duplicates((p.role_display_name for p in self.policies), "policy for role")
        return self

    def role(self, display_name: str) -> RoleSpec | None:
        """The desired role with this display name (case-insensitive), if any."""
        key = display_name.casefold()
        return next((r for r in self.roles if r.display_name.casefold() == key), None)

    def policy(self, display_name: str) -> PolicySpec | None:
        """The desired policy of the role with this display name, if any."""
        key = display_name.casefold()
        return next((p for p in self.policies if p.role_display_name.casefold() == key), None)


def _no_duplicates(names: Iterable[str], what: str) -> None:
    seen: dict[str, str] = {}
    for name in names:
        key = name.casefold()
        if key in seen:
            raise ValueError(f"duplicate {what}: {name!r} (also given as {seen[key]!r})")
        seen[key] = name


# ---- Entra's rules ------------------------------------------------------------------------
class Violation(FrozenModel):
    """One broken rule: ``code`` (stable, machine-readable), ``subject`` and a sentence.

    ``severity="error"`` blocks applying; ``"warning"`` (e.g. a redundant action) does not.
    """

    code: str
    subject: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        tag = self.code if self.severity == "error" else f"{self.code}, warning"
        return f"[{tag}] {self.subject}: {self.message}"


class CatalogLike(Protocol):
    """What planning needs from ``permission_catalog.Catalog``."""

    def check_custom_role(self, actions: Iterable[str], scope: str) -> Sequence[object]:
        """Violations of Entra's custom-role rules for these actions at this scope kind."""
        ...


@dataclass(frozen=True)
class EntraLimits:
    """Entra / PIM limits the plan checks before any call.

    Defaults are the documented values (Entra service limits; PIM "assign roles" and
    "change default settings" articles, as recorded in ``../shared/sources/entra/limits.json``).
    :meth:`from_catalog` takes them from the permission catalog when it provides them.
    """

    max_custom_roles: int = 100
    min_assignment: timedelta = timedelta(minutes=5)
    min_activation_hours: int = 1
    max_activation_hours: int = 24
    max_notification_recipients: int = 1000

    @classmethod
    def from_catalog(cls, catalog: object | None) -> EntraLimits:
        """Take the limits from ``catalog.limits`` (``permission_catalog``) where present."""
        limits = getattr(catalog, "limits", None)
        if not isinstance(limits, Mapping):
            return cls()
        values: dict[str, Any] = {}
        if isinstance(n := _limit(limits, "max_custom_roles"), int):
            values["max_custom_roles"] = n
        if isinstance(n := _limit(limits, "pim_min_assignment_minutes"), int):
            values["min_assignment"] = timedelta(minutes=n)
        if isinstance(n := _limit(limits, "pim_max_notification_recipients"), int):
            values["max_notification_recipients"] = n
        span = _limit(limits, "pim_activation_max_hours_range")
        if isinstance(span, list | tuple) and len(span) == 2:
            values["min_activation_hours"], values["max_activation_hours"] = map(int, span)
        return replace(cls(), **values)


def _limit(limits: Mapping[str, Any], key: str) -> Any:
    # The catalog holds Limit records (``.value``); plain values are accepted too.
    item = limits.get(key)
    return getattr(item, "value", item)


_CREATE_VERBS = frozenset({"create", "createAsOwner"})


def _create_actions(actions: Iterable[str], scope: str) -> list[str]:
    """Creates that cannot take effect at ``scope``: creating a directory object is
    tenant-wide only; a sub-object create (an authentication method of a user) follows its
    parent (the catalog's delegation rule, readable from the name alone)."""
    from permission_catalog.tasks import delegable_scopes

    return [a for a in actions if a.count("/") >= 2 and a.rsplit("/", 1)[-1] in _CREATE_VERBS
            and scope not in delegable_scopes(a)]


def validate_desired(
    desired: DesiredState,
    catalog: CatalogLike | None = None,
    *,
    limits: EntraLimits | None = None,
    approver_types: Mapping[str, str] | None = None,
    current_policies: Mapping[str, PimSettings] | None = None,
) -> list[Violation]:
    """Every violation of Entra's rules visible without a tenant (``[]`` = valid).

    ``catalog`` (a ``permission_catalog.Catalog``) adds its per-action custom-role checks at
    each scope a role is assigned at. ``current_policies`` (role display name → settings)
    lets assignments be checked against policies the desired state does not change.
    Output is sorted, hence deterministic.
    """
    lim = limits or EntraLimits.from_catalog(catalog)
    out: list[Violation] = []
    out += _check_roles(desired, catalog, lim)
    out += _check_assignments(desired, lim, current_policies or {})
    out += _check_policies(desired, lim, approver_types)
    unique = {(v.code, v.subject, v.message): v for v in out}
    return [unique[k] for k in sorted(unique)]


def _scopes_of(desired: DesiredState, role: RoleSpec) -> set[ScopeKind]:
    key = role.display_name.casefold()
    scopes = {a.scope for a in desired.assignments if a.role_display_name.casefold() == key}
    return scopes or {"tenant"}


def _check_roles(
    desired: DesiredState, catalog: CatalogLike | None, lim: EntraLimits
) -> list[Violation]:
    out: list[Violation] = []
    if len(desired.roles) > lim.max_custom_roles:
        out.append(
            Violation(
                code="too_many_custom_roles",
                subject="desired state",
                message=f"{len(desired.roles)} custom roles; Entra allows {lim.max_custom_roles} "
                "per tenant",
            )
        )
    for role in desired.roles:
        subject = f"role {role.display_name!r}"
        if not role.actions and catalog is None:  # the catalog reports empty_role itself
            out.append(
                Violation(
                    code="empty_role",
                    subject=subject,
                    message="a custom role needs at least one action",
                )
            )
        for scope in sorted(_scopes_of(desired, role)):
            if catalog is None:
                out += _structural(role, scope, subject)
                continue
            for v in catalog.check_custom_role(role.actions, scope):
                severity = "warning" if getattr(v, "severity", "error") == "warning" else "error"
                out.append(
                    Violation(
                        code=str(getattr(v, "rule", "custom-role")),
                        subject=subject,
                        message=f"at {scope} scope: {_describe(v)}",
                        severity=severity,
                    )
                )
    return out


def _describe(violation: object) -> str:
    action, message = getattr(violation, "action", None), getattr(violation, "message", None)
    if message is None:
        return str(violation)
    return f"{action}: {message}" if action else str(message)


def _structural(role: RoleSpec, scope: ScopeKind, subject: str) -> list[Violation]:
    """Without a catalog: the one rule readable from action names alone."""
    creates = _create_actions(role.actions, scope)
    if scope == "tenant" or not creates:
        return []
    return [
        Violation(
            code="create_at_non_tenant_scope",
            subject=subject,
            message=f"assigned at {scope} scope but holds {creates}; create permissions take "
            "effect only at tenant scope",
        )
    ]


def _check_assignments(
    desired: DesiredState, lim: EntraLimits, current: Mapping[str, PimSettings]
) -> list[Violation]:
    out: list[Violation] = []
    for a in desired.assignments:
        subject = f"assignment {a.principal_id} → {a.role_display_name!r} at {a.directory_scope_id}"
        length = a.length
        if length is not None and length < lim.min_assignment:
            out.append(
                Violation(
                    code="assignment_too_short",
                    subject=subject,
                    message=f"lasts {length}; PIM assignments last at least {lim.min_assignment}",
                )
            )
        policy = desired.policy(a.role_display_name)
        settings = policy.settings if policy else current.get(a.role_display_name.casefold())
        if settings is not None:
            out += _against_policy(a, settings, subject)
    return out


def _against_policy(a: AssignmentSpec, s: PimSettings, subject: str) -> list[Violation]:
    days = s.eligibility_expiry_days if a.kind == "eligible" else s.active_assignment_expiry_days
    if days is None:
        return []
    if a.duration is None and a.expiry is None:
        return [
            Violation(
                code="permanent_not_allowed",
                subject=subject,
                message=f"permanent {a.kind} assignment, but the role's policy requires expiry "
                f"within {days} days",
            )
        ]
    length = a.length
    if length is not None and length > timedelta(days=days):
        return [
            Violation(
                code="assignment_too_long",
                subject=subject,
                message=f"lasts {length}; the role's policy allows at most {days} days",
            )
        ]
    return []


def _check_policies(
    desired: DesiredState, lim: EntraLimits, approver_types: Mapping[str, str] | None
) -> list[Violation]:
    out: list[Violation] = []
    for p in desired.policies:
        s, subject = p.settings, f"policy of {p.role_display_name!r}"
        if not lim.min_activation_hours <= s.max_activation_hours <= lim.max_activation_hours:
            out.append(
                Violation(
                    code="activation_hours",
                    subject=subject,
                    message=f"max activation {s.max_activation_hours} h; PIM allows "
                    f"{lim.min_activation_hours}–{lim.max_activation_hours} h",
                )
            )
        if s.require_mfa and s.authentication_context:
            out.append(
                Violation(
                    code="mfa_and_auth_context",
                    subject=subject,
                    message="PIM offers MFA or a Conditional Access authentication context on "
                    "activation, not both; enforce MFA in the CA policy instead",
                )
            )
        if len(s.notify_on_activation) > lim.max_notification_recipients:
            out.append(
                Violation(
                    code="too_many_recipients",
                    subject=subject,
                    message=f"{len(s.notify_on_activation)} notification recipients; at most "
                    f"{lim.max_notification_recipients}",
                )
            )
        for approver in s.approvers if s.require_approval else ():
            kind = approver.partition(":")[0] if ":" in approver else None
            if kind not in ("user", "group") and approver not in (approver_types or {}):
                out.append(
                    Violation(
                        code="approver_type",
                        subject=subject,
                        message=f"approver {approver!r} must be 'user:<id>' or 'group:<id>' "
                        "(or exist in the tenant)",
                    )
                )
    return out
