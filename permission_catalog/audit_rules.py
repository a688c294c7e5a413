"""Audit-activity rules: which resource actions an audited directory operation exercised.

A *rule* maps an audited activity, optionally narrowed by a predicate on the record, to the
minimal Entra resource actions whose right the operation used, or says why no admin right is
involved. The ingest stage calls :meth:`ActivityMatcher.match` (through
``Catalog.map_activity``) once per distinct activity signature, never per event.

Files
-----
One YAML file per service: ``permission_catalog/curation/audit_rules/<service_slug>.yaml``
(slug = lower case, runs of non-alphanumerics replaced by ``_``, e.g. ``core_directory.yaml``;
see :func:`service_slug`). Each file is a YAML list of rules. ``build.py`` calls
:func:`build_audit_rules_data`, which validates every file and writes JSON-ready dicts into
``permission_catalog/data/``.

Rule fields
-----------
``id`` (required)
    Stable, unique over all files; lower case ``[a-z0-9._-]``, e.g. ``core.update-user.enable``.
``service`` (required)
    The service name exactly as in ``audit_activities.json`` (``Core Directory``,
    ``Privileged Identity Management (PIM)``...). What records really put in
    ``loggedByService`` (``PIM``, ``Self-service Group Management``) is resolved at match time
    through :data:`SERVICE_ALIASES`; never write an alias in a rule.
``category`` (optional)
    Audit category, exact spelling of ``audit_activities.json``. Give it only when the same
    activity name exists under several categories of the service with different meanings;
    at match time categories compare case- and space-insensitively
    (``ApplicationManagement`` == ``Application Management``), and a record without a
    category matches every rule.
``activity`` (required)
    Exact activity name of ``audit_activities.json`` for that service (and category, if given),
    unless ``undocumented`` is given.
``also_logged_as`` (optional)
    Other spellings real records use for the same activity and that the docs do not list,
    e.g. ``"Update application – Certificates and secrets management"`` (en dash) or
    ``"Reset user password"`` (Core Directory's name for what the list calls ``Reset password``).
    A spelling belongs to the activity: declared on one rule, it reaches all rules of the
    activity. The YAML comment next to each one names the public material it was seen in.
``undocumented`` (optional)
    A one-line note naming the public material (repository and path, or page address) where
    real records were seen to carry ``activity``, for an operation Microsoft's list omits
    altogether (e.g. ``Add app role assignment grant to user``). With it, ``activity`` must *not*
    be a documented activity of the service (use ``also_logged_as`` for a respelling of one) and
    ``category`` is not checked against the list.
``when`` (optional)
    Predicate; every key given must hold (AND). Keys:

    ``target_type``: str or list of str
        The record's (first) target type equals one of them, case-insensitively. False when the
        record has no target type.
    ``modified_properties_any``: list of str
        At least one of these names is among the record's modified-property names.
    ``modified_properties_all``: list of str
        Every one of these names is among them.
    ``modified_properties_none``: list of str
        None of these names is among them (true for a record without modified properties).
    ``initiated_by_any``: list of str
        The initiator's name (app display name or user principal name) equals one of them,
        case-insensitively. False when the initiator is not given. Used for Microsoft's own
        service principals, e.g. ``MS-PIM`` writing the Core Directory twin of a PIM change.
    ``self_initiated``: bool
        Whether the initiator acted on itself (initiator id == target id). False when unknown.
    ``modified_values_any``: mapping of property name to a list of values
        Some listed property has one of its listed values as its (first) new value, compared
        case-insensitively, e.g. ``{ConsentContext.IsAdminConsent: ["False"]}``. False when the
        caller passed no values (see "What the caller passes").

    Modified-property names compare case-insensitively; a listed name ending in ``*`` is a
    prefix (``extension_*`` matches every directory extension attribute).
    ``Included Updated Properties`` is never a property (the names it lists are). An empty
    ``when`` is an error: omit the key.
``actions`` (required, may be ``[]``)
    Resource actions that exist in the catalog. Non-empty exactly when ``kind`` is ``admin``.
``kind`` (required)
    ``admin``: the initiator used a directory right that default user permissions do not give.
    ``self_service``: a user acting on their own account/assignment with default permissions
    (own password change, own MFA registration, PIM self-activation).
    ``system``: written by a Microsoft service on its own behalf or as a twin of another record
    (group-based licensing runs, ``MS-PIM`` write-through, compliance flips from Intune).
    ``sign_in``: a by-product of authentication or device sign-in, not of administration.
    ``no_admin_right``: a deliberate act that needs no directory role for another reason
    (e.g. the tenant's own lifecycle, a partner's action, Microsoft support workflow).
``confidence`` (required)
    ``exact`` (the documented permission for this operation), ``likely`` (the usual case; other
    cases exist), ``ambiguous`` (the record does not tell; the rationale says what was chosen).
``rationale`` (required)
    One line, our own words, saying why.

Selection (what :meth:`ActivityMatcher.match` returns)
-------------------------------------------------------
Candidates are the rules of the record's canonical service and trimmed activity (either the
documented name or an ``also_logged_as`` spelling) whose category matches. They fall in tiers:

1. *record-fact* rules (``when`` uses ``initiated_by_any``, ``self_initiated`` or
   ``modified_values_any``). One that holds and has no ``modified_properties_*`` key decides
   alone: the result is built from such rules only (a twin record written by ``MS-PIM`` must not
   also count as an admin act; a user consenting for themselves used no admin right). One
   that holds with property keys *claims* the record's property names it lists under
   ``_any``/``_all``; if they claim every property, the result is built from them alone,
   otherwise steps 2 and 3 run on the *unclaimed* properties and their rules join the result
   (a user who edits their own security info and their job title still used an admin right
   for the job title).
2. *property* rules (``when`` uses a ``modified_properties_*`` key): every rule that holds
   contributes (union), and claims the names it lists under ``_any``/``_all``.
3. *default* rules (no ``when``, or only ``target_type``): contribute when no property rule
   held, or when some property names are claimed by no rule (an unforeseen property still
   needs the activity's generic right).

The result's ``actions`` are the sorted union; ``kind`` is ``admin`` if any contributing rule
is admin, else the first of self_service, system, sign_in, no_admin_right present;
``confidence`` is the weakest among the rules of that kind; ``rule_ids`` are sorted;
``rationale`` joins the contributing rationales. No candidate → ``kind="unmapped"``,
``confidence="ambiguous"``, no actions: the caller reports it, never drops it.

Consequences worth relying on: adding a property name that no rule of the activity mentions
never removes an action; a record whose properties hit several ``_any`` property rules maps to
the union of their actions (``_all``/``_none`` rules are deliberately not additive). Failed
operations map like successful ones (ingest keeps them apart).

Activity names
--------------
Real records do not always spell an activity as Microsoft's list does. Matching therefore
ignores case and runs of whitespace (Microsoft's own list has ``user started password reset``
and, in B2C, ``Get V1 application`` next to ``Get v1 application``), and an activity ending in a
period that no rule knows is looked up again without it (older exports write
``Update service principal.``, the Office 365 audit log writes every Entra operation that way).
Anything else, e.g. an em dash for an en dash, must be declared in ``also_logged_as``.

What the caller passes
----------------------
Beyond the contract's (service, category, activity, modified properties, target type),
``match`` takes three optional keywords: ``initiated_by`` (the initiating app's display name
or the user's UPN; only names in :meth:`ActivityMatcher.initiator_names` change a result, so
ingest may pass ``None`` for every other initiator and keep signatures few),
``self_initiated`` (initiator id == first target id) and ``property_values`` (the first new
value of the properties named by :meth:`ActivityMatcher.value_properties`, as a mapping, as
``name=value`` strings, or as one ``a=x|b=y`` string; other names are ignored, again to keep
signatures few). ``None`` means unknown: rules testing them then do not hold, and the admin
reading applies.

The JSON written by :func:`build_audit_rules_data` holds every field above, normalised (``when``
keys sorted, ``actions`` sorted, ``category`` and ``undocumented`` ``null`` when absent), plus
``source``: the file the rule came from.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import orjson

from permission_catalog import DATA_DIR
from permission_catalog.errors import (
    CatalogError,
    EntraLPError,
    InvalidValueError,
    UnknownNameError,
)

__all__ = [
    "CONFIDENCES",
    "KINDS",
    "PREDICATE_KEYS",
    "SERVICE_ALIASES",
    "ActivityMapping",
    "ActivityMatcher",
    "AuditRule",
    "AuditRulesError",
    "Predicate",
    "ServiceCoverage",
    "audit_rule_coverage",
    "build_audit_rules_data",
    "canonical_service",
    "format_coverage",
    "service_slug",
]

Kind = Literal["admin", "self_service", "system", "sign_in", "no_admin_right"]
Confidence = Literal["exact", "likely", "ambiguous"]

KINDS: tuple[str, ...] = ("admin", "self_service", "system", "sign_in", "no_admin_right")
"""Rule kinds, in the precedence used when several rules contribute."""
CONFIDENCES: tuple[str, ...] = ("exact", "likely", "ambiguous")
"""Confidence levels, strongest first."""
PREDICATE_KEYS: tuple[str, ...] = (
    "initiated_by_any",
    "modified_properties_all",
    "modified_properties_any",
    "modified_properties_none",
    "modified_values_any",
    "self_initiated",
    "target_type",
)
"""Keys allowed under ``when``."""

_RULE_KEYS = frozenset(
    {"id", "service", "category", "activity", "also_logged_as", "undocumented", "when",
     "actions", "kind", "confidence", "rationale"}
)
_REQUIRED_KEYS = ("id", "service", "activity", "actions", "kind", "confidence", "rationale")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_PSEUDO_PROPERTY = "included updated properties"

SERVICE_ALIASES: Mapping[str, str] = {
    # loggedByService spelling (compared case-insensitively) -> documented service name
    "PIM": "Privileged Identity Management (PIM)",
    "Privileged Identity Management": "Privileged Identity Management (PIM)",
    "SSGM": "Self-service group management",
    "SSPR": "Self-service password management",
    "Azure MFA": "Microsoft Entra multifactor authentication (Azure MFA)",
    "MFA": "Microsoft Entra multifactor authentication (Azure MFA)",
    "Microsoft Entra multifactor authentication": (
        "Microsoft Entra multifactor authentication (Azure MFA)"
    ),
    "AAD Management UX": "Microsoft Entra Management UX",
    "Azure AD Management UX": "Microsoft Entra Management UX",
    "Azure AD Recommendations": "Microsoft Entra Recommendations",
    "MIM Service": "Microsoft Identity Manager (MIM) Service",
    "Microsoft Identity Manager Service": "Microsoft Identity Manager (MIM) Service",
    "Global Secure Access": "Global Secure Access (preview)",
    "My Apps": "MyApps",
}
"""Names seen in ``loggedByService`` that differ from the documented service name by more
than case and spacing (which :func:`canonical_service` ignores anyway)."""


# --------------------------------------------------------------------------------------------
# Normalisation helpers
# --------------------------------------------------------------------------------------------

def _fold(text: str) -> str:
    """Case- and whitespace-insensitive key."""
    return " ".join(text.split()).casefold()


def _category_key(category: str) -> str:
    """Categories compare without case or spaces (``Application Management`` = ``...ment``)."""
    return "".join(category.split()).casefold()


_ALIAS_KEYS: dict[str, str] = {_fold(k): v for k, v in SERVICE_ALIASES.items()}


def canonical_service(name: str, documented: Iterable[str] = ()) -> str:
    """Return the documented service name for a ``loggedByService`` value.

    Resolves :data:`SERVICE_ALIASES` and differences of case/spacing against ``documented``
    (plus the alias targets). An unknown name comes back trimmed, unchanged otherwise.
    """
    key = _fold(name)
    if key in _ALIAS_KEYS:
        return _ALIAS_KEYS[key]
    for doc in documented:
        if _fold(doc) == key:
            return doc
    for target in SERVICE_ALIASES.values():
        if _fold(target) == key:
            return target
    return name.strip()


def service_slug(service: str) -> str:
    """File stem for a service's rule file: ``Core Directory`` → ``core_directory``."""
    return re.sub(r"[^a-z0-9]+", "_", service.lower()).strip("_")


PropertyValues = Mapping[str, str] | Iterable[str] | str
"""``property_values`` of :meth:`ActivityMatcher.match`: ``{name: value}``, ``name=value``
strings, or one ``a=x|b=y`` string."""

_ValueKey = frozenset[tuple[str, str]]


def _value_pairs(values: PropertyValues | None, wanted: frozenset[str]) -> _ValueKey | None:
    """Folded (name, value) pairs of the properties some rule tests; None = not given."""
    if values is None:
        return None
    if isinstance(values, Mapping):
        items = [(str(k), str(v)) for k, v in values.items()]
    else:
        texts = values.split("|") if isinstance(values, str) else list(values)
        items = [tuple(t.split("=", 1)) for t in texts if "=" in t]  # type: ignore[misc]
    return frozenset(
        (name, _fold(value)) for name, value in ((_fold(k), v) for k, v in items)
        if name in wanted
    )


def _property_set(modified_properties: Iterable[str] | str) -> frozenset[str]:
    """Fold property names; accept the ingest stage's ``a|b|c`` string form too."""
    names = modified_properties.split("|") if isinstance(modified_properties, str) else (
        modified_properties
    )
    folded = {_fold(n) for n in names if n and n.strip()}
    folded.discard(_PSEUDO_PROPERTY)
    return frozenset(folded)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Predicate:
    """The ``when`` of a rule; empty tuples / ``None`` mean "not constrained"."""

    target_type: tuple[str, ...] = ()
    modified_properties_any: tuple[str, ...] = ()
    modified_properties_all: tuple[str, ...] = ()
    modified_properties_none: tuple[str, ...] = ()
    initiated_by_any: tuple[str, ...] = ()
    self_initiated: bool | None = None
    modified_values_any: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def has_property_keys(self) -> bool:
        """Whether any ``modified_properties_*`` key is set."""
        return bool(
            self.modified_properties_any or self.modified_properties_all
            or self.modified_properties_none
        )

    @property
    def tier(self) -> int:
        """0 = record-fact rule, 1 = property rule, 2 = default rule (module docstring)."""
        if self.initiated_by_any or self.self_initiated is not None or self.modified_values_any:
            return 0
        return 1 if self.has_property_keys else 2

    def holds(
        self,
        props: frozenset[str],
        target_type: str | None,
        initiated_by: str | None,
        self_initiated: bool | None,
        values: _ValueKey | None = None,
    ) -> bool:
        """Evaluate on folded property names (see module docstring for each key)."""
        checks = (
            not self.target_type or _fold(target_type or "") in _names(self.target_type).exact,
            not self.modified_properties_any
            or bool(_names(self.modified_properties_any).hits(props)),
            _names(self.modified_properties_all).all_hit(props),
            not _names(self.modified_properties_none).hits(props),
            not self.initiated_by_any
            or _fold(initiated_by or "") in _names(self.initiated_by_any).exact,
            self.self_initiated is None or self_initiated is self.self_initiated,
            not self.modified_values_any or self._values_hold(values),
        )
        return all(checks)

    def _values_hold(self, values: _ValueKey | None) -> bool:
        if values is None:
            return False
        return any(
            (_fold(name), _fold(v)) in values
            for name, allowed in self.modified_values_any for v in allowed
        )

    def value_names(self) -> frozenset[str]:
        """Folded names of the properties whose values this predicate tests."""
        return frozenset(_fold(name) for name, _ in self.modified_values_any)

    def claims(self, props: frozenset[str]) -> frozenset[str]:
        """Property names of the record this predicate names positively."""
        return _names(self.modified_properties_any + self.modified_properties_all).hits(props)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with only the keys in use, sorted."""
        out: dict[str, Any] = {}
        for key in PREDICATE_KEYS:
            value = getattr(self, key)
            if key == "self_initiated":
                if value is not None:
                    out[key] = value
            elif key == "modified_values_any":
                if value:
                    out[key] = {name: list(allowed) for name, allowed in value}
            elif value:
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Predicate:
        """Inverse of :meth:`to_dict` (input assumed validated)."""
        if not data:
            return cls()
        target = data.get("target_type", ())
        return cls(
            target_type=(target,) if isinstance(target, str) else tuple(target),
            modified_properties_any=tuple(data.get("modified_properties_any", ())),
            modified_properties_all=tuple(data.get("modified_properties_all", ())),
            modified_properties_none=tuple(data.get("modified_properties_none", ())),
            initiated_by_any=tuple(data.get("initiated_by_any", ())),
            self_initiated=data.get("self_initiated"),
            modified_values_any=tuple(
                (str(name), tuple(str(v) for v in allowed))
                for name, allowed in sorted((data.get("modified_values_any") or {}).items())
            ),
        )


@dataclass(frozen=True, slots=True)
class _NameSet:
    """Folded names of a predicate list; a trailing ``*`` makes a name a prefix."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    def hits(self, props: frozenset[str]) -> frozenset[str]:
        """The record's property names that some listed name matches."""
        found = props & self.exact
        if self.prefixes:
            found |= {p for p in props if p.startswith(self.prefixes)}
        return found

    def all_hit(self, props: frozenset[str]) -> bool:
        """Every listed name (or prefix) matches at least one property."""
        return self.exact <= props and all(
            any(p.startswith(pre) for p in props) for pre in self.prefixes
        )


_NAME_CACHE: dict[tuple[str, ...], _NameSet] = {}


def _names(names: tuple[str, ...]) -> _NameSet:
    hit = _NAME_CACHE.get(names)
    if hit is None:
        folded = [_fold(n) for n in names]
        hit = _NAME_CACHE[names] = _NameSet(
            frozenset(n for n in folded if not n.endswith("*")),
            tuple(sorted(n[:-1] for n in folded if n.endswith("*"))),
        )
    return hit


@dataclass(frozen=True, slots=True)
class AuditRule:
    """One curated rule (fields as in the module docstring)."""

    id: str
    service: str
    activity: str
    kind: Kind
    confidence: Confidence
    rationale: str
    actions: tuple[str, ...] = ()
    category: str | None = None
    also_logged_as: tuple[str, ...] = ()
    when: Predicate = field(default_factory=Predicate)
    source: str = ""
    undocumented: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the form stored in ``permission_catalog/data``."""
        return {
            "id": self.id,
            "service": self.service,
            "category": self.category,
            "activity": self.activity,
            "also_logged_as": list(self.also_logged_as),
            "undocumented": self.undocumented,
            "when": self.when.to_dict(),
            "actions": list(self.actions),
            "kind": self.kind,
            "confidence": self.confidence,
            "rationale": self.rationale,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRule:
        """Build from a validated dict (as returned by :func:`build_audit_rules_data`)."""
        return cls(
            id=data["id"],
            service=data["service"],
            activity=data["activity"],
            kind=data["kind"],
            confidence=data["confidence"],
            rationale=data["rationale"],
            actions=tuple(sorted(data.get("actions") or ())),
            category=data.get("category"),
            also_logged_as=tuple(data.get("also_logged_as") or ()),
            when=Predicate.from_dict(data.get("when")),
            source=data.get("source", ""),
            undocumented=data.get("undocumented"),
        )


@dataclass(frozen=True, slots=True)
class ActivityMapping:
    """What one activity signature exercised (see "Selection" in the module docstring)."""

    actions: tuple[str, ...]
    kind: str
    confidence: str
    rule_ids: tuple[str, ...]
    rationale: str

    @property
    def is_admin(self) -> bool:
        """True when the operation used at least one admin right."""
        return self.kind == "admin"


# --------------------------------------------------------------------------------------------
# Matcher
# --------------------------------------------------------------------------------------------

_MatchKey = tuple[str, str, str, frozenset[str], str, str, bool | None, _ValueKey | None]


class ActivityMatcher:
    """Index of rules by (canonical service, activity); maps activity signatures to actions.

    ``ActivityMatcher(rules)`` accepts :class:`AuditRule` objects or their dicts.
    """

    def __init__(self, rules: Iterable[AuditRule | Mapping[str, Any]]) -> None:
        built = [r if isinstance(r, AuditRule) else AuditRule.from_dict(r) for r in rules]
        self._rules = tuple(sorted(built, key=_rule_sort_key))
        self._services = tuple(sorted({r.service for r in self._rules}))
        index: dict[tuple[str, str], list[AuditRule]] = defaultdict(list)
        for rule in self._rules:
            index[(rule.service, _fold(rule.activity))].append(rule)
        # A spelling declared on any rule of an activity reaches all of that activity's rules.
        for rule in self._rules:
            for name in rule.also_logged_as:
                index.setdefault((rule.service, _fold(name)),
                                 index[(rule.service, _fold(rule.activity))])
        self._index = {k: tuple(v) for k, v in index.items()}
        self._value_names = frozenset().union(*(r.when.value_names() for r in self._rules))
        self._service_cache: dict[str, str] = {}
        self._memo: dict[_MatchKey, ActivityMapping] = {}

    @property
    def rules(self) -> tuple[AuditRule, ...]:
        """All rules, sorted by (service, activity, category, id)."""
        return self._rules

    def observable_actions(self) -> frozenset[str]:
        """Every action some admin rule can produce (the complement is never audited)."""
        return frozenset(a for r in self._rules if r.kind == "admin" for a in r.actions)

    def initiator_names(self) -> frozenset[str]:
        """Folded initiator names any rule tests; ingest need pass ``initiated_by`` only for
        these (keeps the number of distinct signatures low)."""
        return frozenset(_fold(n) for r in self._rules for n in r.when.initiated_by_any)

    def value_properties(self) -> frozenset[str]:
        """Folded property names whose values some rule tests; ingest need pass
        ``property_values`` only for these (keeps the number of distinct signatures low)."""
        return self._value_names

    def canonical_service(self, name: str) -> str:
        """``loggedByService`` value → documented service name (cached)."""
        hit = self._service_cache.get(name)
        if hit is None:
            hit = self._service_cache[name] = canonical_service(name, self._services)
        return hit

    def match(
        self,
        service: str,
        category: str | None,
        activity: str,
        modified_properties: Iterable[str] | str = (),
        target_type: str | None = None,
        *,
        initiated_by: str | None = None,
        self_initiated: bool | None = None,
        property_values: PropertyValues | None = None,
    ) -> ActivityMapping:
        """Map one activity signature to the actions it exercised.

        ``modified_properties`` may be names or the ``a|b`` string of the usage rows.
        ``initiated_by`` (app display name or UPN), ``self_initiated`` and
        ``property_values`` are optional extensions of the contract (module docstring, "What
        the caller passes"); leaving them ``None`` means "unknown".
        """
        key: _MatchKey = (
            self.canonical_service(service),
            _category_key(category or ""),
            " ".join(activity.split()),
            _property_set(modified_properties),
            _fold(target_type or ""),
            _fold(initiated_by or ""),
            self_initiated,
            _value_pairs(property_values, self._value_names),
        )
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._compute(key)
        return hit

    def _compute(self, key: _MatchKey) -> ActivityMapping:
        service, category, activity, props, target, initiator, self_init, values = key
        candidates = [
            r for r in self._lookup(service, activity)
            if not category or r.category is None or _category_key(r.category) == category
        ]
        if not candidates:
            return _unmapped(service, category, activity)
        facts = _Facts(target or None, initiator or None, self_init, values)
        chosen = _select(candidates, props, facts)
        if not chosen:
            return ActivityMapping(
                (), "unmapped", "ambiguous", (),
                f"no rule of {activity!r} ({service}) holds for this record",
            )
        return _combine(chosen)


    def _lookup(self, service: str, activity: str) -> tuple[AuditRule, ...]:
        """Rules of an activity name (case-insensitive); retried without a trailing period."""
        key = _fold(activity)
        hit = self._index.get((service, key), ())
        if not hit and key.endswith("."):
            hit = self._index.get((service, key[:-1].rstrip()), ())
        return hit


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a record says besides its property names (predicate inputs)."""

    target: str | None
    initiator: str | None
    self_init: bool | None
    values: _ValueKey | None

    def holds(self, rule: AuditRule, props: frozenset[str]) -> bool:
        return rule.when.holds(props, self.target, self.initiator, self.self_init, self.values)


def _rule_sort_key(rule: AuditRule) -> tuple[str, str, str, str]:
    return (rule.service, rule.activity, rule.category or "", rule.id)


def _unmapped(service: str, category: str, activity: str) -> ActivityMapping:
    where = f"{service}/{category}" if category else service
    return ActivityMapping((), "unmapped", "ambiguous", (), f"no rule for {activity!r} ({where})")


def _select(
    candidates: Sequence[AuditRule], props: frozenset[str], facts: _Facts
) -> list[AuditRule]:
    """Apply the tier logic of the module docstring to the candidate rules."""
    first = [r for r in candidates if r.when.tier == 0 and facts.holds(r, props)]
    if any(not r.when.has_property_keys for r in first):
        return [r for r in first if not r.when.has_property_keys]
    remaining = props.difference(*(r.when.claims(props) for r in first))
    if first and not remaining:
        return first
    # Tiers 1 and 2 see only what no initiator rule claimed (module docstring, step 2).
    holding = [r for r in candidates if r.when.tier > 0 and facts.holds(r, remaining)]
    chosen = [r for r in holding if r.when.tier == 1]
    claimed = frozenset().union(*(r.when.claims(remaining) for r in chosen))
    if not chosen or not remaining <= claimed:
        chosen.extend(r for r in holding if r.when.tier == 2)
    return first + chosen


def _combine(rules: Sequence[AuditRule]) -> ActivityMapping:
    """Union of the contributing rules (kind precedence and weakest confidence)."""
    present = {r.kind for r in rules}
    kind = next(k for k in KINDS if k in present)
    of_kind = [r for r in rules if r.kind == kind]
    confidence = max((r.confidence for r in of_kind), key=CONFIDENCES.index)
    ordered = sorted(rules, key=lambda r: r.id)
    return ActivityMapping(
        actions=tuple(sorted({a for r in rules for a in r.actions})),
        kind=kind,
        confidence=confidence,
        rule_ids=tuple(r.id for r in ordered),
        rationale="; ".join(dict.fromkeys(r.rationale for r in ordered)),
    )


# --------------------------------------------------------------------------------------------
# Loading and validation (called by build.py)
# --------------------------------------------------------------------------------------------

class AuditRulesError(CatalogError):
    """Several problems in the curated audit rules; ``errors`` holds each one."""

    def __init__(self, errors: Sequence[EntraLPError]) -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} problems in the audit rules:\n{lines}")


@dataclass(frozen=True, slots=True)
class _Activities:
    """audit_activities.json, indexed for validation."""

    by_service: Mapping[str, frozenset[str]]
    categories: Mapping[tuple[str, str], frozenset[str]]

    @classmethod
    def build(cls, rows: Iterable[Mapping[str, str]]) -> _Activities:
        by_service: dict[str, set[str]] = defaultdict(set)
        categories: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in rows:
            by_service[row["service"]].add(row["activity"])
            categories[(row["service"], row["activity"])].add(row["category"])
        return cls(
            {k: frozenset(v) for k, v in by_service.items()},
            {k: frozenset(v) for k, v in categories.items()},
        )


class _Problems:
    """Collects validation errors, each prefixed with file:line and rule id."""

    def __init__(self) -> None:
        self.errors: list[EntraLPError] = []

    def invalid(self, where: str, message: str) -> None:
        self.errors.append(InvalidValueError(f"{where}: {message}"))

    def unknown(self, where: str, kind: str, value: str, known: Iterable[str]) -> None:
        self.errors.append(UnknownNameError(kind, value, known, hint=where))


RULES_FILE = "audit_rules.json"
"""The rules' file in a catalog data folder, as :func:`build_audit_rules_data` wrote them."""


@functools.cache
def value_property_names(rules_file: Path = DATA_DIR / RULES_FILE) -> frozenset[str]:
    """Names (case- and space-folded) of the modified properties whose values some rule of
    ``rules_file`` tests (``when.modified_values_any``). Read from that file alone: stage 1
    needs only this short list, and loading the whole catalog for it would cost more than
    reading a small log."""
    rules = orjson.loads(rules_file.read_bytes())["rules"] if rules_file.exists() else []
    return frozenset().union(*(Predicate.from_dict(r.get("when")).value_names() for r in rules))


def build_audit_rules_data(
    curation_dir: str | Path,
    audit_activities: str | Path | Iterable[Mapping[str, str]],
    known_actions: Iterable[str],
) -> list[dict[str, Any]]:
    """Load, validate and return every curated rule as JSON-ready dicts, deterministically.

    ``curation_dir`` is the folder of ``*.yaml`` rule files (or a folder containing an
    ``audit_rules/`` sub-folder). ``audit_activities`` is ``audit_activities.json`` (path or
    its rows). One problem raises its own error (``UnknownNameError``/``InvalidValueError``);
    several raise :class:`AuditRulesError` listing them all, each naming file:line, rule id,
    field and value.
    """
    folder = Path(curation_dir)
    if (folder / "audit_rules").is_dir():
        folder = folder / "audit_rules"
    if not folder.is_dir():
        raise CatalogError(f"audit rules folder not found: {folder}")
    if isinstance(audit_activities, (str, Path)):
        audit_activities = cast(
            "list[dict[str, str]]", json.loads(Path(audit_activities).read_text("utf-8"))
        )
    activities = _Activities.build(audit_activities)
    actions = frozenset(known_actions)
    problems = _Problems()
    rules: list[AuditRule] = []
    for path in sorted(folder.glob("*.yaml")):
        rules.extend(_load_file(path, activities, actions, problems))
    _check_duplicates(rules, problems)
    if len(problems.errors) == 1:
        raise problems.errors[0]
    if problems.errors:
        raise AuditRulesError(problems.errors)
    return [r.to_dict() for r in sorted(rules, key=_rule_sort_key)]


def _load_file(
    path: Path, activities: _Activities, actions: frozenset[str], problems: _Problems
) -> list[AuditRule]:
    import yaml  # only the build reads YAML: loading the catalog does not pay for it

    text = path.read_text("utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.invalid(path.name, f"not valid YAML: {exc}")
        return []
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        problems.invalid(path.name, "top level must be a list of rules")
        return []
    out: list[AuditRule] = []
    for item, item_node in zip(data, node.value, strict=True):
        where = f"{path.name}:{item_node.start_mark.line + 1}"
        rule = _parse_rule(item, where, path.name, (activities, actions, problems))
        if rule is not None:
            out.append(rule)
    return out


def _parse_rule(
    item: object, where: str, source: str, ctx: tuple[_Activities, frozenset[str], _Problems]
) -> AuditRule | None:
    """Validate one YAML item; record problems and return None when it is unusable."""
    activities, actions, problems = ctx
    if not isinstance(item, dict):
        problems.invalid(where, f"a rule must be a mapping, got {type(item).__name__}")
        return None
    rid = item.get("id")
    where = f"{where} rule {rid!r}"
    before = len(problems.errors)
    for key in sorted(set(item) - _RULE_KEYS, key=str):
        problems.unknown(where, "rule field", str(key), sorted(_RULE_KEYS))
    for key in _REQUIRED_KEYS:
        if key not in item:
            problems.invalid(where, f"field {key!r} is missing")
    if len(problems.errors) > before:
        return None
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        problems.invalid(where, f"field 'id': {rid!r} must match {_ID_RE.pattern}")
    undocumented = item.get("undocumented")
    for name in ("rationale", "undocumented"):
        text = item.get(name)
        if (name in item and not isinstance(text, str)) or (
                isinstance(text, str) and (not text.strip() or "\n" in text.strip())):
            problems.invalid(where, f"field {name!r} must be one non-empty line")
    if undocumented is None:
        service, activity, category = _check_names(item, where, activities, problems)
    else:
        service, activity, category = _check_undocumented(item, where, activities, problems)
    when = _check_when(item.get("when"), where, problems)
    kind, confidence, rule_actions = _check_semantics(item, where, actions, problems)
    also = _check_also(item.get("also_logged_as"), (service, activity), where, activities,
                       problems)
    if len(problems.errors) > before:
        return None
    return AuditRule(
        id=str(rid), service=service, activity=activity, category=category,
        kind=cast(Kind, kind), confidence=cast(Confidence, confidence),
        rationale=" ".join(item["rationale"].split()), actions=rule_actions,
        also_logged_as=also, when=when, source=source,
        undocumented=None if undocumented is None else " ".join(undocumented.split()),
    )


def _check_names(
    item: Mapping[str, Any], where: str, activities: _Activities, problems: _Problems
) -> tuple[str, str, str | None]:
    service, activity, category = item["service"], item["activity"], item.get("category")
    if service not in activities.by_service:
        problems.unknown(f"{where}, field 'service'", "audit service", str(service),
                         sorted(activities.by_service))
        return str(service), str(activity), category
    known = activities.by_service[service]
    if not isinstance(activity, str) or activity not in known:
        problems.unknown(f"{where}, field 'activity'", f"{service} activity", str(activity),
                         sorted(known))
        return service, str(activity), category
    cats = activities.categories[(service, activity)]
    if category is not None and category not in cats:
        problems.unknown(f"{where}, field 'category'", f"category of {activity!r}",
                         str(category), sorted(cats))
    return service, activity, category


def _check_undocumented(
    item: Mapping[str, Any], where: str, activities: _Activities, problems: _Problems
) -> tuple[str, str, str | None]:
    """An activity Microsoft's list omits: a known service, a name the list does not have."""
    service, activity, category = item["service"], item["activity"], item.get("category")
    if service not in activities.by_service:
        problems.unknown(f"{where}, field 'service'", "audit service", str(service),
                         sorted(activities.by_service))
    if not isinstance(activity, str) or not activity.strip() or activity != activity.strip():
        problems.invalid(where, f"field 'activity': {activity!r} must be a trimmed name")
        return str(service), str(activity), category
    known = {_fold(a): a for a in activities.by_service.get(service, ())}
    if _fold(activity) in known:
        problems.invalid(where, f"field 'activity': {activity!r} is documented (as "
                         f"{known[_fold(activity)]!r}); drop 'undocumented'")
    if category is not None and (not isinstance(category, str) or not category.strip()):
        problems.invalid(where, f"field 'category': {category!r} must be a non-empty name")
    return str(service), activity, category


def _check_when(raw: object, where: str, problems: _Problems) -> Predicate:
    if raw is None:
        return Predicate()
    if not isinstance(raw, dict) or not raw:
        problems.invalid(where, "field 'when' must be a non-empty mapping (omit it instead)")
        return Predicate()
    ok = True
    for key, value in raw.items():
        if key not in PREDICATE_KEYS:
            problems.unknown(f"{where}, field 'when'", "predicate key", str(key), PREDICATE_KEYS)
            ok = False
        elif not _predicate_value_ok(key, value):
            problems.invalid(where, f"predicate {key!r}: bad value {value!r} "
                             f"({_PREDICATE_SHAPES[key]})")
            ok = False
    return Predicate.from_dict(raw) if ok else Predicate()


_NAMES = "a non-empty list of distinct, trimmed strings"
_PREDICATE_SHAPES = {
    "target_type": "a string or " + _NAMES + ", without '*'",
    "self_initiated": "true or false",
    "modified_properties_any": _NAMES + "; only a trailing '*' (prefix) is allowed",
    "modified_properties_all": _NAMES + "; only a trailing '*' (prefix) is allowed",
    "modified_properties_none": _NAMES + "; only a trailing '*' (prefix) is allowed",
    "initiated_by_any": _NAMES + ", without '*'",
    "modified_values_any": "a non-empty mapping of property name to " + _NAMES
    + " (quote true/false/numbers)",
}


def _predicate_value_ok(key: str, value: object) -> bool:
    if key == "self_initiated":
        return isinstance(value, bool)
    if key == "modified_values_any":
        return (isinstance(value, dict) and bool(value)
                and all(isinstance(k, str) and k.strip() == k and k and _is_name_list(v)
                        for k, v in value.items()))
    if key == "target_type" and isinstance(value, str):
        value = [value]
    if not _is_name_list(value):
        return False
    names = cast("list[str]", value)
    if key.startswith("modified_properties_"):  # a trailing * is a prefix; a bare * is not
        return all(n.rstrip("*") and "*" not in n.rstrip("*") for n in names)
    return not any("*" in n for n in names)


def _is_name_list(value: object) -> bool:
    if not isinstance(value, list) or not value:
        return False
    if not all(isinstance(v, str) and v.strip() == v and v for v in value):
        return False
    return len({_fold(v) for v in value}) == len(value)


def _check_semantics(
    item: Mapping[str, Any], where: str, actions: frozenset[str], problems: _Problems
) -> tuple[str, str, tuple[str, ...]]:
    kind, confidence, raw = item["kind"], item["confidence"], item["actions"]
    if kind not in KINDS:
        problems.unknown(f"{where}, field 'kind'", "rule kind", str(kind), KINDS)
    if confidence not in CONFIDENCES:
        problems.unknown(f"{where}, field 'confidence'", "confidence", str(confidence),
                         CONFIDENCES)
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        problems.invalid(where, f"field 'actions' must be a list of strings, got {raw!r}")
        return str(kind), str(confidence), ()
    for name in raw:
        if name not in actions:
            problems.unknown(f"{where}, field 'actions'", "resource action", name, sorted(actions))
    dupes = sorted(n for n, c in Counter(raw).items() if c > 1)
    if dupes:
        problems.invalid(where, f"field 'actions' repeats {dupes}")
    if kind == "admin" and not raw:
        problems.invalid(where, "kind 'admin' needs at least one action")
    if kind in KINDS and kind != "admin" and raw:
        problems.invalid(where, f"kind {kind!r} takes no actions (only 'admin' does)")
    return str(kind), str(confidence), tuple(sorted(set(raw)))


def _check_also(
    raw: object, route: tuple[str, str], where: str, activities: _Activities,
    problems: _Problems,
) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not _is_name_list(raw):
        problems.invalid(where, "field 'also_logged_as' must be a non-empty list of trimmed, "
                         f"distinct strings, got {raw!r}")
        return ()
    service, activity = route
    names = tuple(cast("list[str]", raw))
    # Matching ignores case, so a spelling equal to another documented activity but for case
    # would steal that activity's records.
    others = {_fold(a) for a in activities.by_service.get(service, ())} - {_fold(activity)}
    clash = sorted(n for n in names if _fold(n) in others)
    if clash:
        problems.invalid(where, f"field 'also_logged_as': {clash} are documented activities "
                         "of the service; write their own rules")
    return names


def _check_duplicates(rules: Sequence[AuditRule], problems: _Problems) -> None:
    """Duplicate ids, and two rules with the very same route and predicate."""
    seen: dict[str, AuditRule] = {}
    routes: dict[tuple[object, ...], AuditRule] = {}
    # An undocumented activity's own name is a spelling no other activity may claim.
    spellings: dict[tuple[str, str], AuditRule] = {}
    for rule in rules:
        if rule.undocumented is not None:
            spellings.setdefault((rule.service, _fold(rule.activity)), rule)
    for rule in rules:
        first = seen.setdefault(rule.id, rule)
        if first is not rule:
            problems.invalid(f"{rule.source} rule {rule.id!r}",
                             f"duplicate id (also in {first.source})")
        route = (rule.service, rule.activity, rule.category, rule.when)
        other = routes.setdefault(route, rule)
        if other is not rule:
            problems.invalid(f"{rule.source} rule {rule.id!r}", f"same activity, category "
                             f"and predicate as rule {other.id!r} ({other.source})")
        for name in rule.also_logged_as:
            owner = spellings.setdefault((rule.service, _fold(name)), rule)
            if _fold(owner.activity) != _fold(rule.activity):
                problems.invalid(f"{rule.source} rule {rule.id!r}", f"also_logged_as {name!r} is "
                                 f"already a spelling of {owner.activity!r} (rule {owner.id!r})")


# --------------------------------------------------------------------------------------------
# Coverage
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ServiceCoverage:
    """Per-service count of documented (category, activity) rows by how rules treat them."""

    service: str
    activities: int
    mapped: int
    no_admin_right: int
    unknown: int
    unknown_activities: tuple[str, ...]

    @property
    def covered_share(self) -> float:
        """Share of the service's activities that have at least one rule."""
        return (self.activities - self.unknown) / self.activities if self.activities else 1.0


def audit_rule_coverage(
    rules: Iterable[AuditRule | Mapping[str, Any]],
    audit_activities: Iterable[Mapping[str, str]],
) -> list[ServiceCoverage]:
    """For each documented service, count its (category, activity) rows of
    ``audit_activities.json``: mapped to admin actions by at least one rule, handled only by
    non-admin rules, or without any rule. A rule without a category covers the activity under
    every category. Sorted by service."""
    built = [r if isinstance(r, AuditRule) else AuditRule.from_dict(r) for r in rules]
    kinds: dict[tuple[str, str], dict[str | None, set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for rule in built:
        kinds[(rule.service, rule.activity)][rule.category].add(rule.kind)
    rows: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in audit_activities:
        rows[row["service"]].add((row["category"], row["activity"]))
    out = []
    for service in sorted(rows):
        mapped, unknown = 0, []
        for category, activity in sorted(rows[service]):
            by_cat = kinds.get((service, activity), {})
            found = by_cat.get(None, set()) | by_cat.get(category, set())
            mapped += "admin" in found
            if not found:
                unknown.append(activity)
        total = len(rows[service])
        out.append(ServiceCoverage(service, total, mapped, total - mapped - len(unknown),
                                   len(unknown), tuple(unknown)))
    return out


def format_coverage(coverage: Iterable[ServiceCoverage]) -> str:
    """Plain-text table of :func:`audit_rule_coverage` (for the CLI and the build log)."""
    rows = list(coverage)
    width = max([len(c.service) for c in rows] + [7])
    lines = [f"{'service':<{width}}  {'total':>5}  {'mapped':>6}  {'no-admin':>8}  "
             f"{'unknown':>7}"]
    for c in rows:
        lines.append(f"{c.service:<{width}}  {c.activities:>5}  {c.mapped:>6}  "
                     f"{c.no_admin_right:>8}  {c.unknown:>7}")
    total = [sum(getattr(c, f) for c in rows)
             for f in ("activities", "mapped", "no_admin_right", "unknown")]
    lines.append(f"{'all':<{width}}  {total[0]:>5}  {total[1]:>6}  {total[2]:>8}  "
                 f"{total[3]:>7}")
    return "\n".join(lines)
