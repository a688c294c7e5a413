"""Tests of the audit-activity rule engine and of the Core Directory / Conditional Access /
Device Registration Service rules (permission_catalog/curation/audit_rules/)."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from permission_catalog.audit_rules import (
    KINDS,
    SERVICE_ALIASES,
    ActivityMatcher,
    AuditRule,
    AuditRulesError,
    Predicate,
    audit_rule_coverage,
    build_audit_rules_data,
    canonical_service,
    format_coverage,
    service_slug,
    value_property_names,
)
from permission_catalog.catalog import load_catalog
from permission_catalog.errors import CatalogError, InvalidValueError, UnknownNameError

RULES_DIR = Path(__file__).resolve().parents[2] / "permission_catalog" / "curation" / "audit_rules"
OWNED = {
    "Core Directory": "core_directory.yaml",
    "Conditional Access": "conditional_access.yaml",
    "Device Registration Service": "device_registration_service.yaml",
}
D = "microsoft.directory/"


# ------------------------------------------------------------------------------------------
# Fixtures: the real sources and the owned rule files
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def activities(shared: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(
        (shared / "sources/entra/audit_activities.json").read_text("utf-8"))
    return rows


@pytest.fixture(scope="module")
def known_actions(shared: Path) -> frozenset[str]:
    """Every action of every built-in role plus the custom-role permission pages."""
    src = shared / "sources/entra"
    roles = json.loads((src / "graph_roleDefinitions_beta_2026-05-04.json").read_text("utf-8"))
    names = {a for r in roles["value"] for p in r["rolePermissions"]
             for a in p["allowedResourceActions"]}
    names |= {row["action"] for row in json.loads((src / "custom_role_actions.json").read_text())}
    return frozenset(names)


@pytest.fixture(scope="module")
def owned_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only our three files, so that colleagues' work in progress cannot break these tests."""
    folder = tmp_path_factory.mktemp("owned_rules")
    for name in OWNED.values():
        shutil.copy(RULES_DIR / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def owned_rows(owned_dir: Path, activities: list[dict[str, str]],
               known_actions: frozenset[str]) -> list[dict[str, Any]]:
    return build_audit_rules_data(owned_dir, activities, known_actions)


@pytest.fixture(scope="module")
def matcher(owned_rows: list[dict[str, Any]]) -> ActivityMatcher:
    return ActivityMatcher(owned_rows)


def _short(actions: Iterable[str]) -> set[str]:
    return {a.removeprefix(D) for a in actions}


# ------------------------------------------------------------------------------------------
# Coverage of the owned services
# ------------------------------------------------------------------------------------------

def test_every_owned_activity_has_a_rule(owned_rows: list[dict[str, Any]],
                                         activities: list[dict[str, str]]) -> None:
    coverage = {c.service: c for c in audit_rule_coverage(owned_rows, activities)}
    for service in OWNED:
        rows = {(a["category"], a["activity"]) for a in activities if a["service"] == service}
        cov = coverage[service]
        assert cov.activities == len(rows) > 0
        assert cov.unknown_activities == ()
        assert cov.mapped + cov.no_admin_right == cov.activities
        assert cov.covered_share == 1.0


def test_every_documented_spelling_reaches_a_rule(matcher: ActivityMatcher,
                                                  activities: list[dict[str, str]]) -> None:
    for row in activities:
        if row["service"] in OWNED:
            got = matcher.match(row["service"], row["category"], row["activity"])
            assert got.kind != "unmapped", row


def test_every_named_action_exists(owned_rows: list[dict[str, Any]],
                                   known_actions: frozenset[str]) -> None:
    named = {a for row in owned_rows for a in row["actions"]}
    assert named and named <= known_actions


def test_actions_exactly_on_admin_rules(owned_rows: list[dict[str, Any]]) -> None:
    for row in owned_rows:
        assert row["kind"] in KINDS
        assert bool(row["actions"]) == (row["kind"] == "admin"), row["id"]


def test_generic_activities_are_property_specific(owned_rows: list[dict[str, Any]]) -> None:
    generic = ["Update user", "Update application", "Update service principal", "Update group",
               "Update device", "Update company"]
    for activity in generic:
        rules = [r for r in owned_rows if r["activity"] == activity]
        with_props = [r for r in rules if any(k.startswith("modified_properties_")
                                              for k in r["when"])]
        defaults = [r for r in rules if not r["when"]]
        assert len(with_props) >= 2 and len(defaults) == 1, activity


def test_full_folder_builds_with_unique_ids(activities: list[dict[str, str]],
                                            known_actions: frozenset[str]) -> None:
    """What build.py runs: every service's file together (ids unique across files)."""
    rows = build_audit_rules_data(RULES_DIR.parent, activities, known_actions)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert {r["source"] for r in rows} >= set(OWNED.values())


# ------------------------------------------------------------------------------------------
# Real-shaped records (the synthetic examples A, B, C of audit-log-formats.md, by hand)
# ------------------------------------------------------------------------------------------

EXAMPLE_A = {
    "id": "Directory_6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5_AB12C_123456789",
    "category": "RoleManagement", "result": "success",
    "activityDisplayName": "Add member to role", "loggedByService": "Core Directory",
    "operationType": "Assign",
    "initiatedBy": {"user": None, "app": {
        "appId": None, "displayName": "Example Provisioning App",
        "servicePrincipalId": "11111111-2222-4333-8444-555555555555"}},
    "targetResources": [
        {"id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "type": "ServicePrincipal",
         "modifiedProperties": [
             {"displayName": "Role.ObjectID", "oldValue": None, "newValue": '"fe930be7"'},
             {"displayName": "Role.DisplayName", "oldValue": None,
              "newValue": '"User Administrator"'},
             {"displayName": "Role.TemplateId", "oldValue": None, "newValue": '"fe930be7"'},
             {"displayName": "Role.WellKnownObjectName", "oldValue": None,
              "newValue": '"UserAccountAdmins"'},
             {"displayName": "TargetId.ServicePrincipalNames", "oldValue": None,
              "newValue": '"9999"'},
         ]},
        {"id": "fe930be7-5e62-47db-91af-98c3a49a38b1", "type": "Role", "modifiedProperties": []},
    ],
}

EXAMPLE_B = {  # Log Analytics row: the dynamic columns are JSON inside strings
    "OperationName": "Add member to group", "Category": "GroupManagement",
    "LoggedByService": "Core Directory", "Result": "success", "AADOperationType": "Assign",
    "ActivityDisplayName": "Add member to group",
    "InitiatedBy": json.dumps({"user": {"id": "33333333-4444-4555-8666-777777777777",
                                        "userPrincipalName": "admin@example.com"}}),
    "TargetResources": json.dumps([{
        "id": "44444444-5555-4666-8777-888888888888", "type": "User",
        "userPrincipalName": "pat@example.com",
        "modifiedProperties": [
            {"displayName": "Group.ObjectID", "oldValue": None, "newValue": '"5555"'},
            {"displayName": "Group.DisplayName", "oldValue": None,
             "newValue": '"Example Helpdesk"'},
        ]}]),
}

EXAMPLE_C = {  # diagnostic-settings envelope; the record lives under "properties"
    "operationName": "Add service principal credentials", "category": "AuditLogs",
    "identity": "Managed Service Identity",
    "properties": {
        "category": "ApplicationManagement", "result": "success",
        "activityDisplayName": "Add service principal credentials",
        "loggedByService": "Core Directory", "operationType": "Update",
        "initiatedBy": {"app": {"appId": None, "displayName": "Managed Service Identity",
                                "servicePrincipalId": "cccccccc-dddd-4eee-8fff-000000000001"}},
        "targetResources": [{
            "id": "cccccccc-dddd-4eee-8fff-000000000002", "type": "ServicePrincipal",
            "modifiedProperties": [
                {"displayName": "KeyDescription", "oldValue": "[]", "newValue": "[]"},
                {"displayName": "Included Updated Properties", "oldValue": None,
                 "newValue": '"KeyDescription"'},
            ]}],
    },
}


def _signature(record: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments ingest passes to ``match`` for one record (test scaffolding only)."""
    rec: Mapping[str, Any] = record.get("properties", record)

    def get(*keys: str) -> Any:
        return next((rec[k] for k in keys if k in rec), None)

    initiated = get("initiatedBy", "InitiatedBy")
    targets = get("targetResources", "TargetResources")
    initiated = json.loads(initiated) if isinstance(initiated, str) else initiated
    targets = json.loads(targets) if isinstance(targets, str) else targets
    first = targets[0] if targets else {}
    who = initiated.get("user") or initiated.get("app") or {}
    return {
        "service": get("loggedByService", "LoggedByService"),
        "category": get("category", "Category"),
        "activity": get("activityDisplayName", "ActivityDisplayName"),
        "modified_properties": [p["displayName"] for p in first.get("modifiedProperties", [])],
        "target_type": first.get("type"),
        "initiated_by": who.get("userPrincipalName") or who.get("displayName"),
    }


@pytest.mark.parametrize(("record", "expected"), [
    (EXAMPLE_A, {"roleAssignments/allProperties/allTasks"}),
    (EXAMPLE_B, {"groups/members/update"}),
    (EXAMPLE_C, {"servicePrincipals/credentials/update"}),
])
def test_real_shaped_records(matcher: ActivityMatcher, record: Mapping[str, Any],
                             expected: set[str]) -> None:
    got = matcher.match(**_signature(record))
    assert got.kind == "admin"
    assert _short(got.actions) == expected


def test_pim_twin_in_core_directory_is_not_an_admin_act(matcher: ActivityMatcher) -> None:
    sig = _signature(EXAMPLE_A) | {"initiated_by": "MS-PIM"}
    got = matcher.match(**sig)
    assert got.kind == "system" and got.actions == ()
    assert got.rule_ids == ("core.add-member-to-role.pim-twin",)


# ------------------------------------------------------------------------------------------
# Property-specific mapping of generic activities (real rules)
# ------------------------------------------------------------------------------------------

def test_update_user_property_sets(matcher: ActivityMatcher) -> None:
    def acts(props: str, **kw: Any) -> set[str]:
        return _short(matcher.match("Core Directory", "UserManagement", "Update user", props,
                                    "User", **kw).actions)

    assert acts("AccountEnabled") == {"users/disable", "users/enable"}
    assert acts("UsageLocation") == {"users/usageLocation/update"}
    assert acts("StrongAuthenticationMethod") == {
        "users/authenticationMethods/basic/update", "users/authenticationMethods/create",
        "users/authenticationMethods/delete"}
    assert acts("AccountEnabled|UsageLocation") == (
        acts("AccountEnabled") | acts("UsageLocation"))
    assert acts("JobTitle") == {"users/basic/update"}  # default rule
    assert acts("") == {"users/basic/update"}
    # A user editing their own security info needs no right; their job title still does.
    own = matcher.match("Core Directory", "UserManagement", "Update user",
                        "StrongAuthenticationMethod", "User", self_initiated=True)
    assert own.kind == "self_service" and own.actions == ()
    mixed = acts("StrongAuthenticationMethod|JobTitle", self_initiated=True)
    assert mixed == {"users/basic/update"}


def test_update_application_unions_sets_and_flags_unknown_properties(
        matcher: ActivityMatcher) -> None:
    known = matcher.match("Core Directory", "ApplicationManagement", "Update application",
                          ["AppAddress", "RequiredResourceAccess"], "Application")
    assert _short(known.actions) == {"applications/authentication/update",
                                     "applications/permissions/update"}
    assert known.confidence == "likely"
    odd = matcher.match("Core Directory", "ApplicationManagement", "Update application",
                        ["AppAddress", "SomethingNew"], "Application")
    assert _short(odd.actions) == {"applications/authentication/update",
                                   "applications/basic/update"}
    assert odd.confidence == "ambiguous"


def test_activity_spellings(matcher: ActivityMatcher) -> None:
    en_dash = "Update application – Certificates and secrets management "
    hyphen = "Update application - Certificates and secrets management"
    for name in (en_dash, hyphen, f"  {hyphen}  "):
        got = matcher.match("Core Directory", "ApplicationManagement", name)
        assert _short(got.actions) == {"applications/credentials/update"}
    em_dash = "Update application — Certificates and secrets management"
    assert matcher.match("Core Directory", None, em_dash).kind == "unmapped"
    legacy = matcher.match("Core Directory", None, "Update service principal.", "AccountEnabled")
    assert _short(legacy.actions) == {"servicePrincipals/disable", "servicePrincipals/enable"}
    ca = matcher.match("Conditional Access", "Policy", "Update conditional access policy")
    assert _short(ca.actions) == {"conditionalAccessPolicies/basic/update"}


def test_category_discriminates_and_ignores_spacing(matcher: ActivityMatcher) -> None:
    group = matcher.match("Core Directory", "GroupManagement", "Add app role assignment to group")
    user = matcher.match("Core Directory", "UserManagement", "Add app role assignment to group")
    assert group.rule_ids == ("core.add-app-role-assignment-to-group.group-management",)
    assert user.rule_ids == ("core.add-app-role-assignment-to-group.user-management",)
    unknown_cat = matcher.match("Core Directory", None, "Add app role assignment to group")
    assert set(unknown_cat.rule_ids) == set(group.rule_ids + user.rule_ids)
    spaced = matcher.match("Core Directory", "Application Management", "Update external secrets")
    assert spaced.rule_ids == ("core.update-external-secrets.application-management",)
    assert matcher.match("Core Directory", "Device", "Update external secrets").kind == "unmapped"


def test_unmapped_is_reported_not_dropped(matcher: ActivityMatcher) -> None:
    got = matcher.match("Core Directory", "UserManagement", "Teleport user")
    assert got.kind == "unmapped" and got.actions == () and got.rule_ids == ()
    assert "Teleport user" in got.rationale


def test_observable_actions_and_initiators(matcher: ActivityMatcher,
                                          owned_rows: list[dict[str, Any]]) -> None:
    admin = {a for r in owned_rows if r["kind"] == "admin" for a in r["actions"]}
    assert matcher.observable_actions() == admin
    # Audited reads are observable; ordinary reads are not.
    assert D + "deviceLocalCredentials/password/read" in admin
    assert D + "users/standard/read" not in admin
    assert "ms-pim" in matcher.initiator_names()


# ------------------------------------------------------------------------------------------
# Predicate semantics on hand-made rules
# ------------------------------------------------------------------------------------------

def _rule(rid: str, when: dict[str, Any] | None = None, actions: tuple[str, ...] = ("x/a",),
          kind: str = "admin", activity: str = "Update thing", **extra: Any) -> AuditRule:
    return AuditRule.from_dict({
        "id": rid, "service": "Core Directory", "activity": activity, "when": when or {},
        "actions": list(actions), "kind": kind, "confidence": extra.pop("confidence", "exact"),
        "rationale": f"rule {rid}", **extra})


def test_predicate_keys() -> None:
    p = Predicate.from_dict({"modified_properties_any": ["A", "ext_*"],
                             "modified_properties_none": ["Z"], "target_type": ["User", "Group"]})

    def holds(props: set[str], t: str | None = "user") -> bool:
        return p.holds(frozenset(props), t, None, None)

    assert holds({"a"}) and holds({"ext_color"}) and not holds({"b"})
    assert not holds({"a", "z"}) and not holds({"a"}, "Device") and not holds({"a"}, None)
    q = Predicate.from_dict({"modified_properties_all": ["A", "B*"]})
    assert q.holds(frozenset({"a", "bee"}), None, None, None)
    assert not q.holds(frozenset({"a"}), None, None, None)
    r = Predicate.from_dict({"initiated_by_any": ["MS-PIM"], "self_initiated": True})
    assert r.holds(frozenset(), None, "ms-pim", True)
    assert not r.holds(frozenset(), None, None, True)  # unknown initiator never matches
    assert not r.holds(frozenset(), None, "ms-pim", None)  # unknown self never matches
    assert (p.tier, q.tier, r.tier, Predicate().tier) == (1, 1, 0, 2)


def test_default_rule_fills_unclaimed_properties() -> None:
    m = ActivityMatcher([
        _rule("t.a", {"modified_properties_any": ["A"]}, ("x/a",)),
        _rule("t.b", {"modified_properties_any": ["B"]}, ("x/b",)),
        _rule("t.default", None, ("x/default",), confidence="ambiguous"),
    ])

    def acts(props: list[str]) -> set[str]:
        return set(m.match("Core Directory", None, "Update thing", props).actions)

    assert acts(["A"]) == {"x/a"}
    assert acts(["A", "B"]) == {"x/a", "x/b"}
    assert acts(["A", "C"]) == {"x/a", "x/default"}
    assert acts([]) == {"x/default"}
    assert m.match("Core Directory", None, "Update thing", ["A", "C"]).confidence == "ambiguous"
    # Included Updated Properties is a carrier, not a property: it never triggers the default.
    assert acts(["A", "Included Updated Properties"]) == {"x/a"}


def test_initiator_rules_override_or_claim() -> None:
    m = ActivityMatcher([
        _rule("t.twin", {"initiated_by_any": ["MS-PIM"]}, (), kind="system"),
        _rule("t.self", {"self_initiated": True, "modified_properties_any": ["Mine"]}, (),
              kind="self_service"),
        _rule("t.mine", {"modified_properties_any": ["Mine"]}, ("x/mine",)),
        _rule("t.default", None, ("x/default",)),
    ])
    got = m.match("Core Directory", None, "Update thing", ["Mine", "Other"], initiated_by="MS-PIM")
    assert (got.kind, got.actions, got.rule_ids) == ("system", (), ("t.twin",))
    own = m.match("Core Directory", None, "Update thing", ["Mine"], self_initiated=True)
    assert (own.kind, own.actions) == ("self_service", ())
    mixed = m.match("Core Directory", None, "Update thing", ["Mine", "Other"], self_initiated=True)
    assert (mixed.kind, mixed.actions) == ("admin", ("x/default",))
    other = m.match("Core Directory", None, "Update thing", ["Mine"], self_initiated=False)
    assert other.actions == ("x/mine",)


def test_match_accepts_string_and_list_forms() -> None:
    m = ActivityMatcher([_rule("t.a", {"modified_properties_any": ["A"]}), _rule("t.d", None,
                                                                                 ("x/d",))])
    as_list = m.match("Core Directory", "X", "Update thing", ["A", "B"])
    as_str = m.match(" core  directory ", "X", " Update thing ", "B|A")
    assert as_list == as_str


NAMES = ["A", "B", "C", "D", "E"]
name_lists = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)
predicates = st.fixed_dictionaries({}, optional={
    "modified_properties_any": name_lists, "modified_properties_all": name_lists,
    "modified_properties_none": name_lists, "self_initiated": st.booleans(),
    "initiated_by_any": st.just(["svc"]), "target_type": st.just("User")})
rule_sets = st.lists(st.tuples(predicates, st.sampled_from(KINDS)), min_size=1, max_size=6)
prop_sets = st.sets(st.sampled_from(NAMES), max_size=5)


def _matcher_from(specs: list[tuple[dict[str, Any], str]]) -> ActivityMatcher:
    return ActivityMatcher([
        _rule(f"t.r{i}", when, (f"x/{i}",) if kind == "admin" else (), kind=kind)
        for i, (when, kind) in enumerate(specs)])


@given(rule_sets, prop_sets, st.sampled_from([None, True, False]),
       st.sampled_from([None, "svc", "other"]), st.sampled_from([None, "User", "Group"]))
def test_unrelated_property_never_removes_an_action(
        specs: list[tuple[dict[str, Any], str]], props: set[str], self_init: bool | None,
        initiator: str | None, target: str | None) -> None:
    m = _matcher_from(specs)
    kw: dict[str, Any] = {"target_type": target, "initiated_by": initiator,
                          "self_initiated": self_init}
    before = m.match("Core Directory", None, "Update thing", sorted(props), **kw)
    after = m.match("Core Directory", None, "Update thing", [*sorted(props), "Unrelated"], **kw)
    assert set(before.actions) <= set(after.actions)


any_only = st.lists(st.tuples(st.fixed_dictionaries({"modified_properties_any": name_lists}),
                              st.just("admin")), min_size=1, max_size=6)


@given(any_only, prop_sets, prop_sets)
def test_property_rules_union(specs: list[tuple[dict[str, Any], str]], p1: set[str],
                              p2: set[str]) -> None:
    m = _matcher_from(specs)

    def acts(p: set[str]) -> set[str]:
        return set(m.match("Core Directory", None, "Update thing", sorted(p)).actions)

    assert acts(p1 | p2) == acts(p1) | acts(p2)


def test_real_rules_are_monotone_in_unrelated_properties(
        matcher: ActivityMatcher, owned_rows: list[dict[str, Any]]) -> None:
    """Every owned activity, every single property its rules mention, plus a stranger."""
    by_activity: dict[tuple[str, str], set[str]] = {}
    for row in owned_rows:
        names = by_activity.setdefault((row["service"], row["activity"]), set())
        for key, value in row["when"].items():
            if key.startswith("modified_properties_"):
                names.update(value)
    for (service, activity), names in sorted(by_activity.items()):
        for subset in [[], *([n] for n in sorted(names)), sorted(names)]:
            base = matcher.match(service, None, activity, subset)
            more = matcher.match(service, None, activity, [*subset, "NoRuleMentionsThis"])
            assert set(base.actions) <= set(more.actions), (activity, subset)


# ------------------------------------------------------------------------------------------
# Service aliases
# ------------------------------------------------------------------------------------------

def test_service_aliases(activities: list[dict[str, str]]) -> None:
    documented = {a["service"] for a in activities}
    assert set(SERVICE_ALIASES.values()) <= documented
    assert canonical_service("PIM", documented) == "Privileged Identity Management (PIM)"
    assert canonical_service("Self-service Group Management", documented) == (
        "Self-service group management")
    assert canonical_service("  core   directory ", documented) == "Core Directory"
    assert canonical_service("Something Else ", documented) == "Something Else"
    assert service_slug("Device Registration Service") == "device_registration_service"


def test_matcher_resolves_logged_by_service_names() -> None:
    m = ActivityMatcher([AuditRule.from_dict({
        "id": "p.x", "service": "Privileged Identity Management (PIM)",
        "activity": "Add member to role completed (PIM activation)", "actions": [],
        "kind": "self_service", "confidence": "exact", "rationale": "self activation"})])
    for logged in ("PIM", "pim", "Privileged Identity Management (PIM)"):
        got = m.match(logged, "RoleManagement", "Add member to role completed (PIM activation)")
        assert got.rule_ids == ("p.x",) and got.kind == "self_service"


# ------------------------------------------------------------------------------------------
# Validation of hand-made bad YAML
# ------------------------------------------------------------------------------------------

ACTIVITIES = [
    {"service": "Core Directory", "category": "UserManagement", "activity": "Update user"},
    {"service": "Core Directory", "category": "UserManagement", "activity": "Delete user"},
    {"service": "Core Directory", "category": "GroupManagement", "activity": "Add group"},
]
KNOWN = frozenset({D + "users/basic/update", D + "users/delete", D + "groups/create"})
GOOD = {"id": "core.delete-user", "service": "Core Directory", "activity": "Delete user",
        "actions": [D + "users/delete"], "kind": "admin", "confidence": "exact",
        "rationale": "soft-deleting a user"}


def _write(folder: Path, name: str, rules: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump(rules, sort_keys=False), "utf-8")


def _build(folder: Path) -> list[dict[str, Any]]:
    return build_audit_rules_data(folder, ACTIVITIES, KNOWN)


def test_valid_minimal_file(tmp_path: Path) -> None:
    _write(tmp_path, "core_directory.yaml", [GOOD])
    (row,) = _build(tmp_path)
    assert row["id"] == "core.delete-user" and row["source"] == "core_directory.yaml"
    assert AuditRule.from_dict(row).to_dict() == row


def test_unknown_activity_names_file_rule_and_suggestion(tmp_path: Path) -> None:
    _write(tmp_path, "core_directory.yaml", [GOOD | {"activity": "Delete usr"}])
    with pytest.raises(UnknownNameError) as err:
        _build(tmp_path)
    msg = str(err.value)
    assert "core_directory.yaml:1" in msg and "core.delete-user" in msg
    assert "'Delete usr'" in msg and "'Delete user'" in msg and "activity" in msg


def test_unknown_action_suggests_close_match(tmp_path: Path) -> None:
    _write(tmp_path, "core_directory.yaml", [GOOD | {"actions": [D + "users/delet"]}])
    with pytest.raises(UnknownNameError) as err:
        _build(tmp_path)
    assert err.value.suggestions[0] == D + "users/delete"
    assert "field 'actions'" in str(err.value)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", [GOOD])
    _write(tmp_path, "b.yaml", [GOOD | {"activity": "Update user",
                                        "actions": [D + "users/basic/update"]}])
    with pytest.raises(InvalidValueError, match=r"b\.yaml.*duplicate id \(also in a\.yaml\)"):
        _build(tmp_path)


@pytest.mark.parametrize(("change", "error", "pattern"), [
    ({"actions": []}, InvalidValueError, "kind 'admin' needs at least one action"),
    ({"kind": "system"}, InvalidValueError, "kind 'system' takes no actions"),
    ({"kind": "adimn"}, UnknownNameError, "did you mean 'admin'"),
    ({"confidence": "sure"}, UnknownNameError, "unknown confidence"),
    ({"when": {"modified_properties_anny": ["A"]}}, UnknownNameError,
     "did you mean 'modified_properties_any'"),
    ({"when": {"modified_properties_any": "AccountEnabled"}}, InvalidValueError,
     "predicate 'modified_properties_any': bad value"),
    ({"when": {"modified_properties_any": ["*"]}}, InvalidValueError, "bad value"),
    ({"when": {"initiated_by_any": ["MS-*"]}}, InvalidValueError, "without '\\*'"),
    ({"when": {"self_initiated": "yes"}}, InvalidValueError, "true or false"),
    ({"when": {}}, InvalidValueError, "omit it instead"),
    ({"category": "GroupManagement"}, UnknownNameError, "'UserManagement'"),
    ({"service": "Core Directroy"}, UnknownNameError, "did you mean 'Core Directory'"),
    ({"id": "Core Delete"}, InvalidValueError, "field 'id'"),
    ({"rationale": "two\nlines"}, InvalidValueError, "one non-empty line"),
    ({"also_logged_as": ["Update user"]}, InvalidValueError, "documented activities"),
    ({"colour": "blue"}, UnknownNameError, "unknown rule field"),
])
def test_single_problem_raises_its_own_error(tmp_path: Path, change: dict[str, Any],
                                              error: type[Exception], pattern: str) -> None:
    _write(tmp_path, "core_directory.yaml", [GOOD | change])
    with pytest.raises(error, match=pattern):
        _build(tmp_path)


def test_missing_field_and_bad_top_level(tmp_path: Path) -> None:
    rule = dict(GOOD)
    del rule["kind"]
    _write(tmp_path / "one", "x.yaml", [rule])
    with pytest.raises(InvalidValueError, match="field 'kind' is missing"):
        _build(tmp_path / "one")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "x.yaml").write_text("id: not-a-list\n", "utf-8")
    with pytest.raises(InvalidValueError, match="top level must be a list"):
        _build(tmp_path / "two")
    with pytest.raises(CatalogError, match="not found"):
        _build(tmp_path / "absent")


def test_same_route_twice_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "x.yaml", [GOOD, GOOD | {"id": "core.delete-user.again"}])
    with pytest.raises(InvalidValueError, match="same activity, category and predicate"):
        _build(tmp_path)


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    _write(tmp_path, "x.yaml", [GOOD | {"activity": "Delete usr"},
                                GOOD | {"id": "core.two", "actions": [D + "nope/x"]},
                                GOOD | {"id": "core.three", "kind": "admin", "actions": []}])
    with pytest.raises(AuditRulesError) as err:
        _build(tmp_path)
    assert len(err.value.errors) == 3
    text = str(err.value)
    assert "x.yaml:1" in text and "core.two" in text and "core.three" in text


# ------------------------------------------------------------------------------------------
# Determinism and reporting
# ------------------------------------------------------------------------------------------

def test_build_is_deterministic(owned_dir: Path, tmp_path: Path, activities: list[dict[str, str]],
                                known_actions: frozenset[str],
                                owned_rows: list[dict[str, Any]]) -> None:
    # Same files written in another order, activities and actions given in another order.
    for name in sorted((p.name for p in owned_dir.iterdir()), reverse=True):
        shutil.copy(owned_dir / name, tmp_path / name)
    shuffled = list(activities)
    random.Random(7).shuffle(shuffled)
    again = build_audit_rules_data(tmp_path, shuffled, sorted(known_actions, reverse=True))
    assert json.dumps(again, sort_keys=False) == json.dumps(owned_rows, sort_keys=False)


def test_matcher_ignores_rule_order(owned_rows: list[dict[str, Any]],
                                    matcher: ActivityMatcher) -> None:
    shuffled = list(owned_rows)
    random.Random(3).shuffle(shuffled)
    other = ActivityMatcher(shuffled)
    assert other.rules == matcher.rules
    for props in ([], ["AccountEnabled", "JobTitle"], ["StrongAuthenticationMethod"]):
        assert other.match("Core Directory", "UserManagement", "Update user", props) == (
            matcher.match("Core Directory", "UserManagement", "Update user", props))


def test_coverage_table(owned_rows: list[dict[str, Any]],
                        activities: list[dict[str, str]]) -> None:
    coverage = audit_rule_coverage(owned_rows, activities)
    assert [c.service for c in coverage] == sorted({a["service"] for a in activities})
    other = next(c for c in coverage if c.service == "B2C")
    assert other.unknown == other.activities > 0 and other.mapped == 0
    table = format_coverage(coverage).splitlines()
    assert table[0].split() == ["service", "total", "mapped", "no-admin", "unknown"]
    assert table[-1].split()[1:] == [str(len(activities)), str(sum(c.mapped for c in coverage)),
                                     str(sum(c.no_admin_right for c in coverage)),
                                     str(sum(c.unknown for c in coverage))]


def test_value_property_names_match_the_loaded_rules(tmp_path: Path) -> None:
    # stage 1 reads this list from the rules file alone; it must be what the matcher tests
    loaded = frozenset().union(*(r.when.value_names() for r in load_catalog().audit_rules))
    assert value_property_names() == loaded
    assert value_property_names()  # the bundled rules test at least one property's value
    rules = [
        {"when": {"modified_values_any": {"  Some.Flag ": ["True"], "Other": ["x"]}}},
        {"when": {"target_type": ["User"]}},
        {"when": None},
    ]
    path = tmp_path / "audit_rules.json"
    path.write_text(json.dumps({"rules": rules, "schema_version": 1}), "utf-8")
    assert value_property_names(path) == {"some.flag", "other"}
    assert value_property_names(tmp_path / "missing.json") == frozenset()
