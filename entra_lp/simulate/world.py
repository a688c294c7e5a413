"""The simulated tenant's objects and administrators, before any event is drawn.

:func:`build_world` places the directory (users, groups, devices, app registrations, service
principals, managed identities, administrative units per region and business unit), turns the
profile's personas into principals with their scope, and writes the role assignments such a
tenant typically has today (broad built-in roles held permanently, too many Global
Administrators, some PIM eligibility). Everything is drawn from seeded streams.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from entra_lp.directory import (
    AdministrativeUnit,
    Application,
    Device,
    DirectorySnapshot,
    Group,
    MemberRef,
    PimSettings,
    RoleAssignment,
    ServicePrincipal,
    User,
)

from . import _rand
from .profiles import Persona, Profile

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog.catalog import Catalog

__all__ = ["Objects", "Principal", "World", "allocate_personas", "build_world"]

_FIRST = ("Adele", "Alex", "Allan", "Amara", "Ben", "Bianca", "Carlos", "Chen", "Dana", "Diego",
          "Elif", "Emma", "Farid", "Grace", "Hana", "Henrik", "Ines", "Isaac", "Jonas", "Julia",
          "Kenji", "Lara", "Lee", "Lina", "Marco", "Maya", "Nadia", "Noah", "Olga", "Omar",
          "Priya", "Rafael", "Rosa", "Sam", "Sara", "Tariq", "Uma", "Victor", "Wei", "Zoe")
_LAST = ("Adams", "Bauer", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito",
         "Jensen", "Kim", "Lopez", "Meyer", "Nakamura", "Novak", "Okafor", "Petrov", "Quinn",
         "Rossi", "Silva", "Tanaka", "Urban", "Vargas", "Weber", "Xu", "Yilmaz", "Zhang",
         "Moreau", "Larsen", "Kowalski")
_GROUP_TOPICS = ("Staff", "Projects", "Reports", "Approvers", "Contractors", "Managers",
                 "Apps", "Licensing", "Printers", "Travel", "Onboarding", "Audit")
_APP_WORDS = ("expenses", "timesheet", "crm", "portal", "reporting", "billing", "intranet",
              "hr-sync", "inventory", "ticketing", "analytics", "payroll", "wiki", "forms")
_ENTERPRISE_APPS = ("Expense Cloud", "Travel Desk", "Learning Hub", "Design Studio",
                    "Contract Vault", "Survey Pro", "Chat Bridge", "Field Service",
                    "Code Review", "Board Portal", "Benefits Center", "Signature Flow")
_POLICY_NAMES = ("CA001-Require-MFA-admins", "CA002-Block-legacy-auth",
                 "CA003-Require-compliant-device", "CA004-MFA-for-guests",
                 "CA005-Block-risky-sign-ins", "CA006-Session-lifetime",
                 "CA007-Require-MFA-Azure-management", "CA008-Trusted-locations-only",
                 "Named-location-HQ", "Named-location-Branches", "Authentication-methods-policy")
# Built-in roles an administrator may assign to others (by name, resolved in the catalog).
_ASSIGNABLE_ROLES = ("User Administrator", "Helpdesk Administrator", "Groups Administrator",
                     "License Administrator", "Application Administrator", "Security Reader",
                     "Global Reader", "Reports Reader", "Authentication Administrator")
MS_PIM = "MS-PIM"


@dataclass
class Objects:
    """Parallel lists for one kind of directory object (index = object number)."""

    ids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    upns: list[str] = field(default_factory=list)
    app_ids: list[str] = field(default_factory=list)
    region: list[int] = field(default_factory=list)
    unit: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Principal:
    """One administrator (human or workload) and its persona, scope and identity."""

    index: int
    persona: Persona
    id: str
    name: str
    """What ingest reports: UPN for users, display name for apps."""
    principal_type: str  # "user" | "app"
    kind: str  # user | service_principal | managed_identity | sync_account
    region: int
    scope_ids: tuple[str, ...] = ()
    scope_key: str = "tenant"
    """Key of the target pools this principal draws from."""
    ip: str | None = None
    user_agent: str = ""
    app_id: str = ""
    chosen: tuple[int, ...] = ()
    """Numbers of the apps / service principals in an application scope."""


@dataclass
class World:
    """Everything the event generator needs to point at objects; the directory snapshot is
    built on first use (a large tenant's pydantic objects are not needed to write logs)."""

    profile: Profile
    tenant_id: str
    workspace_id: str
    start: datetime
    principals: list[Principal]
    objects: dict[str, Objects]
    pools: dict[tuple[str, str], np.ndarray]
    """(scope key, object kind) -> object numbers in scope; ``("out:<key>", kind)`` the rest."""
    eligible_roles: dict[str, list[int]]
    """Principal id -> numbers (in ``objects['role']``) of roles it may activate in PIM."""
    pim_id: str
    assignments: list[RoleAssignment]
    catalog: Catalog

    @cached_property
    def directory(self) -> DirectorySnapshot:
        """The tenant's directory snapshot."""
        return _snapshot(self.profile, self.tenant_id, self.start, self.objects,
                         self.principals, assignments=self.assignments, catalog=self.catalog,
                         pim_id=self.pim_id)


def allocate_personas(personas: Sequence[Persona], admins: int) -> list[int]:
    """How many principals each persona gets: minimums in order while the budget lasts, the
    rest by weight (largest remainder), never above a persona's maximum."""
    counts = [0] * len(personas)
    budget = admins
    for i, p in enumerate(personas):
        take = min(p.minimum, budget, p.maximum if p.maximum is not None else p.minimum)
        counts[i] += take
        budget -= take
    while budget > 0:
        room = [i for i, p in enumerate(personas)
                if p.weight > 0 and (p.maximum is None or counts[i] < p.maximum)]
        if not room:
            break
        total = sum(personas[i].weight for i in room)
        shares = {i: budget * personas[i].weight / total for i in room}
        whole = {i: int(shares[i]) for i in room}
        left = budget - sum(whole.values())
        order = sorted(room, key=lambda i: (-(shares[i] - whole[i]), i))
        for i in order[:left]:
            whole[i] += 1
        for i in room:
            cap = personas[i].maximum
            add = whole[i] if cap is None else min(whole[i], cap - counts[i])
            counts[i] += add
            budget -= add
        if all(whole[i] == 0 for i in room):
            break
    return counts


def build_world(profile: Profile, admins: int, seed: int, catalog: Catalog,
                users: int | None = None) -> World:
    """Place the directory, the principals and their current role assignments."""
    rng = _rand.stream(seed, _rand.DIRECTORY)
    tenant_id, workspace_id, pim_id = _rand.guids(rng, 3)
    start = datetime.fromisoformat(profile.start).replace(tzinfo=UTC)
    n_users = users if users is not None else min(profile.max_users,
                                                  max(60, profile.users_per_admin * admins))
    objects = _objects(profile, rng, n_users, admins, catalog)
    counts = allocate_personas(profile.personas, admins)
    principals = _principals(profile, counts, seed, objects, tenant_id)
    pools = _pools(profile, objects, principals)
    eligible: dict[str, list[int]] = {}
    assignments = _assignments(principals, objects, catalog, seed, start, eligible=eligible)
    objects["directory"].ids[0] = tenant_id
    aus = objects["administrativeUnit"]
    for kind, names in ((1, [r.name for r in profile.regions]), (2, profile.business_units)):
        for n, name in enumerate(names):
            aus.ids.append(_au_id(tenant_id, kind, n))
            aus.names.append(f"{'Region' if kind == 1 else 'Business unit'} - {name}")
    return World(profile, tenant_id, workspace_id, start, principals, objects, pools, eligible,
                 pim_id, assignments, catalog)


# --------------------------------------------------------------------------------------------
# Objects
# --------------------------------------------------------------------------------------------

def _person(i: int) -> tuple[str, str]:
    first = _FIRST[i % len(_FIRST)]
    last = _LAST[(i // len(_FIRST)) % len(_LAST)]
    return first, last


def _objects(profile: Profile, rng: np.random.Generator, n_users: int, admins: int,
             catalog: Catalog) -> dict[str, Objects]:
    n_regions, n_units = len(profile.regions), len(profile.business_units)
    users = Objects()
    users.ids = _rand.guids(rng, n_users)
    users.region = rng.integers(0, n_regions, n_users).tolist()
    users.unit = rng.integers(0, n_units, n_users).tolist()
    for i in range(n_users):
        first, last = _person(i)
        suffix = "" if i < len(_FIRST) * len(_LAST) else str(i // (len(_FIRST) * len(_LAST)))
        users.names.append(f"{first} {last}")
        users.upns.append(f"{first.lower()}.{last.lower()}{suffix}@{profile.domain}")
    groups = Objects()
    n_groups = max(12, n_users // 20)
    groups.ids = _rand.guids(rng, n_groups)
    groups.unit = rng.integers(0, n_units, n_groups).tolist()
    for i in range(n_groups):
        unit = profile.business_units[groups.unit[i]]
        groups.names.append(f"SG-{unit}-{_GROUP_TOPICS[i % len(_GROUP_TOPICS)]}-{i:04d}")
    devices = Objects()
    n_devices = max(20, (n_users * 7) // 10)
    devices.ids = _rand.guids(rng, n_devices)
    devices.region = rng.integers(0, n_regions, n_devices).tolist()
    devices.names = [f"CTS-{profile.regions[r].country}-{i:05d}"
                     for i, r in enumerate(devices.region)]
    apps = Objects()
    n_apps = max(6, admins // 3 + 4)
    apps.ids, apps.app_ids = _rand.guids(rng, n_apps), _rand.guids(rng, n_apps)
    apps.names = [f"{profile.name}-{_APP_WORDS[i % len(_APP_WORDS)]}-{i:03d}"
                  for i in range(n_apps)]
    sps = Objects()  # enterprise apps: one SP per app registration, then gallery apps
    n_gallery = max(5, admins // 5)
    sps.ids = _rand.guids(rng, n_apps + n_gallery)
    sps.app_ids = apps.app_ids + _rand.guids(rng, n_gallery)
    sps.names = apps.names + [f"{_ENTERPRISE_APPS[i % len(_ENTERPRISE_APPS)]} {i // 12 + 1}"
                              for i in range(n_gallery)]
    policies = Objects(ids=_rand.guids(rng, len(_POLICY_NAMES)), names=list(_POLICY_NAMES))
    roles = Objects()
    for name in _ASSIGNABLE_ROLES:
        role = catalog.role_by_name(name)
        roles.ids.append(role.id)
        roles.names.append(role.name)
    directory = Objects(ids=[""], names=[profile.tenant_name])  # id set by the caller
    other = Objects(ids=_rand.guids(rng, 8), names=[f"object-{i}" for i in range(8)])
    return {"user": users, "group": groups, "device": devices, "application": apps,
            "servicePrincipal": sps, "policy": policies, "role": roles,
            "directory": directory, "other": other, "administrativeUnit": Objects()}


# --------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------

def _principals(profile: Profile, counts: list[int], seed: int,
                objects: dict[str, Objects], tenant_id: str) -> list[Principal]:
    rng = _rand.stream(seed, _rand.PRINCIPALS)
    out: list[Principal] = []
    humans = 0
    for persona, count in zip(profile.personas, counts, strict=True):
        for k in range(count):
            index = len(out)
            region = k % len(profile.regions)
            pid, app_id = _rand.guids(rng, 2)
            principal = Principal(index, persona, pid, "", "user", persona.principal, region,
                                  app_id=app_id)
            if persona.principal == "user":
                first, last = _person(7 * humans + 3)
                tag = "bg" if persona.name == "break_glass" else "adm"
                principal.name = f"{tag}-{first.lower()}.{last.lower()}{humans}@{profile.domain}"
                # Documentation address ranges (RFC 5737), one per region.
                net = ("192.0.2", "198.51.100", "203.0.113")[region % 3]
                principal.ip = f"{net}.{10 + humans % 240}"
                principal.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/124.0"
                humans += 1
            elif persona.principal == "sync_account":
                host = rng.integers(0, 16**12)
                principal.name = f"Sync_CTSDC01_{host:012x}@{profile.name}.onmicrosoft.com"
                principal.user_agent = "AADConnect/2.3"
            elif persona.principal == "managed_identity":
                principal.principal_type = "app"
                principal.name = "Managed Service Identity"
            else:
                principal.principal_type = "app"
                principal.name = f"{profile.tenant_name} {persona.title} {k + 1}"
                principal.user_agent = "python-requests/2.32"
            _scope(principal, profile, objects, rng, k, tenant_id=tenant_id)
            out.append(principal)
    return out


def _scope(p: Principal, profile: Profile, objects: dict[str, Objects],
           rng: np.random.Generator, k: int, *, tenant_id: str) -> None:
    """Fill the principal's scope ids and the key of its target pools."""
    source = p.persona.scope_source
    if source == "region":
        p.scope_key = f"region:{p.region}"
        p.scope_ids = (_au_id(tenant_id, 1, p.region),)
    elif source == "business_unit":
        unit = k % len(profile.business_units)
        p.scope_key = f"unit:{unit}"
        p.scope_ids = (_au_id(tenant_id, 2, unit),)
    elif source in ("app_registrations", "enterprise_apps"):
        low, high = p.persona.scope_size
        n = int(rng.integers(low, high + 1))
        pool = objects["application" if source == "app_registrations" else "servicePrincipal"]
        n_regs = len(objects["application"])
        first = n_regs if source == "enterprise_apps" and len(pool) > n_regs else 0
        chosen = sorted(rng.choice(np.arange(first, len(pool)), size=min(n, len(pool) - first),
                                   replace=False).tolist())
        p.scope_key = f"apps:{p.index}"
        p.scope_ids = tuple(pool.ids[i] for i in chosen)
        p.chosen = tuple(chosen)


def _pools(profile: Profile, objects: dict[str, Objects],
           principals: list[Principal]) -> dict[tuple[str, str], np.ndarray]:
    pools: dict[tuple[str, str], np.ndarray] = {}
    for kind, objs in objects.items():
        pools[("tenant", kind)] = np.arange(len(objs), dtype=np.int64)
    users, groups, devices = objects["user"], objects["group"], objects["device"]
    u_region, u_unit = np.asarray(users.region), np.asarray(users.unit)
    g_unit, d_region = np.asarray(groups.unit), np.asarray(devices.region)
    for r in range(len(profile.regions)):
        key = f"region:{r}"
        _split(pools, key, "user", u_region == r)
        _split(pools, key, "device", d_region == r)
        _split(pools, key, "group", np.ones(len(groups), dtype=bool))
    for b in range(len(profile.business_units)):
        key = f"unit:{b}"
        _split(pools, key, "user", u_unit == b)
        _split(pools, key, "group", g_unit == b)
        _split(pools, key, "device", np.ones(len(devices), dtype=bool))
    n_regs = len(objects["application"])
    for p in principals:
        chosen = list(p.chosen)
        if not chosen:
            continue
        mask_sp = np.zeros(len(objects["servicePrincipal"]), dtype=bool)
        mask_app = np.zeros(len(objects["application"]), dtype=bool)
        if p.persona.scope_source == "app_registrations":
            mask_app[chosen] = True
            mask_sp[chosen] = True  # the app's own service principal
        else:
            mask_sp[chosen] = True
            mask_app[[c for c in chosen if c < n_regs]] = True
        _split(pools, p.scope_key, "application", mask_app)
        _split(pools, p.scope_key, "servicePrincipal", mask_sp)
        for kind in ("user", "group"):
            pools[(p.scope_key, kind)] = pools[("tenant", kind)]
    return pools


def _split(pools: dict[tuple[str, str], np.ndarray], key: str, kind: str,
           mask: np.ndarray) -> None:
    pools[(key, kind)] = np.flatnonzero(mask)
    pools[(f"out:{key}", kind)] = np.flatnonzero(~mask)


# --------------------------------------------------------------------------------------------
# Role assignments and the snapshot
# --------------------------------------------------------------------------------------------

def _assignments(principals: list[Principal], objects: dict[str, Objects], catalog: Catalog,
                 seed: int, start: datetime, *, eligible: dict[str, list[int]]
                 ) -> list[RoleAssignment]:
    rng = _rand.stream(seed, _rand.DIRECTORY, 1)
    ga = catalog.role_by_name("Global Administrator").id
    roles = objects["role"]
    out: list[RoleAssignment] = []
    since = start - timedelta(days=400)
    for p in principals:
        for grant in p.persona.roles:
            role = catalog.role_by_name(grant.role)
            scopes = ["/"] if grant.scope == "tenant" or not p.scope_ids else [
                f"/{i}" for i in p.scope_ids]
            for scope in scopes:
                end = start + timedelta(days=180) if grant.assignment == "eligible" else None
                out.append(RoleAssignment(principal_id=p.id, role_definition_id=role.id,
                                          directory_scope_id=scope,
                                          assignment_type=grant.assignment, start=since,
                                          end=end))
            if grant.assignment == "eligible":
                if role.id not in roles.ids:
                    roles.ids.append(role.id)
                    roles.names.append(role.name)
                eligible.setdefault(p.id, []).append(roles.ids.index(role.id))
        # Legacy over-privilege: some human admins also kept Global Administrator.
        if p.kind == "user" and p.persona.name not in ("break_glass", "global_admin") \
                and rng.random() < 0.12:
            out.append(RoleAssignment(principal_id=p.id, role_definition_id=ga,
                                      directory_scope_id="/", start=since))
    return sorted(out, key=lambda a: (a.principal_id, a.role_definition_id,
                                      a.directory_scope_id, a.assignment_type))


def _snapshot(profile: Profile, tenant_id: str, start: datetime, objects: dict[str, Objects],
              principals: list[Principal], *, assignments: list[RoleAssignment],
              catalog: Catalog, pim_id: str) -> DirectorySnapshot:
    users, groups, devices = objects["user"], objects["group"], objects["device"]
    apps, sps = objects["application"], objects["servicePrincipal"]
    user_rows = [User(id=i, user_principal_name=u, display_name=n)
                 for i, u, n in zip(users.ids, users.upns, users.names, strict=True)]
    for p in principals:
        if p.principal_type == "user":
            user_rows.append(User(id=p.id, user_principal_name=p.name,
                                  display_name=_admin_display(p),
                                  on_premises_sync_enabled=False))
    app_rows = [Application(id=i, app_id=a, display_name=n)
                for i, a, n in zip(apps.ids, apps.app_ids, apps.names, strict=True)]
    sp_rows = [ServicePrincipal(id=i, app_id=a, display_name=n)
               for i, a, n in zip(sps.ids, sps.app_ids, sps.names, strict=True)]
    sp_rows.append(ServicePrincipal(id=pim_id, app_id=_derived_id(pim_id), display_name=MS_PIM))
    for p in principals:
        if p.principal_type == "app":
            mi = p.kind == "managed_identity"
            name = f"mi-{p.persona.name}-{p.index}" if mi else p.name
            sp_rows.append(ServicePrincipal(
                id=p.id, app_id=p.app_id, display_name=name,
                service_principal_type="ManagedIdentity" if mi else "Application",
                application_permissions=p.persona.app_permissions))
            if not mi:
                app_rows.append(Application(id=_derived_id(p.id), app_id=p.app_id,
                                            display_name=name))
    admins = [p.id for p in principals if p.principal_type == "user"]
    owners: dict[str, list[str]] = {}
    for p in principals:
        if p.persona.scope_source == "app_registrations" and p.kind == "user":
            for app in p.scope_ids:
                owners.setdefault(app, []).append(p.id)
    app_rows = [a.model_copy(update={"owners": tuple(sorted(owners[a.id]))})
                if a.id in owners else a for a in app_rows]
    group_rows = [Group(id=i, display_name=n, is_role_assignable=k % 40 == 0)
                  for k, (i, n) in enumerate(zip(groups.ids, groups.names, strict=True))]
    group_rows.append(Group(id=_derived_id(tenant_id), display_name="SG-Tier0-Admins",
                            is_role_assignable=True, members=tuple(sorted(admins[:3]))))
    device_rows = [Device(id=i, display_name=n)
                   for i, n in zip(devices.ids, devices.names, strict=True)]
    aus = _administrative_units(profile, tenant_id, objects)
    return DirectorySnapshot(
        tenant_id=tenant_id, taken_at=start, users=tuple(user_rows),
        groups=tuple(group_rows), devices=tuple(device_rows), applications=tuple(app_rows),
        service_principals=tuple(sp_rows), administrative_units=aus,
        role_assignments=tuple(assignments), pim_policies=_pim_policies(assignments, catalog,
                                                                         principals),
    )


def _admin_display(p: Principal) -> str:
    if p.kind == "sync_account":
        return "On-Premises Directory Synchronization Service Account"
    local = p.name.split("@", 1)[0].split("-", 1)[-1]
    first, _, last = local.partition(".")
    return f"{first.title()} {last.rstrip('0123456789').title()} (admin)"


def _derived_id(base: str) -> str:
    """A second stable GUID derived from ``base`` (reverse the hex digits)."""
    digits = base.replace("-", "")[::-1]
    digits = digits[:12] + "4" + digits[13:16] + "8" + digits[17:]
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:32]}"


def _administrative_units(profile: Profile, tenant_id: str,
                          objects: dict[str, Objects]) -> tuple[AdministrativeUnit, ...]:
    users, groups, devices = objects["user"], objects["group"], objects["device"]

    def unit(kind: int, index: int, name: str, members: list[tuple[str, Objects, list[int]]]
             ) -> AdministrativeUnit:
        refs = [MemberRef(type=type_, id=objs.ids[i])
                for type_, objs, home in members for i in range(len(objs)) if home[i] == index]
        return AdministrativeUnit(id=_au_id(tenant_id, kind, index), display_name=name,
                                  members=tuple(refs))

    regions = [unit(1, r, f"Region - {region.name}",
                    [("user", users, users.region), ("device", devices, devices.region)])
               for r, region in enumerate(profile.regions)]
    units = [unit(2, b, f"Business unit - {name}",
                  [("user", users, users.unit), ("group", groups, groups.unit)])
             for b, name in enumerate(profile.business_units)]
    return (*regions, *units)


def _au_id(tenant_id: str, kind: int, n: int) -> str:
    """A stable GUID for the n-th region (kind 1) or business unit (kind 2) AU."""
    digest = hashlib.sha256(f"{tenant_id}:au:{kind}:{n}".encode()).hexdigest()
    digits = digest[:12] + "4" + digest[13:16] + "8" + digest[17:32]
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:32]}"


def au_id_for(world: World, scope_key: str) -> str | None:
    """The administrative unit id behind a ``region:<n>`` / ``unit:<n>`` scope key."""
    kind, _, n = scope_key.partition(":")
    if kind == "region":
        return _au_id(world.tenant_id, 1, int(n))
    if kind == "unit":
        return _au_id(world.tenant_id, 2, int(n))
    return None


def _pim_policies(assignments: list[RoleAssignment], catalog: Catalog,
                  principals: list[Principal]) -> dict[str, PimSettings]:
    eligible_roles = sorted({a.role_definition_id for a in assignments
                             if a.assignment_type == "eligible"})
    ga = catalog.role_by_name("Global Administrator").id
    pra = catalog.role_by_name("Privileged Role Administrator").id
    approvers = tuple(sorted(p.id for p in principals if p.persona.name == "global_admin"))[:2]
    out: dict[str, PimSettings] = {}
    for role in sorted({*eligible_roles, ga}):
        strict = role in (ga, pra)
        out[role] = PimSettings(
            max_activation_hours=4 if strict else 8,
            require_approval=strict and bool(approvers),
            approvers=approvers if strict else (),
            require_ticket=strict,
        )
    return out
