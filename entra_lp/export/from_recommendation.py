"""From a :class:`~entra_lp.recommendation.Recommendation` to what the exporters write.

:func:`prepare_export` checks the recommendation against Entra's rules and turns it into an
:class:`ExportPlan`: the :class:`~entra_lp.export.desired.DesiredState` (custom roles, scoped
eligible / active assignments, PIM policies), the built-in roles it names, the steps no API
call here can take (PIM for Groups) and the notes a reviewer must read. :func:`to_desired_state`
returns just the desired state; :func:`graph_requests` the ordered Graph requests that realise
it, built with :mod:`entra_lp.export.graph` (the same bodies ``Tenant.apply`` sends).

Nothing here guesses: a custom role that breaks a rule of ``catalog.check_custom_role`` at a
scope it is assigned at, an assignment of an unknown role or an excluded principal, or an
approver whose kind (user / group) is unknown raises :class:`RecommendationError` naming the
role, scope, action and rule.

:func:`pseudonymize` replaces principal names and ids by stable pseudonyms (HMAC of a salt) for
workshop reports.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..directory import PimSettings
from ..errors import InvalidValueError, RecommendationError
from ..recommendation import AssignmentProposal, Recommendation, RoleProposal
from .desired import (
    AssignmentSpec,
    DesiredState,
    PolicySpec,
    RoleSpec,
    scope_kind,
    validate_desired,
)
from .graph import (
    POLICY_ASSIGNMENTS_PATH,
    ROLE_DEFINITIONS_PATH,
    policy_rule_bodies,
    policy_rule_path,
    role_definition_body,
    schedule_request_body,
    schedule_request_path,
)

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

__all__ = [
    "GRAPH_ROOT",
    "ExportPlan",
    "GraphRequest",
    "ManualStep",
    "graph_requests",
    "least_privileged_scopes",
    "prepare_export",
    "pseudonymize",
    "to_desired_state",
]

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
"""Base URL of every exported request (v1.0: every call used here is generally available)."""

_POLICY_FILTER = "scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq '{}'"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ManualStep(_Model):
    """Work a person does by hand (no exported call can do it), with the reason why."""

    title: str
    role_key: str
    reason: str
    steps: tuple[str, ...]
    principal_ids: tuple[str, ...] = ()


class GraphRequest(_Model):
    """One Microsoft Graph request of an export, in execution order.

    ``url`` and ``body`` may hold placeholders resolved while running the sequence:
    ``${role:<display name>}`` (id of a role created earlier: the ``id`` of that POST's
    response) and ``${policy:<display name>}`` (the ``policyId`` of the first item of the GET
    that looks the role's PIM policy up). ``captures`` names what a step's response provides.
    """

    step: int
    kind: Literal["create_role", "find_policy", "policy_rule", "eligible", "active"]
    method: Literal["GET", "POST", "PATCH"]
    url: str
    body: dict[str, Any] | None
    description: str
    permission: str
    role: str = ""
    """Display name of the role the request creates, configures or assigns."""
    captures: dict[str, str] = Field(default_factory=dict)

    def to_file(self) -> dict[str, Any]:
        """The JSON object written to the request's file."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class ExportPlan:
    """A checked recommendation, ready for every export format."""

    recommendation: Recommendation
    desired: DesiredState
    builtin_ids: Mapping[str, str]
    """Casefolded display name of each built-in role assigned → its template id."""
    role_of_assignment: tuple[tuple[AssignmentSpec, RoleProposal], ...]
    manual_steps: tuple[ManualStep, ...]
    notes: tuple[str, ...]
    scope_names: Mapping[str, str]
    """Directory scope id → display name (AU or app name), where the recommendation has one."""
    principal_names: Mapping[str, str]
    """Principal id → name, where the recommendation has one."""

    def role_id(self, display_name: str) -> str:
        """Template id of a built-in role, else the placeholder of a role this export creates."""
        return self.builtin_ids.get(display_name.casefold(), f"${{role:{display_name}}}")

    def is_builtin(self, display_name: str) -> bool:
        """Is this role (by display name) a built-in role?"""
        return display_name.casefold() in self.builtin_ids

    def scope_name(self, directory_scope_id: str) -> str:
        """Readable name of a scope: 'tenant', the AU or app name, else the scope id."""
        if directory_scope_id == "/":
            return "tenant"
        return self.scope_names.get(directory_scope_id) or directory_scope_id

    def principal_name(self, principal_id: str) -> str:
        """The principal's name as the recommendation gives it ('' when unknown)."""
        return self.principal_names.get(principal_id, "")


# ---- preparing ------------------------------------------------------------------------------
def _load(catalog: Catalog | None) -> Catalog:
    if catalog is not None:
        return catalog
    from permission_catalog import load_catalog

    return load_catalog()


def to_desired_state(
    recommendation: Recommendation, catalog: Catalog | None = None
) -> DesiredState:
    """Custom roles → ``RoleSpec``, assignments → ``AssignmentSpec``, PIM → ``PolicySpec``.

    Built-in fallbacks become assignments of the built-in role (by its display name);
    PIM-for-Groups roles are manual steps (see :func:`prepare_export`). Raises
    :class:`RecommendationError` when a role or assignment breaks one of Entra's rules.
    """
    return prepare_export(recommendation, catalog).desired


def prepare_export(recommendation: Recommendation, catalog: Catalog | None = None) -> ExportPlan:
    """Check ``recommendation`` and build the :class:`ExportPlan` every format is written from."""
    cat = _load(catalog)
    notes: list[str] = []
    _check_references(recommendation)
    builtin_names = {
        r.key: _builtin_name(r, cat) for r in recommendation.roles if r.kind != "custom"
    }
    for role in recommendation.roles:
        if role.kind == "custom":
            notes += _check_custom_role(role, _assigned_scopes(recommendation, role), cat)
        else:
            _check_builtin_scopes(recommendation, role, cat)
    roles: list[RoleSpec] = []
    policies: dict[str, PolicySpec] = {}
    builtin_ids: dict[str, str] = {}
    names: dict[str, tuple[str, PimSettings]] = {}
    for role in recommendation.roles:
        if role.kind == "pim_group":
            continue
        name = role.display_name if role.kind == "custom" else builtin_names[role.key]
        settings, note = _policy_settings(role)
        notes += note
        _one_policy(policies, name, settings, role)
        names[role.key] = (name, settings)
        if role.kind == "custom":
            roles.append(
                RoleSpec(display_name=name, description=role.description, actions=role.actions)
            )
        else:
            builtin_ids[name.casefold()] = str(role.builtin_template_id)
            notes.append(
                f"Built-in role {name!r}: its PIM policy applies to every holder of the role in "
                "the tenant, not only to the principals of this recommendation; review it "
                "before applying."
            )
    pairs = [
        (_assignment(a, rec_role, *names[a.role_key]), rec_role)
        for a in recommendation.assignments
        if (rec_role := recommendation.role(a.role_key)).kind != "pim_group"
    ]
    desired = DesiredState(
        roles=tuple(roles),
        assignments=tuple(p[0] for p in pairs),
        policies=tuple(policies.values()),
    )
    _check_desired(desired, cat)
    return ExportPlan(
        recommendation=recommendation,
        desired=desired,
        builtin_ids=builtin_ids,
        role_of_assignment=tuple(pairs),
        manual_steps=tuple(
            _pim_group_steps(recommendation, r, builtin_names[r.key])
            for r in recommendation.roles
            if r.kind == "pim_group"
        ),
        notes=tuple(dict.fromkeys(notes)),
        principal_names={
            a.principal_id: a.principal_name
            for a in reversed(recommendation.assignments)
            if a.principal_name
        },
        scope_names={
            a.scope.directory_scope_id: a.scope.display_name
            for a in sorted(recommendation.assignments, key=lambda a: a.scope.display_name)
            if a.scope.display_name
        },
    )


def _one_policy(
    policies: dict[str, PolicySpec], name: str, settings: PimSettings, role: RoleProposal
) -> None:
    """One PIM policy per role definition: two proposals of one role must agree on it."""
    key = name.casefold()
    if key in policies and policies[key].settings != settings:
        raise RecommendationError(
            f"role {role.key!r}: {name!r} is proposed twice with different PIM settings; a role "
            "has one PIM policy per tenant"
        )
    if key in policies and role.kind == "custom":
        raise RecommendationError(f"role {role.key!r}: two custom roles are named {name!r}")
    policies[key] = PolicySpec(role_display_name=name, settings=settings)


def _check_references(rec: Recommendation) -> None:
    keys = [r.key for r in rec.roles]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise RecommendationError(f"roles: duplicate role key(s) {dupes}")
    excluded = {e.principal_id for e in rec.exclusions}
    seen: set[tuple[str, str, str, str]] = set()
    for i, a in enumerate(rec.assignments):
        where = f"assignments[{i}] ({a.principal_id} → {a.role_key!r})"
        key = (a.principal_id, a.role_key, a.scope.directory_scope_id, a.assignment_type)
        if key in seen:
            raise RecommendationError(f"{where}: the same assignment is listed twice")
        seen.add(key)
        if a.role_key not in keys:
            hint = _close(a.role_key, keys)
            raise RecommendationError(
                f"{where}: role_key {a.role_key!r} is not a role of this recommendation{hint}"
            )
        if a.principal_id in excluded:
            raise RecommendationError(
                f"{where}: principal {a.principal_id} is listed in "
                "exclusions; an excluded principal gets no assignment"
            )
        try:
            kind = scope_kind(a.scope.directory_scope_id)
        except ValueError as exc:
            raise RecommendationError(f"{where}: scope.directory_scope_id: {exc}") from exc
        if kind != a.scope.kind:
            raise RecommendationError(
                f"{where}: scope.kind is {a.scope.kind!r} but directory_scope_id "
                f"{a.scope.directory_scope_id!r} is a {kind} scope"
            )
        role = rec.role(a.role_key)
        if kind not in role.assignable_scopes:
            raise RecommendationError(
                f"{where}: role {role.display_name!r} is assignable at "
                f"{list(role.assignable_scopes)}, not at {kind} scope"
            )


def _close(value: str, known: Sequence[str]) -> str:
    from ..errors import close_matches

    hits = close_matches(value, known)
    return f"; did you mean {', '.join(map(repr, hits))}?" if hits else ""


def _assigned_scopes(rec: Recommendation, role: RoleProposal) -> list[str]:
    scopes = {a.scope.kind for a in rec.assignments if a.role_key == role.key}
    return sorted(scopes) or ["tenant"]


def _check_custom_role(role: RoleProposal, scopes: Iterable[str], cat: Catalog) -> list[str]:
    """Errors raise; warnings (redundant action, ineffective at AU scope) become notes."""
    notes: list[str] = []
    for scope in scopes:
        violations = cat.check_custom_role(role.actions, scope)
        errors = [v for v in violations if v.severity == "error"]
        if errors:
            detail = "; ".join(
                f"[{v.rule}] {v.action + ': ' if v.action else ''}{v.message}" for v in errors
            )
            raise RecommendationError(
                f"role {role.key!r} ({role.display_name!r}) cannot be exported as a custom role "
                f"assigned at {scope} scope: {detail}"
            )
        notes += [
            f"Role {role.display_name!r} at {scope} scope: [{v.rule}] "
            f"{v.action + ': ' if v.action else ''}{v.message}"
            for v in violations
        ]
    return notes


def _builtin_name(role: RoleProposal, cat: Catalog) -> str:
    if not role.builtin_template_id:
        raise RecommendationError(
            f"role {role.key!r} ({role.display_name!r}): kind {role.kind!r} needs "
            "builtin_template_id (the built-in role it uses)"
        )
    try:
        return cat.role(role.builtin_template_id).name
    except (KeyError, InvalidValueError) as exc:
        raise RecommendationError(
            f"role {role.key!r}: builtin_template_id {role.builtin_template_id!r} is not a "
            f"built-in role of catalog {cat.version}: {exc}"
        ) from exc


def _check_builtin_scopes(rec: Recommendation, role: RoleProposal, cat: Catalog) -> None:
    builtin = cat.role(str(role.builtin_template_id))
    for a in rec.assignments:
        if (
            a.role_key == role.key
            and a.scope.kind == "administrative_unit"
            and not builtin.au_scopable
        ):
            raise RecommendationError(
                f"assignment {a.principal_id} → {builtin.name!r} at "
                f"{a.scope.directory_scope_id}: {builtin.name!r} cannot be assigned at "
                "administrative-unit scope"
            )


def _policy_settings(role: RoleProposal) -> tuple[PimSettings, list[str]]:
    """PIM offers MFA *or* an authentication context on activation: keep the context."""
    s = role.pim.settings
    if s.authentication_context and s.require_mfa:
        note = (
            f"Role {role.display_name!r}: activation requires authentication context "
            f"{s.authentication_context!r} instead of PIM's own MFA check (PIM accepts one or "
            "the other); the Conditional Access policy behind that context must require MFA."
        )
        return s.model_copy(update={"require_mfa": False}), [note]
    return s, []


def _justification(role_name: str, a: AssignmentProposal) -> str:
    where = a.scope.display_name or a.scope.directory_scope_id
    return f"entra-lp least-privilege recommendation: {role_name} at {a.scope.kind} scope {where}"[
        :500
    ]


def _assignment(
    a: AssignmentProposal, role: RoleProposal, name: str, settings: PimSettings
) -> AssignmentSpec:
    days = (
        settings.eligibility_expiry_days
        if a.assignment_type == "eligible"
        else settings.active_assignment_expiry_days
    )
    return AssignmentSpec(
        principal_id=a.principal_id,
        role_display_name=name,
        directory_scope_id=a.scope.directory_scope_id,
        kind=a.assignment_type,
        duration=None if days is None else timedelta(days=days),
        justification=_justification(name, a),
    )


def _check_desired(desired: DesiredState, cat: Catalog) -> None:
    errors = [v for v in validate_desired(desired, cat) if v.severity == "error"]
    if errors:
        raise RecommendationError(
            "the recommendation breaks Entra's rules: " + "; ".join(str(v) for v in errors)
        )


def _pim_group_steps(rec: Recommendation, role: RoleProposal, builtin: str) -> ManualStep:
    members = [a for a in rec.assignments if a.role_key == role.key]
    scopes = sorted({(a.scope.directory_scope_id, a.scope.display_name) for a in members})
    s = role.pim.settings
    where = ", ".join(f"{sid}" + (f" ({label})" if label else "") for sid, label in scopes) or "/"
    group = f"PIM - {role.display_name}"
    steps = (
        f"Create a security group {group!r} with isAssignableToRole = true (POST /groups; "
        "this cannot be changed later).",
        f"Assign the built-in role {builtin!r} (template id {role.builtin_template_id}) to the "
        f"group as an active assignment at {where}.",
        f"Make each principal below an eligible member of the group with PIM for Groups "
        "(POST /identityGovernance/privilegedAccess/group/eligibilityScheduleRequests, "
        f"accessId 'member'), eligibility ending after "
        f"{s.eligibility_expiry_days or 'no'} days.",
        f"Set the group's PIM membership policy: activation at most {s.max_activation_hours} h"
        + (", MFA" if s.require_mfa else "")
        + (", justification" if s.require_justification else "")
        + (", ticket" if s.require_ticket else "")
        + (", approval" if s.require_approval else "")
        + ".",
        "Remove the principals' direct assignments of the role once the group is in place.",
    )
    return ManualStep(
        title=f"PIM for Groups: {role.display_name}",
        role_key=role.key,
        reason=f"{builtin!r} holds actions no custom role can hold; a role-assignable group "
        "with eligible membership bounds the standing exposure and is reviewed as one unit. "
        "The exported code does not create groups.",
        steps=steps,
        principal_ids=tuple(sorted({a.principal_id for a in members})),
    )


# ---- Graph requests -------------------------------------------------------------------------
def least_privileged_scopes(plan: ExportPlan) -> tuple[str, ...]:
    """Delegated Graph permissions the export's writes need, least privileged for each call."""
    from .graph import PERMISSIONS

    needed = []
    if plan.desired.roles:
        needed.append(PERMISSIONS["write_role_definitions"])
    if plan.desired.policies:
        needed.append(PERMISSIONS["write_policy_rules"])
    kinds = {a.kind for a in plan.desired.assignments}
    if "eligible" in kinds:
        needed.append(PERMISSIONS["write_eligibility"])
    if "active" in kinds:
        needed.append(PERMISSIONS["write_active"])
    return tuple(sorted(set(needed)))


def graph_requests(plan: ExportPlan) -> tuple[GraphRequest, ...]:
    """The ordered requests: create roles, set their PIM policies, then assign.

    Policies come before assignments so that every assignment is made under the policy it
    was proposed with (PIM checks a new assignment against the role's current policy).
    """
    from .graph import PERMISSIONS

    out: list[GraphRequest] = []

    def add(**fields: Any) -> None:
        out.append(GraphRequest(step=len(out) + 1, **fields))

    for role in plan.desired.roles:
        add(
            kind="create_role",
            method="POST",
            url=GRAPH_ROOT + ROLE_DEFINITIONS_PATH,
            body=role_definition_body(role),
            description=f"Create custom role {role.display_name!r} ({len(role.actions)} actions)",
            permission=PERMISSIONS["write_role_definitions"],
            role=role.display_name,
            captures={f"role:{role.display_name}": "id"},
        )
    for policy in plan.desired.policies:
        name = policy.role_display_name
        role_id, policy_id = plan.role_id(name), f"${{policy:{name}}}"
        # Quote the filter, not the placeholder: a runner substitutes ${role:...} verbatim.
        query = role_id.join(_url_quote(part) for part in _POLICY_FILTER.split("{}"))
        add(
            kind="find_policy",
            method="GET",
            url=f"{GRAPH_ROOT}{POLICY_ASSIGNMENTS_PATH}?$filter={query}",
            body=None,
            description=f"Find the PIM policy of {name!r}",
            permission=PERMISSIONS["role_management_policies"],
            role=name,
            captures={f"policy:{name}": "value[0].policyId"},
        )
        for rule_id, body in policy_rule_bodies(policy.settings).items():
            add(
                kind="policy_rule",
                method="PATCH",
                url=GRAPH_ROOT + policy_rule_path(policy_id, rule_id),
                body=body,
                description=f"PIM policy of {name!r}: set {rule_id}",
                permission=PERMISSIONS["write_policy_rules"],
                role=name,
            )
    for spec, _role in plan.role_of_assignment:
        add(
            kind=spec.kind,
            method="POST",
            url=GRAPH_ROOT + schedule_request_path(spec.kind),
            body=schedule_request_body(spec, plan.role_id(spec.role_display_name)),
            description=f"{spec.kind.capitalize()} assignment of {spec.role_display_name!r} "
            f"to {spec.principal_id} at {spec.directory_scope_id}",
            permission=PERMISSIONS[
                "write_eligibility" if spec.kind == "eligible" else "write_active"
            ],
            role=spec.role_display_name,
        )
    return tuple(out)


def _url_quote(text: str) -> str:
    # Spaces and quotes only: the filter stays readable in the file.
    return text.replace(" ", "%20").replace("'", "%27")


# ---- pseudonyms -----------------------------------------------------------------------------
def _pseudonym(salt: str, principal_id: str) -> str:
    digest = hmac.new(salt.encode(), principal_id.encode(), hashlib.sha256).hexdigest()
    return digest[:8].upper()


def pseudonym_map(recommendation: Recommendation, salt: str) -> dict[str, str]:
    """Every principal name and id in ``recommendation`` → its pseudonym (stable for a salt)."""
    if not salt:
        raise InvalidValueError("pseudonymize: the salt must be a non-empty string")
    labels = {"user": "User", "service_principal": "App", "managed_identity": "App"}
    out: dict[str, str] = {}
    people: list[tuple[str, str, str]] = []
    people += [
        (a.principal_id, a.principal_name, a.principal_kind) for a in recommendation.assignments
    ]
    people += [(e.principal_id, e.principal_name, "user") for e in recommendation.exclusions]
    people += [(t.principal_id, "", "user") for t in recommendation.attestation if t.principal_id]
    for role in recommendation.roles:
        s = role.pim.settings
        people += [(x.partition(":")[2] or x, "", "user") for x in s.approvers]
        people += [(x, "", "user") for x in s.notify_on_activation]
    for pid, name, kind in sorted(set(people)):
        code = _pseudonym(salt, pid)
        out.setdefault(pid, f"pid-{code.lower()}")
        if name:
            out.setdefault(name, f"{labels.get(kind, 'Principal')} {code}")
    return out


def pseudonymize(recommendation: Recommendation, salt: str) -> Recommendation:
    """A copy where every principal name and id (wherever it appears, free text included) is
    replaced by a stable pseudonym derived from ``salt`` with HMAC-SHA256.

    The same salt gives the same pseudonyms across runs, so two workshop reports line up;
    without the salt the pseudonyms cannot be mapped back to principals.
    """
    mapping = pseudonym_map(recommendation, salt)
    if not mapping:
        return recommendation
    pattern = re.compile(
        "|".join(re.escape(k) for k in sorted(mapping, key=lambda k: (-len(k), k))), re.IGNORECASE
    )
    folded = {k.casefold(): v for k, v in mapping.items()}

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda m: folded[m[0].casefold()], value)
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {swap(k): swap(v) for k, v in value.items()}
        return value

    return Recommendation.model_validate(swap(recommendation.model_dump(mode="json")))
