"""The :class:`Catalog`: Entra's permission model loaded from ``data/``, with its queries.

``load_catalog()`` reads the JSON that ``python -m permission_catalog.build`` writes (orjson;
cached per data folder and role set). Indices that cost time (implication closures,
classifications, role expansions) are built on first use.

Action semantics (grammar, implication) are documented in :mod:`permission_catalog.actions`;
classification in :mod:`permission_catalog.classify`; the least-privileged search in
:mod:`permission_catalog.lpb`; custom-role rules in :mod:`permission_catalog.custom_roles`.

Scopes an action may be assigned at (our rules over Microsoft's documented scope model):

* ``tenant``: every action.
* ``administrative_unit``: actions on users and groups (including subtypes such as
  ``groups.security``), except creating a directory object; on devices only enable / disable /
  delete and reads; and BitLocker key reads (Microsoft limits device management at AU scope to
  those).
* ``application`` (one app registration or enterprise app): actions on ``applications`` and
  ``servicePrincipals``, except creating a directory object.

Creating a directory object (``users/create``, ``groups/create``, ``applications/create``)
takes effect only tenant-wide; creating a sub-object of an existing object
(``users/authenticationMethods/create``: a method or Temporary Access Pass of a user) follows
its parent object's scope. These are the delegation rules of
:func:`permission_catalog.tasks.delegable_scopes`, which this module reuses, so tasks and
actions cannot disagree; the object types an AU can hold come from ``scope_rules.json``.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from . import DATA_DIR
from . import classify as _cls
from .actions import (
    Grant,
    ParsedAction,
    as_grant,
    parse_action,
    parsed_implies,
)
from .errors import CatalogError, InvalidValueError, UnknownNameError
from .roles import BuiltinRole, RoleAction, compact_roles, role_from_record
from .tasks import delegable_scopes

if TYPE_CHECKING:  # pragma: no cover
    from .audit_rules import ActivityMapping, ActivityMatcher, AuditRule
    from .custom_roles import CustomRoleViolation
    from .diff import CatalogDiff
    from .lpb import LeastPrivilegedResult
    from .tasks import Task

SCOPES = ("tenant", "administrative_unit", "application")

GrantLike = str | tuple[str, str | None] | RoleAction


@dataclass(frozen=True, slots=True)
class ResourceAction:
    """One resource action with its parsed parts and the facts known about it."""

    name: str
    namespace: str
    resource: str
    subtype: str | None
    property_path: tuple[str, ...]
    verb: str
    custom_role_ok: bool
    scopes: tuple[str, ...]
    is_privileged: bool | None
    roles: tuple[str, ...]
    description: str | None
    templated: bool = False
    custom_role_pages: tuple[str, ...] = ()
    privileged_sources: tuple[str, ...] = ()

    @property
    def parsed(self) -> ParsedAction:
        """The parsed parts (for implication checks)."""
        return parse_action(self.name)


@dataclass(frozen=True, slots=True)
class Limit:
    """A documented tenant or PIM limit (``cat.limits['max_custom_roles'].value == 100``)."""

    key: str
    value: Any
    unit: str | None
    fact: str
    source_article: str | None
    source_commit: str | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: ``kind`` is ``action``, ``role`` or ``task``."""

    kind: str
    key: str
    title: str
    score: int


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: missing; run `python -m permission_catalog.build`") from exc
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"{path}: invalid JSON ({exc})") from exc


def action_scopes(p: ParsedAction, au_types: frozenset[str]) -> tuple[str, ...]:
    """Scopes an action may be assigned at (rules in the module docstring): the task
    delegation rule, with administrative-unit scope kept only for objects an AU can hold."""
    scopes = delegable_scopes(p.name)
    # BitLocker keys belong to devices: they are AU-scoped through their device.
    held = "devices" if p.resource == "bitlockerKeys" else p.resource
    if "administrative_unit" in scopes and held not in au_types:
        return tuple(s for s in scopes if s != "administrative_unit")
    return scopes


class Catalog:
    """Entra's permission model: actions, built-in roles, tasks, audit rules and their queries."""

    def __init__(
        self,
        version: str,
        role_records: list[dict[str, Any]],
        facts: list[dict[str, Any]],
        data_dir: Path = DATA_DIR,
        extra_actions: Iterable[str] = (),
    ) -> None:
        self.version = version
        self.data_dir = data_dir
        self._facts = {f["name"]: f for f in facts}
        self._roles = {r.id: r for r in (role_from_record(rec) for rec in role_records)}
        scope_rules = _read_json(data_dir / "scope_rules.json")
        self._au_types = frozenset(scope_rules["au_member_types"])
        self._actions = self._build_actions(extra_actions)
        self._implied: dict[str, frozenset[str]] = {}
        self._classified: dict[str, _cls.Classification] = {}

    # ----------------------------------------------------------------- construction
    def _build_actions(self, extra: Iterable[str]) -> dict[str, ResourceAction]:
        granted_by: dict[str, set[str]] = defaultdict(set)
        for role in self._roles.values():
            for ra in role.actions:
                granted_by[ra.name].add(role.id)
        names = set(granted_by) | set(extra)
        names |= {n for n, f in self._facts.items() if f.get("custom_role_ok")}
        return {n: self._make_action(n, granted_by.get(n, set())) for n in sorted(names)}

    def _make_action(self, name: str, role_ids: set[str]) -> ResourceAction:
        p = parse_action(name)
        fact = self._facts.get(name, {})
        return ResourceAction(
            name=name,
            namespace=p.namespace,
            resource=p.resource,
            subtype=p.subtype,
            property_path=p.property_path,
            verb=p.verb,
            custom_role_ok=bool(fact.get("custom_role_ok", False)),
            scopes=action_scopes(p, self._au_types),
            is_privileged=fact.get("is_privileged"),
            roles=tuple(sorted(role_ids)),
            description=fact.get("description"),
            templated=p.templated,
            custom_role_pages=tuple(fact.get("custom_role_pages", ())),
            privileged_sources=tuple(fact.get("privileged_sources", ())),
        )

    @classmethod
    def from_data_dir(cls, data_dir: Path = DATA_DIR, roles: str | None = None) -> Catalog:
        """Load a catalog from a ``data/`` folder; ``roles`` picks a role export."""
        manifest = _read_json(data_dir / "manifest.json")
        version = roles or manifest["current_roles"]
        role_file = data_dir / f"roles_{version}.json"
        if not role_file.exists():
            known = sorted(p.stem.removeprefix("roles_") for p in data_dir.glob("roles_*.json"))
            raise UnknownNameError("role-definition export", version, known, hint=f"in {data_dir}")
        role_data = _read_json(role_file)
        facts = _read_json(data_dir / "actions.json")["actions"]
        return cls(version, role_data["roles"], facts, data_dir)

    @classmethod
    def from_role_definitions(
        cls,
        values: Iterable[Mapping[str, Any]],
        *,
        version: str = "tenant",
        resource_actions: Iterable[Mapping[str, Any]] | None = None,
        data_dir: Path = DATA_DIR,
    ) -> Catalog:
        """A catalog over another set of role definitions (e.g. read from a live tenant).

        ``values`` are Graph ``unifiedRoleDefinition`` objects (camelCase, as Graph returns them;
        custom roles, ``isBuiltIn: false``, are ignored). ``resource_actions`` are optional Graph
        ``unifiedRbacResourceAction`` objects (``name``, ``description``, ``isPrivileged``):
        they add actions, and their privileged flag and description override the bundled facts.
        Custom-role facts (which actions custom roles accept) come from the bundled data.
        """
        facts = _read_json(data_dir / "actions.json")["actions"]
        au_ids = [r["id"] for r in _read_json(data_dir / "scope_rules.json")["au_scopable_roles"]]
        extra: list[str] = []
        if resource_actions is not None:
            facts, extra = _merge_resource_actions(facts, resource_actions)
        return cls(version, compact_roles(values, au_ids), facts, data_dir, extra)

    # ----------------------------------------------------------------- lookups
    @property
    def actions(self) -> Mapping[str, ResourceAction]:
        """Every known resource action, by name (sorted)."""
        return self._actions

    def action(self, name: str) -> ResourceAction:
        """The action ``name``; InvalidValueError if malformed, UnknownNameError if unknown."""
        hit = self._actions.get(name)
        if hit is None:
            parse_action(name)
            raise UnknownNameError("resource action", name, self._actions)
        return hit

    def scopes_of(self, name: str) -> tuple[str, ...]:
        """Scopes any (even unknown) well-formed action may be assigned at (module docstring)."""
        return action_scopes(parse_action(name), self._au_types)

    @property
    def roles(self) -> Mapping[str, BuiltinRole]:
        """Built-in roles by template id."""
        return self._roles

    def role(self, id_or_name: str) -> BuiltinRole:
        """A role by template id or (case-insensitive) display name."""
        hit = self._roles.get(id_or_name.strip().lower())
        return hit if hit is not None else self.role_by_name(id_or_name)

    def role_by_name(self, name: str) -> BuiltinRole:
        """A role by display name, case-insensitive; suggestions on a miss."""
        key = " ".join(name.split()).lower()
        for role in self._roles.values():
            if role.name.lower() == key:
                return role
        raise UnknownNameError("built-in role", name, [r.name for r in self._roles.values()])

    @functools.cached_property
    def limits(self) -> Mapping[str, Limit]:
        """Named tenant / custom-role / PIM limits (``max_custom_roles``,
        ``pim_min_assignment_minutes``...)."""
        named = _read_json(self.data_dir / "limits.json")["named"]
        return {
            k: Limit(
                k,
                v["value"],
                v.get("unit"),
                v["fact"],
                v.get("source_article"),
                v.get("source_commit"),
            )
            for k, v in sorted(named.items())
        }

    @functools.cached_property
    def limit_facts(self) -> tuple[Mapping[str, Any], ...]:
        """Every limit / scope / licensing fact of the source, as recorded."""
        return tuple(_read_json(self.data_dir / "limits.json")["facts"])

    @functools.cached_property
    def privileged_targets(self) -> Mapping[str, Any]:
        """Who may reset passwords / perform sensitive actions on whom (tenant scope)."""
        data: Mapping[str, Any] = _read_json(self.data_dir / "privileged_targets.json")
        return data

    def password_reset_targets(self, role: str) -> tuple[str, ...]:
        """Kinds of users whose password a holder of ``role`` may reset (documented matrix)."""
        name = self.role(role).name
        rows = self.privileged_targets["who_can_reset_passwords"]
        return tuple(r["target_role"] for r in rows if name in r["actors"])

    # ----------------------------------------------------------------- implication
    def implies(self, a: str, b: str) -> bool:
        """Does granting ``a`` allow ``b``? (grammar rules: :mod:`permission_catalog.actions`)."""
        return parsed_implies(parse_action(a), parse_action(b))

    @functools.cached_property
    def _families(self) -> dict[tuple[str, str], tuple[ParsedAction, ...]]:
        """Catalog actions grouped by (namespace, resource): implication never leaves a family
        except through ``allEntities``."""
        fam: dict[tuple[str, str], list[ParsedAction]] = defaultdict(list)
        for name in self._actions:
            p = parse_action(name)
            fam[(p.namespace, p.resource)].append(p)
        return {k: tuple(v) for k, v in fam.items()}

    @functools.cached_property
    def _namespaces(self) -> dict[str, tuple[ParsedAction, ...]]:
        ns: dict[str, list[ParsedAction]] = defaultdict(list)
        for name in self._actions:
            p = parse_action(name)
            ns[p.namespace].append(p)
        return {k: tuple(v) for k, v in ns.items()}

    def implied(self, name: str) -> frozenset[str]:
        """Catalog actions that granting ``name`` allows (including itself when it is known)."""
        hit = self._implied.get(name)
        if hit is None:
            p = parse_action(name)
            pool = (
                self._namespaces.get(p.namespace, ())
                if p.resource == "allEntities"
                else self._families.get((p.namespace, p.resource), ())
            )
            hit = frozenset(q.name for q in pool if parsed_implies(p, q))
            self._implied[name] = hit
        return hit

    def expand(self, actions: Iterable[str]) -> frozenset[str]:
        """The given actions plus every catalog action they imply."""
        out: set[str] = set()
        for name in actions:
            out.add(name)
            out |= self.implied(name)
        return frozenset(out)

    def covers(self, granted: Iterable[GrantLike], needed: Iterable[GrantLike]) -> bool:
        """Do the grants allow every needed action? Conditioned grants cover only needs under the
        same condition (``$ResourceIsSelf`` never covers the unconditioned action)."""
        return not self.uncovered(granted, needed)

    def uncovered(
        self, granted: Iterable[GrantLike], needed: Iterable[GrantLike]
    ) -> frozenset[str]:
        """Names of the needed actions the grants do not allow."""
        index = _GrantIndex(_grants(granted))
        return frozenset(n for n, cond in _grants(needed) if not index.covers(n, cond))

    # ----------------------------------------------------------------- classification
    def classify(self, action: str) -> _cls.Classification:
        """Plane and tier with reasons; the tier is raised to that of any implied catalog action."""
        hit = self._classified.get(action)
        if hit is None:
            hit = self._classified[action] = self._classify(action)
        return hit

    def _classify(self, action: str) -> _cls.Classification:
        own = _cls.classify_parsed(parse_action(action))
        rank = _cls.TIER_RANK[own.tier]
        top: tuple[int, str] | None = None
        for other in sorted(self.implied(action) - {action}):
            other_tier = _cls.tier_of(parse_action(other))[0]
            if _cls.TIER_RANK[other_tier] > rank and (
                top is None or _cls.TIER_RANK[other_tier] > top[0]
            ):
                top = (_cls.TIER_RANK[other_tier], other)
        if top is None:
            return own
        tier = _cls.TIERS[top[0]]
        reason = f"tier: implies {top[1]} ({tier})"
        return _cls.Classification(action, own.plane, tier, (*own.reasons, reason))

    def risk_weight(self, action: str) -> float:
        """Documented risk weight (:data:`permission_catalog.classify.RISK_WEIGHTS`)."""
        c = self.classify(action)
        hit = self._actions.get(action)
        return _cls.risk_weight_for(c.plane, c.tier, hit.is_privileged if hit else None)

    def is_privileged(self, action: str) -> bool:
        """Microsoft's label where known, else our control tier (the weight-5 actions of the
        least-privileged search)."""
        hit = self._actions.get(action)
        if hit is not None and hit.is_privileged is not None:
            return hit.is_privileged
        return self.classify(action).tier == "control"

    def escalation_edges(self, action: str | None = None) -> tuple[_cls.EscalationEdge, ...]:
        """Escalation edges of one action (its own plus those of actions it implies, marked
        "via"), or of every catalog action when ``action`` is None."""
        if action is None:
            return tuple(e for name in self._actions for e in self.escalation_edges(name))
        own = _cls.edges_of(parse_action(action))
        seen = {(e.capability, e.target) for e in own}
        out = list(own)
        for other in sorted(self.implied(action) - {action}):
            for e in _cls.edges_of(parse_action(other)):
                if (e.capability, e.target) not in seen:
                    seen.add((e.capability, e.target))
                    out.append(
                        _cls.EscalationEdge(
                            action, e.capability, e.target, f"via {other}: {e.reason}"
                        )
                    )
        return tuple(out)

    # ----------------------------------------------------------------- roles and search
    @functools.cached_property
    def _role_expansions(self) -> dict[str, frozenset[str]]:
        return {rid: self.expand(a.name for a in r.actions) for rid, r in self._roles.items()}

    def role_expansion(self, role: str) -> frozenset[str]:
        """Every catalog action a role grants, directly or by implication (conditions ignored)."""
        return self._role_expansions[self.role(role).id]

    def roles_covering(self, actions: Iterable[str]) -> tuple[BuiltinRole, ...]:
        """Built-in roles whose unconditioned grants alone allow all ``actions`` (by name)."""
        needed = list(actions)
        return tuple(
            sorted(
                (
                    r
                    for r in self._roles.values()
                    if self.covers((a for a in r.actions if a.condition is None), needed)
                ),
                key=lambda r: r.name,
            )
        )

    def least_privileged_builtin(
        self,
        actions: Iterable[str],
        *,
        targets: str | Iterable[str] | None = None,
        for_principal: str = "user",
    ) -> LeastPrivilegedResult:
        """Exact minimum-privilege set of assignable built-in roles covering ``actions``
        (see :mod:`permission_catalog.lpb`). ``targets`` restricts candidates to roles allowed
        to act on those users (``"non_admins"``, ``"limited_admins"``, ``"privileged_admins"``);
        ``for_principal="application"`` also admits roles meant for applications."""
        from .lpb import least_privileged_builtin

        return least_privileged_builtin(
            self, actions, targets=targets, for_principal=for_principal
        )

    def search(
        self, text: str, kinds: Iterable[str] = ("action", "role", "task"), limit: int = 50
    ) -> list[SearchHit]:
        """Case-insensitive search over action names/descriptions, role names/descriptions and
        task ids/titles; best matches first (exact, prefix, name, description), then by key."""
        from .search import search

        return search(self, text, frozenset(kinds), limit)

    def diff(self, other: Catalog) -> CatalogDiff:
        """What changed from ``self`` to ``other`` (roles added / removed / changed, actions)."""
        from .diff import diff_catalogs

        return diff_catalogs(self, other)

    def check_custom_role(
        self,
        actions: Iterable[str],
        scope: str = "tenant",
        *,
        existing_custom_roles: int | None = None,
    ) -> list[CustomRoleViolation]:
        """Every custom-role rule the proposed role violates ([] = valid); see
        :mod:`permission_catalog.custom_roles`."""
        from .custom_roles import check_custom_role

        return check_custom_role(self, actions, scope, existing_custom_roles=existing_custom_roles)

    # ----------------------------------------------------------------- tasks and audit rules
    @functools.cached_property
    def tasks(self) -> Mapping[str, Task]:
        """Curated admin tasks by id (empty until ``data/tasks.json`` exists)."""
        path = self.data_dir / "tasks.json"
        if not path.exists():
            return {}
        from .tasks import Task

        rows = _read_json(path)["tasks"]
        return {t.id: t for t in (Task.from_dict(r) for r in rows)}

    def task(self, task_id: str) -> Task:
        """One curated task; UnknownNameError with close ids on a miss."""
        hit = self.tasks.get(task_id)
        if hit is None:
            raise UnknownNameError("task", task_id, self.tasks)
        return hit

    @functools.cached_property
    def _matcher(self) -> ActivityMatcher:
        from .audit_rules import RULES_FILE, ActivityMatcher

        path = self.data_dir / RULES_FILE
        return ActivityMatcher(_read_json(path)["rules"] if path.exists() else [])

    @property
    def audit_rules(self) -> tuple[AuditRule, ...]:
        """Audit-activity rules (empty until ``data/audit_rules.json`` exists)."""
        return self._matcher.rules

    def map_activity(
        self,
        service: str,
        category: str | None,
        activity: str,
        modified_properties: Iterable[str] | str = (),
        target_type: str | None = None,
        **kwargs: Any,
    ) -> ActivityMapping:
        """Map an audit activity signature to resource actions (``ActivityMapping``)."""
        return self._matcher.match(
            service, category, activity, modified_properties, target_type, **kwargs
        )

    @functools.cached_property
    def unobservable_actions(self) -> frozenset[str]:
        """Catalog actions no admin audit rule produces (most reads): usage can never show them."""
        return frozenset(self._actions) - self._matcher.observable_actions()


class _GrantIndex:
    """Grants grouped by (namespace, resource) so a coverage check scans only its family."""

    def __init__(self, grants: Iterable[Grant]) -> None:
        self._by_family: dict[tuple[str, str], list[tuple[ParsedAction, str | None]]] = defaultdict(
            list
        )
        for name, cond in grants:
            p = parse_action(name)
            key = (p.namespace, "*" if p.resource == "allEntities" else p.resource)
            self._by_family[key].append((p, cond))

    def covers(self, name: str, condition: str | None = None) -> bool:
        p = parse_action(name)
        for key in ((p.namespace, p.resource), (p.namespace, "*")):
            for g, g_cond in self._by_family.get(key, ()):
                if (g_cond is None or g_cond == condition) and parsed_implies(g, p):
                    return True
        return False


def _grants(items: Iterable[GrantLike]) -> list[Grant]:
    out: list[Grant] = []
    for item in items:
        if isinstance(item, RoleAction):
            out.append(item.grant)
        elif isinstance(item, str | tuple):
            out.append(as_grant(item))
        else:
            raise InvalidValueError(
                f"expected an action string or (action, condition), got {item!r}"
            )
    return out


def _merge_resource_actions(
    facts: list[dict[str, Any]], resource_actions: Iterable[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Bundled facts updated with a tenant's resourceActions (isPrivileged, description)."""
    by_name = {f["name"]: dict(f) for f in facts}
    names: list[str] = []
    for ra in resource_actions:
        name = str(ra.get("name", ""))
        parse_action(name)
        names.append(name)
        fact = by_name.setdefault(
            name,
            {
                "name": name,
                "custom_role_ok": False,
                "description": None,
                "is_privileged": None,
                "privileged_sources": [],
            },
        )
        if ra.get("isPrivileged") is not None:
            fact["is_privileged"] = bool(ra["isPrivileged"])
            fact["privileged_sources"] = ["tenant resourceActions"]
        fact["description"] = ra.get("description") or fact.get("description")
    return list(by_name.values()), names


@functools.lru_cache(maxsize=8)
def _load(data_dir: Path, roles: str | None) -> Catalog:
    return Catalog.from_data_dir(data_dir, roles)


def load_catalog(data_dir: str | Path | None = None, *, roles: str | None = None) -> Catalog:
    """The catalog of ``data_dir`` (default: the bundled data), cached per folder and role set.

    ``roles`` picks another bundled role-definition export, e.g. ``"2025-03-10"``.
    """
    path = Path(data_dir).resolve() if data_dir is not None else DATA_DIR
    return _load(path, roles)
