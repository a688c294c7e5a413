"""Reads: role management, PIM policies, the directory snapshot, Graph's documented bodies."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime

import pytest
from fake_graph import (
    APP_1,
    AU_1,
    BUILTIN_ADMIN,
    BUILTIN_READER,
    CUSTOM_EXISTING,
    GROUP_OK,
    GROUP_PLAIN,
    USER_1,
    USER_2,
    FakeGraph,
)

from entra_lp.directory import DirectorySnapshot, MemberRef, PimSettings
from entra_lp.errors import UnknownNameError
from entra_lp.tenant import TenantWarning

POLICY_ASSIGNMENTS = "/policies/roleManagementPolicyAssignments"


def test_resource_actions_come_from_beta(tenant, fake):
    fake.add(
        "/roleManagement/directory/resourceNamespaces/microsoft.directory/resourceActions",
        {"id": "b", "name": "microsoft.directory/users/password/update", "isPrivileged": True},
        {"id": "a", "name": "microsoft.directory/applications/basic/update", "isPrivileged": False},
    )
    acts = tenant.resource_actions()
    assert [a["name"] for a in acts] == [
        "microsoft.directory/applications/basic/update",
        "microsoft.directory/users/password/update",
    ]
    assert acts[1]["isPrivileged"] is True
    assert {r.version for r in fake.requests} == {"beta"}


def test_policies_are_read_per_role_and_summarised(tenant, fake):
    rules = fake.policy_of(BUILTIN_ADMIN)["rules"]
    next(r for r in rules if r["id"] == "Expiration_EndUser_Assignment")["maximumDuration"] = (
        "PT1H45M"
    )
    policies = {p.role_definition_id: p for p in tenant.role_management_policies()}
    assert set(policies) == {BUILTIN_READER, BUILTIN_ADMIN, CUSTOM_EXISTING}
    admin = policies[BUILTIN_ADMIN]
    assert admin.policy_id.startswith("DirectoryRole_")
    assert len(admin.rules) == 17
    # PT1H45M is rounded up to whole hours: the summary never understates exposure
    assert admin.settings == PimSettings(
        max_activation_hours=2,
        require_mfa=True,
        require_justification=True,
        eligibility_expiry_days=None,
        active_assignment_expiry_days=None,
    )


def test_assignment_reads(tenant):
    eligible = tenant.eligibility_schedules()
    assert [(a.principal_id, a.role_definition_id, a.assignment_type) for a in eligible] == [
        (USER_1, BUILTIN_ADMIN, "eligible")
    ]
    assert eligible[0].end.isoformat() == "2026-01-01T00:00:00+00:00"
    active = tenant.active_schedule_instances()
    assert [(a.principal_id, a.end is None) for a in active] == [(USER_1, False), (USER_2, True)]
    assert [a.principal_id for a in tenant.role_assignments()] == [USER_2]


def test_directory_snapshot(tenant, fake):
    snap = tenant.directory_snapshot()
    assert isinstance(snap, DirectorySnapshot)
    assert snap.tenant_id == "aaaaaaaa-0000-4000-8000-000000000001"
    assert [u.id for u in snap.users] == [USER_1, USER_2]
    assert snap.users[1].user_type == "Guest" and not snap.users[1].account_enabled
    groups = {g.id: g for g in snap.groups}
    assert groups[GROUP_OK].members == (USER_1,) and groups[GROUP_PLAIN].members == ()
    assert snap.applications[0].id == APP_1 and snap.applications[0].owners == (USER_2,)
    (au,) = snap.administrative_units
    assert au.id == AU_1 and au.members == (
        MemberRef(type="device", id="d1"),
        MemberRef(type="group", id=GROUP_PLAIN),
        MemberRef(type="user", id=USER_1),
    )
    assert [r.id for r in snap.custom_role_definitions] == [CUSTOM_EXISTING]
    kinds = sorted((a.principal_id, a.assignment_type) for a in snap.role_assignments)
    assert kinds == [(USER_1, "active"), (USER_1, "eligible"), (USER_2, "active")]
    assert set(snap.pim_policies) == {BUILTIN_READER, BUILTIN_ADMIN, CUSTOM_EXISTING}
    assert DirectorySnapshot.from_json(snap.to_json()) == snap
    # members were asked only for the role-assignable group
    assert not fake.gets(f"/groups/{GROUP_PLAIN}/members")
    assert fake.gets(f"/groups/{GROUP_OK}/members")[0].query == {"$select": "id"}


def test_snapshot_is_deterministic(tenant):
    taken = datetime(2025, 6, 1, tzinfo=UTC)
    a = tenant.directory_snapshot(taken_at=taken)
    b = tenant.directory_snapshot(taken_at=taken)
    assert a.to_json() == b.to_json()


def test_forbidden_section_warns_or_raises(tenant, fake):
    fake.fail("/devices", 403, times=2)
    with pytest.warns(TenantWarning, match="devices"):
        snap = tenant.directory_snapshot(on_forbidden="warn")
    assert snap.devices == () and len(snap.users) == 2
    with pytest.raises(Exception, match=r"Device\.Read\.All"):
        tenant.directory_snapshot(include=["devices"])


def test_snapshot_falls_back_to_role_assignments_without_pim(tenant, fake):
    fake.fail("/roleManagement/directory/roleAssignmentScheduleInstances", 403)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snap = tenant.directory_snapshot(include=["role_assignments"])
    assert [(a.principal_id, a.assignment_type) for a in snap.role_assignments] == [
        (USER_1, "eligible"),
        (USER_2, "active"),
    ]


def test_unknown_snapshot_section(tenant):
    with pytest.raises(UnknownNameError, match="did you mean 'users'"):
        tenant.directory_snapshot(include=["userz"])


# ---- Graph's documented example bodies, served as-is (../shared) -------------------------------
def _doc(shared, name):
    return json.loads((shared / "sources" / "graph_examples" / name).read_text())


def test_documented_policy_example_summarises_as_documented(shared, tenant, fake: FakeGraph):
    doc = _doc(shared, "role_management_policy_assignments_expand_policy_rules.json")
    fake.collections[POLICY_ASSIGNMENTS] = []
    fake.fail(POLICY_ASSIGNMENTS, 200, kind="body", body=doc)
    (policy,) = tenant.role_management_policies()
    assert policy.role_definition_id == "62e90394-69f5-4237-9190-012177145e10"
    assert len(policy.rules) == 17
    assert policy.settings == PimSettings(
        max_activation_hours=8,
        require_mfa=True,
        require_justification=True,
        require_ticket=False,
        require_approval=False,
        eligibility_expiry_days=None,
        active_assignment_expiry_days=None,
    )


def test_documented_role_definitions_and_schedules_parse(shared, tenant, fake: FakeGraph):
    fake.fail(
        "/roleManagement/directory/roleDefinitions",
        200,
        kind="body",
        body=_doc(shared, "role_definitions.json"),
    )
    defs = tenant.role_definitions()
    assert all("rolePermissions" in d for d in defs) and len(defs) >= 2
    fake.fail(
        "/roleManagement/directory/roleEligibilitySchedules",
        200,
        kind="body",
        body=_doc(shared, "role_eligibility_schedules.json"),
    )
    (e,) = tenant.eligibility_schedules()
    assert e.end.isoformat() == "2024-04-10T00:00:00+00:00" and e.assignment_type == "eligible"


# ---- catalog refresh from the tenant ----------------------------------------------------------
def _serve_export(shared, fake: FakeGraph, drop_action_of: int | None = None) -> list[dict]:
    path = shared / "sources" / "entra" / "graph_roleDefinitions_beta_2026-05-04.json"
    values = json.loads(path.read_text())["value"]
    if drop_action_of is not None:
        perms = values[drop_action_of]["rolePermissions"][0]["allowedResourceActions"]
        perms.pop()
    fake.collections["/roleManagement/directory/roleDefinitions"] = values
    fake.page_size = 60
    fake.add(
        "/roleManagement/directory/resourceNamespaces/microsoft.directory/resourceActions",
        {
            "id": "syn",
            "name": "microsoft.directory/syntheticWidgets/standard/read",
            "description": "synthetic",
            "isPrivileged": False,
            "actionVerb": "GET",
        },
    )
    return values


def test_catalog_refreshed_from_the_tenant_matches_the_bundled_export(shared, tenant, fake):
    pytest.importorskip("permission_catalog")
    _serve_export(shared, fake)
    diff = tenant.catalog_diff()
    assert diff.added_roles == diff.removed_roles == diff.changed_roles == ()
    assert diff.added_actions == ("microsoft.directory/syntheticWidgets/standard/read",)
    assert {r.version for r in fake.requests} == {"beta"}  # beta carries isPrivileged


def test_catalog_diff_shows_a_changed_role(shared, tenant, fake):
    pytest.importorskip("permission_catalog")
    values = _serve_export(shared, fake, drop_action_of=0)
    (change,) = tenant.catalog_diff().changed_roles
    assert change.id == values[0]["templateId"] and len(change.removed_actions) == 1
