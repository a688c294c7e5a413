"""Audit rules against what real Entra records say (issue 3).

Microsoft's activity list and real records disagree on some spellings (``Reset user password``
for the list's ``Reset password``), on ``loggedByService`` names (``Self-service Password
Management``, ``AAD Management UX``, ``PIM``), on case, and on trailing periods. Every spelling
in ``REAL`` was found in public detection content or documentation (source in the last column);
each is fed through the matcher built from the whole rule folder, with the service and category
the source gives, and must map to the intended reading. The second half tests the engine
features these spellings needed: case-insensitive names, the trailing-period retry,
``undocumented`` rules and value predicates (``modified_values_any``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from permission_catalog.audit_rules import (
    ActivityMatcher,
    AuditRule,
    AuditRulesError,
    Predicate,
    audit_rule_coverage,
    build_audit_rules_data,
)
from permission_catalog.errors import InvalidValueError

RULES_DIR = Path(__file__).resolve().parents[2] / "permission_catalog/curation/audit_rules"
D = "microsoft.directory/"

# Sources (repository + path) of the spellings below.
SENTINEL_RESET = "Azure/Azure-Sentinel Hunting Queries/AuditLogs/BulkPasswordResetByActor.yaml"
FBADER_RESET = "f-bader/AzSentinelQueries AnalyticsRules/PasswordResetOnHighPrivilegedUser.yaml"
SYSKIT = "SysKitTeam/docs-securitymanager how-to/customize-audit-logs-collection/"
SIGMA = "SigmaHQ/sigma rules/cloud/azure/audit_logs/"
SENTINEL_PIM = ("Azure/Azure-Sentinel Hunting Queries/AuditLogs/"
                "PIMRoleActivationOutsideBusinessHours.yaml")
SENTINEL_MFA = "Azure/Azure-Sentinel Hunting Queries/AuditLogs/AccountMFAModifications.yaml"
SENTINEL_XTAS = "Azure/Azure-Sentinel Solutions/Microsoft Entra ID/Analytic Rules/"
SENTINEL_GRANT = ("Azure/Azure-Sentinel Solutions/Microsoft Entra ID/Analytic Rules/"
                  "AzureADRoleManagementPermissionGrant.yaml")
SSPR_QUERIES = "le0li9ht/Microsoft-Sentinel-Queries EntraID/PasswordReset.md"
FIC = ("f-bader/AzSentinelQueries AnalyticsRules/"
       "UnauthorizedFederatedCredentialAddedToManagedIdentity.yaml")
MFA_BLOG = ("https://techcommunity.microsoft.com/t5/microsoft-security-experts-blog/"
            "hunting-for-mfa-manipulations-in-entra-id-tenants-using-kql/ba-p/4154039")
ROLES_MD = SYSKIT + "role-administration-activities.md"
APPS_MD = SYSKIT + "application-administration-activities.md"
DIR_MD = SYSKIT + "directory-administration-activities.md"
CHADMCOX = "chadmcox/AzureADPoSh whoAddedCredstoSPAPP.ps1"

# (loggedByService, category, activity, modified properties, target type, kind, actions, source)
REAL: list[tuple[str, str, str, str, str, str, set[str], str]] = [
    # --- passwords -------------------------------------------------------------------------------
    ("Core Directory", "UserManagement", "Reset user password", "", "User",
     "admin", {"users/password/update"}, FBADER_RESET),
    ("Self-service Password Management", "UserManagement", "Reset password (by admin)", "", "User",
     "admin", {"users/password/update"}, SENTINEL_RESET),
    ("Self-service Password Management", "UserManagement", "Change password (self-service)", "",
     "User", "self_service", set(), SSPR_QUERIES),
    # --- authentication methods ------------------------------------------------------------------
    ("Authentication Methods", "UserManagement", "Admin registered security info", "", "User",
     "admin", {"users/authenticationMethods/create"}, SENTINEL_MFA),
    ("Authentication Methods", "UserManagement", "Admin updated security info", "", "User",
     "admin", {"users/authenticationMethods/basic/update"}, SENTINEL_MFA),
    ("Authentication Methods", "UserManagement", "Admin deleted security info", "", "User",
     "admin", {"users/authenticationMethods/delete"}, SENTINEL_MFA),
    ("Authentication Methods", "UserManagement", "User registered security info", "", "User",
     "self_service", set(), SENTINEL_MFA),
    ("Core Directory", "UserManagement", "Update user", "StrongAuthenticationMethod", "User",
     "admin", {"users/authenticationMethods/basic/update", "users/authenticationMethods/create",
               "users/authenticationMethods/delete"},
     MFA_BLOG),
    ("Core Directory", "UserManagement", "Update user", "StrongAuthenticationUserDetails", "User",
     "admin", {"users/authenticationMethods/basic/update", "users/authenticationMethods/create",
               "users/authenticationMethods/delete"}, MFA_BLOG),
    ("Core Directory", "UserManagement", "Update user", "StrongAuthenticationRequirement", "User",
     "admin", {"users/authenticationMethods/basic/update"},
     SIGMA + "azure_user_account_mfa_disable.yml"),
    ("Core Directory", "UserManagement", "Update user",
     "AccountEnabled|Included Updated Properties", "User",
     "admin", {"users/disable", "users/enable"}, SYSKIT + "user-administration-activities.md"),
    ("Core Directory", "UserManagement", "Set license properties", "", "User",
     "admin", {"users/assignLicense"}, SYSKIT + "user-administration-activities.md"),
    ("Authentication Methods", "Policy", "Update authentication methods policy", "", "Policy",
     "admin", {"userCredentialPolicies/basic/update"},
     SIGMA + "azure_ad_authentication_methods_policy_modified.yml"),
    # --- roles and PIM ---------------------------------------------------------------------------
    ("Core Directory", "RoleManagement", "Add role member to role", "Role.DisplayName", "User",
     "admin", {"roleAssignments/allProperties/allTasks"}, ROLES_MD),
    ("Core Directory", "RoleManagement", "Remove role member from role", "", "User",
     "admin", {"roleAssignments/allProperties/allTasks"}, ROLES_MD),
    ("PIM", "RoleManagement", "Add member to role (PIM activation)", "", "User",
     "self_service", set(), SENTINEL_PIM),
    ("PIM", "RoleManagement", "Add member to role. (PIM activation)", "", "User",
     "self_service", set(), SENTINEL_PIM),
    ("PIM", "RoleManagement", "Add eligible member to role. (PIM activation)", "", "User",
     "self_service", set(), SENTINEL_PIM),
    ("PIM", "RoleManagement", "Add eligible member to role in PIM completed (permanent)", "",
     "Role", "admin", {"roleAssignments/allProperties/allTasks"},
     "elastic/detection-rules (azure.auditlogs.operation_name)"),
    # --- apps, consent, credentials, owners ------------------------------------------------------
    ("Core Directory", "ApplicationManagement", "Add app role assignment grant to user", "",
     "ServicePrincipal", "admin", {"servicePrincipals/appRoleAssignedTo/update"},
     APPS_MD),
    ("Core Directory", "ApplicationManagement", "Add OAuth2PermissionGrant", "", "ServicePrincipal",
     "admin", {"oAuth2PermissionGrants/create"}, APPS_MD),
    ("Core Directory", "ApplicationManagement", "Add delegation entry", "", "ServicePrincipal",
     "admin", {"oAuth2PermissionGrants/create"}, APPS_MD),
    ("Core Directory", "ApplicationManagement", "Remove delegation entry", "", "ServicePrincipal",
     "admin", {"oAuth2PermissionGrants/allProperties/allTasks"},
     APPS_MD),
    ("Core Directory", "ApplicationManagement", "Set delegation entry", "", "ServicePrincipal",
     "admin", {"oAuth2PermissionGrants/basic/update"},
     APPS_MD),
    ("Core Directory", "ApplicationManagement", "Add delegated permission grant",
     "DelegatedPermissionGrant.Scope", "ServicePrincipal",
     "admin", {"oAuth2PermissionGrants/create"}, SENTINEL_GRANT),
    ("Core Directory", "ApplicationManagement", "Add app role assignment to service principal",
     "AppRole.Value", "ServicePrincipal",
     "admin", {"servicePrincipals/appRoleAssignedTo/update"}, SENTINEL_GRANT),
    ("Core Directory", "ApplicationManagement",
     "Update application – Certificates and secrets management ", "KeyDescription", "Application",
     "admin", {"applications/credentials/update"},
     SIGMA + "azure_app_credential_added.yml; " + CHADMCOX),
    ("Core Directory", "ApplicationManagement", "Update service principal",
     "FederatedIdentityCredentials", "ServicePrincipal", "no_admin_right", set(), FIC),
    # --- domains, federation, tenant -------------------------------------------------------------
    ("Core Directory", "DirectoryManagement", "Add domain to company", "", "Domain",
     "admin", {"domains/allProperties/allTasks"}, DIR_MD),
    ("Core Directory", "DirectoryManagement", "Remove domain from company", "", "Domain",
     "admin", {"domains/allProperties/allTasks"}, DIR_MD),
    ("Core Directory", "DirectoryManagement", "Set DirSyncEnabled flag on company", "", "",
     "admin", {"organization/dirSync/update"}, DIR_MD),
    ("Core Directory", "DirectoryManagement", "Set company contact information", "", "",
     "admin", {"organization/basic/update"}, ROLES_MD),
    ("Core Directory", "DirectoryManagement", "Set domain authentication", "LiveType", "Domain",
     "admin", {"domains/federation/update"},
     "Azure/Azure-Sentinel Solutions/Microsoft Entra ID/Analytic Rules/ADFSDomainTrustMods.yaml"),
    # --- cross-tenant access ---------------------------------------------------------------------
    ("Core Directory", "CrossTenantAccessSettings", "Add a partner to cross-tenant access setting",
     "tenantId", "Policy", "admin", {"crossTenantAccessPolicy/partners/create"},
     SENTINEL_XTAS + "Cross-tenantAccessSettingsOrganizationAdded.yaml"),
    ("Core Directory", "CrossTenantAccessSettings", "Update a partner cross-tenant access setting",
     "b2bDirectConnectInbound", "Policy", "admin",
     {"crossTenantAccessPolicy/partners/b2bDirectConnect/update"},
     SENTINEL_XTAS + "Cross-tenantAccessSettingsOrganizationInboundDirectSettingsChanged.yaml"),
    ("Core Directory", "CrossTenantAccessSettings", "Create a partner cross-tenant access setting",
     "", "Policy", "admin", {"crossTenantAccessPolicy/partners/create"},
     SIGMA + "azure_ad_cross_tenant_access_setting_modified.yml"),
    ("Core Directory", "CrossTenantAccessSettings", "Delete a partner cross-tenant access setting",
     "", "Policy", "admin", {"crossTenantAccessPolicy/partners/delete"},
     SIGMA + "azure_ad_cross_tenant_access_setting_modified.yml"),
    # --- devices ---------------------------------------------------------------------------------
    ("Device Registration Service", "Device", "Recover device local administrator password", "",
     "Device", "admin", {"deviceLocalCredentials/password/read"},
     SIGMA + "azure_auditlogs_laps_credential_dumping.yml"),
    ("Device Registration Service", "KeyManagement", "Read BitLocker key", "", "Device",
     "admin", {"bitlockerKeys/key/read"}, SIGMA + "azure_ad_bitlocker_key_retrieval.yml"),
    ("Device Registration Service", "Policy", "Set device registration policies", "", "Policy",
     "admin", {"deviceRegistrationPolicy/basic/update"},
     SIGMA + "azure_ad_device_registration_policy_changes.yml"),
    # --- risk policies (service logged as "AAD Management UX") -----------------------------------
    ("AAD Management UX", "Policy", "Update User Risk and MFA Registration Policy", "", "Policy",
     "admin", {"identityProtection/allProperties/update"},
     SIGMA + "azure_update_risk_and_mfa_registration_policy.yml"),
]

# Spellings that differ from a documented activity only by case: they must map exactly as the
# documented spelling does. (loggedByService, category, real, documented, source)
CASE_VARIANTS = [
    ("PIM", "RoleManagement", "Disable PIM Alert", "Disable PIM alert",
     SIGMA + "azure_pim_alerts_disabled.yml"),
    ("Core Directory", "UserManagement", "Update User", "Update user", MFA_BLOG),
    ("Core Directory", "DirectoryManagement", "Create company", "Create Company",
     DIR_MD),
    ("Conditional Access", "Policy", "Update conditional access policy",
     "Update Conditional Access policy",
     SIGMA + "azure_aad_secops_ca_policy_updatedby_bad_actor.yml"),
]


@pytest.fixture(scope="module")
def activities(shared: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(
        (shared / "sources/entra/audit_activities.json").read_text("utf-8"))
    return rows


@pytest.fixture(scope="module")
def known_actions(shared: Path) -> frozenset[str]:
    src = shared / "sources/entra"
    roles = json.loads((src / "graph_roleDefinitions_beta_2026-05-04.json").read_text("utf-8"))
    names = {a for r in roles["value"] for p in r["rolePermissions"]
             for a in p["allowedResourceActions"]}
    names |= {row["action"] for row in json.loads((src / "custom_role_actions.json").read_text())}
    return frozenset(names)


@pytest.fixture(scope="module")
def all_rules(activities: list[dict[str, str]],
              known_actions: frozenset[str]) -> list[dict[str, Any]]:
    """The whole folder, as build.py validates it."""
    return build_audit_rules_data(RULES_DIR, activities, known_actions)


@pytest.fixture(scope="module")
def matcher(all_rules: list[dict[str, Any]]) -> ActivityMatcher:
    return ActivityMatcher(all_rules)


def _short(actions: tuple[str, ...]) -> set[str]:
    return {a.split("/", 1)[1] for a in actions}


# ------------------------------------------------------------------------------------------
# Every gathered spelling maps as intended
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("service", "category", "activity", "props", "target", "kind",
                          "actions", "source"), REAL, ids=[r[2].strip() for r in REAL])
def test_real_spelling_maps_as_intended(matcher: ActivityMatcher, service: str, category: str,
                                        activity: str, props: str, target: str, kind: str,
                                        actions: set[str], source: str) -> None:
    got = matcher.match(service, category, activity, props, target or None)
    assert (got.kind, _short(got.actions)) == (kind, actions), source
    # Where no rule of the activity is category-specific, an export that drops the category
    # (or spells it otherwise) must read the same.
    by_id = {r.id: r for r in matcher.rules}
    if all(by_id[i].category is None for i in got.rule_ids):
        assert matcher.match(service, "Other", activity, props, target or None) == got


@pytest.mark.parametrize(("service", "category", "real", "documented", "source"), CASE_VARIANTS,
                         ids=[c[2] for c in CASE_VARIANTS])
def test_case_variants_map_like_the_documented_name(matcher: ActivityMatcher, service: str,
                                                    category: str, real: str, documented: str,
                                                    source: str) -> None:
    assert real != documented
    got, doc = matcher.match(service, category, real), matcher.match(service, category, documented)
    assert got.kind != "unmapped", source
    assert got == doc


def test_gathered_undocumented_spellings_are_not_in_microsofts_list(
        activities: list[dict[str, str]]) -> None:
    """The table is worth having only for names the list lacks or spells otherwise."""
    folded = {(r["service"], r["activity"].casefold()) for r in activities}
    fresh = [r for r in REAL if r[0] == "Core Directory"
             and ("Core Directory", r[2].strip().casefold()) not in folded]
    assert len(fresh) >= 12  # guards against the table silently shrinking to documented names
    assert all(r[7] for r in REAL)  # every row names where it was seen


def test_every_alias_and_undocumented_rule_names_its_source() -> None:
    """A comment with a repository path (or an ``undocumented`` note) sits next to every
    spelling added from public material."""
    for path in sorted(RULES_DIR.glob("*.yaml")):
        text = path.read_text("utf-8")
        for rule in yaml.safe_load(text) or []:
            if rule.get("undocumented"):
                assert "/" in rule["undocumented"], (path.name, rule["id"])
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("also_logged_as:") and not line.strip().endswith("]"):
                block = lines[i + 1:i + 8]
                comments = [b for b in block if b.strip().startswith("#")]
                assert any("/" in c for c in comments), (path.name, i + 1)


# ------------------------------------------------------------------------------------------
# Services added for real logs: every documented row reaches a rule
# ------------------------------------------------------------------------------------------

NEW_SERVICES = (
    "Self-service password management", "Identity protection", "Microsoft Entra Management UX",
    "Hybrid Authentication", "Microsoft Entra multifactor authentication (Azure MFA)",
    "Account provisioning", "Lifecycle Workflows", "Terms of use", "Mobility Management",
    "B2B Auth", "Verified ID", "Global Secure Access (preview)",
    "Microsoft Identity Manager (MIM) Service",
)


def test_added_services_cover_their_documented_rows(matcher: ActivityMatcher,
                                                    all_rules: list[dict[str, Any]],
                                                    activities: list[dict[str, str]]) -> None:
    coverage = {c.service: c for c in audit_rule_coverage(all_rules, activities)}
    for service in NEW_SERVICES:
        assert coverage[service].unknown_activities == (), service
        rows = [r for r in activities if r["service"] == service]
        assert rows, service
        for row in rows:
            assert matcher.match(service, row["category"], row["activity"]).kind != "unmapped"


def test_sspr_admin_reset_and_core_twin_agree(matcher: ActivityMatcher) -> None:
    """The portal's admin reset writes both records; they must not disagree on the right."""
    sspr = matcher.match("SSPR", "UserManagement", "Reset password (by admin)", (), "User")
    core = matcher.match("Core Directory", "UserManagement", "Reset user password", (), "User")
    assert sspr.actions == core.actions == (D + "users/password/update",)
    own = matcher.match("Core Directory", "UserManagement", "Reset user password", (), "User",
                        self_initiated=True)
    assert own.kind == "self_service" and own.actions == ()


def test_consent_reads_the_admin_consent_flag(matcher: ActivityMatcher) -> None:
    """User consent (ConsentContext.IsAdminConsent = False) uses no admin right; admin consent
    and an unknown flag keep the admin reading."""
    props = ["ConsentContext.IsAdminConsent", "ConsentContext.IsAppOnly",
             "ConsentContext.OnBehalfOfAll", "ConsentAction.Permissions"]
    args = ("Core Directory", "ApplicationManagement", "Consent to application", props,
            "ServicePrincipal")
    user = matcher.match(*args, property_values={"ConsentContext.IsAdminConsent": "False"})
    assert (user.kind, user.actions) == ("self_service", ())
    assert "consentcontext.isadminconsent" in matcher.value_properties()
    admin = matcher.match(*args, property_values="ConsentContext.IsAdminConsent=True")
    unknown = matcher.match(*args)
    assert admin == unknown
    assert admin.kind == "admin" and admin.actions


# ------------------------------------------------------------------------------------------
# Engine: names, trailing periods, undocumented rules, value predicates
# ------------------------------------------------------------------------------------------

def _rule(rid: str, activity: str, when: dict[str, Any] | None = None,
          actions: tuple[str, ...] = ("x/a",), kind: str = "admin", **extra: Any) -> AuditRule:
    return AuditRule.from_dict({
        "id": rid, "service": "S", "activity": activity, "when": when or {},
        "actions": list(actions), "kind": kind, "confidence": "exact", "rationale": "r",
        **extra})


def test_names_ignore_case_and_spacing_and_a_trailing_period() -> None:
    m = ActivityMatcher([_rule("a", "Update widget"),
                         _rule("b", "Update widget.", actions=("x/b",))])
    assert m.match("S", None, "  update   WIDGET ").rule_ids == ("a",)
    # A rule that knows the dotted name wins over the retry without the period.
    assert m.match("S", None, "Update widget.").rule_ids == ("b",)
    only = ActivityMatcher([_rule("a", "Update widget")])
    assert only.match("S", None, "update widget.").rule_ids == ("a",)
    assert only.match("S", None, "Update widget..").kind == "unmapped"
    assert only.match("S", None, "Update widgets").kind == "unmapped"
    # The rationale of an unmapped record quotes the record, not a folded key.
    assert "Update Gadget" in only.match("S", None, "Update Gadget").rationale


def test_value_predicate_decides_alone_and_needs_values() -> None:
    m = ActivityMatcher([
        _rule("user", "Consent", {"modified_values_any": {"P.Flag": ["False"]}}, (),
              "self_service"),
        _rule("admin", "Consent"),
    ])
    assert m.value_properties() == frozenset({"p.flag"})
    assert m.match("S", None, "Consent", "P.Flag|Q").rule_ids == ("admin",)
    for values in ({"p.flag": "false"}, ["P.Flag=False"], "Other=1|P.Flag=FALSE"):
        assert m.match("S", None, "Consent", "P.Flag|Q", property_values=values).rule_ids == (
            "user",)
    assert m.match("S", None, "Consent", "P.Flag", property_values={"P.Flag": "True"}).rule_ids \
        == ("admin",)
    # Values of properties no rule tests are dropped before memoisation.
    a = m.match("S", None, "Consent", (), property_values={"Unrelated": "1"})
    b = m.match("S", None, "Consent", (), property_values={})
    assert a is b


def test_value_predicate_round_trips_through_json() -> None:
    pred = Predicate.from_dict({"modified_values_any": {"B": ["x"], "A": ["y", "z"]}})
    assert pred.tier == 0 and not pred.has_property_keys
    assert pred.to_dict() == {"modified_values_any": {"A": ["y", "z"], "B": ["x"]}}
    assert Predicate.from_dict(json.loads(json.dumps(pred.to_dict()))) == pred
    rule = _rule("u", "Thing", undocumented="org/repo path.md")
    assert AuditRule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule


def _write(folder: Path, rules: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "core_directory.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), "utf-8")


ROWS = [{"service": "Core Directory", "category": "UserManagement", "activity": "Reset password"},
        {"service": "Core Directory", "category": "UserManagement", "activity": "Add user"}]
BASE = {"service": "Core Directory", "actions": [D + "users/password/update"], "kind": "admin",
        "confidence": "exact", "rationale": "r"}
ACTIONS = frozenset({D + "users/password/update"})


def test_undocumented_rule_builds_and_matches(tmp_path: Path) -> None:
    _write(tmp_path, [{"id": "core.x", "activity": "Reset the password of a user",
                       "undocumented": "org/repo some/path.md", "category": "UserManagement",
                       **BASE}])
    rows = build_audit_rules_data(tmp_path, ROWS, ACTIONS)
    assert rows[0]["undocumented"] == "org/repo some/path.md"
    got = ActivityMatcher(rows).match("Core Directory", "UserManagement",
                                      "reset the password of a user")
    assert got.rule_ids == ("core.x",)
    # Coverage counts documented rows only.
    cov = audit_rule_coverage(rows, ROWS)[0]
    assert cov.unknown == 2


@pytest.mark.parametrize(("rule", "pattern"), [
    ({"id": "core.x", "activity": "reset PASSWORD", "undocumented": "org/repo p.md"},
     r"'reset PASSWORD' is documented \(as 'Reset password'\)"),
    ({"id": "core.x", "activity": "Reset it", "undocumented": "  "},
     r"field 'undocumented' must be one non-empty line"),
    ({"id": "core.x", "activity": "Reset password", "also_logged_as": ["ADD USER"]},
     r"\['ADD USER'\] are documented activities"),
    ({"id": "core.x", "activity": "Reset password",
      "when": {"modified_values_any": {"P": [False]}}},
     r"predicate 'modified_values_any': bad value .*quote true/false"),
    ({"id": "core.x", "activity": "Reset password", "when": {"modified_values_any": {}}},
     r"predicate 'modified_values_any'"),
])
def test_undocumented_and_value_keys_are_validated(tmp_path: Path, rule: dict[str, Any],
                                                   pattern: str) -> None:
    _write(tmp_path, [{**rule, **BASE}])
    with pytest.raises(InvalidValueError, match=pattern):
        build_audit_rules_data(tmp_path, ROWS, ACTIONS)


def test_spelling_clash_with_an_undocumented_activity_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, [
        {"id": "core.a", "activity": "Reset user pwd", "undocumented": "org/repo a.md", **BASE},
        {"id": "core.b", "activity": "Reset password", "also_logged_as": ["RESET USER PWD"],
         **BASE},
        {"id": "core.c", "activity": "Add user", "also_logged_as": ["Reset user pwd"], **BASE},
    ])
    with pytest.raises(AuditRulesError) as err:
        build_audit_rules_data(tmp_path, ROWS, ACTIONS)
    assert len(err.value.errors) == 2
    assert all("already a spelling of 'Reset user pwd'" in str(e) for e in err.value.errors)
