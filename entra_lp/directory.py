"""Directory snapshot: the tenant's objects, scopes, role assignments and PIM policies.

A :class:`DirectorySnapshot` is what ``recommend`` needs besides usage to choose scopes
(administrative units, app registrations), to see current privilege (assignments,
eligibility) and to respect existing PIM policies. It comes from a live tenant
(``entra_lp.tenant``), from the simulator, or from a JSON file written by either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, Literal, Self

from pydantic import Field

from ._models import FrozenModel, JsonDocument

__all__ = [
    "AdministrativeUnit",
    "Application",
    "Device",
    "DirectorySnapshot",
    "Group",
    "MemberRef",
    "PimSettings",
    "RoleAssignment",
    "RoleDefinitionRecord",
    "ServicePrincipal",
    "User",
]

ObjectType = Literal["user", "group", "device", "servicePrincipal", "application"]




class User(FrozenModel):
    """A user account."""

    id: str
    user_principal_name: str
    display_name: str = ""
    account_enabled: bool = True
    on_premises_sync_enabled: bool = False
    user_type: Literal["Member", "Guest"] = "Member"


class Group(FrozenModel):
    """A group; ``is_role_assignable`` groups can hold directory roles."""

    id: str
    display_name: str
    is_role_assignable: bool = False
    members: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()


class Device(FrozenModel):
    """A device object."""

    id: str
    display_name: str


class Application(FrozenModel):
    """An app registration (``id`` is the object id; ``app_id`` the client id)."""

    id: str
    app_id: str
    display_name: str
    owners: tuple[str, ...] = ()


class ServicePrincipal(FrozenModel):
    """An enterprise app / service principal / managed identity."""

    id: str
    app_id: str
    display_name: str
    service_principal_type: Literal["Application", "ManagedIdentity", "Legacy", "SocialIdp"] = (
        "Application"
    )
    owners: tuple[str, ...] = ()
    application_permissions: tuple[str, ...] = ()
    """Microsoft Graph application permissions granted to it (e.g. ``User.ReadWrite.All``)."""


class MemberRef(FrozenModel):
    """A typed reference to a directory object (AU members)."""

    type: ObjectType
    id: str


class AdministrativeUnit(FrozenModel):
    """An administrative unit and its members (users, groups, devices)."""

    id: str
    display_name: str
    members: tuple[MemberRef, ...] = ()
    is_member_management_restricted: bool = False


class RoleDefinitionRecord(FrozenModel):
    """A custom role definition that already exists in the tenant."""

    id: str
    display_name: str
    allowed_resource_actions: tuple[str, ...]
    description: str = ""
    is_enabled: bool = True
    template_id: str | None = None


class RoleAssignment(FrozenModel):
    """A directory-role assignment: active (standing or activated) or PIM-eligible.

    ``role_definition_id`` is a built-in template id or a custom role id.
    ``directory_scope_id`` is ``/`` (tenant), ``/administrativeUnits/<id>`` or ``/<objectId>``.
    ``end`` is ``None`` for permanent assignments.
    """

    principal_id: str
    role_definition_id: str
    directory_scope_id: str = "/"
    assignment_type: Literal["active", "eligible"] = "active"
    start: datetime | None = None
    end: datetime | None = None
    via_group_id: str | None = None


class PimSettings(FrozenModel):
    """The PIM role settings entra-lp reasons about (a summary of the policy's rules).

    Durations are whole minutes/hours/days so they round-trip exactly to ISO 8601.
    """

    eligible: bool = True
    max_activation_hours: int = Field(8, ge=1, le=24)
    require_mfa: bool = True
    authentication_context: str | None = None
    require_justification: bool = True
    require_ticket: bool = False
    require_approval: bool = False
    approvers: tuple[str, ...] = ()
    """Approvers as ``user:<objectId>`` or ``group:<objectId>`` (Graph needs the kind)."""
    eligibility_expiry_days: int | None = 365
    active_assignment_expiry_days: int | None = 180
    notify_on_activation: tuple[str, ...] = ()


class DirectorySnapshot(JsonDocument):
    """Everything ``recommend`` may use about a tenant besides its audit logs."""

    document_kind: ClassVar[str] = "directory snapshot"

    tenant_id: str = ""
    taken_at: datetime | None = None
    users: tuple[User, ...] = ()
    groups: tuple[Group, ...] = ()
    devices: tuple[Device, ...] = ()
    applications: tuple[Application, ...] = ()
    service_principals: tuple[ServicePrincipal, ...] = ()
    administrative_units: tuple[AdministrativeUnit, ...] = ()
    custom_role_definitions: tuple[RoleDefinitionRecord, ...] = ()
    role_assignments: tuple[RoleAssignment, ...] = ()
    pim_policies: dict[str, PimSettings] = Field(default_factory=dict)
    """Current PIM settings keyed by role definition id (tenant-scope policy)."""
    warnings: tuple[str, ...] = ()
    """Sections left out or incomplete when the snapshot was taken (e.g. a read was forbidden)."""

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy (optionally updating fields) without carrying over cached look-ups."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _CACHED_LOOKUPS:
            copied.__dict__.pop(name, None)
        return copied

    # ---- look-ups -------------------------------------------------------------------
    @cached_property
    def object_types(self) -> dict[str, ObjectType]:
        """Object id → type for every object in the snapshot."""
        out: dict[str, ObjectType] = {}
        kinds: list[tuple[ObjectType, Iterable[FrozenModel]]] = [
            ("user", self.users),
            ("group", self.groups),
            ("device", self.devices),
            ("application", self.applications),
            ("servicePrincipal", self.service_principals),
        ]
        for kind, objects in kinds:
            for obj in objects:
                out[obj.id] = kind  # type: ignore[attr-defined]
        return out

    @cached_property
    def administrative_units_of(self) -> dict[str, frozenset[str]]:
        """Object id → ids of the administrative units it is a member of."""
        acc: dict[str, set[str]] = {}
        for au in self.administrative_units:
            for m in au.members:
                acc.setdefault(m.id, set()).add(au.id)
        return {k: frozenset(v) for k, v in acc.items()}

    @cached_property
    def application_by_app_id(self) -> dict[str, Application]:
        """Client (app) id → app registration."""
        return {a.app_id: a for a in self.applications}

    @cached_property
    def service_principal_by_id(self) -> dict[str, ServicePrincipal]:
        """Object id → service principal."""
        return {s.id: s for s in self.service_principals}

    def assignments_of(self, principal_id: str) -> list[RoleAssignment]:
        """Every assignment (active or eligible) held by ``principal_id`` directly."""
        return [a for a in self.role_assignments if a.principal_id == principal_id]


_CACHED_LOOKUPS = tuple(
    name for name, value in vars(DirectorySnapshot).items() if isinstance(value, cached_property)
)
