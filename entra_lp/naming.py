"""Role names and descriptions that say what a role is for and where it applies.

A name is rendered from a :class:`NamingConvention` template (default
``"{prefix} {area} {intent} ({scope})"``, e.g. ``"LP Users Reset Password Non-Admin (AU)"``):

``area``
    The dominant area of the tasks the role realises (most tasks; ties alphabetical; a
    ``"Security - Conditional Access"`` area keeps its last part), or, without tasks, the
    resource of its changing actions with the largest summed risk weight (``users`` →
    ``Users``; a workload namespace such as ``microsoft.office365.exchange`` → ``Exchange``).
``intent``
    From tasks: the dominant verb of their ids (``users.reset-password-nonadmin`` → ``reset``),
    preferring changing verbs for changing roles, extended by the words the tasks with that verb
    share (up to three words): ``Reset Password Non-Admin``; ``Manage`` (or ``Read``) when no
    verb covers more than half of the tasks. Without tasks: ``Read`` for read-only roles, else
    the single verb of the changing actions with their single property (``Update Password``),
    or ``Manage``.
``scope``, ``plane``, ``tier``, ``prefix``
    Labels from the convention (``Tenant`` / ``AU`` / ``App``; ``Read`` / ``Exec`` / ``Config`` /
    ``Admin``).

Uniqueness (:func:`name_roles`): names are unique within a batch and never equal (case-
insensitively) a built-in role's name or a name in ``taken`` (e.g. the tenant's existing custom
roles). Colliding names are told apart, in this order, by the plane label, by the resource only
one of them touches, and finally by an ordinal (2, 3, ...) given in the order of the roles'
sorted action lists. Every step looks only at the colliding roles' content, so the result does
not depend on the order of the batch.

Length: names longer than ``max_length`` are shortened (area first, then intent, marked
``...``), never losing the scope or a disambiguating qualifier. Entra's exact display-name limit
is not recorded in the catalog; when ``catalog.limits`` gains ``max_role_display_name_length`` or
``max_role_description_length`` the smaller of the two limits applies.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

from permission_catalog.actions import parse_action

from .errors import InvalidValueError, UnknownNameError
from .risk import role_tier

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog.catalog import Catalog
    from permission_catalog.tasks import Task

__all__ = [
    "DEFAULT_CONVENTION",
    "NamingConvention",
    "RoleName",
    "RoleNameRequest",
    "name_roles",
    "role_description",
    "role_name",
]

_FIELDS = frozenset({"prefix", "area", "intent", "scope", "plane", "tier"})
_READ_VERBS = frozenset({"read", "view", "see", "list", "download"})
_ACRONYMS = {
    "au": "AU",
    "aus": "AUs",
    "b2c": "B2C",
    "ca": "CA",
    "mfa": "MFA",
    "nonadmin": "Non-Admin",
    "nonadmins": "Non-Admins",
    "oauth2": "OAuth2",
    "pim": "PIM",
    "saml": "SAML",
    "sso": "SSO",
    "sspr": "SSPR",
    "tap": "TAP",
}
_RESOURCE_NAMES = {
    "applications": "App Registrations",
    "servicePrincipals": "Enterprise Apps",
    "groupsAssignableToRoles": "Role-Assignable Groups",
    "oAuth2PermissionGrants": "OAuth2 Grants",
    "bitlockerKeys": "BitLocker Keys",
    "conditionalAccessPolicies": "Conditional Access",
    "roleAssignments": "Role Assignments",
    "roleDefinitions": "Role Definitions",
}
_SCOPE_PHRASES = {
    "tenant": "tenant scope",
    "administrative_unit": "administrative-unit scope",
    "application": "the scope of single applications",
}
_ELLIPSIS = "..."


def _default_scopes() -> dict[str, str]:
    return {"tenant": "Tenant", "administrative_unit": "AU", "application": "App"}


def _default_planes() -> dict[str, str]:
    return {"read": "Read", "execution": "Exec", "configuration": "Config", "mixed": "Admin"}


@dataclass(frozen=True)
class NamingConvention:
    """How role names are rendered (see the module docstring for the fields)."""

    prefix: str = "LP"
    template: str = "{prefix} {area} {intent} ({scope})"
    scope_labels: Mapping[str, str] = field(default_factory=_default_scopes)
    plane_labels: Mapping[str, str] = field(default_factory=_default_planes)
    max_length: int = 120
    """Our readability limit for display names (Entra's own limit is larger)."""
    max_description_length: int = 500

    def __post_init__(self) -> None:
        used = {f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None}
        unknown = sorted(used - _FIELDS)
        if unknown:
            raise UnknownNameError("naming template field", unknown[0], sorted(_FIELDS))
        if "intent" not in used:
            raise InvalidValueError(
                f"naming template {self.template!r} needs {{intent}}: it is what tells roles apart"
            )
        missing = set(_default_scopes()) - set(self.scope_labels)
        missing |= set(_default_planes()) - set(self.plane_labels)
        if missing:
            raise InvalidValueError(f"naming convention lacks labels for {sorted(missing)}")
        if self.max_length < 24 or self.max_description_length < 40:
            raise InvalidValueError("naming convention: max_length >= 24, descriptions >= 40")


DEFAULT_CONVENTION = NamingConvention()


class RoleNameRequest(NamedTuple):
    """What a name is derived from: the role's actions, realised task ids, plane and scope."""

    actions: Sequence[str]
    tasks: Sequence[str]
    plane: str
    scope_kind: str


class RoleName(NamedTuple):
    """A display name and a one-sentence description."""

    display_name: str
    description: str


# --------------------------------------------------------------------------- words
def _title(word: str) -> str:
    return _ACRONYMS.get(word.lower(), word[:1].upper() + word[1:])


def _split_camel(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)


def _resource_label(action: str) -> str:
    p = parse_action(action)
    if p.namespace != "microsoft.directory":
        return _title(p.namespace.rsplit(".", 1)[-1])
    hit = _RESOURCE_NAMES.get(p.resource)
    return hit if hit is not None else " ".join(_title(w) for w in _split_camel(p.resource).split())


def _area_label(area: str) -> str:
    return area.rsplit(" - ", 1)[-1].strip()


def _dominant(counts: Mapping[str, int]) -> str:
    return min(counts, key=lambda k: (-counts[k], k))


# --------------------------------------------------------------------------- area and intent
def _from_tasks(tasks: list[Task], plane: str) -> tuple[str, str]:
    area = _area_label(_dominant(collections.Counter(t.area for t in tasks)))
    slugs = [t.id.split(".", 1)[-1].split("-") for t in tasks]
    changing = [s for s in slugs if s[0] not in _READ_VERBS]
    pool = changing if plane != "read" and changing else slugs
    counts = collections.Counter(s[0] for s in pool)
    verb = _dominant(counts)
    if 2 * counts[verb] <= len(pool):  # no verb dominates: several kinds of work
        return area, "Read" if verb in _READ_VERBS else "Manage"
    same = [s for s in pool if s[0] == verb]
    words = _common_prefix(same)[:3]
    return area, " ".join(_title(w) for w in words)


def _common_prefix(lists: list[list[str]]) -> list[str]:
    out: list[str] = []
    for column in zip(*lists, strict=False):
        if len(set(column)) != 1:
            break
        out.append(column[0])
    return out


def _from_actions(actions: Sequence[str], plane: str, catalog: Catalog) -> tuple[str, str]:
    changing = [a for a in actions if catalog.classify(a).plane != "read"]
    pool = changing or list(actions)
    weights: dict[str, float] = collections.defaultdict(float)
    for a in pool:  # the riskiest resource names the role (ties: more actions, then name)
        weights[_resource_label(a)] += catalog.risk_weight(a)
    counts = collections.Counter(_resource_label(a) for a in pool)
    area = min(weights, key=lambda k: (-weights[k], -counts[k], k))
    if plane == "read" or not changing:
        return area, "Read"
    parsed = [parse_action(a) for a in changing]
    verbs = {p.verb.split(".")[0] for p in parsed}
    if len(verbs) != 1 or "allTasks" in verbs:
        return area, "Manage"
    verb = _title(_split_camel(verbs.pop()).split()[0])
    heads = {p.property_path[0].split(".")[0] for p in parsed if p.property_path}
    props = {h for h in heads if h not in ("allProperties", "standard", "basic")}
    if len(props) == 1 and len(heads) == 1:
        return area, f"{verb} {_title(_split_camel(props.pop()))}"
    return area, verb


# --------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class _Parts:
    area: str
    intent: str
    qualifier: str
    scope: str
    plane: str
    tier: str

    def render(self, conv: NamingConvention, limit: int) -> str:
        """The name, with area then intent shortened (``...``) to fit ``limit``."""
        area, intent = self.area, self.intent
        name = self._fill(conv, area, intent)
        for which in ("area", "intent"):
            over = len(name) - limit
            text = area if which == "area" else intent
            if over <= 0 or len(text) <= 1 + len(_ELLIPSIS):
                continue
            short = text[: max(1, len(text) - over - len(_ELLIPSIS))].rstrip() + _ELLIPSIS
            area, intent = (short, intent) if which == "area" else (area, short)
            name = self._fill(conv, area, intent)
        if len(name) > limit:
            raise InvalidValueError(
                f"role name {name!r} cannot fit max_length={limit}: the prefix, scope and "
                "qualifier leave no room; shorten the prefix or raise max_length"
            )
        return name

    def _fill(self, conv: NamingConvention, area: str, intent: str) -> str:
        full_intent = f"{intent} - {self.qualifier}" if self.qualifier else intent
        text = conv.template.format(
            prefix=conv.prefix,
            area=area,
            intent=full_intent,
            scope=self.scope,
            plane=self.plane,
            tier=self.tier,
        )
        return " ".join(text.split())


def _parts(req: RoleNameRequest, catalog: Catalog, conv: NamingConvention) -> _Parts:
    if req.scope_kind not in conv.scope_labels:
        raise UnknownNameError("scope kind", req.scope_kind, sorted(conv.scope_labels))
    if req.plane not in conv.plane_labels:
        raise UnknownNameError("plane", req.plane, sorted(conv.plane_labels))
    if not req.actions:
        raise InvalidValueError("a role name needs at least one action")
    tasks = [catalog.task(t) for t in sorted(set(req.tasks))]
    area, intent = (
        _from_tasks(tasks, req.plane)
        if tasks
        else _from_actions(sorted(set(req.actions)), req.plane, catalog)
    )
    tier = role_tier(req.actions, catalog)
    return _Parts(
        area=area,
        intent=intent,
        qualifier="",
        scope=conv.scope_labels[req.scope_kind],
        plane=conv.plane_labels[req.plane],
        tier=tier.replace("_", " "),
    )


def _limits(catalog: Catalog, conv: NamingConvention) -> tuple[int, int]:
    def cap(key: str, ours: int) -> int:
        hit = catalog.limits.get(key)
        return min(ours, int(hit.value)) if hit is not None else ours

    return (
        cap("max_role_display_name_length", conv.max_length),
        cap("max_role_description_length", conv.max_description_length),
    )


# --------------------------------------------------------------------------- descriptions
def _describe(req: RoleNameRequest, catalog: Catalog, limit: int) -> str:
    plane = {"execution": "Execution", "configuration": "Configuration"}.get(
        req.plane, req.plane.capitalize()
    )
    tier = role_tier(req.actions, catalog).replace("_", " ")
    head = f"{plane} role ({tier} tier)"
    tasks = [catalog.task(t) for t in sorted(set(req.tasks))]
    if tasks:
        titles = [t.title for t in tasks[:3]]
        more = f" and {len(tasks) - 3} more task(s)" if len(tasks) > 3 else ""
        what = f"for: {'; '.join(titles)}{more}"
    else:
        labels = sorted({_resource_label(a) for a in req.actions})
        n = len(set(req.actions))
        what = f"granting {n} action{'s' if n != 1 else ''} on {', '.join(labels[:3])}"
        what += f" and {len(labels) - 3} more resource(s)" if len(labels) > 3 else ""
    text = f"{head} {what}; assign at {_SCOPE_PHRASES[req.scope_kind]}. Proposed by entra-lp."
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)].rstrip() + _ELLIPSIS


# --------------------------------------------------------------------------- uniqueness
def _collisions(names: list[str], reserved: frozenset[str]) -> list[list[int]]:
    groups: dict[str, list[int]] = collections.defaultdict(list)
    for i, n in enumerate(names):
        groups[n.casefold()].append(i)
    return [g for k, g in sorted(groups.items()) if len(g) > 1 or k in reserved]


def _order_key(req: RoleNameRequest) -> tuple[tuple[str, ...], str, str, tuple[str, ...]]:
    return (tuple(sorted(set(req.actions))), req.plane, req.scope_kind, tuple(sorted(req.tasks)))


def _by_plane(group: list[int], parts: list[_Parts], reqs: Sequence[RoleNameRequest]) -> None:
    if len({parts[i].plane for i in group}) > 1:
        for i in group:
            parts[i] = replace(parts[i], qualifier=_join(parts[i].qualifier, parts[i].plane))


def _by_resource(group: list[int], parts: list[_Parts], reqs: Sequence[RoleNameRequest]) -> None:
    sets = {i: collections.Counter(_resource_label(a) for a in reqs[i].actions) for i in group}
    common = set.intersection(*(set(s) for s in sets.values())) if sets else set()
    for i in group:
        own = {k: v for k, v in sets[i].items() if k not in common}
        if own:
            parts[i] = replace(parts[i], qualifier=_join(parts[i].qualifier, _dominant(own)))


def _by_ordinal(
    group: list[int],
    parts: list[_Parts],
    reqs: Sequence[RoleNameRequest],
    *,
    first_plain: bool,
) -> None:
    ordered = sorted(group, key=lambda i: _order_key(reqs[i]))
    start = 1 if first_plain else 2
    for n, i in enumerate(ordered, start=start):
        if n > 1:
            parts[i] = replace(parts[i], qualifier=_join(parts[i].qualifier, str(n)))


def _join(a: str, b: str) -> str:
    return f"{a} {b}" if a else b


def name_roles(
    requests: Iterable[RoleNameRequest],
    catalog: Catalog,
    convention: NamingConvention = DEFAULT_CONVENTION,
    *,
    taken: Collection[str] = (),
) -> list[RoleName]:
    """Unique names and descriptions for a batch of roles (module docstring), in input order.

    ``taken``: names already used in the tenant (its custom roles); built-in role names are
    always avoided. Deterministic and independent of the order of ``requests``.
    """
    reqs = list(requests)
    name_limit, desc_limit = _limits(catalog, convention)
    parts = [_parts(r, catalog, convention) for r in reqs]
    reserved = frozenset(n.casefold() for n in taken) | frozenset(
        r.name.casefold() for r in catalog.roles.values()
    )

    def names() -> list[str]:
        return [p.render(convention, name_limit) for p in parts]

    for step in (_by_plane, _by_resource):
        for group in _collisions(names(), reserved):
            step(group, parts, reqs)
    rounds = 0
    while groups := _collisions(names(), reserved):
        for group in groups:
            plain = rounds == 0 and names()[group[0]].casefold() not in reserved
            _by_ordinal(group, parts, reqs, first_plain=plain)
        rounds += 1
        if rounds > len(reqs) + 2:  # pragma: no cover - each round adds distinct ordinals
            raise InvalidValueError("could not make role names unique; widen max_length")
    return [
        RoleName(name, _describe(r, catalog, desc_limit))
        for name, r in zip(names(), reqs, strict=True)
    ]


def role_name(
    actions: Sequence[str],
    tasks: Sequence[str],
    plane: str,
    scope_kind: str,
    catalog: Catalog,
    *,
    convention: NamingConvention = DEFAULT_CONVENTION,
    taken: Collection[str] = (),
) -> str:
    """The display name of one role (``taken``: names it must differ from)."""
    req = RoleNameRequest(actions, tasks, plane, scope_kind)
    return name_roles([req], catalog, convention, taken=taken)[0].display_name


def role_description(
    actions: Sequence[str],
    tasks: Sequence[str],
    plane: str,
    scope_kind: str,
    catalog: Catalog,
    *,
    convention: NamingConvention = DEFAULT_CONVENTION,
) -> str:
    """One sentence: plane, tier, the tasks (or resources) the role serves, and its scope."""
    req = RoleNameRequest(actions, tasks, plane, scope_kind)
    _parts(req, catalog, convention)  # same validation as the name
    return _describe(req, catalog, _limits(catalog, convention)[1])
