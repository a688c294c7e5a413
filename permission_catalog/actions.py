"""Resource-action grammar and the implication relation between actions.

Grammar
-------
An Entra resource action is ``<namespace>/<resource>[.<subtype>]/<property path...>/<verb>``::

    microsoft.directory/applications.myOrganization/credentials/update
    \\_ namespace _____/\\_ resource __/\\_ subtype __/\\_ path _/\\_ verb

* ``namespace``: dotted, starts lower case (``microsoft.directory``,
  ``microsoft.office365.sharePoint``).
* ``resource``: the entity type; an optional dotted ``subtype`` narrows it
  (``groups.security.assignedMembership``: resource ``groups``,
  subtype ``security.assignedMembership``).
* ``property path``: zero or more segments naming a property set (``allProperties``, ``standard``,
  ``basic``), a property (``password``) or a nested object (``partners``, ``templates``...). A path
  segment may itself carry a dotted subtype (``definitions.applications``).
* ``verb``: ``read``, ``update``, ``allTasks``, ``create``... A verb may carry one dotted qualifier
  (``managePermissionGrantsForAll.microsoft-company-admin``); ``{id}`` marks a documented template.

Implication (``implies(a, b)``: granting ``a`` allows ``b``)
-----------------------------------------------------------
``a`` implies ``b`` iff all of the following hold:

1. **Namespace**: the same namespace. Nothing crosses namespaces.
2. **Resource**: ``a``'s resource is ``allEntities`` (every resource of the namespace), or equal to
   ``b``'s, or a dotted prefix of it (``applications`` ⊇ ``applications.myOrganization``,
   ``deletedItems`` ⊇ ``deletedItems.users``). ``groups`` does not cover
   ``groupsAssignableToRoles``: only dotted subtypes are narrower forms of a resource.
3. **Property path**, segment by segment: ``allProperties`` covers the rest of ``b``'s path,
   whatever it is (including none: entity-level verbs such as ``create`` or ``delete``); a
   segment covers an equal segment or a dotted subtype of it (``definitions`` ⊇
   ``definitions.applications``); a final ``standard`` covers a final ``basic`` when ``b``
   reads (the documented read property sets nest: allProperties ⊇ standard ⊇ basic).
   Otherwise the paths must be equal. ``allTasks`` with an empty path
   (``microsoft.intune/allEntities/allTasks``) is read as ``allProperties/allTasks``.
4. **Verb**: equal, or ``a``'s verb is ``allTasks`` (every verb), or ``a`` reads and ``b`` is a
   narrower read (``read`` ⊇ ``limitedRead``, ``restrictedRead``).

The relation is reflexive and transitive (each rule is a preorder and they combine per component).
Documented templates (``{id}``) imply only themselves. Conditions (``$ResourceIsSelf``,
``$SubjectIsOwner``) are a property of a *grant*, not of an action: see :func:`grant_covers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import InvalidValueError

ALL_ENTITIES = "allEntities"
ALL_PROPERTIES = "allProperties"
ALL_TASKS = "allTasks"
READ_VERBS = frozenset({"read", "limitedRead", "restrictedRead"})
NARROWER_READS = frozenset({"limitedRead", "restrictedRead"})
CREATE_VERBS = frozenset({"create", "createAsOwner"})

_NAMESPACE = re.compile(r"^[a-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$")
_VERB = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.(\{id\}|[A-Za-z0-9][A-Za-z0-9_-]*))?$")


@dataclass(frozen=True, slots=True)
class ParsedAction:
    """The parts of a resource-action string (see the module docstring)."""

    namespace: str
    resource: str
    subtype: str | None
    property_path: tuple[str, ...]
    verb: str

    @property
    def name(self) -> str:
        """The canonical action string; ``parse_action(p.name) == p``."""
        return format_action(
            self.namespace, self.resource, self.subtype, self.property_path, self.verb
        )

    @property
    def entity(self) -> str:
        """Resource with its subtype (``applications.myOrganization``)."""
        return self.resource if self.subtype is None else f"{self.resource}.{self.subtype}"

    @property
    def templated(self) -> bool:
        """True for a documented template such as ``managePermissionGrantsForSelf.{id}``."""
        return "{id}" in self.verb

    @property
    def reads(self) -> bool:
        """True when the verb only reads."""
        return self.verb in READ_VERBS or self.verb.startswith("get")


def format_action(
    namespace: str, resource: str, subtype: str | None, property_path: tuple[str, ...], verb: str
) -> str:
    """Join parts into an action string (the inverse of :func:`parse_action`)."""
    entity = resource if subtype is None else f"{resource}.{subtype}"
    return "/".join((namespace, entity, *property_path, verb))


@lru_cache(maxsize=16384)
def parse_action(name: str) -> ParsedAction:
    """Parse an action string; raise :class:`InvalidValueError` naming the faulty part."""
    if not isinstance(name, str):
        raise InvalidValueError(f"resource action must be a string, got {type(name).__name__}")
    parts = name.split("/")
    if len(parts) < 3:
        raise InvalidValueError(
            f"malformed resource action {name!r}: expected <namespace>/<resource>/.../<verb>"
        )
    namespace, entity, *path, verb = parts
    _check(name, "namespace", namespace, _NAMESPACE)
    _check(name, "resource", entity, _NAME)
    for segment in path:
        _check(name, "property path segment", segment, _NAME)
    _check(name, "verb", verb, _VERB)
    resource, _, subtype = entity.partition(".")
    return ParsedAction(namespace, resource, subtype or None, tuple(path), verb)


def _check(name: str, what: str, value: str, pattern: re.Pattern[str]) -> None:
    if not pattern.match(value):
        raise InvalidValueError(f"malformed resource action {name!r}: bad {what} {value!r}")


def _resource_covers(a: ParsedAction, b: ParsedAction) -> bool:
    if a.resource == ALL_ENTITIES:
        return True
    if b.resource == ALL_ENTITIES or a.resource != b.resource:
        return False
    return (
        a.subtype is None
        or b.subtype == a.subtype
        or (b.subtype is not None and b.subtype.startswith(a.subtype + "."))
    )


def _segment_covers(granted: str, needed: str) -> bool:
    return granted == needed or needed.startswith(granted + ".")


def _path_covers(granted: tuple[str, ...], needed: tuple[str, ...], needed_verb: str) -> bool:
    last = len(granted) - 1
    for i, seg in enumerate(granted):
        if seg == ALL_PROPERTIES:
            return True
        if i >= len(needed):
            return False
        if _segment_covers(seg, needed[i]):
            continue
        if (
            seg == "standard"
            and needed[i] == "basic"
            and i == last == len(needed) - 1
            and needed_verb in READ_VERBS
        ):
            continue
        return False
    return len(granted) == len(needed)


def _verb_covers(granted: str, needed: str) -> bool:
    return granted in (needed, ALL_TASKS) or (granted == "read" and needed in NARROWER_READS)


def parsed_implies(a: ParsedAction, b: ParsedAction) -> bool:
    """:func:`implies` on parsed actions (the hot path: no parsing, no allocation)."""
    if a == b:
        return True
    if a.namespace != b.namespace or a.templated or b.templated:
        return False
    if not _resource_covers(a, b) or not _verb_covers(a.verb, b.verb):
        return False
    path = a.property_path
    if not path and a.verb == ALL_TASKS:
        path = (ALL_PROPERTIES,)
    return _path_covers(path, b.property_path, b.verb)


def implies(a: str, b: str) -> bool:
    """Does granting action ``a`` allow action ``b``? (pure grammar; see module docstring)."""
    return parsed_implies(parse_action(a), parse_action(b))


Grant = tuple[str, str | None]
"""An action as granted by a role: ``(action, condition)``; condition None = unconditioned."""


def as_grant(item: str | tuple[str, str | None]) -> Grant:
    """Normalise a plain action string or an ``(action, condition)`` pair to a :data:`Grant`."""
    if isinstance(item, str):
        return (item, None)
    action, condition = item
    return (action, condition or None)


def grant_covers(granted: Grant, needed: Grant) -> bool:
    """Does a grant allow a need? A conditioned grant (``$ResourceIsSelf``...) only covers a need
    under the same condition; an unconditioned grant covers a need with or without condition."""
    g_action, g_cond = granted
    n_action, n_cond = needed
    if g_cond is not None and g_cond != n_cond:
        return False
    return implies(g_action, n_action)
