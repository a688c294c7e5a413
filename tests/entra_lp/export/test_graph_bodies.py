"""Graph request bodies and desired-state checks (pure: no tenant, no msgraph-sdk)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entra_lp.directory import PimSettings
from entra_lp.errors import InvalidValueError
from entra_lp.export import (
    MANAGED_RULE_IDS,
    RULE_IDS,
    AssignmentSpec,
    DesiredState,
    EntraLimits,
    PolicySpec,
    RoleSpec,
    iso_duration,
    parse_iso_duration,
    policy_rule_bodies,
    role_definition_body,
    rules_equivalent,
    schedule_request_body,
    scope_kind,
    settings_from_rules,
    validate_desired,
)
from entra_lp.export.graph import approval_rule, enablement_rule, expiration_rule


# ---- durations -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=1, minutes=45), "PT1H45M"),
        (timedelta(hours=8), "PT8H"),
        (timedelta(days=365), "P365D"),
        (timedelta(days=1, hours=2, seconds=5), "P1DT2H5S"),
        (timedelta(minutes=5), "PT5M"),
    ],
)
def test_iso_duration(value, text):
    assert iso_duration(value) == text
    assert parse_iso_duration(text) == value


@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_iso_duration_round_trips(seconds):
    value = timedelta(seconds=seconds)
    text = iso_duration(value)
    assert ":" not in text  # never str(timedelta)
    assert parse_iso_duration(text) == value


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=-1), timedelta(microseconds=5)])
def test_iso_duration_rejects(bad):
    with pytest.raises(InvalidValueError):
        iso_duration(bad)


@pytest.mark.parametrize("bad", ["1:45:00", "P", "PT", "8h", ""])
def test_parse_iso_duration_rejects(bad):
    with pytest.raises(InvalidValueError):
        parse_iso_duration(bad)


def test_parse_weeks():
    assert parse_iso_duration("P2W") == timedelta(days=14)


# ---- bodies ----------------------------------------------------------------------------------
def test_role_definition_body_sorted_and_template_only_on_create():
    role = RoleSpec(
        display_name="R",
        description="d",
        template_id="t-1",
        actions=("b/x/update", "a/y/read", "b/x/update"),
    )
    body = role_definition_body(role)
    assert body == {
        "description": "d",
        "displayName": "R",
        "isEnabled": True,
        "rolePermissions": [{"allowedResourceActions": ["a/y/read", "b/x/update"]}],
        "templateId": "t-1",
    }
    assert "templateId" not in role_definition_body(role, for_update=True)


def test_schedule_request_bodies():
    start = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
    a = AssignmentSpec(
        principal_id="p",
        role_display_name="R",
        start=start,
        duration=timedelta(days=90),
        directory_scope_id="/administrativeUnits/au",
    )
    assert schedule_request_body(a, "rid") == {
        "action": "adminAssign",
        "directoryScopeId": "/administrativeUnits/au",
        "justification": a.justification,
        "principalId": "p",
        "roleDefinitionId": "rid",
        "scheduleInfo": {
            "startDateTime": "2025-05-01T08:00:00Z",
            "expiration": {"type": "afterDuration", "duration": "P90D"},
        },
    }
    until = AssignmentSpec(
        principal_id="p", role_display_name="R", expiry=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert schedule_request_body(until, "rid")["scheduleInfo"] == {
        "expiration": {"type": "afterDateTime", "endDateTime": "2026-01-01T00:00:00Z"}
    }
    forever = AssignmentSpec(principal_id="p", role_display_name="R")
    assert schedule_request_body(forever, "rid")["scheduleInfo"] == {
        "expiration": {"type": "noExpiration"}
    }


def test_policy_rule_bodies_cover_the_managed_rules():
    s = PimSettings(
        max_activation_hours=4,
        require_ticket=True,
        require_approval=True,
        approvers=("group:g1", "user:u1"),
        eligibility_expiry_days=None,
        notify_on_activation=("secops@example.test",),
    )
    bodies = policy_rule_bodies(s)
    assert tuple(bodies) == MANAGED_RULE_IDS and set(bodies) <= set(RULE_IDS)
    assert bodies["Expiration_EndUser_Assignment"]["maximumDuration"] == "PT4H"
    assert bodies["Enablement_EndUser_Assignment"]["enabledRules"] == [
        "Justification",
        "MultiFactorAuthentication",
        "Ticketing",
    ]
    eligibility = bodies["Expiration_Admin_Eligibility"]
    assert eligibility["isExpirationRequired"] is False and "maximumDuration" not in eligibility
    approvers = bodies["Approval_EndUser_Assignment"]["setting"]["approvalStages"][0][
        "primaryApprovers"
    ]
    assert approvers == [
        {"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g1"},
        {"@odata.type": "#microsoft.graph.singleUser", "userId": "u1"},
    ]
    for body in bodies.values():
        assert body["@odata.type"].startswith("#microsoft.graph.unifiedRoleManagementPolicy")
        assert body["target"]["operations"] == ["all"]
    json.dumps(bodies)  # plain JSON, no timedelta or enum objects


def test_bare_approver_ids_need_a_type():
    with pytest.raises(InvalidValueError, match="user:<id>"):
        approval_rule(True, ["abc"])
    assert approval_rule(True, ["abc"], {"abc": "user"})["setting"]["approvalStages"][0][
        "primaryApprovers"
    ] == [{"@odata.type": "#microsoft.graph.singleUser", "userId": "abc"}]


def test_enablement_rejects_unknown_requirements():
    with pytest.raises(InvalidValueError, match="Fingerprint"):
        enablement_rule("Enablement_EndUser_Assignment", "EndUser", "Assignment", ["Fingerprint"])


settings_strategy = st.builds(
    PimSettings,
    max_activation_hours=st.integers(1, 24),
    require_mfa=st.booleans(),
    require_justification=st.booleans(),
    require_ticket=st.booleans(),
    require_approval=st.booleans(),
    approvers=st.lists(st.sampled_from(["user:u1", "user:u2", "group:g1"]), unique=True).map(
        lambda xs: tuple(sorted(xs))
    ),
    eligibility_expiry_days=st.one_of(st.none(), st.integers(1, 3650)),
    active_assignment_expiry_days=st.one_of(st.none(), st.integers(1, 3650)),
    authentication_context=st.one_of(st.none(), st.sampled_from(["c1", "c2"])),
    notify_on_activation=st.lists(st.sampled_from(["a@x.test", "b@x.test"]), unique=True).map(
        lambda xs: tuple(sorted(xs))
    ),
)


@given(settings_strategy)
def test_settings_round_trip_through_rule_bodies(settings):
    back = settings_from_rules(policy_rule_bodies(settings).values())
    expected = settings.model_copy(
        update={"approvers": settings.approvers if settings.require_approval else ()}
    )
    assert back == expected


@given(settings_strategy, settings_strategy)
def test_rules_equivalent_iff_same_meaning(a, b):
    ra, rb = policy_rule_bodies(a), policy_rule_bodies(b)
    for rule_id in MANAGED_RULE_IDS:
        assert rules_equivalent(ra[rule_id], ra[rule_id])
        same = settings_from_rules([ra[rule_id]]) == settings_from_rules([rb[rule_id]])
        assert rules_equivalent(ra[rule_id], rb[rule_id]) == same


def test_equivalence_ignores_formatting():
    a = expiration_rule("Expiration_EndUser_Assignment", "EndUser", "Assignment", timedelta(days=1))
    b = {**a, "maximumDuration": "PT24H", "target": {"caller": "EndUser", "operations": ["All"]}}
    assert rules_equivalent(a, b)
    assert not rules_equivalent(a, {**a, "maximumDuration": "PT23H"})


def test_settings_from_rules_rounds_up():
    rule = expiration_rule(
        "Expiration_EndUser_Assignment", "EndUser", "Assignment", timedelta(hours=1, minutes=45)
    )
    assert settings_from_rules([rule]).max_activation_hours == 2
    long = {**rule, "maximumDuration": "P2D"}
    assert settings_from_rules([long]).max_activation_hours == 24


# ---- desired state ---------------------------------------------------------------------------
def _state() -> DesiredState:
    return DesiredState(
        roles=(
            RoleSpec(display_name="Helpers", actions=("microsoft.directory/users/basic/update",)),
        ),
        assignments=(
            AssignmentSpec(
                principal_id="p1",
                role_display_name="Helpers",
                duration=timedelta(hours=1, minutes=45),
            ),
        ),
        policies=(
            PolicySpec(role_display_name="Helpers", settings=PimSettings(max_activation_hours=3)),
        ),
    )


def test_desired_state_json_round_trip(tmp_path):
    state = _state()
    text = state.to_json()
    assert '"duration": "PT1H45M"' in text
    assert DesiredState.from_json(text) == state
    state.save(tmp_path / "d.json")
    assert DesiredState.load(tmp_path / "d.json") == state
    assert DesiredState.load(tmp_path / "d.json").to_json() == text


def test_desired_state_rejects_duplicates_and_bad_scopes():
    with pytest.raises(ValueError, match="duplicate role display name"):
        DesiredState(
            roles=(
                RoleSpec(display_name="A", actions=("x",)),
                RoleSpec(display_name="a", actions=("y",)),
            )
        )
    with pytest.raises(ValueError, match="directory_scope_id"):
        AssignmentSpec(principal_id="p", role_display_name="R", directory_scope_id="au/1")
    with pytest.raises(ValueError, match="not both"):
        AssignmentSpec(
            principal_id="p",
            role_display_name="R",
            duration=timedelta(hours=1),
            expiry=datetime(2030, 1, 1, tzinfo=UTC),
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        AssignmentSpec(principal_id="p", role_display_name="R", expiry=datetime(2030, 1, 1))


def test_scope_kind():
    assert scope_kind("/") == "tenant"
    assert scope_kind("/administrativeUnits/1") == "administrative_unit"
    assert scope_kind("/0000-app") == "application"


def test_validate_offline_without_catalog():
    state = DesiredState(
        roles=(RoleSpec(display_name="Creator", actions=("microsoft.directory/users/create",)),),
        assignments=(
            AssignmentSpec(
                principal_id="p",
                role_display_name="Creator",
                directory_scope_id="/administrativeUnits/1",
                duration=timedelta(minutes=4),
            ),
            AssignmentSpec(principal_id="q", role_display_name="Creator"),
        ),
        policies=(
            PolicySpec(
                role_display_name="Creator",
                settings=PimSettings(
                    require_mfa=True,
                    authentication_context="c1",
                    require_approval=True,
                    approvers=("bare-id",),
                    eligibility_expiry_days=30,
                ),
            ),
        ),
    )
    got = {(v.code, v.subject.split(" ")[0]) for v in validate_desired(state)}
    assert got == {
        ("create_at_non_tenant_scope", "role"),
        ("assignment_too_short", "assignment"),
        ("permanent_not_allowed", "assignment"),
        ("mfa_and_auth_context", "policy"),
        ("approver_type", "policy"),
    }
    assert validate_desired(_state()) == []


def test_validate_uses_catalog_and_its_limits():
    catalog = pytest.importorskip("permission_catalog").load_catalog()
    limits = EntraLimits.from_catalog(catalog)
    assert limits == EntraLimits()  # the catalog's documented values equal the defaults
    state = DesiredState(
        roles=(
            RoleSpec(display_name="Bad", actions=("microsoft.directory/users/password/update",)),
        )
    )
    (v,) = validate_desired(state, catalog)
    assert v.code == "not_allowed_in_custom_roles" and v.severity == "error"


def test_too_many_roles_offline():
    roles = tuple(RoleSpec(display_name=f"R{i}", actions=("a/b/read",)) for i in range(3))
    out = validate_desired(DesiredState(roles=roles), limits=EntraLimits(max_custom_roles=2))
    assert [v.code for v in out] == ["too_many_custom_roles"]


# ---- Graph's documented bodies (../shared, loaded not copied) ----------------------------------
def _doc(shared, name):
    return json.loads((shared / "sources" / "graph_examples" / name).read_text())


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        (
            "update_rule_expiration_enduser_assignment_request.json",
            expiration_rule(
                "Expiration_EndUser_Assignment",
                "EndUser",
                "Assignment",
                timedelta(hours=1, minutes=45),
            ),
        ),
        (
            "update_rule_expiration_admin_eligibility_request.json",
            expiration_rule(
                "Expiration_Admin_Eligibility", "Admin", "Eligibility", timedelta(days=90)
            ),
        ),
        (
            "update_rule_expiration_admin_assignment_request.json",
            expiration_rule(
                "Expiration_Admin_Assignment", "Admin", "Assignment", timedelta(days=90)
            ),
        ),
        (
            "update_rule_enablement_enduser_assignment_request.json",
            enablement_rule(
                "Enablement_EndUser_Assignment",
                "EndUser",
                "Assignment",
                ["MultiFactorAuthentication", "Ticketing", "Justification"],
            ),
        ),
        (
            "update_rule_enablement_admin_assignment_request.json",
            enablement_rule(
                "Enablement_Admin_Assignment",
                "Admin",
                "Assignment",
                ["Justification", "MultiFactorAuthentication"],
            ),
        ),
        (
            "update_rule_approval_enduser_assignment_request.json",
            approval_rule(
                True,
                [
                    "user:10a08e2e-3ea2-4ce0-80cb-d5fdd4b05ea6",
                    "group:14f2746d-7d6f-4ac6-acd8-8cac318b041b",
                ],
            ),
        ),
    ],
)
def test_builders_match_the_documented_patch_bodies(shared, name, ours):
    doc = _doc(shared, name)
    assert ours["@odata.type"] == doc["@odata.type"] and ours["id"] == doc["id"]
    assert {k: v for k, v in ours["target"].items() if k != "operations"} == {
        k: v for k, v in doc["target"].items() if k not in ("operations", "@odata.type")
    }
    assert rules_equivalent(doc, ours)
    if "setting" in doc:
        for key in ("isApprovalRequired", "isRequestorJustificationRequired", "approvalMode"):
            assert ours["setting"][key] == doc["setting"][key]


def test_documented_policy_rules_summarise(shared):
    (policy,) = _doc(shared, "role_management_policies_expand_rules.json")["value"]
    s = settings_from_rules(policy["rules"])
    assert s == PimSettings(
        max_activation_hours=8,
        require_mfa=True,
        require_justification=True,
        eligibility_expiry_days=None,
        active_assignment_expiry_days=None,
    )


def test_documented_create_role_request_matches(shared):
    doc = _doc(shared, "create_role_definition_request.json")
    role = RoleSpec(
        display_name=doc["displayName"],
        description=doc["description"],
        actions=tuple(doc["rolePermissions"][0]["allowedResourceActions"]),
    )
    assert role_definition_body(role) == doc
