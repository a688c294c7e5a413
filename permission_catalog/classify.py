"""Classification of resource actions: plane, tier, risk weight and escalation edges.

Everything here is *our* judgement, written as explicit rules over the parsed parts of an action
(namespace, resource, property path, verb), never as a per-action table. Each rule that fires
adds a reason, so every answer explains itself.

Plane (what kind of act)
    ``read``          the verb only reads (``read``, ``limitedRead``, ``restrictedRead``, ``get*``).
    ``configuration`` changes a policy, setting or definition that governs many objects: a
                      resource in ``CONFIG_RESOURCES`` (CA policies, authorization / cross-tenant
                      policies, role definitions, domains...), a path naming a policy or setting
                      (``.../policies/update``, ``groups/settings/update``,
                      ``dynamicMembershipRule``),
                      or the settings of a workload outside ``microsoft.directory``.
    ``execution``     any other change: operating on individual objects (reset a password, add a
                      member, assign a role, create a user, restore an item).

Tier (what control it gives; the highest matching rule wins, ``user_access < management < control``)
    ``control``       changes who holds privilege or how everyone authenticates: role
                      assignments and definitions, PIM, role-assignable groups, tenant
                      authentication/authorization policies (CA, authorization, cross-tenant,
                      permission-grant, identity providers, federation, hybrid auth, custom
                      authentication extensions), domains, application and service-principal
                      credentials and owners, consent and app-role grants, credentials and
                      sign-in identities of users.
    ``management``    administers directory objects and workloads: apps, devices, groups, AUs,
                      account state (delete/disable/UPN), workload namespaces; reads that reveal
                      secrets (BitLocker keys, local admin passwords, stored SSO passwords).
    ``user_access``   end-user profile and access data (user profile properties, licences, own
                      consent), and every other read.

    The catalog raises an action to the highest tier of any catalog action it implies
    (``users/allProperties/allTasks`` implies ``users/password/update``, hence control).

Risk weight (``RISK_WEIGHTS``): reads 0.1 / 0.5 / 1 and changes 1 / 3 / 10 for user access /
management / control; an action Microsoft labels privileged weighs at least 5.

Escalation edges say what control an action gives over which objects, e.g.
``applications/credentials/update`` → ``act_as`` an application; ``roleAssignments`` writes →
``grant_role`` (any directory role); ``groupsAssignableToRoles`` writes → ``inherit_roles`` of that
group; ``users/password/update`` → ``act_as`` that user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .actions import CREATE_VERBS, ParsedAction

DIRECTORY = "microsoft.directory"
TIERS = ("user_access", "management", "control")
PLANES = ("read", "execution", "configuration")
TIER_RANK = {t: i for i, t in enumerate(TIERS)}

RISK_WEIGHTS: dict[tuple[str, str], float] = {
    ("read", "user_access"): 0.1,
    ("read", "management"): 0.5,
    ("read", "control"): 1.0,
    ("change", "user_access"): 1.0,
    ("change", "management"): 3.0,
    ("change", "control"): 10.0,
}
PRIVILEGED_MIN_WEIGHT = 5.0

ROLE_RESOURCES = frozenset(
    {
        "roleAssignments",
        "roleDefinitions",
        "directoryRoles",
        "directoryRoleTemplates",
        "scopedRoleMemberships",
        "privilegedIdentityManagement",
    }
)
ROLE_DEFINITION_RESOURCES = frozenset({"roleDefinitions", "directoryRoleTemplates"})
AUTH_POLICY_RESOURCES = frozenset(
    {
        "conditionalAccessPolicies",
        "authorizationPolicy",
        "crossTenantAccessPolicy",
        "permissionGrantPolicies",
        "identityProviders",
        "hybridAuthenticationPolicy",
        "namedLocations",
        "customAuthenticationExtensions",
        "onPasswordSubmitCustomAuthenticationExtension",
        "b2cTrustFrameworkKeySet",
        "b2cTrustFrameworkPolicy",
        "passwordHashSync",
        "onPremisesSynchronization",
        "cloudProvisioning",
        "certificateBasedDeviceAuthConfigurations",
        "resourceNamespaces",
        "policies",
        "identityProtection",
        "userCredentialPolicies",
        "multiTenantOrganization",
    }
)
SIGN_IN_HOOK_RESOURCES = frozenset(
    {
        "customAuthenticationExtensions",
        "onPasswordSubmitCustomAuthenticationExtension",
    }
)
CONFIG_RESOURCES = (
    AUTH_POLICY_RESOURCES
    | ROLE_DEFINITION_RESOURCES
    | frozenset(
        {
            "domains",
            "adminConsentRequestPolicy",
            "applicationPolicies",
            "servicePrincipalCreationPolicies",
            "deviceManagementPolicies",
            "deviceRegistrationPolicy",
            "groupSettings",
            "groupSettingTemplates",
            "organization",
            "serviceAction",
            "attributeSets",
            "customSecurityAttributeDefinitions",
            "b2cUserFlow",
            "b2cUserAttribute",
            "loginOrganizationBranding",
            "lifecycleWorkflows",
            "entitlementManagement",
            "accessReviews",
            "verifiableCredentials",
            "cloudAppSecurity",
        }
    )
)
CONFIG_SEGMENTS = frozenset(
    {
        "policies",
        "settings",
        "tenantDefault",
        "federation",
        "federationConfiguration",
        "dynamicMembershipRule",
        "strongAuthentication",
        "trustedCAsForPasswordlessAuth",
        "configuration",
        "schema",
        "synchronizationSchema",
    }
)
APP_RESOURCES = frozenset({"applications", "servicePrincipals"})
USER_RESOURCES = frozenset({"users", "agentUsers"})
PROFILE_RESOURCES = USER_RESOURCES | frozenset(
    {
        "contacts",
        "userInfos",
        "externalUserProfiles",
        "pendingExternalUserProfiles",
    }
)
USER_CREDENTIAL_SEGMENTS = frozenset({"password", "authenticationMethods", "identities"})
ACCOUNT_STATE_VERBS = (
    frozenset(
        {
            "delete",
            "disable",
            "enable",
            "restore",
            "invalidateAllRefreshTokens",
            "revokeSignInSessions",
            "convertExternalToInternalMemberUser",
        }
    )
    | CREATE_VERBS
)
OPERATIONAL_WORKLOADS = frozenset(
    {"supportTickets", "serviceHealth", "userCommunication", "messageCenter"}
)


@dataclass(frozen=True, slots=True)
class Classification:
    """Plane and tier of one action, with the reasons (rules) that decided them."""

    action: str
    plane: str
    tier: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EscalationEdge:
    """Control an action gives: ``capability`` over ``target`` objects (data for the risk stage)."""

    action: str
    capability: str
    target: str
    reason: str


def _head(p: ParsedAction) -> str:
    return p.property_path[0].split(".")[0] if p.property_path else ""


def plane_of(p: ParsedAction) -> tuple[str, str]:
    """(plane, reason) from the action's own parts."""
    if p.reads:
        return "read", f"verb {p.verb!r} only reads"
    segments = {s.split(".")[0] for s in p.property_path}
    if p.namespace != DIRECTORY:
        workload = p.namespace.rsplit(".", 1)[-1]
        if (
            workload in OPERATIONAL_WORKLOADS
            or "restore" in p.verb.lower()
            or "Restore" in p.entity
        ):
            return "execution", f"operates the {workload} workload (requests, restores, messages)"
        return "configuration", f"administers the settings of the {p.namespace} workload"
    if p.resource in CONFIG_RESOURCES:
        return "configuration", f"{p.resource} holds tenant-wide policy, settings or definitions"
    hit = sorted(segments & CONFIG_SEGMENTS)
    if hit:
        return "configuration", f"property {hit[0]!r} is a policy or setting of the object"
    return "execution", f"{p.verb!r} operates on individual {p.resource} objects"


_Rule = tuple[str, Callable[[ParsedAction], bool], str]


def _writes(p: ParsedAction) -> bool:
    return not p.reads


_TIER_RULES: tuple[_Rule, ...] = (
    (
        "control",
        lambda p: _writes(p) and p.resource in ROLE_RESOURCES,
        "changes who holds directory roles or what a role grants",
    ),
    (
        "control",
        lambda p: _writes(p) and p.resource == "groupsAssignableToRoles",
        "role-assignable groups carry directory roles: their membership is role membership",
    ),
    (
        "control",
        lambda p: _writes(p) and p.resource in AUTH_POLICY_RESOURCES,
        "changes how identities authenticate or what they are authorized to do, tenant-wide",
    ),
    (
        "control",
        lambda p: _writes(p) and p.resource == "domains",
        "domains and their federation decide who signs in the domain's users",
    ),
    (
        "control",
        lambda p: _writes(p) and p.resource in APP_RESOURCES and _head(p) == "credentials",
        "application credentials let the holder sign in as the application, with all its "
        "permissions",
    ),
    (
        "control",
        lambda p: _writes(p) and p.resource in APP_RESOURCES and _head(p) == "owners",
        "owners of an application can add credentials to it and so sign in as it",
    ),
    (
        "control",
        lambda p: _writes(p) and p.resource == "oAuth2PermissionGrants",
        "delegated permission grants give applications access to the directory and user data",
    ),
    (
        "control",
        lambda p: (
            _writes(p) and p.resource == "servicePrincipals" and _head(p) == "appRoleAssignedTo"
        ),
        "assigns an API's app roles (application permissions) to principals",
    ),
    (
        "control",
        lambda p: p.verb.startswith("managePermissionGrantsForAll"),
        "grants tenant-wide (admin) consent to applications",
    ),
    (
        "control",
        lambda p: (
            _writes(p) and p.resource in USER_RESOURCES and _head(p) in USER_CREDENTIAL_SEGMENTS
        ),
        "sets a user's credential or sign-in identity: the holder can sign in as that user",
    ),
    (
        "control",
        lambda p: (
            _writes(p)
            and p.resource == "organization"
            and _head(p) in {"strongAuthentication", "dirSync", "trustedCAsForPasswordlessAuth"}
        ),
        "tenant-wide authentication or directory-synchronization switch",
    ),
    (
        "management",
        lambda p: p.resource == "bitlockerKeys" and _head(p) == "key",
        "reveals BitLocker recovery keys",
    ),
    (
        "management",
        lambda p: p.resource == "deviceLocalCredentials" and _head(p) == "password",
        "reveals a device's local administrator password",
    ),
    (
        "management",
        lambda p: "PasswordSingleSignOnCredentials" in p.verb,
        "reads or sets passwords stored for password-based single sign-on",
    ),
    (
        "management",
        lambda p: (
            _writes(p)
            and p.resource in USER_RESOURCES
            and (p.verb in ACCOUNT_STATE_VERBS or _head(p) == "userPrincipalName")
        ),
        "changes whether, or under which name, an account can sign in",
    ),
    (
        "management",
        lambda p: _writes(p) and p.namespace == DIRECTORY and p.resource not in PROFILE_RESOURCES,
        "administers directory objects or their settings",
    ),
    (
        "management",
        lambda p: _writes(p) and p.namespace != DIRECTORY,
        "administers a Microsoft workload",
    ),
)


def tier_of(p: ParsedAction) -> tuple[str, tuple[str, ...]]:
    """(tier, reasons) from the action's own parts: the highest tier among matching rules."""
    hits = [(tier, reason) for tier, rule, reason in _TIER_RULES if rule(p)]
    if not hits:
        if p.reads:
            return "user_access", ("reads directory or workload data",)
        return "user_access", ("changes an end user's profile, licences or own access",)
    top = max(TIER_RANK[t] for t, _ in hits)
    return TIERS[top], tuple(r for t, r in hits if TIER_RANK[t] == top)


def classify_parsed(p: ParsedAction) -> Classification:
    """Classification from the action's own parts (no implication)."""
    plane, plane_reason = plane_of(p)
    tier, reasons = tier_of(p)
    return Classification(
        p.name, plane, tier, (f"plane: {plane_reason}", *(f"tier: {r}" for r in reasons))
    )


def risk_weight_for(plane: str, tier: str, is_privileged: bool | None) -> float:
    """Documented weight (see ``RISK_WEIGHTS``); Microsoft's privileged label sets a floor of 5."""
    weight = RISK_WEIGHTS[("read" if plane == "read" else "change", tier)]
    return max(weight, PRIVILEGED_MIN_WEIGHT) if is_privileged else weight


def _app_kind(p: ParsedAction) -> str:
    return "application" if p.resource == "applications" else "service principal"


_EdgeRule = tuple[Callable[[ParsedAction], bool], str, Callable[[ParsedAction], str], str]

_EDGE_RULES: tuple[_EdgeRule, ...] = (
    (
        lambda p: _writes(p) and p.resource in APP_RESOURCES and _head(p) == "credentials",
        "act_as",
        _app_kind,
        "a new credential signs in as the application",
    ),
    (
        lambda p: _writes(p) and p.resource in APP_RESOURCES and _head(p) == "owners",
        "take_ownership",
        _app_kind,
        "an owner can add credentials and act as it",
    ),
    (
        lambda p: _writes(p) and p.resource in ROLE_RESOURCES - ROLE_DEFINITION_RESOURCES,
        "grant_role",
        lambda p: "any directory role",
        "assigns directory roles to any principal",
    ),
    (
        lambda p: _writes(p) and p.resource in ROLE_DEFINITION_RESOURCES,
        "define_role",
        lambda p: "custom role definitions",
        "adds any action to a role others hold",
    ),
    (
        lambda p: _writes(p) and p.resource == "groupsAssignableToRoles",
        "inherit_roles",
        lambda p: "role-assignable group",
        "members receive the group's directory roles",
    ),
    (
        lambda p: _writes(p) and p.resource == "groups" and _head(p) == "members",
        "inherit_access",
        lambda p: "group (not role-assignable)",
        "members receive the group's app, licence and resource access",
    ),
    (
        lambda p: _writes(p) and p.resource == "groups" and _head(p) == "owners",
        "control_membership",
        lambda p: "group (not role-assignable)",
        "owners manage the membership",
    ),
    (
        lambda p: (
            _writes(p) and p.resource in USER_RESOURCES and _head(p) in USER_CREDENTIAL_SEGMENTS
        ),
        "act_as",
        lambda p: "user",
        "a credential the holder sets signs in as that user",
    ),
    (
        lambda p: (
            (
                _writes(p)
                and (
                    p.resource == "oAuth2PermissionGrants"
                    or (p.resource == "servicePrincipals" and _head(p) == "appRoleAssignedTo")
                )
            )
            or p.verb.startswith("managePermissionGrantsForAll")
        ),
        "grant_api_permissions",
        lambda p: "service principal",
        "gives an application delegated or application permissions",
    ),
    (
        lambda p: _writes(p) and p.resource in AUTH_POLICY_RESOURCES - SIGN_IN_HOOK_RESOURCES,
        "weaken_authentication",
        lambda p: "tenant",
        "can relax who must pass which sign-in controls",
    ),
    (
        lambda p: _writes(p) and p.resource in SIGN_IN_HOOK_RESOURCES,
        "intercept_sign_in",
        lambda p: "tenant",
        "custom code runs inside sign-in flows",
    ),
    (
        lambda p: _writes(p) and p.resource in {"domains", "identityProviders"},
        "federate_sign_in",
        lambda p: "users of a domain or external identities",
        "an identity provider the holder controls signs users in",
    ),
    (
        lambda p: (
            (p.resource == "bitlockerKeys" and _head(p) == "key")
            or (p.resource == "deviceLocalCredentials" and _head(p) == "password")
        ),
        "read_secret",
        lambda p: "device",
        "device recovery key or local administrator password",
    ),
)


def edges_of(p: ParsedAction) -> tuple[EscalationEdge, ...]:
    """Escalation edges from the action's own parts (no implication)."""
    return tuple(
        EscalationEdge(p.name, capability, target(p), reason)
        for rule, capability, target, reason in _EDGE_RULES
        if rule(p)
    )
