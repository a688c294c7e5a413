"""Tenant profiles and personas: who administers a simulated tenant, and how.

A :class:`Persona` is a job (helpdesk, app owner, sync account...) defined by catalog task ids,
never by hand-typed action lists: the actions come from ``permission_catalog`` at run time.
A :class:`Profile` names the organisation (domain, regions with their UTC offsets, business
units) and the personas with their share of the administrators.

Tasks are listed most frequent first: a persona's daily work picks them with Zipf-like weights
(rank ``k`` has weight ``1 / k**zipf_s``); ``rare`` tasks happen about once a quarter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from entra_lp.errors import UnknownNameError

__all__ = [
    "PROFILES",
    "Persona",
    "Profile",
    "Region",
    "RoleGrant",
    "get_profile",
]

ScopeKind = Literal["tenant", "administrative_unit", "application"]
PrincipalKind = Literal["user", "service_principal", "managed_identity", "sync_account"]
Schedule = Literal["office", "automation", "sync", "never"]
ScopeSource = Literal["tenant", "region", "business_unit", "app_registrations", "enterprise_apps"]


@dataclass(frozen=True, slots=True)
class Region:
    """A geography: an administrative unit of its users and devices, and a working clock."""

    name: str
    utc_offset_hours: int
    country: str


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """A built-in role a persona holds today (by Microsoft's role name, resolved in the catalog).

    ``scope`` ``"tenant"`` is ``/``; ``"own"`` is the persona's own scope (its AU or apps).
    """

    role: str
    assignment: Literal["active", "eligible"] = "active"
    scope: Literal["tenant", "own"] = "tenant"


@dataclass(frozen=True, slots=True)
class Persona:
    """An administrative job: catalog tasks, delegation scope, volume, timing and roles."""

    name: str
    title: str
    principal: PrincipalKind
    scope: ScopeKind
    scope_source: ScopeSource
    tasks: tuple[str, ...]
    rare: tuple[str, ...] = ()
    weight: float = 1.0
    """Share of the administrators after the minimums are placed."""
    minimum: int = 1
    """Placed first (in profile order) while the admin budget lasts."""
    maximum: int | None = None
    events_per_day: float = 10.0
    """Mean records initiated on an active day (failures included)."""
    session_size: float = 6.0
    """Mean operations per session (burst)."""
    schedule: Schedule = "office"
    roles: tuple[RoleGrant, ...] = ()
    noise_rate: float = 0.25
    """Expected one-off operations outside the persona over 90 days."""
    scope_size: tuple[int, int] = (1, 1)
    """How many AUs / apps an individual's scope spans (min, max)."""
    app_permissions: tuple[str, ...] = ()
    """Microsoft Graph application permissions a workload persona holds today."""

    @property
    def all_tasks(self) -> tuple[str, ...]:
        """Regular tasks then rare tasks."""
        return self.tasks + self.rare


@dataclass(frozen=True, slots=True)
class Profile:
    """An organisation to simulate."""

    name: str
    tenant_name: str
    domain: str
    regions: tuple[Region, ...]
    business_units: tuple[str, ...]
    personas: tuple[Persona, ...]
    start: str = "2025-03-03"
    """First simulated day (UTC date, ISO); a Monday keeps week structure obvious."""
    users_per_admin: int = 20
    max_users: int = 100_000
    noise_pool: tuple[str, ...] = field(default=())
    """Tasks a principal may do once outside its persona (noise)."""


_HELPDESK_ROLES = (RoleGrant("Helpdesk Administrator"),)

CONTOSO_PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="break_glass", title="Emergency access account (never used)",
        principal="user", scope="tenant", scope_source="tenant", tasks=(), minimum=1,
        maximum=2, weight=0.0, events_per_day=0.0, schedule="never",
        roles=(RoleGrant("Global Administrator"),), noise_rate=0.0,
    ),
    Persona(
        name="directory_sync", title="Entra Connect directory synchronization account",
        principal="sync_account", scope="tenant", scope_source="tenant",
        tasks=("users.update-properties", "groups.manage-membership", "users.create",
               "groups.update-properties", "users.delete", "groups.create", "groups.delete"),
        minimum=1, maximum=1, weight=0.0, events_per_day=900.0, session_size=40.0,
        schedule="sync", roles=(RoleGrant("Directory Synchronization Accounts"),),
        noise_rate=0.0,
    ),
    Persona(
        name="global_admin", title="IT generalist holding Global Administrator",
        principal="user", scope="tenant", scope_source="tenant",
        tasks=("users.reset-password-nonadmin", "groups.manage-membership",
               "users.update-properties", "users.create", "roles.manage-role-assignments",
               "enterprise-apps.assign-users", "groups.create"),
        rare=("company-properties.configure", "users.restore-deleted"),
        minimum=1, weight=0.05, events_per_day=20.0,
        roles=(RoleGrant("Global Administrator"),), noise_rate=0.6,
    ),
    Persona(
        name="helpdesk", title="Regional helpdesk",
        principal="user", scope="administrative_unit", scope_source="region",
        tasks=("users.reset-password-nonadmin", "users.revoke-sessions-nonadmins",
               "users.update-authentication-methods", "tap.manage-members"),
        rare=("users.disable-enable",),
        minimum=1, weight=0.30, events_per_day=50.0, session_size=4.0,
        roles=_HELPDESK_ROLES,
    ),
    Persona(
        name="app_owner", title="App registration owner (their apps only)",
        principal="user", scope="application", scope_source="app_registrations",
        tasks=("app-registrations.manage-credentials", "app-registrations.update-properties",
               "app-registrations.manage-api-permissions"),
        rare=("app-registrations.manage-owners",),
        minimum=1, weight=0.12, events_per_day=3.0, session_size=3.0,
        roles=(RoleGrant("Application Administrator"),), scope_size=(1, 3),
    ),
    Persona(
        name="security_operator", title="Security operations (incident response)",
        principal="user", scope="tenant", scope_source="tenant",
        tasks=("users.revoke-sessions-nonadmins", "monitoring.read-sign-in-logs",
               "users.disable-enable", "risky-users.dismiss-events",
               "monitoring.read-audit-logs"),
        rare=("devices.enable-disable",),
        minimum=1, weight=0.06, events_per_day=10.0, session_size=3.0,
        roles=(RoleGrant("Security Administrator", "eligible"),),
    ),
    Persona(
        name="ca_admin", title="Conditional Access policy administrator",
        principal="user", scope="tenant", scope_source="tenant",
        tasks=("conditional-access.manage-policies", "conditional-access.read-configuration",
               "conditional-access.manage-named-locations"),
        rare=("auth-methods.configure-policy",),
        minimum=1, weight=0.03, events_per_day=3.0, session_size=3.0,
        roles=(RoleGrant("Conditional Access Administrator", "eligible"),
               RoleGrant("Security Administrator", "eligible")),
    ),
    Persona(
        name="automation_provisioning", title="HR-driven provisioning automation",
        principal="service_principal", scope="tenant", scope_source="tenant",
        tasks=("users.update-properties", "users.create", "users.assign-license",
               "users.disable-enable"),
        minimum=1, weight=0.01, events_per_day=160.0, session_size=20.0,
        schedule="automation", roles=(RoleGrant("User Administrator"),), noise_rate=0.0,
        app_permissions=("User.ReadWrite.All", "Directory.Read.All"),
    ),
    Persona(
        name="group_manager", title="Business-unit group manager",
        principal="user", scope="administrative_unit", scope_source="business_unit",
        tasks=("groups.manage-membership", "groups.update-properties", "groups.manage-owners"),
        rare=("groups.delete",),
        minimum=1, weight=0.12, events_per_day=22.0, session_size=5.0,
        roles=(RoleGrant("Groups Administrator"),),
    ),
    Persona(
        name="app_assignment_operator", title="Enterprise app assignment operator",
        principal="user", scope="application", scope_source="enterprise_apps",
        tasks=("enterprise-apps.assign-users",), rare=("enterprise-apps.manage-owners",),
        minimum=1, weight=0.06, events_per_day=16.0, session_size=5.0,
        roles=(RoleGrant("Cloud Application Administrator"),), scope_size=(2, 4),
    ),
    Persona(
        name="license_admin", title="License administrator",
        principal="user", scope="tenant", scope_source="tenant",
        tasks=("licenses.assign", "licenses.revoke", "groups.assign-license"),
        rare=("licenses.reprocess-assignments",),
        minimum=1, weight=0.05, events_per_day=18.0, session_size=5.0,
        roles=(RoleGrant("License Administrator"),),
    ),
    Persona(
        name="device_admin", title="Device administrator",
        principal="user", scope="tenant", scope_source="tenant",
        tasks=("devices.read-bitlocker-keys", "devices.enable-disable", "devices.delete"),
        rare=("devices.read-local-admin-password",),
        minimum=1, weight=0.05, events_per_day=12.0, session_size=3.0,
        roles=(RoleGrant("Intune Administrator"),),
    ),
    Persona(
        name="privileged_role_admin", title="Privileged role administrator",
        principal="user", scope="tenant", scope_source="tenant",
        tasks=("roles.manage-role-assignments", "pim.configure-role-settings"),
        rare=("roles.manage-custom-roles",),
        minimum=1, weight=0.02, events_per_day=3.0, session_size=2.0,
        roles=(RoleGrant("Privileged Role Administrator", "eligible"),),
    ),
    Persona(
        name="secret_rotation", title="Managed identity rotating app secrets",
        principal="managed_identity", scope="application", scope_source="app_registrations",
        tasks=("app-registrations.manage-credentials",),
        minimum=1, weight=0.01, events_per_day=2.0, session_size=2.0,
        schedule="automation", roles=(RoleGrant("Application Administrator"),),
        noise_rate=0.0, scope_size=(2, 5), app_permissions=("Application.ReadWrite.OwnedBy",),
    ),
    Persona(
        name="group_automation", title="Group membership automation",
        principal="service_principal", scope="tenant", scope_source="tenant",
        tasks=("groups.manage-membership", "groups.create"),
        minimum=1, weight=0.01, events_per_day=90.0, session_size=15.0,
        schedule="automation", roles=(RoleGrant("Global Administrator"),), noise_rate=0.0,
        app_permissions=("Directory.ReadWrite.All", "GroupMember.ReadWrite.All"),
    ),
    Persona(
        name="user_admin", title="Identity lifecycle administrator",
        principal="user", scope="tenant", scope_source="tenant",
        tasks=("users.update-properties", "users.create", "users.assign-license", "users.delete",
               "users.invite-guest"),
        rare=("users.restore-deleted",),
        minimum=1, weight=0.12, events_per_day=26.0, session_size=5.0,
        roles=(RoleGrant("User Administrator"),),
    ),
)

CONTOSO = Profile(
    name="contoso",
    tenant_name="Contoso",
    domain="contoso.com",
    regions=(
        Region("EMEA", 1, "DE"),
        Region("Americas", -5, "US"),
        Region("APAC", 8, "SG"),
    ),
    business_units=("Finance", "Sales", "Engineering", "Operations", "Marketing"),
    personas=CONTOSO_PERSONAS,
    noise_pool=("groups.create", "users.update-properties", "groups.update-properties",
                "users.reset-password-nonadmin", "app-registrations.update-properties",
                "groups.manage-membership", "users.assign-license"),
)

PROFILES: dict[str, Profile] = {CONTOSO.name: CONTOSO}
"""Known profiles by name."""


def get_profile(profile: str | Profile) -> Profile:
    """A profile by name (``UnknownNameError`` suggests close names) or as given."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise UnknownNameError("simulation profile", profile, PROFILES) from None
