"""Risk of a role at its scope: tier, plane, a documented score and escalation paths.

:func:`assess_role` answers "how dangerous is this set of actions, granted at this scope, in this
tenant?" It returns a :class:`~entra_lp.recommendation.RiskSummary`; :func:`escalation_graph`
returns the networkx graph behind it for the notebook's scope-and-escalation plot.

Tier and plane
    ``tier`` is the highest catalog tier of the actions (``user_access < management < control``).
    ``plane`` is ``read`` when every action reads; otherwise the plane of the changing actions
    (reads ride along): ``execution``, ``configuration``, or ``mixed`` when both occur.

Escalation graph
    Nodes are the role under assessment (``subject``), directory objects (users, groups, app
    registrations, service principals), held roles (``role:<definition id>@<directory scope>``),
    privileges (application permissions, AU-scoped role assignment) and *tenant-wide control*
    sinks. Edges come from two sources:

    * the catalog's escalation edges (:func:`permission_catalog.classify.edges_of` over each
      action and every action it implies), resolved to the concrete objects at the role's
      scope: credential / owner changes on app registrations and service principals (an app
      registration's credentials sign in as its service principal); credential changes on users
      (password, authentication methods, sign-in identities), limited by Entra's documented
      protection of administrators (the password-reset and sensitive-action matrices in the
      catalog); membership or ownership changes of role-assignable groups; role assignment or
      definition rights and tenant policy rights (conditional access, authorization,
      authentication methods, cross-tenant, federation, sign-in extensions, consent), which go
      straight to a tenant-wide control sink;
    * the directory: who holds which role at which scope (active or eligible, directly or through a
      role-assignable group), who owns which app, service principal or role-assignable group,
      which application permissions a service principal holds (``app_permissions``, not part of
      the snapshot). Every held role is expanded the same way, so multi-hop paths appear (reset
      the password of an Application Administrator → add a secret to an app → its service
      principal holds Global Administrator).

    Entra's own boundaries are honoured: a role assigned at an administrative unit or an
    application acts only through the actions that can be scoped there (a built-in User
    Administrator scoped to an AU grants no consent); tenant-scoped administrators cannot touch
    members of restricted-management administrative units; ordinary group rights never reach
    role-assignable groups; among the ``groupsAssignableToRoles`` writes only those that change
    members or owners give a group's roles (deleting or licensing a group does not).

    Without a directory the objects are unknown and the analysis assumes the worst it cannot rule
    out, and says so: an application may hold privileged permissions, a role-assignable group may
    hold privileged roles, a user may hold any role the actor is allowed to reset.

Severity (of the worst outcome reachable through a first hop)
    ``critical``  reaches tenant-wide control: assign any role, change role definitions, change
                  tenant authentication / authorization / federation / consent, or act as a
                  principal (or through its roles) that can.
    ``high``      reaches a control-tier role or a privilege that stops short of tenant-wide
                  control (e.g. act as a Helpdesk Administrator, hold an app's non-critical
                  application permissions, assign AU-scoped roles).
    ``medium``    acts as principals without directory roles (their own data and access), reaches a
                  management-tier role, or reads device secrets.
    ``low``       changes access through ordinary groups, or reaches only user-access roles.

    One :class:`~entra_lp.recommendation.EscalationPath` is emitted per (capability, severity),
    with the shortest example path (``via``) and how many objects share that outcome.

Score (``RiskSummary.score``)
    ``sum(catalog.risk_weight(a)) * SCOPE_FACTORS[scope_kind] + sum(SEVERITY_WEIGHTS[p.severity])``
    rounded to 3 decimals: the catalog's documented weights, discounted for narrower scopes, plus a
    fixed weight per escalation path, so a role that reaches tenant-wide control always ranks
    above one that merely holds many management actions.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

from permission_catalog import classify as _cls
from permission_catalog.actions import ParsedAction, parse_action

from .errors import InvalidValueError, UnknownNameError
from .recommendation import EscalationPath, RiskSummary

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog.catalog import Catalog

    from .directory import DirectorySnapshot, RoleAssignment

__all__ = [
    "CRITICAL_APP_PERMISSION_PREFIXES",
    "SCOPE_FACTORS",
    "SEVERITY_WEIGHTS",
    "assess_role",
    "escalation_graph",
    "role_plane",
    "role_tier",
]

SCOPE_KINDS = ("tenant", "administrative_unit", "application")
SEVERITIES = ("low", "medium", "high", "critical")
_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}

SCOPE_FACTORS: dict[str, float] = {"tenant": 1.0, "administrative_unit": 0.5, "application": 0.25}
"""Discount of the action weights for narrower scopes (an AU or one app: smaller blast radius)."""

SEVERITY_WEIGHTS: dict[str, float] = {"critical": 100.0, "high": 30.0, "medium": 10.0, "low": 2.0}
"""Score added per escalation path, by severity."""

CRITICAL_APP_PERMISSION_PREFIXES: tuple[str, ...] = (
    "AppRoleAssignment.ReadWrite",
    "Application.ReadWrite",
    "DelegatedPermissionGrant.ReadWrite",
    "Directory.ReadWrite",
    "Domain.ReadWrite",
    "Policy.ReadWrite",
    "PrivilegedAccess.ReadWrite",
    "PrivilegedAssignmentSchedule.ReadWrite",
    "PrivilegedEligibilitySchedule.ReadWrite",
    "RoleAssignmentSchedule.ReadWrite",
    "RoleEligibilitySchedule.ReadWrite",
    "RoleManagement.ReadWrite",
    "UserAuthenticationMethod.ReadWrite",
)
"""Application permissions (our rule) that let an app assign roles, grant itself permissions,
add credentials to other apps, change tenant policy or domains, or set users' credentials: holding
one is tenant-wide control. Any other application permission counts as a ``high`` privilege."""

# Tenant-wide control sinks: capability -> (node key, label).
_SINKS: dict[str, tuple[str, str]] = {
    "grant_role": ("control:assign_roles", "assign any directory role"),
    "define_role": ("control:define_roles", "change what custom roles grant"),
    "weaken_authentication": (
        "control:authentication",
        "change tenant-wide authentication and authorization policy",
    ),
    "intercept_sign_in": ("control:sign_in_code", "run custom code inside every sign-in"),
    "federate_sign_in": ("control:federation", "federate the sign-in of a domain's users"),
    "grant_api_permissions": (
        "control:api_permissions",
        "grant any application delegated or application permissions",
    ),
}
_ASSUMED_APP = ("control:assumed_app", "privileged roles or application permissions")
_ASSUMED_GROUP = ("control:assumed_group", "a privileged directory role")
_SCOPED_ROLES = ("privilege:scoped_roles", "assign roles scoped to administrative units")

_BASE_SEVERITY = {
    "act_as": "medium",
    "take_ownership": "medium",
    "read_secret": "medium",
    "inherit_roles": "low",
    "inherit_access": "low",
    "control_membership": "low",
    "grant_api_permissions": "high",
}
_TIER_LEVEL = {"control": "high", "management": "medium", "user_access": "low"}
_GROUP_MEMBERSHIP_HEADS = frozenset({"members", "owners", "allProperties"})
_NO_ADMIN = "User (no admin role)"
_NO_ADMIN_GROUP = "User (no admin role, member or owner of a role-assignable group)"
_RESTRICTED_AU_ROLE = "User with a role scoped to a restricted management administrative unit"
_ALL_OTHER = "All other built-in and custom roles"


# --------------------------------------------------------------------------- small helpers
def role_tier(actions: Iterable[str], catalog: Catalog) -> str:
    """Highest catalog tier among ``actions`` (``user_access`` for an empty set)."""
    ranks = [_cls.TIER_RANK[catalog.classify(a).tier] for a in actions]
    return _cls.TIERS[max(ranks, default=0)]


def role_plane(actions: Iterable[str], catalog: Catalog) -> str:
    """``read`` / ``execution`` / ``configuration`` / ``mixed`` (module docstring)."""
    planes = {catalog.classify(a).plane for a in actions}
    changing = planes - {"read"}
    if not changing:
        return "read"
    return changing.pop() if len(changing) == 1 else "mixed"


def _scope_label(kind: str, ids: tuple[str, ...], names: Mapping[str, str] | None = None) -> str:
    if kind == "tenant":
        return "tenant"
    what = "AU" if kind == "administrative_unit" else "app"
    shown = [(names or {}).get(i, i) for i in ids]
    return f"{what} {', '.join(shown)}" if ids else f"any {what}"


def _parse_directory_scope(scope_id: str) -> tuple[str, tuple[str, ...]]:
    """``/`` → tenant; ``/administrativeUnits/<id>`` → AU; ``/<objectId>`` → application."""
    if scope_id in ("", "/"):
        return "tenant", ()
    parts = scope_id.strip("/").split("/")
    if len(parts) == 2 and parts[0].lower() == "administrativeunits":
        return "administrative_unit", (parts[1],)
    return "application", (parts[-1],)


def _is_critical_permission(value: str) -> bool:
    return any(value.startswith(p) for p in CRITICAL_APP_PERMISSION_PREFIXES)


def _matrix(catalog: Catalog, table: str) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """(actor role name → target rows it may act on, every named target row) of one matrix."""
    rows = catalog.privileged_targets.get(table, ())
    actors: dict[str, set[str]] = collections.defaultdict(set)
    for row in rows:
        for actor in row["actors"]:
            actors[actor].add(row["target_role"])
    named = frozenset(r["target_role"] for r in rows)
    return {k: frozenset(v) for k, v in actors.items()}, named


# --------------------------------------------------------------------------- capabilities
@dataclass(frozen=True, slots=True)
class _Capability:
    """One catalog escalation edge of a granted action; ``source`` is the action it came from
    (the granted action itself or an action it implies)."""

    action: str
    source: str
    capability: str
    target: str
    reason: str


def _changes_membership(p: ParsedAction) -> bool:
    head = p.property_path[0].split(".")[0] if p.property_path else ""
    return head in _GROUP_MEMBERSHIP_HEADS or p.verb == "allTasks"


def _capabilities(actions: Iterable[str], catalog: Catalog) -> list[_Capability]:
    """Escalation edges of every action and of the actions it implies, with their source."""
    out: dict[tuple[str, str, str, bool], _Capability] = {}
    for action in sorted(set(actions)):
        for source in sorted(catalog.expand([action])):
            p = parse_action(source)
            for e in _cls.edges_of(p):
                if e.capability == "inherit_roles" and not _changes_membership(p):
                    continue  # deleting or licensing a role-assignable group gives no roles
                # password resets and other credential changes follow different protection
                # matrices: keep one source of each
                key = (e.capability, e.target, action, _is_password(source))
                out.setdefault(key, _Capability(action, source, e.capability, e.target, e.reason))
    return [out[k] for k in sorted(out)]


def _is_password(action: str) -> bool:
    path = parse_action(action).property_path
    return bool(path) and path[0] == "password"


# --------------------------------------------------------------------------- directory view
def _obj(object_id: str) -> str:
    return f"obj:{object_id}"


class _DirectoryView:
    """Indexed, sorted look-ups over a snapshot (everything built from it is deterministic)."""

    def __init__(self, d: DirectorySnapshot, catalog: Catalog) -> None:
        self.d = d
        self.catalog = catalog
        self.types = d.object_types
        self.apps = tuple(sorted(d.applications, key=lambda a: a.id))
        self.sps = tuple(sorted(d.service_principals, key=lambda s: s.id))
        self.sp_by_app_id = {s.app_id: s for s in self.sps}
        self.sp_by_any_id = {**{s.app_id: s for s in self.sps}, **{s.id: s for s in self.sps}}
        self.ra_groups = tuple(sorted((g for g in d.groups if g.is_role_assignable), key=_id))
        self.au_ids = frozenset(au.id for au in d.administrative_units)
        self.restricted_aus = frozenset(
            au.id for au in d.administrative_units if au.is_member_management_restricted
        )
        self.restricted = frozenset(
            m.id
            for au in d.administrative_units
            if au.id in self.restricted_aus
            for m in au.members
        )
        self.user_ids = frozenset(u.id for u in d.users)
        self._members: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}
        self._labels = self._make_labels()
        self._rows = self._active_rows()
        self.scope_names = {au.id: au.display_name for au in d.administrative_units}
        self.scope_names.update({a.id: a.display_name for a in self.apps})
        self.scope_names.update({sp.id: sp.display_name for sp in self.sps})

    def _make_labels(self) -> dict[str, str]:
        labels = {u.id: f"user {u.user_principal_name}" for u in self.d.users}
        labels.update({g.id: f"group {g.display_name}" for g in self.d.groups})
        labels.update({a.id: f"app registration {a.display_name}" for a in self.apps})
        for s in self.sps:
            what = (
                "managed identity"
                if s.service_principal_type == "ManagedIdentity"
                else ("service principal")
            )
            labels[s.id] = f"{what} {s.display_name}"
        labels.update({d.id: f"device {d.display_name}" for d in self.d.devices})
        return labels

    def attrs(self, object_id: str) -> dict[str, object]:
        """Node attributes of a directory object."""
        label = self._labels.get(object_id, f"object {object_id}")
        return {"kind": "object", "label": label, "level": "low"}

    # ---- scope membership ------------------------------------------------------------------
    def check_scope(self, kind: str, ids: tuple[str, ...]) -> None:
        """UnknownNameError for scope ids the snapshot does not know."""
        if kind == "administrative_unit":
            known: Collection[str] = self.au_ids
            what = "administrative unit"
        elif kind == "application":
            known = {a.id for a in self.apps} | {s.id for s in self.sps}
            what = "application or service principal (scope id)"
        else:
            return
        for i in ids:
            if i not in known:
                raise UnknownNameError(what, i, sorted(known))

    def members(self, object_type: str, ids: tuple[str, ...]) -> frozenset[str]:
        """Members of the given AUs (every AU when ``ids`` is empty) of one object type."""
        key = (object_type, ids)
        hit = self._members.get(key)
        if hit is None:
            wanted = set(ids)
            hit = self._members[key] = frozenset(
                m.id
                for au in self.d.administrative_units
                if not wanted or au.id in wanted
                for m in au.members
                if m.type == object_type
            )
        return hit

    def user_in_scope(self, user_id: str, kind: str, ids: tuple[str, ...]) -> bool:
        """Does a grant at this scope reach the user (tenant: unless in a restricted AU)?"""
        if kind == "tenant":
            return user_id not in self.restricted
        return kind == "administrative_unit" and user_id in self.members("user", ids)

    def user_count(self, kind: str, ids: tuple[str, ...]) -> int:
        """How many users a grant at this scope reaches."""
        if kind == "tenant":
            return len(self.user_ids - self.restricted)
        return len(self.members("user", ids)) if kind == "administrative_unit" else 0

    def apps_at(self, which: str, kind: str, ids: tuple[str, ...]) -> list[str]:
        """App registrations (``which="application"``) or service principals at this scope."""
        if kind == "administrative_unit":
            return []  # administrative units hold no applications
        objs = self.apps if which == "application" else self.sps
        return [o.id for o in objs if kind == "tenant" or not ids or o.id in ids]

    def count_at(self, noun: str, kind: str, ids: tuple[str, ...]) -> int:
        """How many ordinary groups (``noun="groups"``) or devices a grant at this scope reaches."""
        if kind == "application":
            return 0
        ra = {g.id for g in self.ra_groups}
        if kind == "tenant":
            objs = self.d.groups if noun == "groups" else self.d.devices
            return sum(1 for o in objs if o.id not in self.restricted and o.id not in ra)
        return len(self.members("group" if noun == "groups" else "device", ids) - ra)

    # ---- Entra's protection of administrators ------------------------------------------------
    def _active_rows(self) -> dict[str, set[str]]:
        """Principal id → matrix target rows its *active* roles put it in (eligible-only admins
        are not assumed protected: we could not confirm Entra protects them)."""
        held: dict[str, set[str]] = collections.defaultdict(set)
        for a in self.d.role_assignments:
            if a.assignment_type == "active":
                held[a.principal_id].add(self._row_of(a))
        in_group: set[str] = set()
        for g in self.ra_groups:
            for m in g.members:
                held[m] |= held.get(g.id, set())
            in_group.update(g.members, g.owners)
        for oid in in_group:
            if not held.get(oid):
                held[oid].add(_NO_ADMIN_GROUP)
        return dict(held)

    def _row_of(self, a: RoleAssignment) -> str:
        kind, ids = _parse_directory_scope(a.directory_scope_id)
        if kind == "administrative_unit" and ids[0] in self.restricted_aus:
            return _RESTRICTED_AU_ROLE
        role = self.catalog.roles.get(a.role_definition_id.lower())
        return role.name if role is not None else _ALL_OTHER

    def may_act_on(
        self, user_id: str, allowed: frozenset[str] | None, named: frozenset[str]
    ) -> bool:
        """May an actor whose matrix targets are ``allowed`` change this user's credentials?
        ``allowed is None``: the actor is outside the matrix (or unknown), assume yes."""
        if allowed is None:
            return True
        rows = self._rows.get(user_id) or {_NO_ADMIN}
        return all(r in allowed or (r not in named and _ALL_OTHER in allowed) for r in rows)


def _id(obj: object) -> str:
    return str(getattr(obj, "id", ""))


# --------------------------------------------------------------------------- the index
@dataclass(frozen=True, slots=True)
class _Hop:
    """A first-hop edge from a grant (the assessed role or a held role) to a node."""

    target: str
    action: str
    capability: str
    relation: str


_Matrix = tuple[dict[str, frozenset[str]], frozenset[str]]


class _Index:
    """The privilege graph of a tenant (or of the built-in roles, without a directory), and for
    every node the next hop toward the nearest node of each severity level. Built once per
    (catalog, directory, app_permissions) and shared by every role assessed against them."""

    def __init__(
        self,
        catalog: Catalog,
        directory: DirectorySnapshot | None,
        app_permissions: Mapping[str, Iterable[str]],
    ) -> None:
        self.catalog = catalog
        self.directory = directory
        self.view = None if directory is None else _DirectoryView(directory, catalog)
        self.g: nx.DiGraph[str] = nx.DiGraph()
        self.toward: dict[str, dict[str, str]] = {}
        self._cap_cache: dict[tuple[str, ...], list[_Capability]] = {}
        self._present_users: list[str] = []
        self.reset: _Matrix = _matrix(catalog, "who_can_reset_passwords")
        self.sensitive: _Matrix = _matrix(catalog, "who_can_perform_sensitive_actions")
        for key, label in (*_SINKS.values(), _ASSUMED_APP, _ASSUMED_GROUP):
            self.g.add_node(key, kind="control", label=label, level="critical")
        self.g.add_node(_SCOPED_ROLES[0], kind="privilege", label=_SCOPED_ROLES[1], level="high")
        if self.view is None:
            self._build_catalog_only()
        else:
            self._build_directory(self.view, app_permissions)
        self._present_users = sorted(
            k[4:] for k in self.g if k.startswith("obj:") and self._is_user(k[4:])
        )
        for node in sorted(n for n, d in self.g.nodes(data=True) if d["kind"] == "role"):
            self._expand_role(node)
        self._compute_toward()

    # ---- nodes -----------------------------------------------------------------------------
    def _is_user(self, object_id: str) -> bool:
        return self.view is not None and object_id in self.view.user_ids

    def scope_label(self, kind: str, ids: tuple[str, ...]) -> str:
        """``tenant`` / ``AU <names>`` / ``app <names>`` (display names when known)."""
        return _scope_label(kind, ids, None if self.view is None else self.view.scope_names)

    def _ensure(self, key: str) -> str:
        if key not in self.g:
            if key.startswith("obj:") and self.view is not None:
                self.g.add_node(key, **self.view.attrs(key[4:]))
            else:
                self.g.add_node(key, kind="aggregate", label=key.split(":", 1)[-1], level="low")
        return key

    def _edge(self, a: str, b: str, relation: str, action: str | None = None) -> None:
        self.g.add_edge(self._ensure(a), self._ensure(b), relation=relation, action=action)

    def _role_node(self, role_id: str, scope_id: str, prefix: str = "") -> str:
        key = f"role:{role_id}@{scope_id}"
        if key not in self.g:
            name, actions, actor = self._role_facts(role_id)
            kind, ids = _parse_directory_scope(scope_id)
            known = bool(actions) or not name.startswith("unknown role")
            level = _TIER_LEVEL[role_tier(actions, self.catalog)] if known else "high"
            self.g.add_node(
                key,
                kind="role",
                label=f"{prefix}{name} ({self.scope_label(kind, ids)})",
                level=level,
                role_name=name,
                actions=actions,
                actor=actor,
                scope=(kind, ids),
            )
        return key

    def _role_facts(self, role_id: str) -> tuple[str, tuple[str, ...], str | None]:
        """(display name, unconditioned actions, matrix actor name or None) of a role id."""
        builtin = self.catalog.roles.get(role_id.lower())
        if builtin is not None:
            return builtin.name, tuple(sorted(builtin.action_names)), builtin.name
        for d in self.directory.custom_role_definitions if self.directory else ():
            if role_id in (d.id, d.template_id):
                return d.display_name, tuple(sorted(d.allowed_resource_actions)), None
        return f"unknown role {role_id}", (), None

    # ---- construction ----------------------------------------------------------------------
    def _build_catalog_only(self) -> None:
        """Without a directory: a virtual holder of every assignable built-in role (tenant)."""
        self.g.add_node("unknown:app", kind="object", label="an application", level="low")
        self.g.add_edge("unknown:app", _ASSUMED_APP[0], relation="may hold")
        self.g.add_node(
            "unknown:group", kind="object", label="a role-assignable group", level="low"
        )
        self.g.add_edge("unknown:group", _ASSUMED_GROUP[0], relation="may hold")
        for role in sorted(self.catalog.roles.values(), key=_id):
            if role.assignable:
                self._role_node(role.id, "/", "a holder of ")

    def _build_directory(
        self, view: _DirectoryView, app_permissions: Mapping[str, Iterable[str]]
    ) -> None:
        for a in sorted(view.d.role_assignments, key=_assignment_key):
            relation = "holds" if a.assignment_type == "active" else "is eligible for"
            role = self._role_node(a.role_definition_id, a.directory_scope_id or "/")
            self._edge(_obj(a.principal_id), role, relation)
        for group in view.ra_groups:
            self._ensure(_obj(group.id))
            for m in sorted(group.members):
                self._edge(_obj(m), _obj(group.id), "is a member of")
            for o in sorted(group.owners):
                self._edge(_obj(o), _obj(group.id), "owns (can add members to)")
        owned = [(a.id, a.owners) for a in view.apps] + [(s.id, s.owners) for s in view.sps]
        for oid, owners in owned:
            for o in sorted(owners):
                self._edge(_obj(o), _obj(oid), "owns (can add credentials to)")
        for app in view.apps:
            sp = view.sp_by_app_id.get(app.app_id)
            if sp is not None:
                self._edge(_obj(app.id), _obj(sp.id), "signs in as")
        merged: dict[str, set[str]] = {
            sp.id: set(sp.application_permissions)
            for sp in view.sps
            if sp.application_permissions
        }
        for owner, values in app_permissions.items():  # explicit ones add to the snapshot's
            merged.setdefault(owner, set()).update(values)
        for owner in sorted(merged):
            self._add_permissions(view, owner, sorted(merged[owner]))

    def _add_permissions(self, view: _DirectoryView, owner: str, values: list[str]) -> None:
        sp = view.sp_by_any_id.get(owner)
        if sp is None:
            raise UnknownNameError(
                "service principal (app_permissions key)", owner, sorted(view.sp_by_any_id)
            )
        for value in values:
            critical = _is_critical_permission(value)
            self.g.add_node(
                f"perm:{value}",
                kind="control" if critical else "privilege",
                label=f"application permission {value}",
                level="critical" if critical else "high",
            )
            self._edge(_obj(sp.id), f"perm:{value}", "holds")

    def _expand_role(self, node: str) -> None:
        data = self.g.nodes[node]
        kind, ids = data["scope"]
        for hop in self.hops(data["actions"], kind, ids, data["actor"], aggregates=False):
            self._edge(node, hop.target, hop.relation, hop.action)

    def _compute_toward(self) -> None:
        """Multi-source BFS on the reversed graph, per level, from every node of that level or
        above (sorted frontiers, so ties resolve the same way every run)."""
        for level in SEVERITIES:
            sources = sorted(
                (
                    n
                    for n, d in self.g.nodes(data=True)
                    if d["kind"] in ("control", "privilege", "role")
                    and _SEV_RANK[str(d["level"])] >= _SEV_RANK[level]
                ),
                key=lambda n: (_SINK_ORDER.get(n, len(_SINK_ORDER)), n),
            )
            nxt = {s: s for s in sources}
            frontier = sources
            while frontier:
                new: list[str] = []
                for node in frontier:
                    for pred in sorted(self.g.predecessors(node)):
                        if pred not in nxt:
                            nxt[pred] = node
                            new.append(pred)
                frontier = new
            self.toward[level] = nxt

    # ---- resolving capabilities to first hops ----------------------------------------------
    def _scopes(self, action: str) -> tuple[str, ...]:
        hit = self.catalog.actions.get(action)
        return hit.scopes if hit is not None else self.catalog.scopes_of(action)

    def _caps(self, actions: tuple[str, ...]) -> list[_Capability]:
        hit = self._cap_cache.get(actions)
        if hit is None:
            hit = self._cap_cache[actions] = _capabilities(actions, self.catalog)
        return hit

    def hops(
        self,
        actions: Iterable[str],
        kind: str,
        ids: tuple[str, ...],
        actor: str | None,
        *,
        aggregates: bool,
    ) -> list[_Hop]:
        """First hops of a grant of ``actions`` at a scope, held by ``actor`` (matrix name)."""
        out: list[_Hop] = []
        for cap in self._caps(tuple(sorted(set(actions)))):
            out.extend(self._resolve(cap, kind, ids, actor, aggregates))
        return out

    def _resolve(
        self, cap: _Capability, kind: str, ids: tuple[str, ...], actor: str | None, agg: bool
    ) -> list[_Hop]:
        if kind != "tenant" and kind not in self._scopes(cap.source):
            return []  # a narrower assignment has no effect through actions it cannot scope
        c = cap.capability
        if c in ("act_as", "take_ownership") and cap.target != "user":
            return self._app_hops(cap, kind, ids, agg)
        if c == "act_as":
            return self._user_hops(cap, kind, ids, actor, agg)
        if c == "inherit_roles":
            return self._group_hops(cap, kind)
        if c in ("inherit_access", "control_membership", "read_secret"):
            return [self._aggregate_hop(cap, kind, ids)] if agg else []
        return self._sink_hops(cap, kind, ids)

    def _sink_hops(self, cap: _Capability, kind: str, ids: tuple[str, ...]) -> list[_Hop]:
        if cap.capability == "grant_role" and parse_action(cap.source).resource == (
            "scopedRoleMemberships"
        ):
            return [_Hop(_SCOPED_ROLES[0], cap.action, cap.capability, "can")]
        if cap.capability == "grant_api_permissions" and kind == "application":
            return [
                _Hop(
                    f"aggregate:app roles of the API at {self.scope_label(kind, ids)}",
                    cap.action,
                    cap.capability,
                    "can assign",
                )
            ]
        sink = _SINKS.get(cap.capability)
        return [] if sink is None else [_Hop(sink[0], cap.action, cap.capability, "can")]

    def _aggregate_hop(self, cap: _Capability, kind: str, ids: tuple[str, ...]) -> _Hop:
        noun = "devices" if cap.capability == "read_secret" else "groups"
        count = "" if self.view is None else f"{self.view.count_at(noun, kind, ids)} "
        what = "devices" if noun == "devices" else "groups (not role-assignable)"
        label = f"{count}{what} at {self.scope_label(kind, ids)}"
        relation = {"read_secret": "can read secrets of", "inherit_access": "can add members to"}
        return _Hop(
            f"aggregate:{label}",
            cap.action,
            cap.capability,
            relation.get(cap.capability, "can change owners of"),
        )

    def _app_hops(self, cap: _Capability, kind: str, ids: tuple[str, ...], agg: bool) -> list[_Hop]:
        if kind == "administrative_unit":
            return []  # administrative units hold no applications
        relation = "can add credentials to" if cap.capability == "act_as" else "can become owner of"
        if self.view is None:
            return [_Hop("unknown:app", cap.action, cap.capability, relation)]
        which = "application" if cap.target == "application" else "service principal"
        targets = self.view.apps_at(which, kind, ids)
        named = [t for t in targets if _obj(t) in self.g]
        noun = "app registrations" if which == "application" else "service principals"
        return self._split(
            cap,
            named=named,
            rest=len(targets) - len(named),
            relation=relation,
            noun=noun,
            scope=(kind, ids),
            agg=agg,
        )

    def _group_hops(self, cap: _Capability, kind: str) -> list[_Hop]:
        if kind != "tenant":
            return []  # role-assignable groups are managed at tenant scope only
        relation = "can add members to"
        if self.view is None:
            return [_Hop("unknown:group", cap.action, cap.capability, relation)]
        return [
            _Hop(_obj(g.id), cap.action, cap.capability, relation)
            for g in self.view.ra_groups
            if g.id not in self.view.restricted
        ]

    def _user_hops(
        self, cap: _Capability, kind: str, ids: tuple[str, ...], actor: str | None, agg: bool
    ) -> list[_Hop]:
        if kind == "application":
            return []
        actors, named = self.reset if _is_password(cap.source) else self.sensitive
        allowed = None if actor is None else actors.get(actor)
        relation = "can set the credentials of"
        if self.view is None:
            return self._virtual_user_hops(cap, allowed, named, relation, agg)
        view = self.view
        # Users with no relation in the graph hold no role: Entra treats them alike, so they
        # are counted, not enumerated (keeps large tenants fast).
        cands = [u for u in self._present_users if view.user_in_scope(u, kind, ids)]
        named_hops = [u for u in cands if view.may_act_on(u, allowed, named)]
        rest = view.user_count(kind, ids) - len(cands)
        rest = rest if view.may_act_on("", allowed, named) else 0
        return self._split(
            cap,
            named=named_hops,
            rest=rest,
            relation=relation,
            noun="users",
            scope=(kind, ids),
            agg=agg,
        )

    def _virtual_user_hops(
        self,
        cap: _Capability,
        allowed: frozenset[str] | None,
        named: frozenset[str],
        relation: str,
        agg: bool,
    ) -> list[_Hop]:
        hops = []
        for node in sorted(self.g.nodes):
            data = self.g.nodes[node]
            if data["kind"] != "role":
                continue
            name = str(data["role_name"])
            if allowed is None or name in allowed or (name not in named and _ALL_OTHER in allowed):
                hops.append(_Hop(node, cap.action, cap.capability, relation))
        if agg:
            label = "aggregate:users without directory roles"
            hops.append(_Hop(label, cap.action, cap.capability, relation))
        return hops

    def _split(
        self,
        cap: _Capability,
        *,
        named: list[str],
        rest: int,
        relation: str,
        noun: str,
        scope: tuple[str, tuple[str, ...]],
        agg: bool,
    ) -> list[_Hop]:
        """Objects with a relation in the graph become individual hops; the ``rest`` (objects
        without any) one aggregate hop."""
        hops = [_Hop(_obj(t), cap.action, cap.capability, relation) for t in sorted(named)]
        if agg and rest > 0:
            what = noun if rest > 1 else _SINGULAR[noun]
            label = f"aggregate:{rest} other {what} at {self.scope_label(*scope)}"
            hops.append(_Hop(label, cap.action, cap.capability, relation))
        return hops


_SINGULAR = {
    "users": "user",
    "app registrations": "app registration",
    "service principals": "service principal",
}


def _assignment_key(a: RoleAssignment) -> tuple[str, str, str, str]:
    return (a.principal_id, a.role_definition_id, a.directory_scope_id, a.assignment_type)


# --------------------------------------------------------------------------- cache
_CACHE: collections.OrderedDict[tuple[int, int, int], tuple[object, object, object, _Index]] = (
    collections.OrderedDict()
)
_CACHE_SIZE = 4


def _index(
    catalog: Catalog,
    directory: DirectorySnapshot | None,
    app_permissions: Mapping[str, Iterable[str]] | None,
) -> _Index:
    """The shared index. The cache holds references to its inputs, so their ids stay unique."""
    key = (id(catalog), id(directory), id(app_permissions))
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit[3]
    if directory is None and app_permissions:
        raise InvalidValueError("app_permissions needs a directory snapshot to resolve its keys")
    index = _Index(catalog, directory, app_permissions or {})
    _CACHE[key] = (catalog, directory, app_permissions, index)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return index


# --------------------------------------------------------------------------- outcomes
@dataclass(frozen=True, slots=True)
class _Outcome:
    hop: _Hop
    severity: str
    chain: tuple[str, ...]  # node keys from the hop's target to the outcome


def _outcome(index: _Index, hop: _Hop) -> _Outcome:
    """The worst outcome reachable through one first hop (see Severity in the module doc)."""
    base = _BASE_SEVERITY.get(hop.capability, "low")
    for level in ("critical", "high", "medium"):
        if _SEV_RANK[level] <= _SEV_RANK[base]:
            break
        nxt = index.toward[level]
        if hop.target in nxt:
            return _Outcome(hop, level, _chain(nxt, hop.target))
    return _Outcome(hop, base, (hop.target,))


def _chain(nxt: Mapping[str, str], start: str) -> tuple[str, ...]:
    out = [start]
    while nxt[out[-1]] != out[-1]:
        out.append(nxt[out[-1]])
    return tuple(out)


def _label(index: _Index, key: str) -> str:
    if key in index.g:
        return str(index.g.nodes[key]["label"])
    return key.split(":", 1)[-1]


def _relation(index: _Index, a: str, b: str) -> str:
    return str(index.g.edges[a, b]["relation"]) if index.g.has_edge(a, b) else "reaches"


def _path_for(index: _Index, group: list[_Outcome]) -> EscalationPath:
    best = min(group, key=lambda o: _exemplar_key(index, o))
    labels = tuple(_label(index, k) for k in best.chain)
    actions = sorted({o.hop.action for o in group})
    return EscalationPath(
        action=best.hop.action,
        gains=_gains(best, labels),
        severity=best.severity,
        via=labels,
        explanation=_explain(index, best, len({o.hop.target for o in group}), actions),
    )


def _gains(best: _Outcome, labels: tuple[str, ...]) -> str:
    if best.severity == "critical":
        return f"tenant-wide control: {labels[-1]}"
    if len(labels) > 1:
        return f"the rights of {labels[-1]}"
    return f"{_GAIN_VERBS.get(best.hop.capability, 'control')} {labels[0]}"


_GAIN_VERBS = {
    "act_as": "act as",
    "take_ownership": "become owner of and act as",
    "read_secret": "read the secrets of",
    "inherit_access": "add members to",
    "control_membership": "change the owners of",
    "inherit_roles": "add members to",
}
_SINK_ORDER = {k: i for i, (k, _) in enumerate((*_SINKS.values(), _ASSUMED_APP, _ASSUMED_GROUP))}


def _exemplar_key(index: _Index, o: _Outcome) -> tuple[int, int, str, str]:
    """Shortest chain first; among equals the most telling outcome (role assignment before
    policy, before assumptions), then by label."""
    rank = _SINK_ORDER.get(o.chain[-1], len(_SINK_ORDER))
    return (len(o.chain), rank, _label(index, o.chain[0]), o.hop.action)


def _explain(index: _Index, best: _Outcome, n: int, actions: list[str]) -> str:
    first = best.chain[0]
    steps = [f"this role {best.hop.relation} {_label(index, first)} ({best.hop.action})"]
    for a, b in itertools.pairwise(best.chain):
        steps.append(f"{_label(index, a)} {_relation(index, a, b)} {_label(index, b)}")
    text = "; ".join(steps)
    if n > 1:
        text += f"; {n} targets lead to this outcome"
    others = [a for a in actions if a != best.hop.action]
    if others:
        text += f"; also granted by {', '.join(others)}"
    if index.directory is None and first not in _CONTROL_KEYS:
        text += "; assumed without a directory snapshot (pass directory= to use real objects)"
    return text


_CONTROL_KEYS = frozenset(k for k, _ in _SINKS.values()) | {_SCOPED_ROLES[0]}


# --------------------------------------------------------------------------- public API
def _check_inputs(actions: Iterable[str], scope_kind: str) -> tuple[str, ...]:
    acts = tuple(sorted(set(actions)))
    if not acts:
        raise InvalidValueError("a role needs at least one action")
    for a in acts:
        parse_action(a)  # InvalidValueError names the malformed action
    if scope_kind not in SCOPE_KINDS:
        raise UnknownNameError("scope kind", scope_kind, SCOPE_KINDS)
    return acts


def _outcomes(
    actions: tuple[str, ...],
    catalog: Catalog,
    *,
    scope: tuple[str, tuple[str, ...]],
    directory: DirectorySnapshot | None,
    builtin_role: str | None,
    app_permissions: Mapping[str, Iterable[str]] | None,
) -> tuple[_Index, list[_Outcome]]:
    index = _index(catalog, directory, app_permissions)
    if index.view is not None:
        index.view.check_scope(*scope)
    actor = None if builtin_role is None else catalog.role(builtin_role).name
    hops = index.hops(actions, scope[0], scope[1], actor, aggregates=True)
    return index, [_outcome(index, h) for h in hops]


def _grouped(outcomes: list[_Outcome]) -> list[list[_Outcome]]:
    groups: dict[tuple[str, str], list[_Outcome]] = collections.defaultdict(list)
    for o in outcomes:
        groups[(o.hop.capability, o.severity)].append(o)
    return [groups[k] for k in sorted(groups)]


def assess_role(
    actions: Iterable[str],
    catalog: Catalog,
    *,
    scope_kind: str = "tenant",
    scope_ids: Collection[str] = (),
    directory: DirectorySnapshot | None = None,
    builtin_role: str | None = None,
    app_permissions: Mapping[str, Iterable[str]] | None = None,
) -> RiskSummary:
    """Tier, plane, score and escalation paths of ``actions`` granted at a scope.

    ``scope_kind``: ``tenant`` / ``administrative_unit`` / ``application``; ``scope_ids``: the AU
    ids or app-registration / service-principal object ids the role is assigned at (with a
    directory, empty means every AU / every app: an upper bound). ``builtin_role`` (template id
    or name) names the built-in role that holds the actions, so that Entra's protection of
    administrators from lower roles (the catalog's password-reset and sensitive-action matrices)
    applies; without it the holder is assumed able to act on any user at the scope.
    ``app_permissions`` maps a service principal (object id or app id) to the application
    permissions it holds, which the directory snapshot does not carry.

    Paths, severities and the score are defined in the module docstring. Deterministic; the
    directory analysis is computed once per (catalog, directory, app_permissions) objects.
    """
    acts = _check_inputs(actions, scope_kind)
    scope = (scope_kind, tuple(sorted(set(scope_ids))))
    index, outcomes = _outcomes(
        acts,
        catalog,
        scope=scope,
        directory=directory,
        builtin_role=builtin_role,
        app_permissions=app_permissions,
    )
    paths = sorted(
        (_path_for(index, grp) for grp in _grouped(outcomes)),
        key=lambda p: (-_SEV_RANK[p.severity], p.action, p.gains),
    )
    base = sum(catalog.risk_weight(a) for a in acts) * SCOPE_FACTORS[scope_kind]
    return RiskSummary(
        tier=role_tier(acts, catalog),
        plane=role_plane(acts, catalog),
        score=round(base + sum(SEVERITY_WEIGHTS[p.severity] for p in paths), 3),
        escalation_paths=tuple(paths),
    )


def escalation_graph(
    actions: Iterable[str],
    catalog: Catalog,
    *,
    scope_kind: str = "tenant",
    scope_ids: Collection[str] = (),
    directory: DirectorySnapshot | None = None,
    builtin_role: str | None = None,
    app_permissions: Mapping[str, Iterable[str]] | None = None,
    max_targets_per_path: int = 10,
) -> nx.DiGraph[str]:
    """The graph behind :func:`assess_role`, trimmed for plotting (same arguments).

    Node ``"subject"`` is the assessed role. For each (capability, severity) group, up to
    ``max_targets_per_path`` first-hop targets (shortest chains first) with their chains to the
    worst outcome. Nodes carry ``kind`` (subject / object / role / privilege / control /
    aggregate) and ``label``; first-hop targets also carry ``severity``. Edges carry
    ``relation``; edges from the subject also ``action`` and ``capability``.
    """
    acts = _check_inputs(actions, scope_kind)
    scope = (scope_kind, tuple(sorted(set(scope_ids))))
    index, outcomes = _outcomes(
        acts,
        catalog,
        scope=scope,
        directory=directory,
        builtin_role=builtin_role,
        app_permissions=app_permissions,
    )
    where = index.scope_label(*scope)
    out: nx.DiGraph[str] = nx.DiGraph(scope=where)
    out.add_node("subject", kind="subject", label=f"this role ({where})")
    for grp in _grouped(outcomes):
        ranked = sorted(grp, key=lambda o: _exemplar_key(index, o))
        for o in ranked[: max(0, max_targets_per_path)]:
            _add_chain(out, index, o)
    return out


def _add_chain(out: nx.DiGraph[str], index: _Index, o: _Outcome) -> None:
    for k in o.chain:
        if k not in out:
            kind = index.g.nodes[k]["kind"] if k in index.g else "aggregate"
            out.add_node(k, kind=kind, label=_label(index, k))
    first = o.chain[0]
    prev = out.nodes[first].get("severity")
    if prev is None or _SEV_RANK[str(prev)] < _SEV_RANK[o.severity]:
        out.nodes[first]["severity"] = o.severity
    out.add_edge(
        "subject", first, relation=o.hop.relation, action=o.hop.action, capability=o.hop.capability
    )
    for a, b in itertools.pairwise(o.chain):
        out.add_edge(a, b, relation=_relation(index, a, b))
