"""Recommendation → DesiredState, the Graph request sequence, refusals and pseudonyms."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from entra_lp.errors import RecommendationError
from entra_lp.export.desired import validate_desired
from entra_lp.export.from_recommendation import (
    GRAPH_ROOT,
    graph_requests,
    least_privileged_scopes,
    prepare_export,
    pseudonym_map,
    pseudonymize,
    to_desired_state,
)
from entra_lp.export.graph import (
    policy_rule_bodies,
    role_definition_body,
    schedule_request_body,
)
from entra_lp.recommendation import Recommendation
from permission_catalog import load_catalog

from . import samples as s

CAT = load_catalog()


@pytest.fixture(scope="module")
def rec() -> Recommendation:
    return s.recommendation()


def test_custom_roles_become_role_specs(rec: Recommendation) -> None:
    desired = to_desired_state(rec, CAT)
    custom = [r for r in rec.roles if r.kind == "custom"]
    assert [r.display_name for r in desired.roles] == [r.display_name for r in custom]
    for proposal in custom:
        spec = desired.role(proposal.display_name)
        assert spec is not None
        assert spec.actions == tuple(sorted(proposal.actions))
        assert spec.description == proposal.description


def test_assignments_keep_scope_kind_and_policy_length(rec: Recommendation) -> None:
    desired = to_desired_state(rec, CAT)
    direct = [a for a in rec.assignments if rec.role(a.role_key).kind != "pim_group"]
    assert len(desired.assignments) == len(direct)
    for proposal, spec in zip(direct, desired.assignments, strict=True):
        role = rec.role(proposal.role_key)
        assert spec.principal_id == proposal.principal_id
        assert spec.directory_scope_id == proposal.scope.directory_scope_id
        assert spec.kind == proposal.assignment_type
        settings = role.pim.settings
        days = (
            settings.eligibility_expiry_days
            if spec.kind == "eligible"
            else settings.active_assignment_expiry_days
        )
        assert spec.duration == timedelta(days=days)
    active = [a for a in desired.assignments if a.kind == "active"]
    assert [a.principal_id for a in active] == [s.DEPLOY_SP[0]]


def test_builtin_fallback_is_an_assignment_of_the_builtin_role(rec: Recommendation) -> None:
    plan = prepare_export(rec, CAT)
    name = CAT.role(s.PASSWORD_ADMIN).name
    assert plan.desired.role(name) is None  # never re-created as a custom role
    assigned = [a for a in plan.desired.assignments if a.role_display_name == name]
    assert [(a.principal_id, a.directory_scope_id) for a in assigned] == [
        (s.DAVID[0], s.AU_NORTH[0])
    ]
    assert plan.role_id(name) == s.PASSWORD_ADMIN
    assert plan.desired.policy(name) is not None
    assert any("Password Administrator" in n and "every holder" in n for n in plan.notes)


def test_pim_for_groups_is_a_manual_step(rec: Recommendation) -> None:
    plan = prepare_export(rec, CAT)
    group_principals = {s.ERIN[0], s.FRANK[0], s.DAVID[0]}
    assert not any(a.principal_id in {s.ERIN[0], s.FRANK[0]} for a in plan.desired.assignments)
    (step,) = plan.manual_steps
    assert step.role_key == "auth-methods-group"
    assert set(step.principal_ids) == group_principals
    assert any("isAssignableToRole" in line for line in step.steps)
    assert any(s.AUTH_ADMIN in line for line in step.steps)


def test_desired_state_passes_entra_rules_and_round_trips(rec: Recommendation) -> None:
    desired = to_desired_state(rec, CAT)
    assert [v for v in validate_desired(desired, CAT) if v.severity == "error"] == []
    assert type(desired).from_json(desired.to_json()) == desired


def test_auth_context_replaces_pim_mfa(rec: Recommendation) -> None:
    plan = prepare_export(rec, CAT)
    role = rec.role("app-credentials")
    assert role.pim.settings.require_mfa and role.pim.settings.authentication_context == "c1"
    policy = plan.desired.policy(role.display_name)
    assert policy is not None
    assert policy.settings.authentication_context == "c1" and not policy.settings.require_mfa
    assert any("authentication context 'c1'" in n for n in plan.notes)


def test_graph_requests_are_the_builders_bodies_in_order(rec: Recommendation) -> None:
    plan = prepare_export(rec, CAT)
    reqs = graph_requests(plan)
    assert [r.step for r in reqs] == list(range(1, len(reqs) + 1))
    kinds = [r.kind for r in reqs]
    # roles, then policies (lookup + rules), then assignments
    assert kinds.index("find_policy") > max(i for i, k in enumerate(kinds) if k == "create_role")
    assert min(i for i, k in enumerate(kinds) if k in ("eligible", "active")) > max(
        i for i, k in enumerate(kinds) if k == "policy_rule"
    )
    creates = [r for r in reqs if r.kind == "create_role"]
    assert [r.body for r in creates] == [role_definition_body(x) for x in plan.desired.roles]
    assert all(r.captures == {f"role:{r.role}": "id"} for r in creates)
    for policy in plan.desired.policies:
        rules = {
            r.url.rsplit("/", 1)[-1]: r.body
            for r in reqs
            if r.kind == "policy_rule" and r.role == policy.role_display_name
        }
        assert rules == policy_rule_bodies(policy.settings)
    posts = [r for r in reqs if r.kind in ("eligible", "active")]
    for req, spec in zip(posts, plan.desired.assignments, strict=True):
        assert req.body == schedule_request_body(spec, plan.role_id(spec.role_display_name))
        assert req.url.startswith(GRAPH_ROOT + "/roleManagement/directory/role")
    custom_post = next(r for r in posts if r.role == "LP - User profile maintenance (AU)")
    assert custom_post.body is not None
    assert custom_post.body["roleDefinitionId"] == "${role:LP - User profile maintenance (AU)}"
    builtin_post = next(r for r in posts if r.role == "Password Administrator")
    assert (
        builtin_post.body is not None and builtin_post.body["roleDefinitionId"] == s.PASSWORD_ADMIN
    )
    finds = {r.role: r for r in reqs if r.kind == "find_policy"}
    assert finds["LP - User profile maintenance (AU)"].url.endswith(
        "roleDefinitionId%20eq%20%27${role:LP - User profile maintenance (AU)}%27"
    )
    assert finds["Password Administrator"].url.endswith(f"%27{s.PASSWORD_ADMIN}%27")
    assert "scopeType%20eq%20%27DirectoryRole%27" in finds["Password Administrator"].url
    json.dumps([r.to_file() for r in reqs])  # every request is plain JSON


def test_least_privileged_scopes(rec: Recommendation) -> None:
    assert least_privileged_scopes(prepare_export(rec, CAT)) == (
        "RoleAssignmentSchedule.ReadWrite.Directory",
        "RoleEligibilitySchedule.ReadWrite.Directory",
        "RoleManagement.ReadWrite.Directory",
        "RoleManagementPolicy.ReadWrite.Directory",
    )
    only_builtin = rec.model_copy(
        update={
            "roles": tuple(r for r in rec.roles if r.kind == "builtin"),
            "assignments": tuple(a for a in rec.assignments if a.role_key == "password-reset"),
        }
    )
    assert least_privileged_scopes(prepare_export(only_builtin, CAT)) == (
        "RoleEligibilitySchedule.ReadWrite.Directory",
        "RoleManagementPolicy.ReadWrite.Directory",
    )


# ---- refusals ---------------------------------------------------------------------------------
def _with_role(rec: Recommendation, key: str, **changes: object) -> Recommendation:
    roles = tuple(r.model_copy(update=changes) if r.key == key else r for r in rec.roles)
    return rec.model_copy(update={"roles": roles})


def test_refuses_action_not_allowed_in_custom_roles(rec: Recommendation) -> None:
    bad = _with_role(
        rec,
        "user-profile-exec",
        actions=(f"{s.D}/users/basic/update", f"{s.D}/users/password/update"),
    )
    with pytest.raises(RecommendationError) as err:
        to_desired_state(bad, CAT)
    msg = str(err.value)
    assert "user-profile-exec" in msg and "not_allowed_in_custom_roles" in msg
    assert f"{s.D}/users/password/update" in msg and "administrative_unit" in msg


def test_refuses_create_at_app_scope(rec: Recommendation) -> None:
    bad = _with_role(
        rec,
        "app-credentials",
        actions=(f"{s.D}/applications/credentials/update", f"{s.D}/applications/create"),
    )
    with pytest.raises(RecommendationError, match="create_at_non_tenant_scope"):
        to_desired_state(bad, CAT)


def test_refuses_inconsistent_assignments(rec: Recommendation) -> None:
    first = rec.assignments[0]
    cases = [
        (
            first.model_copy(update={"role_key": "user-profile-exce"}),
            "did you mean 'user-profile-exec'",
        ),
        (first.model_copy(update={"principal_id": s.BREAK_GLASS[0]}), "exclusions"),
        (
            first.model_copy(update={"scope": first.scope.model_copy(update={"kind": "tenant"})}),
            "is a administrative_unit scope",
        ),
        (first.model_copy(update={"role_key": "app-config"}), "not at administrative_unit"),
    ]
    for assignment, expected in cases:
        bad = rec.model_copy(update={"assignments": (assignment, *rec.assignments[1:])})
        with pytest.raises(RecommendationError, match=expected):
            to_desired_state(bad, CAT)
    twice = rec.model_copy(update={"assignments": (first, *rec.assignments)})
    with pytest.raises(RecommendationError, match="listed twice"):
        to_desired_state(twice, CAT)


def test_refuses_builtin_not_scopable_at_au(rec: Recommendation) -> None:
    global_admin = CAT.role_by_name("Global Administrator").id
    bad = _with_role(rec, "password-reset", builtin_template_id=global_admin)
    with pytest.raises(RecommendationError, match="administrative-unit scope"):
        to_desired_state(bad, CAT)
    unknown = _with_role(
        rec, "password-reset", builtin_template_id="00000000-0000-0000-0000-000000000000"
    )
    with pytest.raises(RecommendationError, match="not a built-in role"):
        to_desired_state(unknown, CAT)


def test_refuses_untyped_approver(rec: Recommendation) -> None:
    role = rec.role("app-credentials")
    pim = role.pim.model_copy(
        update={"settings": role.pim.settings.model_copy(update={"approvers": (s.APPROVER[0],)})}
    )
    with pytest.raises(RecommendationError, match="approver"):
        to_desired_state(_with_role(rec, "app-credentials", pim=pim), CAT)


# ---- pseudonyms -------------------------------------------------------------------------------
def test_pseudonyms_are_stable_salted_and_complete(rec: Recommendation) -> None:
    a, b, c = (
        pseudonym_map(rec, "salt-1"),
        pseudonym_map(rec, "salt-1"),
        pseudonym_map(rec, "salt-2"),
    )
    assert a == b and a != c
    assert a[s.ALICE[0]].startswith("pid-") and a[s.ALICE[1]].startswith("User ")
    assert a[s.DEPLOY_SP[1]].startswith("App ")
    assert len(set(a.values())) == len(a)  # no two principals share a pseudonym
    text = pseudonymize(rec, "salt-1").to_json()
    for pid, name in s.PEOPLE:
        assert pid not in text
        assert not name or name.lower() not in text.lower()
    assert "secops@contoso.example" not in text
    assert a[s.CARMEN[1]] in text  # the free-text explanation was rewritten, not dropped
