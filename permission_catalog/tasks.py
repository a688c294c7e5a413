"""Curated admin tasks: what an administrator does, mapped to the minimal resource actions.

A :class:`Task` is one runbook step an identity team delegates ("reset passwords of non-admin
users", "read BitLocker keys"). The curated list lives in ``curation/tasks.yaml``;
:func:`build_tasks_data` validates it and ``python -m permission_catalog.build`` writes the result
to ``data/tasks.json``, which :attr:`Catalog.tasks <permission_catalog.catalog.Catalog.tasks>`
loads through :meth:`Task.from_dict`.

Conventions (also stated at the top of the YAML):

* ``actions`` is the smallest set of resource actions an admin role must grant, beyond what every
  member user already holds, for the task to succeed.
* Reads. A read is part of ``actions`` when member users lack it by default (sign-in logs,
  BitLocker keys...) or when reading is the whole task. Reads every member user holds by default
  (the unconditioned reads of the built-in ``User`` role, e.g. ``users/standard/read``) that a
  change task only uses to find its target go to ``reads``. Built-in admin roles do not carry those
  reads either (their holders read through the default user permissions), so keeping them out of
  ``actions`` keeps least-privileged answers meaningful. Exports add ``reads`` back for service
  principals, guests, or tenants that restrict default user permissions.
* ``scopes`` says where the task can be delegated: ``tenant`` always; ``administrative_unit`` only
  when every action acts on users, groups or devices (devices: enable / disable / delete and
  reads, plus BitLocker key reads) and none creates a directory object; ``application`` only when
  every action acts on app registrations or service principals and none creates a directory
  object. Creating a sub-object of an existing object (``users/authenticationMethods/create``)
  follows the parent. :func:`build_tasks_data` enforces these rules (:func:`delegable_scopes`).
* ``microsoft_task`` names the exact row of Microsoft's "least privileged role by task" table the
  task answers; ``microsoft_roles`` and ``microsoft_alternatives`` (filled in from that table) are
  the roles it documents as least privileged and the other roles it lists.
* ``targets`` (optional) is the tier of users the task acts on when Entra restricts the action by
  the target's roles (password reset, sessions, authentication methods, sensitive updates):
  ``non_admins``, ``limited_admins`` or ``privileged_admins`` (see :mod:`permission_catalog.lpb`).
  Only such tasks may set it, and only ``non_admins`` tasks may be delegated at
  ``administrative_unit`` scope (Entra refuses acting on admins there).
* ``deviation`` explains, for a Microsoft row, why the least-privileged built-in role set computed
  from ``actions`` (and ``targets``) is not exactly the documented role: a kind of
  :data:`DEVIATION_KINDS` and one line (see :func:`check_tasks`). Task actions stay the minimal
  real ones; they are never bent to match the table.

:func:`task_least_privileged` answers a task (its actions, restricted to its targets);
:func:`check_tasks` compares every task with Microsoft's table, with metric-free evidence (does
the computed set grant a strict subset of the documented role's grants?); and
:func:`write_tasks_report` renders that comparison as ``data/tasks_report.md``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from .errors import CatalogError, close_matches

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .lpb import LeastPrivilegedResult, Privilege
    from .roles import BuiltinRole

__all__ = [
    "DEVIATION_KINDS",
    "SCOPES",
    "Deviation",
    "MicrosoftTask",
    "Task",
    "TaskCheck",
    "TaskCurationError",
    "build_tasks_data",
    "check_tasks",
    "delegable_scopes",
    "render_tasks_report",
    "task_least_privileged",
    "write_tasks_report",
]

SCOPES = ("tenant", "administrative_unit", "application")
"""Delegation scopes, in canonical order (tenant-wide, administrative unit, one application)."""

ENTRA_ROLE_KIND = "entra_role"
_REQUIRED = ("id", "area", "title", "actions", "scopes")
_OPTIONAL = ("microsoft_task", "reads", "notes", "deviation", "targets")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*$")
_ACTION = re.compile(r"^[a-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+(?:/[A-Za-z0-9.{}_-]+){2,}$")
_READ_VERBS = frozenset({"read", "limitedRead", "restrictedRead"})
_CREATE_VERBS = frozenset({"create", "createAsOwner"})
_AU_RESOURCES = frozenset({"users", "groups"})
_AU_DEVICE_VERBS = frozenset({"enable", "disable", "delete"})
_APP_RESOURCES = frozenset({"applications", "servicePrincipals"})


class TaskCurationError(CatalogError):
    """``curation/tasks.yaml`` (or the table it refers to) is invalid; the message names the file,
    the task and the field at fault."""


DEVIATION_KINDS: dict[str, str] = {
    "narrower_role": "a role set with less privilege covers the task (a role the table overlooks "
    "or predates): follow the computed answer",
    "read_only": "the task only reads and the table names a role that can change things; a role "
    "that only reads covers it: follow the computed answer",
    "metric_artifact": "less privileged by the metric only (a near tie, or unrelated powers the "
    "action model prices low): keep the documented role or build a custom role",
    "service_gate": "the portal or service checks a role that no resource action expresses",
    "source_gap": "the documented role's exported definition lacks an action the task needs",
    "tie": "another role set has exactly the documented role's privilege and wins on name order",
}
"""Why a Microsoft row's computed least-privileged answer may differ from the documented role."""


class Deviation(NamedTuple):
    """Curated explanation of a deviating row: a kind from :data:`DEVIATION_KINDS` and one line."""

    kind: str
    reason: str


class MicrosoftTask(NamedTuple):
    """A row of Microsoft's least-privileged-role-by-task table, by its exact text."""

    area: str
    task: str


@dataclass(frozen=True, slots=True)
class Task:
    """A curated admin task (see the module docstring for the conventions)."""

    id: str
    area: str
    title: str
    actions: tuple[str, ...]
    scopes: tuple[str, ...]
    microsoft_task: MicrosoftTask | None = None
    microsoft_roles: tuple[str, ...] = ()
    microsoft_alternatives: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    notes: str | None = None
    deviation: Deviation | None = None
    targets: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Build a task from a ``data/tasks.json`` record (output of :func:`build_tasks_data`)."""
        mt = data.get("microsoft_task")
        dev = data.get("deviation")
        return cls(
            id=data["id"],
            area=data["area"],
            title=data["title"],
            actions=tuple(sorted(data["actions"])),
            scopes=_canonical_scopes(data["scopes"]),
            microsoft_task=None if mt is None else MicrosoftTask(mt["area"], mt["task"]),
            microsoft_roles=tuple(data.get("microsoft_roles", ())),
            microsoft_alternatives=tuple(data.get("microsoft_alternatives", ())),
            reads=tuple(sorted(data.get("reads", ()))),
            notes=data.get("notes"),
            deviation=None if dev is None else Deviation(dev["kind"], dev["reason"]),
            targets=data.get("targets"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record; ``Task.from_dict(t.to_dict()) == t``."""
        mt, dev = self.microsoft_task, self.deviation
        return {
            "id": self.id,
            "area": self.area,
            "title": self.title,
            "actions": list(self.actions),
            "reads": list(self.reads),
            "scopes": list(self.scopes),
            "microsoft_task": None if mt is None else {"area": mt.area, "task": mt.task},
            "microsoft_roles": list(self.microsoft_roles),
            "microsoft_alternatives": list(self.microsoft_alternatives),
            "notes": self.notes,
            "deviation": None if dev is None else {"kind": dev.kind, "reason": dev.reason},
            "targets": self.targets,
        }


def _canonical_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    given = set(scopes)
    return tuple(s for s in SCOPES if s in given)


# --------------------------------------------------------------------------- building


def build_tasks_data(
    curation_path: str | Path,
    tasks_table: Sequence[Mapping[str, Any]],
    known_actions: Collection[str],
) -> list[dict[str, Any]]:
    """Validate ``curation/tasks.yaml`` and return its tasks as JSON-ready dicts sorted by id.

    ``tasks_table`` is Microsoft's least-privileged-role-by-task table (the rows of
    ``tasks_least_privileged.json``); ``known_actions`` the catalog's action names. Raises
    :class:`TaskCurationError` on: a malformed entry (missing or unknown field, bad id, bad scope),
    an unknown action (with close matches), a duplicate id or action, a scope the actions cannot
    be delegated at, a ``microsoft_task`` that is not an exact row of the table (with close rows),
    two tasks claiming one row, or an ``entra_role`` row left without a task.
    """
    path = Path(curation_path)
    entries = _load_yaml(path)
    rows = _index_table(tasks_table)
    known = frozenset(known_actions)
    tasks: dict[str, Task] = {}
    claimed: dict[MicrosoftTask, str] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: task #{index + 1}"
        task = _parse_entry(entry, where, rows, known)
        if task.id in tasks:
            raise TaskCurationError(f"{where}: duplicate id {task.id!r}")
        if task.microsoft_task is not None:
            other = claimed.get(task.microsoft_task)
            if other is not None:
                raise TaskCurationError(
                    f"{where} ({task.id}): microsoft_task {tuple(task.microsoft_task)!r} is "
                    f"already answered by task {other!r}; one task per table row")
            claimed[task.microsoft_task] = task.id
        tasks[task.id] = task
    _check_every_row_answered(path, rows, claimed)
    return [tasks[k].to_dict() for k in sorted(tasks)]


def _load_yaml(path: Path) -> list[Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaskCurationError(f"{path}: missing") from exc
    except yaml.YAMLError as exc:
        raise TaskCurationError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, list):
        raise TaskCurationError(f"{path}: expected a list of tasks, got {type(data).__name__}")
    return data


def _index_table(table: Sequence[Mapping[str, Any]]) -> dict[MicrosoftTask, Mapping[str, Any]]:
    rows: dict[MicrosoftTask, Mapping[str, Any]] = {}
    for i, row in enumerate(table):
        try:
            key = MicrosoftTask(row["area"], row["task"])
        except (KeyError, TypeError) as exc:
            raise TaskCurationError(f"tasks table row #{i + 1}: needs 'area' and 'task'") from exc
        rows[key] = row
    return rows


def _parse_entry(
    entry: Any, where: str, rows: Mapping[MicrosoftTask, Mapping[str, Any]], known: frozenset[str]
) -> Task:
    if not isinstance(entry, dict):
        raise TaskCurationError(f"{where}: expected a mapping, got {type(entry).__name__}")
    _check_keys(entry, where)
    task_id = _text(entry, "id", where)
    if not _ID.match(task_id):
        raise TaskCurationError(
            f"{where}: id {task_id!r} is not '<area-slug>.<task-slug>' (a-z, 0-9, dashes)")
    where = f"{where} ({task_id})"
    actions = _actions(entry, "actions", where, known)
    reads = _actions(entry, "reads", where, known) if entry.get("reads") is not None else ()
    _check_reads(actions, reads, where)
    notes = _optional_text(entry, "notes", where)
    if not actions and not notes:
        raise TaskCurationError(f"{where}: field 'actions' is empty; say why in 'notes'")
    scopes = _scopes(entry, where, actions)
    targets = _targets(entry, where, actions, scopes)
    microsoft_task = _microsoft_task(entry, where, rows)
    deviation = _deviation(entry, where)
    if deviation is not None and microsoft_task is None:
        raise TaskCurationError(f"{where}: 'deviation' explains a Microsoft row; there is none")
    row = None if microsoft_task is None else rows[microsoft_task]
    roles = () if row is None else tuple(row["least_privileged_roles"])
    alternatives = () if row is None else tuple(row.get("additional_roles") or ())
    return Task(
        id=task_id, area=_text(entry, "area", where), title=_text(entry, "title", where),
        actions=actions, scopes=scopes, microsoft_task=microsoft_task, microsoft_roles=roles,
        microsoft_alternatives=alternatives,
        reads=reads, notes=notes, deviation=deviation, targets=targets,
    )


def _check_keys(entry: Mapping[str, Any], where: str) -> None:
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise TaskCurationError(f"{where}: missing field(s) {', '.join(missing)}")
    for key in entry:
        if key not in _REQUIRED and key not in _OPTIONAL:
            hint = close_matches(str(key), (*_REQUIRED, *_OPTIONAL))
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise TaskCurationError(f"{where}: unknown field {key!r}{extra}")


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise TaskCurationError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _optional_text(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if entry.get(key) is None else _text(entry, key, where)


def _deviation(entry: Mapping[str, Any], where: str) -> Deviation | None:
    value = entry.get("deviation")
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"kind", "reason"}:
        raise TaskCurationError(f"{where}: field 'deviation' must be {{kind, reason}}: {value!r}")
    kind = value["kind"]
    if kind not in DEVIATION_KINDS:
        hint = close_matches(str(kind), DEVIATION_KINDS)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise TaskCurationError(f"{where}: field 'deviation': unknown kind {kind!r}{extra}")
    return Deviation(kind, _text(value, "reason", where))


def _actions(
    entry: Mapping[str, Any], key: str, where: str, known: frozenset[str]
) -> tuple[str, ...]:
    values = entry[key]
    if not isinstance(values, list):
        raise TaskCurationError(f"{where}: field {key!r} must be a list, got {values!r}")
    seen: set[str] = set()
    for value in values:
        if not isinstance(value, str) or not _ACTION.match(value):
            raise TaskCurationError(f"{where}: field {key!r}: malformed resource action {value!r}")
        if value not in known:
            hint = close_matches(value, known)
            extra = "; did you mean " + ", ".join(repr(h) for h in hint) + "?" if hint else ""
            raise TaskCurationError(f"{where}: field {key!r}: unknown action {value!r}{extra}")
        if value in seen:
            raise TaskCurationError(f"{where}: field {key!r}: action {value!r} listed twice")
        seen.add(value)
    return tuple(sorted(seen))


def _check_reads(actions: tuple[str, ...], reads: tuple[str, ...], where: str) -> None:
    for read in reads:
        if _split(read)[-1] not in _READ_VERBS:
            raise TaskCurationError(f"{where}: field 'reads': {read!r} does not read")
        if read in actions:
            raise TaskCurationError(f"{where}: {read!r} is in both 'actions' and 'reads'")


def _scopes(entry: Mapping[str, Any], where: str, actions: tuple[str, ...]) -> tuple[str, ...]:
    values = entry["scopes"]
    if not isinstance(values, list) or not values:
        raise TaskCurationError(f"{where}: field 'scopes' must be a non-empty list, got {values!r}")
    for value in values:
        if value not in SCOPES:
            raise TaskCurationError(
                f"{where}: field 'scopes': unknown scope {value!r} (known: {', '.join(SCOPES)})")
    if len(set(values)) != len(values):
        raise TaskCurationError(f"{where}: field 'scopes' lists a scope twice: {values!r}")
    if "tenant" not in values:
        raise TaskCurationError(f"{where}: field 'scopes' must include 'tenant'")
    for scope in values:
        for action in actions:
            if scope not in delegable_scopes(action):
                raise TaskCurationError(
                    f"{where}: field 'scopes': {action!r} cannot be delegated at scope {scope!r}")
    return _canonical_scopes(values)


def _targets(
    entry: Mapping[str, Any], where: str, actions: tuple[str, ...], scopes: tuple[str, ...]
) -> str | None:
    from .lpb import TARGET_TIERS, target_matrix

    value = entry.get("targets")
    if value is None:
        return None
    if value not in TARGET_TIERS:
        hint = close_matches(str(value), TARGET_TIERS)
        extra = f"; did you mean {hint[0]!r}?" if hint else f" (known: {', '.join(TARGET_TIERS)})"
        raise TaskCurationError(f"{where}: field 'targets': unknown tier {value!r}{extra}")
    if not any(target_matrix(a) for a in actions):
        raise TaskCurationError(
            f"{where}: field 'targets' is {value!r} but no action is restricted by the target's "
            "roles (password-reset / sensitive-action matrix)")
    if value != "non_admins" and "administrative_unit" in scopes:
        raise TaskCurationError(
            f"{where}: field 'targets' is {value!r}: acting on admins cannot be delegated at "
            "scope 'administrative_unit'")
    return str(value)


def _split(action: str) -> list[str]:
    return action.split("/")


def delegable_scopes(action: str) -> tuple[str, ...]:
    """Scopes at which a role holding ``action`` can be assigned (rules in the module docstring;
    they agree with ``ResourceAction.scopes`` of the catalog, which a test checks)."""
    parts = _split(action)
    resource, verb = parts[1].split(".")[0], parts[-1]
    if verb in _CREATE_VERBS and len(parts) == 3:
        # Creating a directory object happens at tenant scope; creating a sub-object of an
        # existing one (users/authenticationMethods/create) follows its parent object.
        return ("tenant",)
    reads = verb in _READ_VERBS
    out = ["tenant"]
    if (resource in _AU_RESOURCES or (resource == "devices" and (verb in _AU_DEVICE_VERBS or reads))
            or (resource == "bitlockerKeys" and reads)):
        out.append("administrative_unit")
    if resource in _APP_RESOURCES:
        out.append("application")
    return tuple(out)


def _microsoft_task(
    entry: Mapping[str, Any], where: str, rows: Mapping[MicrosoftTask, Mapping[str, Any]]
) -> MicrosoftTask | None:
    value = entry.get("microsoft_task")
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"area", "task"}:
        raise TaskCurationError(
            f"{where}: field 'microsoft_task' must be null or {{area, task}}, got {value!r}")
    key = MicrosoftTask(str(value["area"]), str(value["task"]))
    if key not in rows:
        near = close_matches(f"{key.area} | {key.task}", (f"{k.area} | {k.task}" for k in rows))
        extra = "; closest rows: " + ", ".join(repr(n) for n in near) if near else ""
        raise TaskCurationError(
            f"{where}: field 'microsoft_task' {tuple(key)!r} is not an exact table row{extra}")
    return key


def _check_every_row_answered(
    path: Path,
    rows: Mapping[MicrosoftTask, Mapping[str, Any]],
    claimed: Mapping[MicrosoftTask, str],
) -> None:
    missing = [k for k, row in rows.items()
               if row.get("least_privileged_role_kind") == ENTRA_ROLE_KIND and k not in claimed]
    if missing:
        listed = "; ".join(f"{k.area} | {k.task}" for k in sorted(missing))
        raise TaskCurationError(
            f"{path}: {len(missing)} table row(s) whose least-privileged role is an Entra role "
            f"have no task: {listed}")


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True, slots=True)
class TaskCheck:
    """A task compared with Microsoft's documented least-privileged role.

    ``kind`` is one of:

    * ``match``: the least-privileged built-in set is exactly the documented role(s);
    * ``narrower``: the documented role covers the task but a less privileged role set exists;
    * ``tie``: another role set covers it with the documented role's privilege (name order);
    * ``not_covered``: the documented role does not cover the task's actions (for its targets);
    * ``no_action``: the task has no action to compare (a service-enforced check);
    * ``extra``: the task has no Microsoft row.

    ``beyond_documented``: what the computed roles grant that the documented roles do not (catalog
    actions, and ``action@row`` where the computed roles reach more kinds of target users); empty
    means the computed answer grants a subset of the documented one, independently of any metric.
    """

    task: Task
    result: LeastPrivilegedResult
    documented: tuple[BuiltinRole, ...]
    documented_cost: int | None
    documented_covers: bool | None
    kind: str
    documented_privilege: Privilege | None = None
    beyond_documented: tuple[str, ...] = ()

    @property
    def deviates(self) -> bool:
        """True for a Microsoft row whose answer is not exactly the documented role."""
        return self.kind not in ("match", "extra")

    @property
    def strict_subset(self) -> bool:
        """The computed roles grant strictly less than the documented ones (metric-free)."""
        return bool(self.documented) and self.deviates and not self.beyond_documented

    @property
    def documented_alternative(self) -> bool:
        """Every computed role is one the table itself lists for the row."""
        listed = set(self.task.microsoft_roles) | set(self.task.microsoft_alternatives)
        return bool(self.result.roles) and set(self.result.role_names) <= listed


def task_least_privileged(catalog: Catalog, task: Task) -> LeastPrivilegedResult:
    """``least_privileged_builtin`` for a task: its actions, restricted to its target tier."""
    from .lpb import least_privileged_builtin

    return least_privileged_builtin(catalog, task.actions, targets=task.targets)


def check_tasks(catalog: Catalog, tasks: Iterable[Task] | None = None) -> list[TaskCheck]:
    """Compare tasks (default: ``catalog.tasks``) with Microsoft's table, sorted by task id."""
    from .lpb import grant_items, privilege_of, set_cost, uncovered_by

    chosen = sorted(catalog.tasks.values() if tasks is None else tasks, key=lambda t: t.id)
    out: list[TaskCheck] = []
    for task in chosen:
        result = task_least_privileged(catalog, task)
        if task.microsoft_task is None:
            out.append(TaskCheck(task, result, (), None, None, "extra"))
            continue
        documented = tuple(catalog.role_by_name(n) for n in task.microsoft_roles)
        covers = not uncovered_by(catalog, documented, task.actions, targets=task.targets)
        kind = _kind(task, result, covers, set_cost(catalog, documented))
        beyond = grant_items(catalog, result.roles) - grant_items(catalog, documented)
        out.append(TaskCheck(
            task, result, documented, set_cost(catalog, documented), covers, kind,
            privilege_of(catalog, documented), tuple(sorted(beyond)),
        ))
    return out


def _kind(task: Task, result: LeastPrivilegedResult, covers: bool, cost: int) -> str:
    if not task.actions:
        return "no_action"
    if not covers:
        return "not_covered"
    if result.role_names == tuple(sorted(task.microsoft_roles)):
        return "match"
    return "narrower" if result.cost < cost else "tie"


# --------------------------------------------------------------------------- report

_OUTCOME_TEXT = {
    "narrower": "less privileged set covers it",
    "tie": "equal privilege (name order)",
    "not_covered": "documented role lacks an action",
    "no_action": "no resource action",
}
_UNAVOIDABLE = ("narrower_role", "read_only", "service_gate", "source_gap")


def render_tasks_report(catalog: Catalog, checks: Sequence[TaskCheck] | None = None) -> str:
    """The Markdown of ``data/tasks_report.md`` (deterministic for a given catalog)."""
    rows = check_tasks(catalog) if checks is None else list(checks)
    ms = [c for c in rows if c.kind != "extra"]
    matched = sum(1 for c in ms if c.kind == "match")
    followed = sum(1 for c in ms if c.deviates and c.task.deviation is not None
                   and c.task.deviation.kind in ("narrower_role", "read_only"))
    unavoidable = sum(_count_kind(ms, k) for k in _UNAVOIDABLE)
    lines = [
        "# Curated tasks against Microsoft's least-privileged-role table",
        "",
        "Generated by `permission_catalog.tasks.write_tasks_report` from `curation/tasks.yaml` "
        f"and the catalog of built-in roles {catalog.version}. Do not edit by hand.",
        "",
        f"- Tasks: {len(rows)} ({len(ms)} answer a row of Microsoft's table, "
        f"{len(rows) - len(ms)} are additions).",
        "- Exact agreement: `least_privileged_builtin(task.actions, targets=task.targets)` is "
        f"exactly Microsoft's documented role for {matched} of {len(ms)} rows "
        f"({_pct(matched, len(ms))}); {followed} more rows get a less privileged answer worth "
        f"following ({_pct(matched + followed, len(ms))} together).",
        f"- {len(ms) - matched} rows deviate. {unavoidable} of them are no error of ours: the "
        "table predates or overlooks a less privileged role that covers the task (`narrower_role`,"
        " `read_only`), a service checks a role no action expresses (`service_gate`), or the "
        "documented role's export lacks an action (`source_gap`); the rest are `metric_artifact`"
        " or `tie`.",
        "- Privilege (`permission_catalog.lpb`): (changes, reads), compared lexicographically, "
        "each a count of granted actions in which an action Microsoft labels privileged weighs "
        "5, a workload-wide grant 10, and an action Entra restricts by target counts once per "
        "kind of user the role may act on. Shown below as `changes/reads`.",
        "- `⊊`: the computed roles grant a strict subset of the documented roles' grants "
        "(actions and reachable target users), whatever the metric. `†`: the table itself lists "
        "the computed role as an alternative.",
        "",
        "| computed outcome | rows |",
        "|---|---|",
        *(f"| {k} | {sum(1 for c in ms if c.kind == k)} |"
          for k in ("match", "narrower", "tie", "not_covered", "no_action")),
        "",
        "## Rows that deviate",
        "",
        "Deviation kinds (curated in `curation/tasks.yaml`):",
        "",
        *(f"- `{k}` ({_count_kind(ms, k)}, {_count_subset(ms, k)} with `⊊`): {v}."
          for k, v in DEVIATION_KINDS.items()),
        "",
        "| task | Microsoft's role | computed | ours ⊆ documented | outcome | kind | explanation |",
        "|---|---|---|---|---|---|---|",
        *(_deviation_row(c) for c in sorted(ms, key=_deviation_order) if c.deviates),
        "",
        "## All tasks",
        "",
        "| task | title | scopes | targets | actions | least-privileged built-in "
        "| Microsoft's role |",
        "|---|---|---|---|---|---|---|",
        *(_task_row(c) for c in rows),
        "",
    ]
    return "\n".join(lines)


def write_tasks_report(catalog: Catalog, path: str | Path) -> str:
    """Write :func:`render_tasks_report` to ``path`` (UTF-8, LF) and return the text."""
    text = render_tasks_report(catalog)
    Path(path).write_bytes(text.encode("utf-8"))
    return text


def _pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f}%" if d else "n/a"


def _count_kind(ms: Sequence[TaskCheck], kind: str) -> int:
    return sum(1 for c in ms if c.deviates and c.task.deviation and c.task.deviation.kind == kind)


def _count_subset(ms: Sequence[TaskCheck], kind: str) -> int:
    return sum(1 for c in ms if c.deviates and c.strict_subset and c.task.deviation
               and c.task.deviation.kind == kind)


def _deviation_order(c: TaskCheck) -> tuple[int, str]:
    kinds = list(DEVIATION_KINDS)
    dev = c.task.deviation
    return (kinds.index(dev.kind) if dev is not None else -1, c.task.id)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _roles_privilege(names: Iterable[str], privilege: Privilege | None) -> str:
    label = " + ".join(names) or "(none)"
    return label if privilege is None else f"{label} ({privilege.changes}/{privilege.reads})"


def _beyond(c: TaskCheck) -> str:
    if not c.documented or not c.result.roles:
        return "n/a"
    if c.strict_subset:
        return "⊊ yes"
    actions = sorted({item.split("@", 1)[0].removeprefix("microsoft.directory/")
                      for item in c.beyond_documented})
    sample = ", ".join(f"`{a}`" for a in actions[:2])
    more = f" +{len(actions) - 2}" if len(actions) > 2 else ""
    return f"no: {sample}{more}"


def _deviation_row(c: TaskCheck) -> str:
    documented = _roles_privilege(c.task.microsoft_roles, c.documented_privilege)
    result = _roles_privilege(c.result.role_names, c.result.privilege)
    if c.documented_alternative:
        result += " †"
    dev = c.task.deviation
    kind, reason = ("**missing**", "**unexplained**")
    if dev is not None:
        kind, reason = dev.kind, _cell(dev.reason)
    return (f"| `{c.task.id}` | {documented} | {result} | {_beyond(c)} | {_OUTCOME_TEXT[c.kind]} "
            f"| {kind} | {reason} |")


def _task_row(c: TaskCheck) -> str:
    t = c.task
    result = (_roles_privilege(c.result.role_names, c.result.privilege) if t.actions
              else "(none: no action)")
    return (f"| `{t.id}` | {_cell(t.title)} | {', '.join(t.scopes)} | {t.targets or ''} "
            f"| {len(t.actions)} | {result} | {' + '.join(t.microsoft_roles)} |")
