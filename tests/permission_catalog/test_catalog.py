"""The Catalog: loading, lookups, coverage, classification, diff, refresh from role definitions."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from permission_catalog import load_catalog
from permission_catalog.catalog import Catalog
from permission_catalog.classify import PLANES, TIER_RANK, TIERS
from permission_catalog.errors import InvalidValueError, UnknownNameError

CAT = load_catalog()
D = "microsoft.directory"
GA = "62e90394-69f5-4237-9190-012177145e10"


def test_load_is_cached_and_counts_match_the_exports() -> None:
    assert load_catalog() is CAT
    assert CAT.version == "2026-05-04"
    assert len(CAT.roles) == 143
    role_actions = {a.name for r in CAT.roles.values() for a in r.actions}
    assert len(role_actions) == 640
    assert role_actions <= set(CAT.actions)
    assert len(CAT.actions) > 640
    assert list(CAT.actions) == sorted(CAT.actions)


def test_custom_role_ok_only_for_documented_actions() -> None:
    ok = {n for n, a in CAT.actions.items() if a.custom_role_ok}
    assert f"{D}/users/basic/update" in ok
    assert f"{D}/applications.myOrganization/credentials/update" in ok
    assert f"{D}/users/password/update" not in ok  # not on the custom-role pages
    assert len(ok) == 157  # distinct actions of the six custom-role pages


def test_action_fields() -> None:
    a = CAT.action(f"{D}/users/password/update")
    assert (a.namespace, a.resource, a.subtype, a.property_path, a.verb) == (
        D,
        "users",
        None,
        ("password",),
        "update",
    )
    assert a.is_privileged is True
    assert "966707d0-3269-4727-9be2-8c3a10f19b9d" in a.roles  # Password Administrator
    assert a.scopes == ("tenant", "administrative_unit")
    assert CAT.action(f"{D}/applications/credentials/update").scopes == ("tenant", "application")
    assert CAT.action(f"{D}/users/create").scopes == ("tenant",)
    assert CAT.action(f"{D}/conditionalAccessPolicies/basic/update").scopes == ("tenant",)
    assert (
        CAT.action(f"{D}/roleAssignments/allProperties/allTasks").is_privileged is None
    )  # unlabelled
    assert CAT.action(f"{D}/users/basic/update").description


def test_sub_object_creates_follow_their_parent_scope() -> None:
    """Creating a method / Temporary Access Pass of an existing user follows the user (AU
    scope); creating a directory object stays tenant-only, and BitLocker keys follow devices."""
    tap = f"{D}/users/authenticationMethods/create"
    assert CAT.action(tap).scopes == ("tenant", "administrative_unit")
    assert CAT.scopes_of(tap) == ("tenant", "administrative_unit")
    for obj in ("users", "groups", "groups.security", "devices", "applications",
                "servicePrincipals", "administrativeUnits"):
        assert CAT.scopes_of(f"{D}/{obj}/create") == ("tenant",), obj
    assert CAT.scopes_of(f"{D}/tenantManagement/tenants/create") == ("tenant",)
    assert CAT.scopes_of(f"{D}/bitlockerKeys/key/read") == ("tenant", "administrative_unit")


def test_action_errors() -> None:
    with pytest.raises(UnknownNameError) as exc:
        CAT.action(f"{D}/users/pasword/update")
    assert f"{D}/users/password/update" in exc.value.suggestions
    with pytest.raises(InvalidValueError):
        CAT.action("users password")


def test_role_lookups() -> None:
    ga = CAT.role(GA)
    assert ga.name == "Global Administrator" and ga.is_privileged
    assert CAT.role("global administrator") is ga
    assert CAT.role_by_name("  Global   Administrator ") is ga
    with pytest.raises(UnknownNameError, match="Global Administrator"):
        CAT.role_by_name("Global Admnistrator")
    assert CAT.role("Helpdesk Administrator").au_scopable
    assert not CAT.role("Global Reader").au_scopable
    user = CAT.role("User")
    assert any(a.condition == "$ResourceIsSelf" for a in user.actions)
    assert not user.assignable
    excluded = {r.name for r in CAT.roles.values() if not r.assignable}
    assert {
        "Directory Synchronization Accounts",
        "Partner Tier1 Support",
        "Partner Tier2 Support",
        "Guest User",
        "Device Managers",
    } <= excluded
    assert "Helpdesk Administrator" not in excluded


def test_covers_and_uncovered() -> None:
    helpdesk = CAT.role("Helpdesk Administrator").actions
    assert CAT.covers(helpdesk, [f"{D}/users/password/update"])
    needed = [f"{D}/users/password/update", f"{D}/users/create"]
    assert CAT.uncovered(helpdesk, needed) == {f"{D}/users/create"}
    self_only = [(f"{D}/users/password/update", "$ResourceIsSelf")]
    assert not CAT.covers(self_only, [f"{D}/users/password/update"])
    assert CAT.covers(self_only, [(f"{D}/users/password/update", "$ResourceIsSelf")])
    assert CAT.covers([], [])
    with pytest.raises(InvalidValueError):
        CAT.covers([42], [f"{D}/users/create"])  # type: ignore[list-item]


@given(
    st.lists(st.sampled_from(sorted(CAT.actions)), max_size=6), st.sampled_from(sorted(CAT.actions))
)
def test_covers_agrees_with_pairwise_implies(granted: list[str], needed: str) -> None:
    assert CAT.covers(granted, [needed]) == any(CAT.implies(g, needed) for g in granted)


def test_expand() -> None:
    exp = CAT.expand([f"{D}/applications/allProperties/update"])
    assert f"{D}/applications.myOrganization/credentials/update" in exp
    assert f"{D}/applications/create" not in exp
    assert CAT.expand([]) == frozenset()


def test_every_action_is_classified_with_reasons() -> None:
    for name in CAT.actions:
        c = CAT.classify(name)
        assert c.plane in PLANES and c.tier in TIERS
        assert any(r.startswith("plane:") for r in c.reasons) and any(
            r.startswith("tier:") for r in c.reasons
        )
        assert CAT.risk_weight(name) > 0


@pytest.mark.parametrize(
    ("action", "plane", "tier"),
    [
        (f"{D}/roleAssignments/allProperties/allTasks", "execution", "control"),
        (f"{D}/users/password/update", "execution", "control"),
        (f"{D}/conditionalAccessPolicies/basic/update", "configuration", "control"),
        (f"{D}/applications/credentials/update", "execution", "control"),
        (f"{D}/groupsAssignableToRoles/allProperties/update", "execution", "control"),
        (f"{D}/groups/members/update", "execution", "management"),
        (f"{D}/users/standard/read", "read", "user_access"),
        (f"{D}/bitlockerKeys/key/read", "read", "management"),
        (f"{D}/users/photo/update", "execution", "user_access"),
        (f"{D}/domains/federation/update", "configuration", "control"),
    ],
)
def test_classification_spot_checks(action: str, plane: str, tier: str) -> None:
    c = CAT.classify(action)
    assert (c.plane, c.tier) == (plane, tier), c.reasons


def test_tier_is_raised_by_implied_actions() -> None:
    c = CAT.classify(f"{D}/users/allProperties/allTasks")
    assert c.tier == "control"
    assert any("implies" in r for r in c.reasons)
    for name in CAT.actions:  # monotone: never below anything implied
        rank = TIER_RANK[CAT.classify(name).tier]
        assert all(TIER_RANK[CAT.classify(o).tier] <= rank for o in CAT.implied(name))


def test_risk_weight_order() -> None:
    control = CAT.risk_weight(f"{D}/roleAssignments/allProperties/allTasks")
    management = CAT.risk_weight(f"{D}/devices/basic/update")
    user = CAT.risk_weight(f"{D}/users/photo/update")
    read = CAT.risk_weight(f"{D}/users/standard/read")
    assert control > management > user > read


def test_escalation_edges() -> None:
    def caps(action: str) -> set[tuple[str, str]]:
        return {(e.capability, e.target) for e in CAT.escalation_edges(action)}

    assert ("act_as", "application") in caps(f"{D}/applications/credentials/update")
    assert ("act_as", "user") in caps(f"{D}/users/password/update")
    assert ("grant_role", "any directory role") in caps(
        f"{D}/roleAssignments/allProperties/allTasks"
    )
    assert ("inherit_roles", "role-assignable group") in caps(
        f"{D}/groupsAssignableToRoles/allProperties/update"
    )
    assert ("act_as", "application") in caps(
        f"{D}/applications/allProperties/update"
    )  # via implication
    assert caps(f"{D}/users/standard/read") == set()
    all_edges = CAT.escalation_edges()
    assert {e.action for e in all_edges} <= set(CAT.actions)


def test_search() -> None:
    hits = CAT.search("password administrator")
    assert hits[0].kind == "role" and hits[0].title == "Password Administrator"
    assert any(h.key == f"{D}/users/password/update" for h in CAT.search("password update"))
    assert CAT.search("") == []
    assert CAT.search("zzzz-no-such-thing") == []
    assert CAT.search("password") == CAT.search("PASSWORD")


def test_diff_2025_to_2026() -> None:
    old = load_catalog(roles="2025-03-10")
    assert len(old.roles) == 119
    d = old.diff(CAT)
    assert (len(d.added_roles), len(d.removed_roles), len(d.changed_roles)) == (24, 0, 27)
    assert not CAT.diff(CAT).changed_roles and CAT.diff(CAT).is_empty
    back = CAT.diff(old)
    assert len(back.removed_roles) == 24 and set(back.added_actions) == set(d.removed_actions)
    with pytest.raises(UnknownNameError, match="2025-03-10"):
        load_catalog(roles="2024-01-01")


def test_from_role_definitions_synthetic() -> None:
    values = [
        {
            "id": "11111111-1111-1111-1111-111111111111",
            "displayName": "Tenant Helpdesk",
            "isBuiltIn": True,
            "isEnabled": True,
            "isPrivileged": True,
            "description": "test role",
            "rolePermissions": [
                {"allowedResourceActions": [f"{D}/users/password/update"], "condition": None}
            ],
        },
        {"id": "x", "displayName": "A custom role", "isBuiltIn": False, "rolePermissions": []},
    ]
    resource_actions = [
        {"name": f"{D}/users/password/update", "isPrivileged": False, "description": "d"},
        {"name": f"{D}/brandNew/read", "isPrivileged": False},
    ]
    cat = Catalog.from_role_definitions(
        values, version="contoso", resource_actions=resource_actions
    )
    assert cat.version == "contoso" and list(cat.roles) == ["11111111-1111-1111-1111-111111111111"]
    assert cat.action(f"{D}/users/password/update").is_privileged is False  # the tenant's word wins
    assert f"{D}/brandNew/read" in cat.actions
    assert cat.action(f"{D}/users/basic/update").custom_role_ok  # bundled custom-role facts kept
    diff = CAT.diff(cat)
    assert diff.added_roles == ("Tenant Helpdesk",) and len(diff.removed_roles) == 143


def test_from_role_definitions_matches_bundled_export(shared: Path) -> None:
    raw = orjson.loads(
        (shared / "sources/entra/graph_roleDefinitions_beta_2026-05-04.json").read_bytes()
    )
    cat = Catalog.from_role_definitions(raw["value"], version="2026-05-04")
    assert CAT.diff(cat).is_empty


def test_limits() -> None:
    assert CAT.limits["max_custom_roles"].value == 100
    assert CAT.limits["pim_min_assignment_minutes"].value == 5
    assert CAT.limits["pim_activation_max_hours_range"].value == [1, 24]
    assert all(limit.source_article for limit in CAT.limits.values())
    assert len(CAT.limit_facts) >= len(CAT.limits)


def test_password_reset_targets() -> None:
    targets = CAT.password_reset_targets("Password Administrator")
    assert "User (no admin role)" in targets and "Global Administrator" not in targets


def test_tasks_and_audit_rules_load_through_colleague_modules() -> None:
    if not (CAT.data_dir / "audit_rules.json").exists():
        pytest.skip("data/audit_rules.json not built yet")
    assert CAT.audit_rules
    assert CAT.unobservable_actions < set(CAT.actions)
    assert f"{D}/users/standard/read" in CAT.unobservable_actions
    rule = next(
        r for r in CAT.audit_rules if r.kind == "admin" and r.actions and not r.when.to_dict()
    )
    mapped = CAT.map_activity(rule.service, rule.category, rule.activity)
    assert set(rule.actions) <= set(mapped.actions) and rule.id in mapped.rule_ids
    assert CAT.map_activity("Core Directory", None, "No such activity at all").kind == "unmapped"
    assert CAT.tasks == {} or all(CAT.task(t).id == t for t in CAT.tasks)
    with pytest.raises(UnknownNameError):
        CAT.task("no.such-task")
