"""Design roles from runbooks (no usage needed), and compare a design with observed usage.

A :class:`Runbook` is a named job: catalog task ids and/or free resource actions, the scope it is
meant for (tenant, administrative units, app registrations) and, optionally, who will do it.
:func:`design_roles` turns runbooks into a :class:`~entra_lp.recommendation.Recommendation`
(``source="design"``) the same way :func:`~entra_lp.recommend.recommend` turns usage into one:

* the tasks' minimal actions (plus the free actions), each placed at the runbook's scope when
  Entra can delegate it there (``Task.scopes`` / ``catalog.scopes_of``), else tenant-wide with a
  plain sentence in ``cannot_express``;
* the configuration / execution split and custom-role eligibility (:mod:`entra_lp.split`): one
  custom role per (runbook, scope, plane) group, checked with ``catalog.check_custom_role`` at
  its scope; identical definitions across runbooks are merged;
* built-in fallback (least-privileged built-in role set; AU- and app-scopability honoured) for
  actions custom roles cannot hold, and the PIM-for-Groups pattern when enough of the
  runbooks' people share one;
* risk, PIM settings (no usage: the defaults of each tier), names, assignments of the runbooks'
  principals at the intended scopes, and metrics against the designed needs.

:func:`compare` puts a design next to a usage-based recommendation: rights designed but never
used and rights used but not designed, per principal and per role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import EntraLPError, RecommendationError
from .recommend import (
    _cannot_express,
    _check_options,
    _dedupe,
    _describe_roles,
    _fallback_roles,
    _Hold,
    _name_and_key,
    _Options,
    _package_builtin,
    _Role,
    _role_covers,
    _State,
    _widened,
)
from .recommendation import Recommendation
from .split import partition

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

    from .directory import DirectorySnapshot

__all__ = [
    "DesignComparison",
    "PrincipalDiff",
    "RoleDiff",
    "Runbook",
    "compare",
    "design_roles",
    "load_runbooks",
]

ScopeKind = Literal["tenant", "administrative_unit", "application"]


class Runbook(BaseModel):
    """A named job to design roles for.

    ``tasks``: catalog task ids; ``actions``: free resource actions (either may be empty, not
    both); ``scope``: where the job is meant to be delegated; ``scope_ids``: the AU ids or app
    object ids (needed when ``principals`` are given at a non-tenant scope); ``principals``:
    who will do the job (user or service principal ids), optional.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    tasks: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    scope: ScopeKind = "tenant"
    scope_ids: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    description: str = ""

    @model_validator(mode="after")
    def _has_work(self) -> Runbook:
        if not self.tasks and not self.actions:
            raise ValueError("a runbook needs at least one task id or action")
        if self.scope == "tenant" and self.scope_ids:
            raise ValueError("scope_ids make sense only for administrative_unit / application")
        return self


RunbookSource = Runbook | Mapping[str, Any] | Iterable[Runbook | Mapping[str, Any]] | str | Path


def load_runbooks(source: RunbookSource) -> list[Runbook]:
    """Runbooks from a :class:`Runbook`, a dict, a list of either, a YAML / JSON file path, or
    YAML text (a list, or a mapping with a ``runbooks`` list). Errors name the file, the
    runbook's position and the field."""
    where = "<runbooks>"
    data: Any = source
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and Path(source).suffix in (".yaml", ".yml", ".json")):
        where = str(source)
        try:
            data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            raise RecommendationError(f"{where}: cannot read runbooks: {exc}") from exc
        except yaml.YAMLError as exc:
            raise RecommendationError(f"{where}: invalid YAML: {exc}") from exc
    elif isinstance(source, str):
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise RecommendationError(f"{where}: invalid YAML: {exc}") from exc
    if isinstance(data, Runbook):
        data = [data]
    elif isinstance(data, Mapping):
        data = data.get("runbooks", [data])
    if not isinstance(data, Iterable) or isinstance(data, str | bytes):
        kind = type(data).__name__
        raise RecommendationError(f"{where}: expected a list of runbooks, got {kind}")
    out = [_one_runbook(item, where, i) for i, item in enumerate(data)]
    if not out:
        raise RecommendationError(f"{where}: no runbook given")
    names = [r.name for r in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RecommendationError(f"{where}: duplicate runbook name(s) {dupes}")
    return out


def _one_runbook(item: Any, where: str, index: int) -> Runbook:
    if isinstance(item, Runbook):
        return item
    try:
        return Runbook.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "<runbook>"
        name = item.get("name", "?") if isinstance(item, Mapping) else "?"
        raise RecommendationError(
            f"{where}: runbook #{index + 1} ({name!r}), field {field!r}: {first['msg']}"
        ) from exc


# ------------------------------------------------------------------------------- design
def design_roles(
    runbooks: RunbookSource,
    catalog: Catalog | None = None,
    directory: DirectorySnapshot | None = None,
    *,
    pim_group_min_principals: int = 3,
    authentication_context: str | None = None,
) -> Recommendation:
    """Roles, scopes, PIM settings and assignments for ``runbooks`` (module docstring).

    Unknown task ids or actions, and AU / app ids the directory does not know, raise
    :class:`RecommendationError` naming the runbook (with close matches).
    """
    books = load_runbooks(runbooks)
    cat = catalog if catalog is not None else _load()
    opts = _Options(
        objective="min_roles", solver="auto", lam=0.0, max_over_risk=None,
        max_scoped_assignments=5, max_au_share=1.0,
        pim_group_min_principals=pim_group_min_principals, task_completion=False,
        one_offs="grant", one_off_events=0, one_off_share=0.0,
        authentication_context=authentication_context, time_limit=None, random_state=0)
    _check_options(opts)
    st = _State(cat, directory, None, opts)
    from .scope import ScopeResolver

    st.resolver = ScopeResolver(cat, directory)
    _principal_kinds(st, books)
    builtin: dict[tuple[str, str], list[_Hold]] = {}
    roles: list[_Role] = []
    for book in books:
        roles.extend(_design_one(st, book, builtin))
    roles = _dedupe([r for r in roles if r.kind == "custom"])
    roles += _package_design_builtin(st, builtin)
    st.roles = roles
    _name_and_key(st)
    proposals, assignments = _describe_roles(st)
    rec = Recommendation(
        catalog_version=cat.version, source="design",
        options={"runbooks": [b.name for b in books],
                 "pim_group_min_principals": pim_group_min_principals,
                 "authentication_context": authentication_context},
        roles=tuple(proposals), assignments=tuple(assignments),
        cannot_express=_cannot_express(st),
    )
    from .metrics import recommendation_metrics

    needs = _designed_needs(books, st)
    return rec.model_copy(update={"metrics": recommendation_metrics(
        rec, needs, cat, directory, None)})


def _load() -> Catalog:
    from permission_catalog import load_catalog

    return load_catalog()


def _principal_kinds(st: _State, books: Sequence[Runbook]) -> None:
    d = st.directory
    sps = {s.id: s for s in d.service_principals} if d is not None else {}
    users = {u.id: u for u in d.users} if d is not None else {}
    for b in books:
        for pid in b.principals:
            sp = sps.get(pid)
            if sp is not None:
                managed = sp.service_principal_type == "ManagedIdentity"
                st.kinds[pid] = "managed_identity" if managed else "service_principal"
                st.names[pid] = sp.display_name
            else:
                st.kinds[pid] = "user"
                st.names[pid] = users[pid].user_principal_name if pid in users else ""


def _book_actions(st: _State, book: Runbook) -> dict[str, str]:
    """Action → scope kind for one runbook (tenant where the intended scope cannot hold it)."""
    cat = st.cat
    placed: dict[str, str] = {}
    for tid in book.tasks:
        try:
            task = cat.task(tid)
        except EntraLPError as exc:
            raise RecommendationError(f"runbook {book.name!r}: {exc}") from exc
        ok = book.scope in task.scopes
        if not ok:
            st.cannot_express.add(
                f"Runbook {book.name!r}: task {tid} cannot be delegated at "
                f"{book.scope.replace('_', ' ')} scope (only {', '.join(task.scopes)}); its "
                "actions are granted tenant-wide.")
        for a in task.actions:
            _place(placed, a, book.scope if ok and book.scope in cat.scopes_of(a) else "tenant")
            st.design_tasks[a] = tuple(sorted({*st.design_tasks.get(a, ()), tid}))
    for a in book.actions:
        try:
            cat.action(a)
        except EntraLPError as exc:
            raise RecommendationError(f"runbook {book.name!r}: {exc}") from exc
        ok = book.scope in cat.scopes_of(a)
        if not ok:
            st.cannot_express.add(
                f"Runbook {book.name!r}: {a} cannot be assigned at "
                f"{book.scope.replace('_', ' ')} scope; it is granted tenant-wide.")
        _place(placed, a, book.scope if ok else "tenant")
    return placed


def _place(placed: dict[str, str], action: str, kind: str) -> None:
    # an action asked for at two scopes by one runbook keeps the broader one
    if placed.get(action) != "tenant":
        placed[action] = kind


def _check_scope_ids(st: _State, book: Runbook) -> None:
    if book.scope == "tenant":
        return
    if book.principals and not book.scope_ids:
        raise RecommendationError(
            f"runbook {book.name!r}: principals are given at {book.scope} scope but no "
            "scope_ids (the AU or app object ids to assign at)")
    d = st.directory
    if d is None:
        return
    known = ({a.id for a in d.administrative_units} if book.scope == "administrative_unit"
             else {a.id for a in d.applications} | {s.id for s in d.service_principals})
    for sid in book.scope_ids:
        if sid not in known:
            from .errors import UnknownNameError

            what = "administrative unit" if book.scope == "administrative_unit" else "app object"
            raise RecommendationError(
                f"runbook {book.name!r}: {UnknownNameError(what, sid, sorted(known))}")


def _design_one(
    st: _State, book: Runbook, builtin: dict[tuple[str, str], list[Any]]
) -> list[_Role]:
    _check_scope_ids(st, book)
    placed = _book_actions(st, book)
    out: list[_Role] = []
    for key, members in partition({book.name: placed}, st.cat).items():
        acts = members[book.name]
        ids = book.scope_ids if key.scope == book.scope else ()
        why = (f"intended scope of runbook {book.name!r}" if key.scope == book.scope else
               f"runbook {book.name!r}: not delegable at {book.scope}, so tenant-wide")
        if key.custom:
            role = _Role("custom", acts, groups={(key.scope, key.plane)})
            role.holds = [_Hold(p, key.scope, ids, acts, why) for p in book.principals]
            _check_design_role(st, book, role, key.scope)
            out.append(role)
            continue
        roles = _fallback_roles(st, key.scope, acts, f"runbook {book.name!r}")
        for tpl, kind in roles:
            covered = frozenset(a for a in acts if _role_covers(st, tpl, a))
            reason = _widened(key.scope, kind, [r for r, _ in roles]) or why
            holds = builtin.setdefault((tpl.id, kind), [])
            holds.append(_Hold("", kind, ids if kind == key.scope else (), covered, reason))
            holds.extend(_Hold(p, kind, ids if kind == key.scope else (), covered, reason)
                         for p in book.principals)
    return out


def _check_design_role(st: _State, book: Runbook, role: _Role, scope: str) -> None:
    errors = [v for v in st.cat.check_custom_role(sorted(role.actions), scope)
              if v.severity == "error"]
    for v in errors:
        st.cannot_express.add(
            f"Runbook {book.name!r}: a custom role at {scope.replace('_', ' ')} scope cannot "
            f"hold {v.action or 'these actions'}: {v.message}.")


def _package_design_builtin(st: _State, builtin: Mapping[tuple[str, str], list[Any]]
                            ) -> list[_Role]:
    """Built-in fallbacks: PIM groups / direct assignments for the runbooks' principals, and
    an unassigned reference for runbooks without principals ("" placeholder holds)."""
    real = {k: [h for h in v if h.principal_id] for k, v in builtin.items()}
    roles = _package_builtin(st, {k: v for k, v in real.items() if v})
    have = {r.template.id for r in roles if r.template is not None}
    for (rid, kind), holds in sorted(builtin.items()):
        if rid in have:
            continue
        role = _Role("builtin", frozenset().union(*(h.needs for h in holds)),
                        st.cat.roles[rid], {(kind, "fallback")})
        roles.append(role)
        have.add(rid)
    for r in roles:  # designed needs of placeholder holds count too
        if r.template is not None:
            extra = [h.needs for (rid, _), hs in builtin.items() if rid == r.template.id
                     for h in hs]
            r.actions = frozenset(r.actions).union(*extra)
    return roles


def _designed_needs(books: Sequence[Runbook], st: _State) -> dict[str, frozenset[str]]:
    needs: dict[str, set[str]] = {}
    for b in books:
        acts = {a for t in b.tasks for a in st.cat.task(t).actions} | set(b.actions)
        for p in b.principals:
            needs.setdefault(p, set()).update(acts)
    return {p: frozenset(a) for p, a in needs.items()}


# ------------------------------------------------------------------------------- compare
class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrincipalDiff(_Model):
    """One principal: designed rights never used, used rights not designed."""

    principal_id: str
    designed_not_used: tuple[str, ...] = ()
    used_not_designed: tuple[str, ...] = ()


class RoleDiff(_Model):
    """One role: its actions that the other side never asks for."""

    role_key: str
    display_name: str
    actions: tuple[str, ...]


class DesignComparison(_Model):
    """Result of :func:`compare`."""

    principals: tuple[PrincipalDiff, ...] = ()
    designed_never_used: tuple[RoleDiff, ...] = ()
    """Per design role: actions no principal of the recommendation used."""
    used_not_designed: tuple[RoleDiff, ...] = ()
    """Per recommended role: actions no design role grants."""

    @property
    def matches(self) -> bool:
        """True when nothing is designed-but-unused nor used-but-undesigned."""
        return not (self.designed_never_used or self.used_not_designed or any(
            p.designed_not_used or p.used_not_designed for p in self.principals))


def compare(
    design: Recommendation,
    recommendation: Recommendation,
    catalog: Catalog | None = None,
    usage: Any = None,
) -> DesignComparison:
    """Rights designed but never used, and used but not designed, per principal and role.

    "Used" per principal comes from ``usage`` (a ``UsageMatrix``) when given, else from the
    recommendation's evidence: the actions of its roles that every holder used or needed by
    task (evidence ``observed`` / ``task``; ``peer`` actions are not counted as used by
    anyone in particular). Designed rights are the design roles' actions (built-in fallbacks:
    the needs they serve). Implication counts: a designed ``allTasks`` is used when any action
    it implies was.
    """
    cat = catalog if catalog is not None else _load()
    used = _used(recommendation, usage)
    designed = _designed(design)
    everyone_used = frozenset().union(*used.values()) if used else frozenset()
    people = sorted(set(used) | set(designed))
    diffs = []
    for p in people:
        d, u = designed.get(p, frozenset()), used.get(p, frozenset())
        diffs.append(PrincipalDiff(
            principal_id=p,
            designed_not_used=_unexercised(cat, d, u),
            used_not_designed=tuple(sorted(cat.uncovered(d, u))) if u else (),
        ))
    all_designed = frozenset(a for r in design.roles for a in r.actions)
    never = [RoleDiff(role_key=r.key, display_name=r.display_name,
                      actions=_unexercised(cat, frozenset(r.actions), everyone_used))
             for r in design.roles]
    missing = [RoleDiff(role_key=r.key, display_name=r.display_name,
                        actions=tuple(sorted(cat.uncovered(all_designed, _role_used(r)))))
               for r in recommendation.roles]
    return DesignComparison(
        principals=tuple(x for x in diffs if x.designed_not_used or x.used_not_designed),
        designed_never_used=tuple(x for x in never if x.actions),
        used_not_designed=tuple(x for x in missing if x.actions),
    )


def _unexercised(cat: Catalog, designed: frozenset[str], used: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(a for a in designed if not any(
        u == a or cat.implies(a, u) for u in used)))


def _role_used(r: Any) -> frozenset[str]:
    return frozenset(e.action for e in r.evidence if e.source in ("observed", "task", "design"))


def _used(rec: Recommendation, usage: Any) -> dict[str, frozenset[str]]:
    if usage is not None:
        ev = usage.evidence
        out: dict[str, set[str]] = {}
        for p, a in zip(ev["principal_id"].tolist(), ev["action"].tolist(), strict=True):
            out.setdefault(str(p), set()).add(str(a))
        return {p: frozenset(a) for p, a in out.items()}
    by_role = {r.key: _role_used(r) for r in rec.roles}
    acc: dict[str, set[str]] = {}
    for a in rec.assignments:
        acc.setdefault(a.principal_id, set()).update(by_role.get(a.role_key, ()))
    return {p: frozenset(x) for p, x in acc.items()}


def _designed(design: Recommendation) -> dict[str, frozenset[str]]:
    by_role = {r.key: frozenset(r.actions) for r in design.roles}
    acc: dict[str, set[str]] = {}
    for a in design.assignments:
        acc.setdefault(a.principal_id, set()).update(by_role.get(a.role_key, ()))
    return {p: frozenset(x) for p, x in acc.items()}
