"""Read-only Graph calls and their conversion to entra-lp's models.

Each reader names its least-privileged Graph permission in :data:`PERMISSIONS` (from the
Graph API reference pages); a 403 error message quotes it. All functions are coroutines
over :class:`~entra_lp.tenant._http.GraphHttp`; :class:`~entra_lp.tenant.Tenant` runs them
synchronously. Results are sorted, so the same tenant state gives the same output.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast
from urllib.parse import quote

from ..directory import (
    AdministrativeUnit,
    Application,
    Device,
    DirectorySnapshot,
    Group,
    MemberRef,
    PimSettings,
    RoleAssignment,
    RoleDefinitionRecord,
    ServicePrincipal,
    User,
)
from ..export.graph import (
    PERMISSIONS,
    POLICY_ASSIGNMENTS_PATH,
    ROLE_DEFINITIONS_PATH,
    settings_from_rules,
)
from ._http import GraphError, GraphHttp

__all__ = [
    "PERMISSIONS",
    "SNAPSHOT_SECTIONS",
    "RolePolicy",
    "TenantWarning",
    "parse_graph_datetime",
]

# PERMISSIONS lives with the Graph request knowledge in the export stage (no import cycle).


SNAPSHOT_SECTIONS = (
    "users",
    "groups",
    "devices",
    "applications",
    "service_principals",
    "administrative_units",
    "custom_role_definitions",
    "role_assignments",
    "pim_policies",
)

POLICY_FILTER = "scopeId eq '/' and scopeType eq 'DirectoryRole'"


class TenantWarning(UserWarning):
    """A part of the tenant could not be read and was left out (``on_forbidden="warn"``)."""


T = TypeVar("T")

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_graph_datetime(value: object) -> datetime | None:
    """Graph timestamps (``...Z``, 0–7 fractional digits) as aware UTC datetimes."""
    if not isinstance(value, str) or not value:
        return None
    text = _FRACTION.sub(r"\1", value.replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---- role management ----------------------------------------------------------------------
async def role_definitions(http: GraphHttp, api: str = "v1.0") -> list[dict[str, Any]]:
    """Every role definition (built-in and custom), Graph-shaped, sorted by id."""
    items = await http.collect(
        ROLE_DEFINITIONS_PATH, api=api, permission=PERMISSIONS["role_definitions"]
    )
    return sorted(items, key=lambda d: str(d.get("id")))


async def resource_actions(
    http: GraphHttp, namespace: str = "microsoft.directory", api: str = "beta"
) -> list[dict[str, Any]]:
    """Every resource action of a namespace, Graph-shaped, sorted by name."""
    path = f"/roleManagement/directory/resourceNamespaces/{namespace}/resourceActions"
    items = await http.collect(path, api=api, permission=PERMISSIONS["resource_actions"])
    return sorted(items, key=lambda d: str(d.get("name")))


def _actions_of(definition: Mapping[str, Any]) -> tuple[str, ...]:
    out: set[str] = set()
    for perm in definition.get("rolePermissions") or []:
        out.update(perm.get("allowedResourceActions") or [])
    return tuple(sorted(out))


def custom_roles(definitions: Iterable[Mapping[str, Any]]) -> list[RoleDefinitionRecord]:
    """The custom (not built-in) definitions as snapshot records."""
    return [
        RoleDefinitionRecord(
            id=str(d["id"]),
            display_name=str(d.get("displayName") or ""),
            allowed_resource_actions=_actions_of(d),
            description=str(d.get("description") or ""),
            is_enabled=bool(d.get("isEnabled", True)),
            template_id=d.get("templateId"),
        )
        for d in definitions
        if not d.get("isBuiltIn")
    ]


def _assignment(item: Mapping[str, Any], kind: Literal["active", "eligible"]) -> RoleAssignment:
    schedule = item.get("scheduleInfo") or {}
    expiration = schedule.get("expiration") or {}
    return RoleAssignment(
        principal_id=str(item.get("principalId")),
        role_definition_id=str(item.get("roleDefinitionId")),
        directory_scope_id=str(item.get("directoryScopeId") or "/"),
        assignment_type=kind,
        start=parse_graph_datetime(item.get("startDateTime") or schedule.get("startDateTime")),
        end=parse_graph_datetime(item.get("endDateTime") or expiration.get("endDateTime")),
    )


def _sort_assignments(items: Iterable[RoleAssignment]) -> list[RoleAssignment]:
    def key(a: RoleAssignment) -> tuple[str, ...]:
        return (
            a.principal_id,
            a.role_definition_id,
            a.directory_scope_id,
            a.assignment_type,
            a.start.isoformat() if a.start else "",
            a.end.isoformat() if a.end else "",
        )

    unique = {key(a): a for a in items}
    return [unique[k] for k in sorted(unique)]


async def role_assignments(http: GraphHttp) -> list[RoleAssignment]:
    """Active assignments from ``roleAssignments`` (works without PIM licences)."""
    items = await http.collect(
        "/roleManagement/directory/roleAssignments", permission=PERMISSIONS["role_assignments"]
    )
    return _sort_assignments(_assignment(i, "active") for i in items)


async def eligibility_schedules(http: GraphHttp) -> list[RoleAssignment]:
    """PIM eligibilities (with their start and end)."""
    items = await http.collect(
        "/roleManagement/directory/roleEligibilitySchedules",
        permission=PERMISSIONS["eligibility_schedules"],
    )
    return _sort_assignments(_assignment(i, "eligible") for i in items)


async def active_schedule_instances(http: GraphHttp) -> list[RoleAssignment]:
    """Active assignments now in force: standing, time-bound and activated ones."""
    items = await http.collect(
        "/roleManagement/directory/roleAssignmentScheduleInstances",
        permission=PERMISSIONS["active_schedule_instances"],
    )
    return _sort_assignments(_assignment(i, "active") for i in items)


@dataclass(frozen=True)
class RolePolicy:
    """A role's PIM policy: ids, the raw rules (Graph JSON) and their summary."""

    policy_id: str
    role_definition_id: str
    rules: tuple[dict[str, Any], ...]
    settings: PimSettings

    def rule(self, rule_id: str) -> dict[str, Any] | None:
        """The current rule with this id, if the policy has it."""
        return next((r for r in self.rules if r.get("id") == rule_id), None)


async def role_management_policies(
    http: GraphHttp, role_definition_id: str | None = None
) -> list[RolePolicy]:
    """Tenant-scope PIM policies of directory roles, rules expanded, sorted by role id."""
    flt = POLICY_FILTER
    if role_definition_id:
        flt += f" and roleDefinitionId eq '{role_definition_id}'"
    items = await http.collect(
        POLICY_ASSIGNMENTS_PATH,
        {"$filter": flt, "$expand": "policy($expand=rules)"},
        permission=PERMISSIONS["role_management_policies"],
    )
    out = []
    for item in items:
        policy = item.get("policy") or {}
        rules = tuple(policy.get("rules") or [])
        out.append(
            RolePolicy(
                policy_id=str(item.get("policyId") or policy.get("id")),
                role_definition_id=str(item.get("roleDefinitionId")),
                rules=rules,
                settings=settings_from_rules(rules),
            )
        )
    return sorted(out, key=lambda p: (p.role_definition_id, p.policy_id))


# ---- directory objects --------------------------------------------------------------------
def _owner_ids(item: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(str(o.get("id")) for o in item.get("owners") or [] if o.get("id")))


async def users(http: GraphHttp) -> list[User]:
    """Users with the properties the recommender uses."""
    items = await http.collect(
        "/users",
        {
            "$select": "id,userPrincipalName,displayName,accountEnabled,"
            "onPremisesSyncEnabled,userType",
        },
        permission=PERMISSIONS["users"],
    )
    return sorted(
        (
            User(
                id=str(u["id"]),
                user_principal_name=str(u.get("userPrincipalName") or ""),
                display_name=str(u.get("displayName") or ""),
                account_enabled=u.get("accountEnabled") is not False,
                on_premises_sync_enabled=bool(u.get("onPremisesSyncEnabled")),
                user_type="Guest" if u.get("userType") == "Guest" else "Member",
            )
            for u in items
        ),
        key=lambda u: u.id,
    )


async def _member_ids(http: GraphHttp, path: str, permission: str) -> list[dict[str, Any]]:
    return await http.collect(path, {"$select": "id"}, permission=permission)


async def groups(http: GraphHttp) -> list[Group]:
    """Groups; members are read for role-assignable groups only (those can hold roles)."""
    items = await http.collect(
        "/groups",
        {"$select": "id,displayName,isAssignableToRole"},
        permission=PERMISSIONS["groups"],
    )
    assignable = [g for g in items if g.get("isAssignableToRole")]
    members = await _gather(
        [_member_ids(http, f"/groups/{g['id']}/members", PERMISSIONS["groups"]) for g in assignable]
    )
    by_group = {g["id"]: m for g, m in zip(assignable, members, strict=True)}
    return sorted(
        (
            Group(
                id=str(g["id"]),
                display_name=str(g.get("displayName") or ""),
                is_role_assignable=bool(g.get("isAssignableToRole")),
                members=tuple(sorted(str(m["id"]) for m in by_group.get(g["id"], []))),
            )
            for g in items
        ),
        key=lambda g: g.id,
    )


async def devices(http: GraphHttp) -> list[Device]:
    """Devices (id and name)."""
    items = await http.collect(
        "/devices", {"$select": "id,displayName"}, permission=PERMISSIONS["devices"]
    )
    return sorted(
        (Device(id=str(d["id"]), display_name=str(d.get("displayName") or "")) for d in items),
        key=lambda d: d.id,
    )


async def applications(http: GraphHttp) -> list[Application]:
    """App registrations with their owners."""
    items = await http.collect(
        "/applications",
        {"$select": "id,appId,displayName", "$expand": "owners($select=id)"},
        permission=PERMISSIONS["applications"],
    )
    return sorted(
        (
            Application(
                id=str(a["id"]),
                app_id=str(a.get("appId") or ""),
                display_name=str(a.get("displayName") or ""),
                owners=_owner_ids(a),
            )
            for a in items
        ),
        key=lambda a: a.id,
    )


_SP_TYPES = ("Application", "ManagedIdentity", "Legacy", "SocialIdp")


async def service_principals(http: GraphHttp) -> list[ServicePrincipal]:
    """Service principals (enterprise apps, managed identities) with their owners."""
    items = await http.collect(
        "/servicePrincipals",
        {"$select": "id,appId,displayName,servicePrincipalType", "$expand": "owners($select=id)"},
        permission=PERMISSIONS["service_principals"],
    )
    out = []
    for s in items:
        kind = s.get("servicePrincipalType")
        out.append(
            ServicePrincipal(
                id=str(s["id"]),
                app_id=str(s.get("appId") or ""),
                display_name=str(s.get("displayName") or ""),
                service_principal_type=cast(Any, kind if kind in _SP_TYPES else "Application"),
                owners=_owner_ids(s),
            )
        )
    return sorted(out, key=lambda s: s.id)


_MEMBER_TYPES = {"user": "user", "group": "group", "device": "device"}


def _member_ref(item: Mapping[str, Any]) -> MemberRef | None:
    kind = str(item.get("@odata.type", "")).rsplit(".", 1)[-1]
    mapped = _MEMBER_TYPES.get(kind)
    return MemberRef(type=cast(Any, mapped), id=str(item["id"])) if mapped else None


async def administrative_units(http: GraphHttp) -> list[AdministrativeUnit]:
    """Administrative units with their (user, group, device) members."""
    perm = PERMISSIONS["administrative_units"]
    items = await http.collect(
        "/directory/administrativeUnits",
        {"$select": "id,displayName,isMemberManagementRestricted"},
        permission=perm,
    )
    members = await _gather(
        [
            http.collect(
                f"/directory/administrativeUnits/{au['id']}/members",
                {"$select": "id"},
                permission=perm,
            )
            for au in items
        ]
    )
    out = []
    for au, mems in zip(items, members, strict=True):
        refs = sorted((r for r in map(_member_ref, mems) if r), key=lambda r: (r.type, r.id))
        out.append(
            AdministrativeUnit(
                id=str(au["id"]),
                display_name=str(au.get("displayName") or ""),
                members=tuple(refs),
                is_member_management_restricted=bool(au.get("isMemberManagementRestricted")),
            )
        )
    return sorted(out, key=lambda a: a.id)


async def tenant_id(http: GraphHttp) -> str:
    """The tenant (organization) id."""
    items = await http.collect(
        "/organization", {"$select": "id"}, permission=PERMISSIONS["organization"]
    )
    return str(items[0]["id"]) if items else ""


async def directory_object(http: GraphHttp, object_id: str) -> dict[str, Any] | None:
    """One directory object (any type) or ``None`` when it does not exist."""
    try:
        resp = await http.request(
            "GET",
            f"/directoryObjects/{quote(object_id, safe='')}",
            permission=PERMISSIONS["directory_objects"],
        )
    except GraphError as exc:
        if exc.status == 404:
            return None
        raise
    return resp.data if isinstance(resp.data, dict) else None


# ---- snapshot -----------------------------------------------------------------------------
async def _gather(coros: list[Awaitable[T]], limit: int = 4) -> list[T]:
    """Run ``coros`` with at most ``limit`` in flight (polite to Graph's throttling)."""
    gate = asyncio.Semaphore(limit)

    async def one(c: Awaitable[T]) -> T:
        async with gate:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def _guard(name: str, factory: Callable[[], Awaitable[T]], empty: T, on_forbidden: str) -> T:
    try:
        return await factory()
    except GraphError as exc:
        if on_forbidden != "warn" or exc.status not in (400, 403):
            raise
        warnings.warn(TenantWarning(f"{name} left out of the snapshot: {exc}"), stacklevel=2)
        return empty


async def _assignments_for_snapshot(http: GraphHttp, on_forbidden: str) -> list[RoleAssignment]:
    # Schedule instances include standing, time-bound and activated assignments; tenants
    # without PIM (licence or permission) fall back to plain roleAssignments.
    try:
        active = await active_schedule_instances(http)
    except GraphError as exc:
        if exc.status not in (400, 403):
            raise
        active = await role_assignments(http)
    no_eligible: list[RoleAssignment] = []
    eligible = await _guard(
        "eligibility schedules", lambda: eligibility_schedules(http), no_eligible, on_forbidden
    )
    return _sort_assignments([*active, *eligible])


async def _policies_for_snapshot(http: GraphHttp) -> dict[str, PimSettings]:
    return {p.role_definition_id: p.settings for p in await role_management_policies(http)}


async def directory_snapshot(
    http: GraphHttp,
    include: Iterable[str] = SNAPSHOT_SECTIONS,
    on_forbidden: Literal["raise", "warn"] = "raise",
    taken_at: datetime | None = None,
) -> DirectorySnapshot:
    """Read the sections in ``include`` into a :class:`DirectorySnapshot`."""
    wanted = set(include)
    unknown = wanted - set(SNAPSHOT_SECTIONS)
    if unknown:
        from ..errors import UnknownNameError

        raise UnknownNameError("snapshot section", sorted(unknown)[0], SNAPSHOT_SECTIONS)
    readers: dict[str, Callable[[], Awaitable[Any]]] = {
        "users": lambda: users(http),
        "groups": lambda: groups(http),
        "devices": lambda: devices(http),
        "applications": lambda: applications(http),
        "service_principals": lambda: service_principals(http),
        "administrative_units": lambda: administrative_units(http),
        "custom_role_definitions": lambda: _custom_roles(http),
        "role_assignments": lambda: _assignments_for_snapshot(http, on_forbidden),
        "pim_policies": lambda: _policies_for_snapshot(http),
    }
    names = [n for n in SNAPSHOT_SECTIONS if n in wanted]
    empty: dict[str, Any] = {n: ({} if n == "pim_policies" else []) for n in names}
    results = await _gather([_guard(n, readers[n], empty[n], on_forbidden) for n in names], limit=3)
    values: dict[str, Any] = {
        n: (r if n == "pim_policies" else tuple(r)) for n, r in zip(names, results, strict=True)
    }
    tid = await _guard("tenant id", lambda: tenant_id(http), "", "warn")
    return DirectorySnapshot(tenant_id=tid, taken_at=taken_at or datetime.now(UTC), **values)


async def _custom_roles(http: GraphHttp) -> list[RoleDefinitionRecord]:
    return sorted(custom_roles(await role_definitions(http)), key=lambda r: r.id)
