"""Built-in role definitions: the compact record kept in ``data/`` and the model loaded from it.

``compact_roles(values)`` turns Graph ``unifiedRoleDefinition`` objects (as returned by
``GET /roleManagement/directory/roleDefinitions``, camelCase keys) into the compact, sorted
records stored in ``data/roles_<version>.json``. The build uses it, and so does
``Catalog.from_role_definitions`` when a live tenant is read.

Assignability (ours, rule-based, used to exclude roles from least-privileged searches). A role is
not meaningfully assignable when Microsoft's definition says so:

* ``assignmentMode`` is not ``allowed`` (system-assigned roles: Guest User, User...);
* ``isEnabled`` is false;
* its description starts with "Deprecated" or "Do not use" (Device Managers, Partner Tier1/2
  Support, Device Join...);
* its description says it is only used by a service (Directory Synchronization Accounts, On
  Premises Directory Sync Account: reserved for Microsoft Entra Connect);
* it grants no action at all (nothing to cover with it).

Audience (ours, rule-based, from the same description field). ``BuiltinRole.applications_only``
is True when Microsoft's description says the role is not intended for users (today only Directory
Writers, described as a role for applications). Such a role stays assignable, but the
least-privileged search proposes it only for applications
(``least_privileged_builtin(..., for_principal="application")``), never for a person's task.

``BuiltinRole.described_as_reader`` is True when the description opens by presenting the role as
a reader ("Can read ...", "View ...") or calls its access read-only. The least-privileged search
uses it to spot roles whose power a service grants outside their resource actions (a role
described as managing something whose actions change nothing, such as Kaizala Administrator).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .actions import Grant
from .errors import CatalogError

_DEPRECATED = re.compile(r"^\s*(deprecated|do not use)\b", re.IGNORECASE)
_SERVICE_ONLY = re.compile(r"^\s*only used by\b", re.IGNORECASE)
_NOT_FOR_USERS = re.compile(r"\bnot intended for users\b", re.IGNORECASE)
_READER = re.compile(r"^\s*(can\s+)?(read|view|see)\b|\bread-only\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RoleAction:
    """One action a role grants, with the grant's condition (None = unconditioned)."""

    name: str
    condition: str | None = None

    @property
    def grant(self) -> Grant:
        """The ``(action, condition)`` pair used by coverage checks."""
        return (self.name, self.condition)


@dataclass(frozen=True, slots=True)
class BuiltinRole:
    """A built-in Entra role definition (keyed by its template id)."""

    id: str
    name: str
    description: str
    actions: tuple[RoleAction, ...]
    is_privileged: bool | None
    is_enabled: bool
    assignment_mode: str
    categories: tuple[str, ...]
    au_scopable: bool
    notes: tuple[str, ...] = ()
    inherits_from: tuple[str, ...] = field(default=())

    @property
    def action_names(self) -> frozenset[str]:
        """Actions granted without condition."""
        return frozenset(a.name for a in self.actions if a.condition is None)

    @property
    def conditional_actions(self) -> tuple[RoleAction, ...]:
        """Actions granted only under a condition (``$ResourceIsSelf``, ``$SubjectIsOwner``)."""
        return tuple(a for a in self.actions if a.condition is not None)

    @property
    def assignable(self) -> bool:
        """False for roles excluded from recommendations (see the module docstring)."""
        return not self.notes

    @property
    def applications_only(self) -> bool:
        """True when Microsoft describes the role as meant for applications, not users (module
        docstring): proposed for service principals only."""
        return bool(_NOT_FOR_USERS.search(self.description))

    @property
    def described_as_reader(self) -> bool:
        """True when Microsoft's description opens by presenting the role as a reader ("Can read
        ...", "View ...") or calls its access read-only (module docstring)."""
        return bool(_READER.search(self.description))


def role_notes(record: Mapping[str, Any]) -> tuple[str, ...]:
    """Why a compact role record is not meaningfully assignable (empty: it is)."""
    notes: list[str] = []
    if record.get("assignment_mode", "allowed") != "allowed":
        notes.append(f"assignment mode {record['assignment_mode']!r}: assigned by the system")
    if not record.get("is_enabled", True):
        notes.append("disabled by Microsoft")
    description = record.get("description") or ""
    if _DEPRECATED.match(description):
        notes.append("Microsoft marks it deprecated / not for use")
    if _SERVICE_ONLY.match(description):
        notes.append("reserved for a Microsoft service account")
    if not any(p["actions"] for p in record["permissions"]):
        notes.append("grants no action")
    return tuple(notes)


def compact_roles(
    values: Iterable[Mapping[str, Any]], au_scopable: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Graph role definitions → compact records, sorted by name then id (deterministic)."""
    au = set(au_scopable)
    out = [_compact_one(v, au) for v in values if v.get("isBuiltIn", True)]
    seen: set[str] = set()
    for rec in out:
        if rec["id"] in seen:
            raise CatalogError(f"duplicate role template id {rec['id']!r} ({rec['name']!r})")
        seen.add(rec["id"])
    return sorted(out, key=lambda r: (r["name"].lower(), r["id"]))


def _compact_one(value: Mapping[str, Any], au: set[str]) -> dict[str, Any]:
    try:
        template_id = str(value.get("templateId") or value["id"])
        name = str(value["displayName"])
        perms = value.get("rolePermissions") or []
    except KeyError as exc:
        raise CatalogError(
            f"role definition without {exc.args[0]!r}: {dict(value)!r:.200}"
        ) from exc
    permissions = [
        {
            "actions": sorted(set(p.get("allowedResourceActions") or [])),
            "condition": p.get("condition"),
        }
        for p in perms
    ]
    permissions.sort(key=lambda p: (p["condition"] or "", p["actions"]))
    categories = value.get("categories") or ""
    inherits = sorted(str(x["id"]) for x in value.get("inheritsPermissionsFrom") or [])
    return {
        "id": template_id,
        "name": name,
        "description": value.get("description") or "",
        "is_privileged": value.get("isPrivileged"),
        "is_enabled": bool(value.get("isEnabled", True)),
        "assignment_mode": value.get("assignmentMode") or "allowed",
        "categories": sorted(c for c in str(categories).split(",") if c),
        "au_scopable": template_id in au,
        "inherits_from": inherits,
        "permissions": permissions,
    }


def role_from_record(record: Mapping[str, Any]) -> BuiltinRole:
    """Compact record (``data/roles_*.json``) → :class:`BuiltinRole`."""
    actions = sorted(
        {RoleAction(a, p.get("condition")) for p in record["permissions"] for a in p["actions"]},
        key=lambda ra: (ra.name, ra.condition or ""),
    )
    return BuiltinRole(
        id=record["id"],
        name=record["name"],
        description=record.get("description", ""),
        actions=tuple(actions),
        is_privileged=record.get("is_privileged"),
        is_enabled=record.get("is_enabled", True),
        assignment_mode=record.get("assignment_mode", "allowed"),
        categories=tuple(record.get("categories", ())),
        au_scopable=bool(record.get("au_scopable", False)),
        notes=role_notes(record),
        inherits_from=tuple(record.get("inherits_from", ())),
    )
