"""Partition of needs by scope kind, plane and custom-role eligibility; sibling roles."""

from __future__ import annotations

from typing import Any

from entra_lp.split import GroupKey, action_plane, is_custom_eligible, partition, split_pairs

MEMBERS = "microsoft.directory/groups/members/update"  # execution, custom-eligible
RULE = "microsoft.directory/groups/dynamicMembershipRule/update"  # configuration, eligible
READ = "microsoft.directory/groups/members/read"  # read, eligible
RESET = "microsoft.directory/users/password/update"  # execution, not eligible
CA_READ = "microsoft.directory/conditionalAccessPolicies/standard/read"  # read, not eligible


def test_the_actions_used_here_have_the_expected_facts(catalog: Any) -> None:
    assert [action_plane(catalog, a) for a in (MEMBERS, RULE, READ)] == [
        "execution", "configuration", "read"]
    assert [is_custom_eligible(catalog, a) for a in (MEMBERS, RULE, READ, RESET, CA_READ)] == [
        True, True, True, False, False]
    assert not is_custom_eligible(catalog, "microsoft.directory/notAThing/update")


def test_reads_ride_with_execution_then_configuration_else_alone(catalog: Any) -> None:
    needs = {
        "exec": {MEMBERS: "tenant", READ: "tenant", RULE: "tenant"},
        "conf": {RULE: "tenant", READ: "tenant"},
        "reader": {READ: "tenant"},
    }
    groups = partition(needs, catalog)
    assert groups[GroupKey("tenant", "execution", True)] == {"exec": frozenset({MEMBERS, READ})}
    assert groups[GroupKey("tenant", "configuration", True)] == {
        "conf": frozenset({RULE, READ}), "exec": frozenset({RULE})}
    assert groups[GroupKey("tenant", "read", True)] == {"reader": frozenset({READ})}


def test_scope_kinds_and_fallback_are_separate_groups(catalog: Any) -> None:
    needs = {"p": {MEMBERS: "administrative_unit", RESET: "administrative_unit",
                   CA_READ: "tenant", READ: "tenant"}}
    groups = partition(needs, catalog)
    assert list(groups) == [  # canonical order: scope kind, plane, custom first
        GroupKey("tenant", "read", True),
        GroupKey("tenant", "fallback", False),
        GroupKey("administrative_unit", "execution", True),
        GroupKey("administrative_unit", "fallback", False),
    ]
    assert groups[GroupKey("tenant", "fallback", False)] == {"p": frozenset({CA_READ})}
    assert groups[GroupKey("administrative_unit", "fallback", False)] == {"p": frozenset({RESET})}


def test_partition_loses_and_invents_nothing(catalog: Any) -> None:
    needs = {"a": {MEMBERS: "tenant", RULE: "tenant", RESET: "administrative_unit"},
             "b": {READ: "application", CA_READ: "tenant"}}
    groups = partition(needs, catalog)
    back: dict[str, dict[str, str]] = {}
    for key, members in groups.items():
        for p, acts in members.items():
            for a in acts:
                assert back.setdefault(p, {}).setdefault(a, key.scope) == key.scope
    assert back == needs


def test_split_pairs_links_configuration_and_execution_siblings() -> None:
    holders = {"x": frozenset({"p1", "p2"}), "c": frozenset({"p1", "p2"}),
               "c2": frozenset({"p3"}), "other": frozenset({"p1"})}
    planes = {"x": ("tenant", "execution"), "c": ("tenant", "configuration"),
              "c2": ("tenant", "configuration"), "other": ("administrative_unit", "execution")}
    assert split_pairs(holders, planes) == {"x": "c", "c": "x"}
