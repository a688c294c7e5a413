"""Plan and apply a :class:`~entra_lp.export.DesiredState` against a live tenant.

``build_plan`` compares the desired state with what the tenant has and lists the exact Graph
requests that would close the gap, each with a reason; anything already as desired is
listed as unchanged and not requested. Entra's rules are checked first: offline (before any
call) and then against the tenant (role names, principals, approvers, current policies,
the custom-role limit). A plan with violations cannot be applied.

Requests that depend on objects the plan itself creates carry placeholders, resolved while
applying: ``${role:<display name>}`` (the new role's id) and ``${policy:<display name>}``
(its PIM policy id, looked up through ``roleManagementPolicyAssignments``).

``apply`` is a dry run unless ``confirm=True``. Then it re-reads the tenant, executes only
the reviewed requests that are still needed (so re-applying a plan, or resuming one that
stopped half-way, sends no duplicate), stops at the first error, and writes every request
and response status to an audit file (JSON lines; no headers, hence no token).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from ..errors import TenantError, close_matches
from ..export.desired import (
    AssignmentSpec,
    CatalogLike,
    DesiredState,
    EntraLimits,
    PolicySpec,
    RoleSpec,
    Violation,
    validate_desired,
)
from ..export.graph import (
    ROLE_DEFINITIONS_PATH,
    policy_rule_bodies,
    policy_rule_path,
    role_definition_body,
    rules_equivalent,
    schedule_request_body,
    schedule_request_path,
)
from ._http import GraphError, GraphHttp, RequestRecord
from .reads import (
    PERMISSIONS,
    RolePolicy,
    directory_object,
    role_definitions,
    role_management_policies,
)

__all__ = [
    "ApplyError",
    "ApplyResult",
    "ExecutedRequest",
    "Plan",
    "PlannedRequest",
    "TenantState",
    "build_plan",
    "execute_plan",
    "offline_violations",
    "read_state",
]

RequestKind = Literal["create_role", "update_role", "policy_rule", "eligible", "active"]
_PLACEHOLDER = re.compile(r"\$\{(role|policy):([^}]*)\}")
_TENANT_RESOLVABLE = frozenset({"approver_type"})


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlannedRequest(_Model):
    """One Graph write: method, path (relative to the API root), exact body and why."""

    step: int
    key: str
    kind: RequestKind
    method: Literal["POST", "PATCH"]
    path: str
    body: dict[str, Any]
    reason: str
    permission: str

    def __str__(self) -> str:
        return f"{self.step:>3}. {self.method:<5} {self.path}\n       {self.reason}"


class Plan(_Model):
    """What :meth:`Tenant.apply` would send, what is already in place, and what is wrong."""

    base_url: str
    desired: DesiredState
    requests: tuple[PlannedRequest, ...] = ()
    unchanged: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Violation, ...]:
        """Violations that block applying (warnings do not)."""
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def ok(self) -> bool:
        """True when no violation is an error (the plan may be applied)."""
        return not self.errors

    def to_json(self) -> str:
        """Deterministic JSON of the whole plan (review it, keep it with the change record)."""
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        """Parse :meth:`to_json` output."""
        return cls.model_validate_json(text)

    def __str__(self) -> str:
        lines = [
            f"Plan for {self.base_url}: {len(self.requests)} request(s), "
            f"{len(self.unchanged)} unchanged, {len(self.violations)} violation(s)"
        ]
        lines += [f"  VIOLATION {v}" for v in self.violations]
        lines += [str(r) for r in self.requests]
        lines += [f"  unchanged: {u}" for u in self.unchanged]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"


# ---- tenant state ---------------------------------------------------------------------------
@dataclass
class TenantState:
    """What planning needs to know about the tenant."""

    definitions: list[dict[str, Any]]
    policies: dict[str, RolePolicy]
    eligible: set[tuple[str, str, str]]
    active: set[tuple[str, str, str]]
    objects: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def definitions_named(self, name: str) -> list[dict[str, Any]]:
        """Definitions whose display name matches (case-insensitive)."""
        key = name.casefold()
        return [d for d in self.definitions if str(d.get("displayName", "")).casefold() == key]

    def object_kind(self, object_id: str) -> str | None:
        """``user``, ``group``, ``servicePrincipal``... or ``None`` when not found."""
        obj = self.objects.get(object_id)
        return str(obj.get("@odata.type", "")).rsplit(".", 1)[-1] if obj else None


async def _schedule_keys(http: GraphHttp, path: str, perm: str) -> set[tuple[str, str, str]]:
    items = await http.collect(path, permission=perm)
    return {
        (
            str(i.get("principalId")),
            str(i.get("roleDefinitionId")),
            str(i.get("directoryScopeId") or "/"),
        )
        for i in items
    }


def _referenced_objects(desired: DesiredState) -> list[str]:
    ids = {a.principal_id for a in desired.assignments}
    for p in desired.policies:
        if p.settings.require_approval:
            ids.update(a.partition(":")[2] or a for a in p.settings.approvers)
    return sorted(ids)


async def read_state(http: GraphHttp, desired: DesiredState) -> TenantState:
    """Read what ``build_plan`` compares against (a handful of paged GETs)."""
    base = "/roleManagement/directory/"
    defs, policies, eligible, active = await asyncio.gather(
        role_definitions(http),
        role_management_policies(http),
        _schedule_keys(
            http, base + "roleEligibilitySchedules", PERMISSIONS["eligibility_schedules"]
        ),
        _schedule_keys(
            http, base + "roleAssignmentSchedules", PERMISSIONS["active_schedule_instances"]
        ),
    )
    ids = _referenced_objects(desired)
    objects = await asyncio.gather(*(directory_object(http, i) for i in ids))
    return TenantState(
        defs,
        {p.role_definition_id: p for p in policies},
        eligible,
        active,
        dict(zip(ids, objects, strict=True)),
    )


# ---- planning -------------------------------------------------------------------------------
def offline_violations(
    desired: DesiredState, catalog: CatalogLike | None, limits: EntraLimits
) -> list[Violation]:
    """Violations found without the tenant (those the tenant could resolve are left out)."""
    return [
        v
        for v in validate_desired(desired, catalog, limits=limits)
        if v.code not in _TENANT_RESOLVABLE
    ]


@dataclass
class _Builder:
    desired: DesiredState
    state: TenantState
    limits: EntraLimits
    requests: list[PlannedRequest] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    role_ids: dict[str, str] = field(default_factory=dict)  # casefold name -> id or placeholder

    def add(
        self,
        *,
        key: str,
        kind: RequestKind,
        method: Literal["POST", "PATCH"],
        path: str,
        body: dict[str, Any],
        reason: str,
        permission: str,
    ) -> None:
        self.requests.append(
            PlannedRequest(
                step=len(self.requests) + 1,
                key=key,
                kind=kind,
                method=method,
                path=path,
                body=body,
                reason=reason,
                permission=permission,
            )
        )

    def violate(self, code: str, subject: str, message: str) -> None:
        self.violations.append(Violation(code=code, subject=subject, message=message))


def _role_diff(role: RoleSpec, current: Mapping[str, Any]) -> str:
    have = set(_actions(current))
    parts = []
    if added := sorted(set(role.actions) - have):
        parts.append(f"add {added}")
    if removed := sorted(have - set(role.actions)):
        parts.append(f"remove {removed}")
    if str(current.get("description") or "") != role.description:
        parts.append("change description")
    if bool(current.get("isEnabled", True)) != role.is_enabled:
        parts.append("enable" if role.is_enabled else "disable")
    return "; ".join(parts)


def _actions(definition: Mapping[str, Any]) -> list[str]:
    return sorted(
        {
            a
            for p in definition.get("rolePermissions") or []
            for a in p.get("allowedResourceActions") or []
        }
    )


def _plan_roles(b: _Builder) -> None:
    customs = [d for d in b.state.definitions if not d.get("isBuiltIn")]
    creates = 0
    for role in b.desired.roles:
        subject, matches = (
            f"role {role.display_name!r}",
            b.state.definitions_named(role.display_name),
        )
        if any(d.get("isBuiltIn") for d in matches):
            b.violate("builtin_name", subject, "a built-in role has this name; choose another")
            continue
        if len(matches) > 1:
            b.violate(
                "ambiguous_role_name",
                subject,
                f"{len(matches)} custom roles have this name: "
                f"{sorted(str(d['id']) for d in matches)}",
            )
            continue
        key = f"role:{role.display_name}"
        if not matches:
            creates += 1
            b.role_ids[role.display_name.casefold()] = f"${{role:{role.display_name}}}"
            b.add(
                key=key,
                kind="create_role",
                method="POST",
                path=ROLE_DEFINITIONS_PATH,
                body=role_definition_body(role),
                reason=f"create custom role {role.display_name!r} ({len(role.actions)} actions)",
                permission=PERMISSIONS["write_role_definitions"],
            )
            continue
        current = matches[0]
        b.role_ids[role.display_name.casefold()] = str(current["id"])
        if diff := _role_diff(role, current):
            b.add(
                key=key,
                kind="update_role",
                method="PATCH",
                path=f"{ROLE_DEFINITIONS_PATH}/{current['id']}",
                body=role_definition_body(role, for_update=True),
                reason=f"update custom role {role.display_name!r}: {diff}",
                permission=PERMISSIONS["write_role_definitions"],
            )
        else:
            b.unchanged.append(f"role {role.display_name!r} is up to date")
    if creates and len(customs) + creates > b.limits.max_custom_roles:
        b.violate(
            "too_many_custom_roles",
            "tenant",
            f"{len(customs)} custom roles exist and {creates} would be created; Entra "
            f"allows {b.limits.max_custom_roles}",
        )


def _resolve_role(b: _Builder, name: str, subject: str) -> str | None:
    if (rid := b.role_ids.get(name.casefold())) is not None:
        return rid
    matches = b.state.definitions_named(name)
    if len(matches) == 1:
        return str(matches[0]["id"])
    if matches:
        b.violate("ambiguous_role_name", subject, f"{len(matches)} roles are named {name!r}")
        return None
    known = [str(d.get("displayName")) for d in b.state.definitions]
    known += [r.display_name for r in b.desired.roles]
    hint = close_matches(name, known)
    b.violate(
        "unknown_role",
        subject,
        f"no role named {name!r} in the tenant or the desired "
        "state" + (f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""),
    )
    return None


def _approver_types(state: TenantState, approvers: Iterable[str]) -> dict[str, str]:
    out = {}
    for approver in approvers:
        kind = state.object_kind(approver.partition(":")[2] or approver)
        if kind in ("user", "group"):
            out[approver] = kind
    return out


def _checked_approvers(b: _Builder, approvers: Iterable[str], subject: str) -> dict[str, str]:
    """Approver → ``user``/``group`` as the tenant knows it; violations for the rest."""
    types = _approver_types(b.state, approvers)
    for a in approvers:
        stated = a.partition(":")[0] if ":" in a else None
        if a not in types:
            b.violate(
                "approver_not_found",
                subject,
                f"approver {a!r} is not a user or group in the tenant",
            )
        elif stated is not None and stated != types[a]:
            b.violate(
                "approver_type_mismatch", subject, f"approver {a!r} is a {types[a]} in the tenant"
            )
    return types


def _plan_policies(b: _Builder) -> None:
    for spec in b.desired.policies:
        subject = f"policy of {spec.role_display_name!r}"
        role_id = _resolve_role(b, spec.role_display_name, subject)
        approvers = spec.settings.approvers if spec.settings.require_approval else ()
        errors = len(b.violations)
        types = _checked_approvers(b, approvers, subject)
        if role_id is None or len(b.violations) > errors:
            continue
        if role_id.startswith("${"):
            _plan_rules(b, spec, f"${{policy:{spec.role_display_name}}}", None, types)
        elif (current := b.state.policies.get(role_id)) is None:
            b.violate(
                "no_policy",
                subject,
                f"role {role_id} has no tenant-scope PIM policy (is PIM available in this tenant?)",
            )
        else:
            _plan_rules(b, spec, current.policy_id, current, types)


def _plan_rules(
    b: _Builder,
    spec: PolicySpec,
    policy_id: str,
    current: RolePolicy | None,
    types: Mapping[str, str],
) -> None:
    """One PATCH per managed rule that does not already say what ``spec`` wants."""
    subject = f"policy of {spec.role_display_name!r}"
    for rule_id, body in policy_rule_bodies(spec.settings, types).items():
        existing = current.rule(rule_id) if current else None
        if existing is not None and rules_equivalent(existing, body):
            b.unchanged.append(f"{subject}: {rule_id} already as desired")
            continue
        b.add(
            key=f"rule:{spec.role_display_name}:{rule_id}",
            kind="policy_rule",
            method="PATCH",
            path=policy_rule_path(policy_id, rule_id),
            body=body,
            reason=f"{subject}: set {rule_id}" + ("" if existing else " (new role)"),
            permission=PERMISSIONS["write_policy_rules"],
        )


def _plan_assignments(b: _Builder) -> None:
    for a in b.desired.assignments:
        subject = f"{a.kind} assignment {a.principal_id} → {a.role_display_name!r}"
        role_id = _resolve_role(b, a.role_display_name, subject)
        kind = b.state.object_kind(a.principal_id)
        if kind is None:
            b.violate("principal_not_found", subject, f"no directory object {a.principal_id}")
            continue
        obj = b.state.objects.get(a.principal_id) or {}
        if kind == "group" and not obj.get("isAssignableToRole"):
            b.violate(
                "group_not_role_assignable",
                subject,
                "directory roles can be assigned only to role-assignable groups",
            )
            continue
        if role_id is None:
            continue
        existing = b.state.eligible if a.kind == "eligible" else b.state.active
        if (a.principal_id, role_id, a.directory_scope_id) in existing:
            b.unchanged.append(f"{subject} at {a.directory_scope_id} exists")
            continue
        _add_assignment(b, a, role_id, subject)


def _add_assignment(b: _Builder, a: AssignmentSpec, role_id: str, subject: str) -> None:
    perm = PERMISSIONS["write_eligibility" if a.kind == "eligible" else "write_active"]
    b.add(
        key=f"{a.kind}:{a.principal_id}:{a.role_display_name}:{a.directory_scope_id}",
        kind=a.kind,
        method="POST",
        path=schedule_request_path(a.kind),
        body=schedule_request_body(a, role_id),
        reason=f"{subject} at {a.directory_scope_id} does not exist",
        permission=perm,
    )


def build_plan(
    desired: DesiredState,
    state: TenantState,
    *,
    base_url: str,
    catalog: CatalogLike | None,
    limits: EntraLimits,
    notes: Iterable[str] = (),
) -> Plan:
    """Compare ``desired`` with ``state``; list requests, unchanged items and violations."""
    b = _Builder(desired, state, limits)
    _plan_roles(b)
    _plan_policies(b)
    _plan_assignments(b)
    approvers = [
        x for p in desired.policies if p.settings.require_approval for x in p.settings.approvers
    ]
    current = {
        str(d.get("displayName", "")).casefold(): pol.settings
        for d in state.definitions
        if (pol := state.policies.get(str(d.get("id")))) is not None
    }
    offline = validate_desired(
        desired,
        catalog,
        limits=limits,
        approver_types=_approver_types(state, approvers),
        current_policies=current,
    )
    unique = {(v.code, v.subject, v.message): v for v in [*offline, *b.violations]}
    return Plan(
        base_url=base_url,
        desired=desired,
        requests=tuple(b.requests),
        unchanged=tuple(sorted(b.unchanged)),
        violations=tuple(unique[k] for k in sorted(unique)),
        notes=tuple(notes),
    )


# ---- applying -------------------------------------------------------------------------------
class ExecutedRequest(_Model):
    """A request ``apply`` sent, with placeholders resolved."""

    step: int
    key: str
    method: str
    url: str
    status: int
    response_id: str = ""


class ApplyResult(_Model):
    """What ``apply`` did (or, in a dry run, would do)."""

    dry_run: bool
    executed: tuple[ExecutedRequest, ...] = ()
    would_send: tuple[PlannedRequest, ...] = ()
    skipped: tuple[str, ...] = ()
    not_done: tuple[str, ...] = ()
    not_reviewed: tuple[str, ...] = ()
    error: str = ""
    audit_path: str = ""

    @property
    def ok(self) -> bool:
        """True unless a request failed or the tenant drifted from the reviewed plan."""
        return not self.error

    def __str__(self) -> str:
        if self.dry_run:
            head = f"DRY RUN: {len(self.would_send)} request(s) would be sent; nothing was sent"
            return "\n".join([head, *(str(r) for r in self.would_send)])
        lines = [
            f"applied {len(self.executed)} request(s), skipped {len(self.skipped)}"
            + (f", FAILED: {self.error}" if self.error else "")
        ]
        lines += [f"  done   {e.method} {e.url} -> {e.status}" for e in self.executed]
        lines += [f"  skip   {s}" for s in self.skipped]
        lines += [f"  NOT DONE {k}" for k in self.not_done]
        lines += [f"  not in reviewed plan (re-plan to include): {k}" for k in self.not_reviewed]
        if self.audit_path:
            lines.append(f"  audit file: {self.audit_path}")
        return "\n".join(lines)


class ApplyError(TenantError):
    """``apply`` stopped; ``result`` says what was done and what was not."""

    def __init__(self, message: str, result: ApplyResult) -> None:
        self.result = result
        super().__init__(f"{message}\n{result}")


def _substitute(value: Any, ids: Mapping[tuple[str, str], str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: ids.get((m[1], m[2].casefold()), m[0]), value)
    if isinstance(value, list):
        return [_substitute(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, ids) for k, v in value.items()}
    return value


def _known_ids(state: TenantState, desired: DesiredState) -> dict[tuple[str, str], str]:
    ids: dict[tuple[str, str], str] = {}
    for role in desired.roles:
        matches = [d for d in state.definitions_named(role.display_name) if not d.get("isBuiltIn")]
        if len(matches) == 1:
            rid = str(matches[0]["id"])
            ids[("role", role.display_name.casefold())] = rid
            if (pol := state.policies.get(rid)) is not None:
                ids[("policy", role.display_name.casefold())] = pol.policy_id
    return ids


class _AuditFile:
    """Appends one JSON line per HTTP exchange (and start/end markers) to the audit file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("ab")

    def write(self, event: str, **fields: Any) -> None:
        line = {"time": datetime.now(UTC).isoformat(), "event": event, **fields}
        self._fh.write(orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n")
        self._fh.flush()

    def record(self, r: RequestRecord) -> None:
        self.write(
            "request",
            method=r.method,
            url=r.url,
            body=r.body,
            status=r.status,
            attempt=r.attempt,
            response_id=r.response_id,
            error_code=r.error_code,
            error_message=r.error_message,
        )

    def close(self) -> None:
        self._fh.close()


@dataclass
class _Run:
    plan: Plan
    fresh: Plan
    ids: dict[tuple[str, str], str]
    executed: list[ExecutedRequest] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


async def _policy_id(http: GraphHttp, role_id: str, attempts: int = 5) -> str:
    # A new role's PIM policy can take a moment to appear.
    for attempt in range(1, attempts + 1):
        found = await role_management_policies(http, role_id)
        if found:
            return found[0].policy_id
        if attempt < attempts:
            await http.retry.sleep(http.retry.delay(attempt, None))
    raise TenantError(f"no PIM policy appeared for new role {role_id}")


async def _resolve_placeholders(http: GraphHttp, req: PlannedRequest, run: _Run) -> tuple[str, Any]:
    for kind, name in _PLACEHOLDER.findall(req.path + orjson.dumps(req.body).decode()):
        key = (kind, name.casefold())
        if key in run.ids:
            continue
        role_id = run.ids.get(("role", key[1]))
        if kind == "role" or role_id is None:
            raise TenantError(f"step {req.step}: {kind} {name!r} is not known yet")
        run.ids[key] = await _policy_id(http, role_id)
    return _substitute(req.path, run.ids), _substitute(req.body, run.ids)


async def _execute_one(http: GraphHttp, req: PlannedRequest, run: _Run) -> None:
    path, body = await _resolve_placeholders(http, req, run)
    resp = await http.request(req.method, path, body=body, permission=req.permission)
    rid = str(resp.data.get("id", "")) if isinstance(resp.data, dict) else ""
    if req.kind == "create_role" and rid:
        name = str(req.body.get("displayName", "")).casefold()
        run.ids[("role", name)] = rid
    run.executed.append(
        ExecutedRequest(
            step=req.step,
            key=req.key,
            method=req.method,
            url=resp.url,
            status=resp.status,
            response_id=rid,
        )
    )


def _same(
    reviewed: PlannedRequest, fresh: PlannedRequest, ids: Mapping[tuple[str, str], str]
) -> bool:
    # Both sides may name objects created earlier in this run by placeholder.
    return (
        reviewed.method == fresh.method
        and _substitute(reviewed.path, ids) == _substitute(fresh.path, ids)
        and _substitute(reviewed.body, ids) == _substitute(fresh.body, ids)
    )


def _result(run: _Run, todo: list[PlannedRequest], error: str, audit: str) -> ApplyResult:
    reviewed = {r.key for r in run.plan.requests}
    return ApplyResult(
        dry_run=False,
        executed=tuple(run.executed),
        skipped=tuple(run.skipped),
        not_done=tuple(r.key for r in todo),
        error=error,
        audit_path=audit,
        not_reviewed=tuple(r.key for r in run.fresh.requests if r.key not in reviewed),
    )


async def execute_plan(
    http: GraphHttp,
    plan: Plan,
    replan: Callable[[], Any],
    audit_path: Path,
) -> ApplyResult:
    """Re-read the tenant, then send the reviewed requests still needed (``confirm=True``)."""
    audit = _AuditFile(audit_path)
    http.observers.append(audit.record)
    audit.write("apply-start", base_url=plan.base_url, requests=len(plan.requests))
    try:
        fresh, state = await replan()
        run = _Run(plan, fresh, _known_ids(state, plan.desired))
        outcome = await _run_steps(http, run, str(audit_path))
        audit.write("apply-end", executed=len(outcome.executed), error=outcome.error)
        return outcome
    finally:
        http.observers.remove(audit.record)
        audit.close()


async def _run_steps(http: GraphHttp, run: _Run, audit: str) -> ApplyResult:
    if run.fresh.errors:
        todo = list(run.plan.requests)
        msg = "; ".join(str(v) for v in run.fresh.errors)
        return _result(run, todo, f"the tenant now violates the plan's rules: {msg}", audit)
    fresh = {r.key: r for r in run.fresh.requests}
    todo = list(run.plan.requests)
    while todo:
        req = todo[0]
        now = fresh.get(req.key)
        if now is None:
            run.skipped.append(f"{req.key}: already as desired")
        elif not _same(req, now, run.ids):
            return _result(
                run,
                todo,
                f"step {req.step} ({req.key}) no longer matches the "
                "tenant; re-plan and review again",
                audit,
            )
        else:
            try:
                await _execute_one(http, now.model_copy(update={"step": req.step}), run)
            except (GraphError, TenantError) as exc:
                return _result(run, todo, f"step {req.step} ({req.key}) failed: {exc}", audit)
        todo.pop(0)
    return _result(run, todo, "", audit)
