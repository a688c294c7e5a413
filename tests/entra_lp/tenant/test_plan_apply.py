"""Plan and apply: Entra's rules before any call, exact requests, idempotence, safe stops."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from fake_graph import (
    APPROVER,
    BUILTIN_ADMIN,
    CUSTOM_EXISTING,
    GROUP_OK,
    GROUP_PLAIN,
    USER_1,
    USER_2,
)

from entra_lp.directory import PimSettings
from entra_lp.errors import TenantError
from entra_lp.export import AssignmentSpec, DesiredState, PolicySpec, RoleSpec
from entra_lp.export.graph import MANAGED_RULE_IDS
from entra_lp.tenant import ApplyError

DEFS = "/roleManagement/directory/roleDefinitions"
ELIGIBILITY = "/roleManagement/directory/roleEligibilityScheduleRequests"
ACTIVE = "/roleManagement/directory/roleAssignmentScheduleRequests"
NEW = "Tier 1 User Support"
NEW_ACTIONS = ("microsoft.directory/users/basic/update", "microsoft.directory/users/standard/read")


def desired() -> DesiredState:
    return DesiredState(
        roles=(
            RoleSpec(
                display_name=NEW, description="Edit basic user properties", actions=NEW_ACTIONS
            ),
            RoleSpec(
                display_name="Existing Helpdesk",
                description="Existing Helpdesk (synthetic)",
                actions=("microsoft.directory/groups/members/update",),
            ),
        ),
        assignments=(
            AssignmentSpec(principal_id=USER_2, role_display_name=NEW, duration=timedelta(days=90)),
            AssignmentSpec(principal_id=USER_1, role_display_name="Synthetic User Administrator"),
        ),
        policies=(
            PolicySpec(
                role_display_name=NEW,
                settings=PimSettings(
                    max_activation_hours=2,
                    require_ticket=True,
                    require_approval=True,
                    approvers=(f"user:{APPROVER}",),
                    eligibility_expiry_days=180,
                ),
            ),
        ),
    )


def test_offline_violations_are_reported_and_nothing_is_sent(tenant, fake):
    bad = DesiredState(
        roles=(
            RoleSpec(
                display_name="Scoped creator",
                actions=(
                    "microsoft.directory/users/create",
                    "microsoft.directory/users/basic/update",
                ),
            ),
        ),
        assignments=(
            AssignmentSpec(
                principal_id=USER_1,
                role_display_name="Scoped creator",
                directory_scope_id="/administrativeUnits/au-1",
                duration=timedelta(minutes=2),
            ),
        ),
        policies=(
            PolicySpec(
                role_display_name="Scoped creator",
                settings=PimSettings(require_mfa=True, authentication_context="c1"),
            ),
        ),
    )
    plan = tenant.plan(bad)
    codes = {v.code for v in plan.errors}
    assert {"create_at_non_tenant_scope", "assignment_too_short", "mfa_and_auth_context"} <= codes
    assert plan.requests == () and not plan.ok
    assert fake.requests == []
    with pytest.raises(TenantError, match="violations"):
        tenant.apply(plan, confirm=True)
    assert fake.requests == []


def test_plan_lists_the_exact_requests_with_reasons(tenant, fake):
    plan = tenant.plan(desired())
    assert plan.ok, plan
    assert fake.writes() == []  # planning only reads
    calls = [(r.method, r.path) for r in plan.requests]
    policy = f"/policies/roleManagementPolicies/${{policy:{NEW}}}/rules/"
    assert calls == [
        ("POST", DEFS),
        ("PATCH", f"{DEFS}/{CUSTOM_EXISTING}"),
        *[("PATCH", policy + rule) for rule in MANAGED_RULE_IDS],
        ("POST", ELIGIBILITY),
    ]
    create, update = plan.requests[0], plan.requests[1]
    assert create.body == {
        "description": "Edit basic user properties",
        "displayName": NEW,
        "isEnabled": True,
        "rolePermissions": [{"allowedResourceActions": list(NEW_ACTIONS)}],
    }
    assert "add ['microsoft.directory/groups/members/update']" in update.reason
    assert "remove ['microsoft.directory/users/password/update']" in update.reason
    eligibility = plan.requests[-1].body
    assert eligibility["roleDefinitionId"] == f"${{role:{NEW}}}"
    assert eligibility["scheduleInfo"] == {
        "expiration": {"type": "afterDuration", "duration": "P90D"}
    }
    assert any("Synthetic User Administrator" in u and "exists" in u for u in plan.unchanged)
    assert [r.permission for r in plan.requests][:2] == ["RoleManagement.ReadWrite.Directory"] * 2


def test_dry_run_sends_nothing(tenant, fake, capsys):
    plan = tenant.plan(desired())
    result = tenant.apply(plan)
    assert result.dry_run and result.would_send == plan.requests
    assert fake.writes() == []
    assert "DRY RUN" in capsys.readouterr().out


def _sent(fake):
    return [(r.method, r.route, r.body) for r in fake.writes()]


def test_apply_sends_the_planned_bodies_and_reapplying_changes_nothing(tenant, fake, tmp_path):
    plan = tenant.plan(desired())
    audit = tmp_path / "audit.jsonl"
    result = tenant.apply(plan, confirm=True, audit_path=audit, echo=False)
    assert result.ok and len(result.executed) == len(plan.requests)
    new_id = fake.role_named(NEW)["id"]
    policy_id = fake.policy_of(new_id)["id"]
    expected = []
    for r in plan.requests:
        path = r.path.replace(f"${{policy:{NEW}}}", policy_id)
        body = orjson.loads(
            orjson.dumps(r.body).replace(f"${{role:{NEW}}}".encode(), new_id.encode())
        )
        expected.append((r.method, path, body))
    assert _sent(fake) == expected
    # the tenant now says what the plan said
    rule = next(
        x for x in fake.policy_of(new_id)["rules"] if x["id"] == "Expiration_EndUser_Assignment"
    )
    assert rule["maximumDuration"] == "PT2H"
    # re-planning finds nothing to do; re-applying the old plan sends nothing
    assert tenant.plan(desired()).requests == ()
    writes = len(fake.writes())
    again = tenant.apply(plan, confirm=True, audit_path=audit, echo=False)
    assert again.executed == () and len(again.skipped) == len(plan.requests)
    assert len(fake.writes()) == writes
    lines = [orjson.loads(x) for x in audit.read_bytes().splitlines()]
    posted = [x for x in lines if x["event"] == "request" and x["method"] != "GET"]
    assert [(x["method"], x["status"]) for x in posted] == (
        [("POST", 201), ("PATCH", 204)] + [("PATCH", 204)] * 7 + [("POST", 201)]
    )
    assert "test-token" not in audit.read_text()
    assert {x["event"] for x in lines} == {"apply-start", "request", "apply-end"}


def test_only_rules_that_differ_are_patched(tenant, fake):
    spec = DesiredState(
        policies=(
            PolicySpec(
                role_display_name="Synthetic User Administrator",
                settings=PimSettings(
                    max_activation_hours=4,
                    eligibility_expiry_days=None,
                    active_assignment_expiry_days=None,
                ),
            ),
        )
    )
    plan = tenant.plan(spec)
    policy_id = fake.policy_of(BUILTIN_ADMIN)["id"]
    assert [(r.method, r.path) for r in plan.requests] == [
        (
            "PATCH",
            f"/policies/roleManagementPolicies/{policy_id}/rules/Expiration_EndUser_Assignment",
        )
    ]
    assert plan.requests[0].body["maximumDuration"] == "PT4H"
    assert len(plan.unchanged) == 6


def test_first_error_stops_with_done_and_not_done_then_resume(tenant, fake, tmp_path):
    plan = tenant.plan(desired())
    fake.fail("/policies/roleManagementPolicies/", 400, method="PATCH")
    with pytest.raises(ApplyError) as info:
        tenant.apply(plan, confirm=True, audit_path=tmp_path / "a.jsonl", echo=False)
    result = info.value.result
    assert [e.key for e in result.executed] == [f"role:{NEW}", "role:Existing Helpdesk"]
    assert "step 3" in result.error and "HTTP 400" in result.error
    assert result.not_done == tuple(r.key for r in plan.requests[2:])
    # resume the same reviewed plan: the role is not created twice
    done = tenant.apply(plan, confirm=True, audit_path=tmp_path / "a.jsonl", echo=False)
    skipped = {s.split(": already")[0] for s in done.skipped}
    # both roles were done; two rules of the new role already held the default wanted
    assert skipped == {
        f"role:{NEW}",
        "role:Existing Helpdesk",
        f"rule:{NEW}:AuthenticationContext_EndUser_Assignment",
        f"rule:{NEW}:Notification_Admin_EndUser_Assignment",
    }
    assert {e.key for e in done.executed} | skipped == {r.key for r in plan.requests}
    assert [r.method for r in fake.writes() if r.route == DEFS] == ["POST"]


def test_tenant_rules_are_checked_before_any_write(tenant, fake):
    spec = DesiredState(
        roles=(
            RoleSpec(
                display_name="Synthetic Directory Reader",
                actions=("microsoft.directory/users/standard/read",),
            ),
        ),
        assignments=(
            AssignmentSpec(
                principal_id="99999999-0000-4000-8000-000000000000",
                role_display_name="Synthetic User Administrator",
            ),
            AssignmentSpec(
                principal_id=GROUP_PLAIN, role_display_name="Synthetic User Administrator"
            ),
            AssignmentSpec(principal_id=GROUP_OK, role_display_name="Synthetic User Admin"),
        ),
    )
    plan = tenant.plan(spec)
    codes = sorted(v.code for v in plan.errors)
    assert codes == [
        "builtin_name",
        "group_not_role_assignable",
        "principal_not_found",
        "unknown_role",
    ]
    unknown = next(v for v in plan.errors if v.code == "unknown_role")
    assert "did you mean 'Synthetic User Administrator'" in unknown.message
    with pytest.raises(TenantError):
        tenant.apply(plan, confirm=True)
    assert fake.writes() == []


def test_custom_role_limit_counts_existing_roles(tenant, fake):
    fake.page_size = 40
    for i in range(99):
        fake.add_role(
            f"c{i:03d}",
            f"Custom {i:03d}",
            ["microsoft.directory/users/standard/read"],
            builtin=False,
        )
    spec = DesiredState(
        roles=(
            RoleSpec(
                display_name="One too many", actions=("microsoft.directory/users/standard/read",)
            ),
        )
    )
    plan = tenant.plan(spec)
    assert [v.code for v in plan.errors] == ["too_many_custom_roles"]
    assert "100 custom roles exist" in plan.errors[0].message


def test_assignment_is_checked_against_the_tenants_current_policy(tenant, fake):
    rule = next(
        r
        for r in fake.policy_of(BUILTIN_ADMIN)["rules"]
        if r["id"] == "Expiration_Admin_Eligibility"
    )
    rule.update(isExpirationRequired=True, maximumDuration="P30D")
    spec = DesiredState(
        assignments=(
            AssignmentSpec(principal_id=USER_2, role_display_name="Synthetic User Administrator"),
            AssignmentSpec(
                principal_id=GROUP_OK,
                role_display_name="Synthetic User Administrator",
                duration=timedelta(days=60),
            ),
        )
    )
    codes = sorted(v.code for v in tenant.plan(spec).errors)
    assert codes == ["assignment_too_long", "permanent_not_allowed"]


def test_drift_after_review_stops_without_writing(tenant, fake, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default audit path is relative to the working dir
    plan = tenant.plan(desired())
    fake.add_role("drifted", NEW, ["microsoft.directory/users/standard/read"], builtin=False)
    with pytest.raises(ApplyError, match="no longer matches") as info:
        tenant.apply(plan, confirm=True, echo=False)
    assert fake.writes() == []
    assert info.value.result.audit_path == "entra-lp-out/apply-audit.jsonl"
    assert (tmp_path / "entra-lp-out" / "apply-audit.jsonl").read_text().count("apply-end") == 1


def test_warnings_do_not_block(tenant, fake):
    spec = DesiredState(
        roles=(
            RoleSpec(
                display_name="Redundant",
                actions=(
                    "microsoft.directory/applications/allProperties/read",
                    "microsoft.directory/applications/standard/read",
                ),
            ),
        )
    )
    plan = tenant.plan(spec)
    assert plan.ok and plan.violations
    assert [(v.code, v.severity) for v in plan.violations] == [("redundant_action", "warning")]
    assert len(plan.requests) == 1


def test_active_assignment_uses_assignment_schedule_requests(tenant, fake, tmp_path):
    spec = DesiredState(
        assignments=(
            AssignmentSpec(
                principal_id=GROUP_OK,
                role_display_name="Synthetic User Administrator",
                kind="active",
                duration=timedelta(hours=8),
            ),
        )
    )
    plan = tenant.plan(spec)
    tenant.apply(plan, confirm=True, audit_path=tmp_path / "a.jsonl", echo=False)
    (sent,) = fake.writes()
    assert sent.route == ACTIVE
    assert sent.body["scheduleInfo"]["expiration"]["duration"] == "PT8H"
    assert sent.body["roleDefinitionId"] == BUILTIN_ADMIN


def test_plan_json_round_trip_and_base_url_guard(tenant, fake, credential):
    plan = tenant.plan(desired())
    from entra_lp.tenant import Plan

    assert Plan.from_json(plan.to_json()) == plan
    other = plan.model_copy(update={"base_url": "https://graph.microsoft.com/v1.0"})
    with pytest.raises(TenantError, match="plan was made for"):
        tenant.apply(other, confirm=True)


def test_no_token_in_logs_audit_file_or_errors(fake, tmp_path, caplog, monkeypatch):
    import logging

    from fake_graph import StaticCredential

    from entra_lp.tenant import RetryPolicy, Tenant

    secret = "eyJ0eXAi.SECRET-bearer-value.sig"
    fake.valid_tokens = {secret}
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    caplog.set_level(logging.DEBUG)
    fake.fail(DEFS, 429, retry_after="0")
    audit = tmp_path / "audit.jsonl"
    with Tenant.connect(
        StaticCredential(secret),
        base_url=fake.v1,
        beta_url=fake.beta,
        retry=RetryPolicy(sleep=_no_sleep),
    ) as t:
        t.apply(t.plan(desired()), confirm=True, audit_path=audit, echo=False)
        fake.valid_tokens = set()
        with pytest.raises(TenantError) as info:
            t.role_definitions()
    assert fake.requests[0].token == secret  # it did go to the server, and only there
    assert secret not in caplog.text and "SECRET" not in caplog.text
    assert "SECRET" not in audit.read_text()
    assert "SECRET" not in str(info.value)
    assert "retrying GET" in caplog.text  # the throttling was logged, without the token


async def _no_sleep(seconds: float) -> None:
    return None


def test_approvers_are_resolved_against_the_tenant(tenant, fake):
    def with_approvers(*approvers: str) -> DesiredState:
        settings = PimSettings(
            require_approval=True,
            approvers=approvers,
            eligibility_expiry_days=None,
            active_assignment_expiry_days=None,
        )
        return DesiredState(
            policies=(
                PolicySpec(role_display_name="Synthetic User Administrator", settings=settings),
            )
        )

    bad = tenant.plan(with_approvers(f"group:{APPROVER}", "user:no-such-user"))
    assert sorted(v.code for v in bad.errors) == ["approver_not_found", "approver_type_mismatch"]
    good = tenant.plan(with_approvers(APPROVER, GROUP_OK))  # bare ids: kinds come from Graph
    (patch,) = [r for r in good.requests if r.path.endswith("Approval_EndUser_Assignment")]
    assert patch.body["setting"]["approvalStages"][0]["primaryApprovers"] == [
        {"@odata.type": "#microsoft.graph.singleUser", "userId": APPROVER},
        {"@odata.type": "#microsoft.graph.groupMembers", "groupId": GROUP_OK},
    ]
    looked_up = {r.route for r in fake.requests if r.route.startswith("/directoryObjects/")}
    assert looked_up == {
        f"/directoryObjects/{APPROVER}",
        f"/directoryObjects/{GROUP_OK}",
        "/directoryObjects/no-such-user",
    }
