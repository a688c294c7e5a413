"""Audit rules of PIM, Authentication Methods, Entitlement Management, Self-service group
management, Invited users, Access reviews and Application proxy.

The rule files are validated and matched through the real engine
(``permission_catalog.audit_rules``), against Microsoft's activity list and role export from
``../shared``. Records in the last section are hand-written in the Graph ``directoryAudit``
shape (synthetic ids) and reduced to a signature the way the ingest stage does.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from permission_catalog.audit_rules import (
    ActivityMapping,
    ActivityMatcher,
    audit_rule_coverage,
    build_audit_rules_data,
    format_coverage,
)

RULES_DIR = Path(__file__).resolve().parents[2] / "permission_catalog/curation/audit_rules"
PIM = "Privileged Identity Management (PIM)"
FILES = {
    "pim.yaml": PIM,
    "authentication_methods.yaml": "Authentication Methods",
    "entitlement_management.yaml": "Entitlement Management",
    "self_service_group_management.yaml": "Self-service group management",
    "invited_users.yaml": "Invited users",
    "access_reviews.yaml": "Access reviews",
    "application_proxy.yaml": "Application proxy",
}
SERVICES = frozenset(FILES.values())
D = "microsoft.directory/"


# ------------------------------------------------------------------------------------------
# Fixtures: Microsoft's data, and our rules built in isolation from other services' files
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def activity_rows(shared: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(
        (shared / "sources/entra/audit_activities.json").read_text("utf-8"))
    return rows


@pytest.fixture(scope="module")
def my_rows(activity_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in activity_rows if r["service"] in SERVICES]


@pytest.fixture(scope="module")
def builtin_actions(shared: Path) -> frozenset[str]:
    """Every action of every built-in role in the 2026-05-04 Graph export."""
    export = json.loads(
        (shared / "sources/entra/graph_roleDefinitions_beta_2026-05-04.json").read_text("utf-8"))
    return frozenset(a for role in export["value"] for perm in role["rolePermissions"]
                     for a in perm["allowedResourceActions"])


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory, shared: Path,
          builtin_actions: frozenset[str]) -> list[dict[str, Any]]:
    """Our seven files, validated by the engine's build step (other services' files excluded,
    so their state cannot break or mask these tests)."""
    folder = tmp_path_factory.mktemp("audit_rules")
    for name in FILES:
        shutil.copy(RULES_DIR / name, folder / name)
    return build_audit_rules_data(folder, shared / "sources/entra/audit_activities.json",
                                  builtin_actions)


@pytest.fixture(scope="module")
def matcher(rules: list[dict[str, Any]]) -> ActivityMatcher:
    return ActivityMatcher(rules)


def _raw_rules() -> dict[str, list[dict[str, Any]]]:
    """The YAML files as written, without the engine (for independent cross-checks)."""
    return {name: yaml.safe_load((RULES_DIR / name).read_text("utf-8")) for name in FILES}


# ------------------------------------------------------------------------------------------
# Coverage and names
# ------------------------------------------------------------------------------------------

def test_files_hold_only_their_service_and_ids_are_namespaced() -> None:
    prefixes: dict[str, str] = {}
    for name, items in _raw_rules().items():
        assert items, name
        assert {r["service"] for r in items} == {FILES[name]}, name
        heads = {r["id"].split(".")[0] for r in items}
        assert len(heads) == 1, (name, heads)
        prefixes[name] = heads.pop()
    assert len(set(prefixes.values())) == len(FILES), prefixes


def test_every_documented_row_is_covered(matcher: ActivityMatcher,
                                         my_rows: list[dict[str, str]]) -> None:
    """Each (service, category, activity) row of Microsoft's list reaches a rule of ours."""
    assert {r["service"] for r in my_rows} == SERVICES
    unmapped = [
        (r["service"], r["category"], r["activity"]) for r in my_rows
        if matcher.match(r["service"], r["category"], r["activity"]).kind == "unmapped"
    ]
    assert unmapped == []


def test_rule_categories_belong_to_their_activity(rules: list[dict[str, Any]],
                                                     my_rows: list[dict[str, str]]) -> None:
    """No rule points at an activity missing from the list (the build checks names; this
    checks that every rule's category, when given, is one the activity really has)."""
    cats: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in my_rows:
        cats[(row["service"], row["activity"])].add(row["category"])
    for rule in rules:
        key = (rule["service"], rule["activity"])
        assert key in cats, rule["id"]
        if rule["category"] is not None:
            assert rule["category"] in cats[key], rule["id"]


def test_every_action_exists_in_builtin_roles(builtin_actions: frozenset[str]) -> None:
    used = {a for items in _raw_rules().values() for r in items for a in r["actions"]}
    assert used, "no admin rule at all"
    assert sorted(used - builtin_actions) == []


def test_no_rule_forces_global_administrator(shared: Path) -> None:
    """Each action we map is granted, unconditionally, by some administrator role other than
    Global Administrator: a least-privilege rule must not leave GA as the only way to cover it."""
    export = json.loads(
        (shared / "sources/entra/graph_roleDefinitions_beta_2026-05-04.json").read_text("utf-8"))
    not_admin_roles = {"Global Administrator", "User", "Guest User", "Restricted Guest User"}
    holders: dict[str, set[str]] = defaultdict(set)
    for role in export["value"]:
        for perm in role["rolePermissions"]:
            if not perm.get("condition"):
                for action in perm["allowedResourceActions"]:
                    holders[action].add(role["displayName"])
    used = {a for items in _raw_rules().values() for r in items for a in r["actions"]}
    assert sorted(a for a in used if not holders[a] - not_admin_roles) == []


def test_admin_rules_never_map_to_reads(rules: list[dict[str, Any]]) -> None:
    """Reads are not audited as admin acts; an admin rule naming one is a curation slip."""
    reads = re.compile(r"/(read|limitedRead|restrictedRead|standard/read)$")
    offenders = [(r["id"], a) for r in rules for a in r["actions"] if reads.search(a)]
    assert offenders == []


def test_observable_actions_include_every_admin_action(matcher: ActivityMatcher,
                                                       rules: list[dict[str, Any]]) -> None:
    admin_actions = {a for r in rules if r["kind"] == "admin" for a in r["actions"]}
    assert admin_actions
    assert matcher.observable_actions() == frozenset(admin_actions)


def test_coverage_table_is_right(rules: list[dict[str, Any]],
                                 activity_rows: list[dict[str, str]]) -> None:
    """The engine's per-service table agrees with a count made here from the raw YAML."""
    # Counted per documented (category, activity) row, as the engine does: a rule without a
    # category covers the activity under every category.
    kinds: dict[tuple[str, str, str | None], set[str]] = defaultdict(set)
    for items in _raw_rules().values():
        for r in items:
            kinds[(r["service"], r["activity"], r.get("category"))].add(r["kind"])
    coverage = {c.service: c for c in audit_rule_coverage(rules, activity_rows)}
    expected_lines = []
    for service in sorted(SERVICES):
        names = {(r["category"], r["activity"]) for r in activity_rows
                 if r["service"] == service}
        mapped = sum(
            1 for cat, a in names
            if "admin" in kinds[(service, a, None)] | kinds[(service, a, cat)])
        c = coverage[service]
        assert (c.activities, c.mapped, c.no_admin_right, c.unknown) == (
            len(names), mapped, len(names) - mapped, 0), service
        assert c.covered_share == 1.0
        expected_lines.append((service, len(names), mapped, len(names) - mapped))
    table = format_coverage(coverage[s] for s in sorted(SERVICES))
    print("\n" + table)  # the table the build prints, shown with pytest -s
    for service, total, mapped, other in expected_lines:
        assert re.search(rf"^{re.escape(service)}\s+{total}\s+{mapped}\s+{other}\s+0$", table,
                         re.MULTILINE), service


def test_build_is_deterministic(tmp_path: Path, shared: Path, builtin_actions: frozenset[str],
                                rules: list[dict[str, Any]]) -> None:
    for name in reversed(list(FILES)):  # different copy order, same result
        shutil.copy(RULES_DIR / name, tmp_path / name)
    again = build_audit_rules_data(tmp_path, shared / "sources/entra/audit_activities.json",
                                   builtin_actions)
    assert json.dumps(again, sort_keys=True) == json.dumps(rules, sort_keys=True)


# ------------------------------------------------------------------------------------------
# Modelling invariants over whole families of PIM activities
# ------------------------------------------------------------------------------------------

def _pim_rows(my_rows: list[dict[str, str]], pattern: str) -> list[dict[str, str]]:
    rows = [r for r in my_rows if r["service"] == PIM and re.search(pattern, r["activity"])]
    assert rows, pattern
    return rows


def test_pim_admin_change_counts_once(matcher: ActivityMatcher,
                                      my_rows: list[dict[str, str]]) -> None:
    """Every 'requested (permanent|timebound)' admin change gives no right; its 'completed'
    twin in the same category does (directory roles)."""
    for row in _pim_rows(my_rows, r"in PIM requested \((permanent|timebound)\)$"):
        req = matcher.match("PIM", row["category"], row["activity"])
        assert (req.kind, req.actions) == ("system", ()), row
        done = row["activity"].replace("requested", "completed")
        if row["category"] == "RoleManagement":
            completed = matcher.match("PIM", "RoleManagement", done)
            assert completed.kind == "admin", done
            assert completed.actions == (D + "roleAssignments/allProperties/allTasks",)


def test_pim_self_activation_never_needs_admin_right(matcher: ActivityMatcher,
                                                     my_rows: list[dict[str, str]]) -> None:
    rows = _pim_rows(my_rows, r"\(PIM (activation|deactivate)\)$")
    for row in rows:
        got = matcher.match("PIM", row["category"], row["activity"])
        assert not got.is_admin and got.actions == (), row
        expected = "no_admin_right" if "request approved" in row["activity"] or (
            "request denied" in row["activity"]) else "self_service"
        assert got.kind == expected, row


def test_pim_azure_resource_rows_never_grant_directory_actions(
        matcher: ActivityMatcher, my_rows: list[dict[str, str]]) -> None:
    rows = _pim_rows(my_rows, r".")
    azure = [r for r in rows if r["category"] == "ResourceManagement"]
    assert len(azure) > 40
    for row in azure:
        assert matcher.match("PIM", "ResourceManagement", row["activity"]).actions == (), row


# ------------------------------------------------------------------------------------------
# Realistic records, reduced to a signature like the ingest stage does
# ------------------------------------------------------------------------------------------

def _signature(record: dict[str, Any]) -> dict[str, Any]:
    """(service, category, activity, properties, target type, initiator, self-initiated)."""
    targets = record.get("targetResources") or []
    first = targets[0] if targets else {}
    props: set[str] = set()
    for t in targets:
        for p in t.get("modifiedProperties") or []:
            if p["displayName"] == "Included Updated Properties":
                props |= {n.strip() for n in json.loads(p["newValue"]).split(",") if n.strip()}
            else:
                props.add(p["displayName"])
    user = (record.get("initiatedBy") or {}).get("user") or {}
    app = (record.get("initiatedBy") or {}).get("app") or {}
    initiator_id = user.get("id") or app.get("servicePrincipalId")
    user_targets = [t["id"] for t in targets if t.get("type") in ("User", "ServicePrincipal")]
    return {
        "service": record["loggedByService"],
        "category": record["category"],
        "activity": record["activityDisplayName"],
        "modified_properties": sorted(props),
        "target_type": first.get("type"),
        "initiated_by": user.get("userPrincipalName") or app.get("displayName"),
        "self_initiated": (initiator_id in user_targets) if user_targets else None,
    }


def _map(matcher: ActivityMatcher, record: dict[str, Any]) -> ActivityMapping:
    sig = _signature(record)
    return matcher.match(sig.pop("service"), sig.pop("category"), sig.pop("activity"), **sig)


ADMIN = {"id": "0a0a0a0a-1111-4222-8333-444444444444", "displayName": None,
         "userPrincipalName": "pra@contoso.example", "ipAddress": "198.51.100.7"}
ALICE = {"id": "0b0b0b0b-1111-4222-8333-555555555555", "displayName": None,
         "userPrincipalName": "alice@contoso.example", "ipAddress": "198.51.100.8"}
ROLE = {"id": "fe930be7-5e62-47db-91af-98c3a49a38b1", "displayName": "User Administrator",
        "type": "Role", "modifiedProperties": []}


def _record(service: str, category: str, activity: str, initiator: dict[str, Any],
            targets: list[dict[str, Any]], n: int) -> dict[str, Any]:
    return {
        "id": f"{service[:4].upper()}_7d1c{n:04d}-aaaa-4bbb-8ccc-dddddddddddd_ABCDE_{n}",
        "category": category, "correlationId": f"7d1c{n:04d}-aaaa-4bbb-8ccc-dddddddddddd",
        "result": "success", "resultReason": "", "activityDisplayName": activity,
        "activityDateTime": "2026-03-02T10:15:00.1234567Z", "loggedByService": service,
        "operationType": "Add", "initiatedBy": {"user": initiator, "app": None},
        "targetResources": targets,
        "additionalDetails": [{"key": "RequestId", "value": f"req-{n}"}],
    }


def _user_target(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "displayName": None, "type": "User",
            "userPrincipalName": user["userPrincipalName"], "modifiedProperties": []}


def test_pim_request_completed_and_self_activation(matcher: ActivityMatcher) -> None:
    """An admin makes Alice eligible (request + completed), then Alice activates herself."""
    both = [ROLE, _user_target(ALICE)]
    requested = _record("PIM", "RoleManagement",
                        "Add eligible member to role in PIM requested (timebound)", ADMIN, both, 1)
    completed = _record("PIM", "RoleManagement",
                        "Add eligible member to role in PIM completed (timebound)", ADMIN, both, 2)
    direct = _record("PIM", "RoleManagement",
                     "Add member to role in PIM completed (permanent)", ADMIN, both, 3)
    activation = _record("PIM", "RoleManagement",
                         "Add member to role completed (PIM activation)", ALICE, both, 4)
    got = [_map(matcher, r) for r in (requested, completed, direct, activation)]
    assert [(m.kind, m.confidence) for m in got] == [
        ("system", "likely"), ("admin", "likely"), ("admin", "exact"), ("self_service", "exact")]
    assert got[0].actions == got[3].actions == ()
    assert got[1].actions == got[2].actions == (D + "roleAssignments/allProperties/allTasks",)
    assert got[1].rule_ids == ("pim.role.add-eligible-member-to-role-in-pim-completed-timebound",)


def test_pim_category_decides_what_is_managed(matcher: ActivityMatcher) -> None:
    group = {"id": "0c0c0c0c-1111-4222-8333-666666666666", "displayName": "Tier-1 admins",
             "type": "Group", "modifiedProperties": []}
    name = "Add member to role in PIM completed (timebound)"
    for_group = _map(matcher, _record("PIM", "GroupManagement", name, ADMIN,
                                      [group, _user_target(ALICE)], 5))
    for_azure = _map(matcher, _record("PIM", "ResourceManagement", name, ADMIN,
                                      [_user_target(ALICE)], 6))
    assert (for_group.kind, for_group.actions, for_group.confidence) == (
        "admin", (D + "groups/members/update",), "ambiguous")
    assert (for_azure.kind, for_azure.actions) == ("no_admin_right", ())
    settings = _map(matcher, _record("Privileged Identity Management", "RoleManagement",
                                     "Update role setting in PIM", ADMIN, [ROLE], 7))
    assert settings.actions == (D + "privilegedIdentityManagement/allProperties/allTasks",)


def test_security_info_by_admin_versus_by_the_user(matcher: ActivityMatcher) -> None:
    methods = {"id": ALICE["id"], "displayName": None, "type": "User",
               "userPrincipalName": ALICE["userPrincipalName"],
               "modifiedProperties": [{"displayName": "StrongAuthenticationPhoneAppDetail",
                                       "oldValue": "[]", "newValue": "[{\"DeviceName\":\"x\"}]"}]}
    by_admin = _map(matcher, _record("Authentication Methods", "UserManagement",
                                     "Admin registered security info", ADMIN, [methods], 8))
    by_user = _map(matcher, _record("Authentication Methods", "UserManagement",
                                    "User registered security info", ALICE, [methods], 9))
    assert (by_admin.kind, by_admin.actions, by_admin.confidence) == (
        "admin", (D + "users/authenticationMethods/create",), "exact")
    assert (by_user.kind, by_user.actions) == ("self_service", ())


def test_hardware_token_assignment_to_self_or_to_another_user(matcher: ActivityMatcher) -> None:
    name = "Assign Hardware Oath Token"
    to_alice = _map(matcher, _record("Authentication Methods", "ApplicationManagement", name,
                                     ADMIN, [_user_target(ALICE)], 10))
    by_alice = _map(matcher, _record("Authentication Methods", "ApplicationManagement", name,
                                     ALICE, [_user_target(ALICE)], 11))
    assert (to_alice.kind, to_alice.actions) == (
        "admin", (D + "users/authenticationMethods/create",))
    assert (by_alice.kind, by_alice.actions, by_alice.rule_ids) == (
        "self_service", (), ("authmethods.assign-hardware-oath-token.self",))


def test_access_review_created_versus_decided(matcher: ActivityMatcher) -> None:
    review = {"id": "0d0d0d0d-1111-4222-8333-777777777777", "displayName": "Quarterly review",
              "type": "Other", "modifiedProperties": []}
    created = _map(matcher, _record("Access Reviews", "Policy", "Create access review", ADMIN,
                                    [review], 12))
    decided = _map(matcher, _record("Access Reviews", "Policy", "Approve decision", ALICE,
                                    [review, _user_target(ALICE)], 13))
    applied = _map(matcher, _record("Access Reviews", "Policy", "Apply decision", ADMIN,
                                    [review], 14))
    assert (created.kind, created.actions, created.confidence) == (
        "admin", (D + "accessReviews/definitions.groups/create",), "ambiguous")
    assert (decided.kind, decided.actions) == ("no_admin_right", ())
    assert applied.kind == "system"


def test_access_package_assigned_requested_and_approved(matcher: ActivityMatcher) -> None:
    package = {"id": "0e0e0e0e-1111-4222-8333-888888888888", "displayName": "Sales tools",
               "type": "Other", "modifiedProperties": []}
    cat = "EntitlementManagement"
    assigned = _map(matcher, _record("Entitlement Management", cat,
                                     "Administrator directly assigns user to access package",
                                     ADMIN, [package, _user_target(ALICE)], 15))
    requested = _map(matcher, _record("Entitlement Management", cat,
                                      "User requests access package assignment", ALICE,
                                      [package], 16))
    approved = _map(matcher, _record("Entitlement Management", cat,
                                     "Approve access package assignment request", ADMIN,
                                     [package], 17))
    assert (assigned.kind, assigned.actions) == (
        "admin", (D + "entitlementManagement/allProperties/allTasks",))
    assert (requested.kind, approved.kind) == ("self_service", "no_admin_right")


def test_self_service_group_records_resolve_through_the_alias(matcher: ActivityMatcher) -> None:
    group = {"id": "0f0f0f0f-1111-4222-8333-999999999999", "displayName": "Book club",
             "type": "Group", "modifiedProperties": []}
    join = _map(matcher, _record("Self-service Group Management", "GroupManagement",
                                 "Request to join a group", ALICE, [group], 18))
    approve = _map(matcher, _record("Self-service Group Management", "GroupManagement",
                                    "Approve a pending request to join a group", ADMIN,
                                    [group], 19))
    assert (join.kind, approve.kind) == ("self_service", "no_admin_right")
