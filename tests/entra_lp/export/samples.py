"""Realistic recommendations built by hand for the export tests.

The recommender is written in parallel, so the exporters are tested on recommendations built
here: several custom roles (AU, app and tenant scopes, a configuration/execution split), a
built-in fallback, a PIM-for-Groups case, a service principal with an active assignment,
evidence, escalation paths, metrics with baselines, exclusions and attestation items.
"""

from __future__ import annotations

from datetime import UTC, datetime

from entra_lp.directory import PimSettings
from entra_lp.recommendation import (
    AssignmentProposal,
    AttestationItem,
    EscalationPath,
    Evidence,
    Exclusion,
    Metrics,
    MetricSet,
    PimDecision,
    Recommendation,
    RiskSummary,
    RoleProposal,
    ScopeChoice,
)

D = "microsoft.directory"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
T1 = datetime(2026, 4, 28, 17, 30, tzinfo=UTC)

# Principals: ids and names that must never appear in a pseudonymised report.
ALICE = ("0b7f6c1e-1111-4a7e-9c1a-2f3d4e5f6a01", "alice.berg@contoso.example")
BOB = ("0b7f6c1e-2222-4a7e-9c1a-2f3d4e5f6a02", "bob.chen@contoso.example")
CARMEN = ("0b7f6c1e-3333-4a7e-9c1a-2f3d4e5f6a03", "carmen.diaz@contoso.example")
DAVID = ("0b7f6c1e-4444-4a7e-9c1a-2f3d4e5f6a04", "david.okafor@contoso.example")
ERIN = ("0b7f6c1e-5555-4a7e-9c1a-2f3d4e5f6a05", "erin.park@contoso.example")
FRANK = ("0b7f6c1e-6666-4a7e-9c1a-2f3d4e5f6a06", "frank.meyer@contoso.example")
DEPLOY_SP = ("5c2a9d10-7777-4b1e-8d2c-3e4f5a6b7c07", "Release Pipeline (prod)")
BREAK_GLASS = ("9e1d2c3b-8888-4f5e-a6b7-c8d9e0f1a208", "emergency-access-01@contoso.example")
SYNC = ("9e1d2c3b-9999-4f5e-a6b7-c8d9e0f1a209", "Sync_CONTOSO-DC01_1a2b3c")
APPROVER = ("0b7f6c1e-aaaa-4a7e-9c1a-2f3d4e5f6a0a", "")
PEOPLE = [ALICE, BOB, CARMEN, DAVID, ERIN, FRANK, DEPLOY_SP, BREAK_GLASS, SYNC, APPROVER]

AU_NORTH = ("/administrativeUnits/4d3c2b1a-0000-4e5f-8a9b-0c1d2e3f4a51", "North region")
AU_SOUTH = ("/administrativeUnits/4d3c2b1a-0001-4e5f-8a9b-0c1d2e3f4a52", "South region")
APP_HR = ("/6a5b4c3d-0000-4e1f-9a8b-7c6d5e4f3a61", "HR Portal (app registration)")
APP_PAY = ("/6a5b4c3d-0001-4e1f-9a8b-7c6d5e4f3a62", "Payroll API (app registration)")

PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"
AUTH_ADMIN = "c4e39bd9-1100-46d3-8c65-fb160da0071f"


def observed(action: str, count: int, targets: int, principals: int = 1) -> Evidence:
    """Evidence of an action seen in the audit logs."""
    return Evidence(
        action=action,
        source="observed",
        count=count,
        n_targets=targets,
        n_principals=principals,
        first_seen=T0,
        last_seen=T1,
        example_ids=(f"Directory_{action.rsplit('/', 2)[-2]}_{count:05d}",),
        rule_ids=(f"core.{action.rsplit('/', 2)[-2].lower()}",),
        confidence="exact",
    )


def from_task(action: str, task: str) -> Evidence:
    """Evidence of an action a realised task needs (typically an unaudited read)."""
    return Evidence(action=action, source="task", task_ids=(task,))


def pim(tier: str, hours: int, **extra: object) -> PimDecision:
    """PIM settings following docs/dev/recommender.md, with a rationale per setting."""
    control = tier == "control"
    values: dict[str, object] = {
        "max_activation_hours": hours,
        "require_ticket": control,
        "require_approval": control,
        "approvers": (f"user:{APPROVER[0]}",) if control else (),
        "eligibility_expiry_days": 180 if control else 365,
        "notify_on_activation": ("secops@contoso.example",) if control else (),
    }
    values.update(extra)
    return PimDecision(
        settings=PimSettings.model_validate(values),
        rationale={
            "max_activation_hours": f"95th percentile session {hours} h (tier cap applies)",
            "require_mfa": "always",
            "require_approval": "control-plane role" if control else "not control plane",
        },
    )


def scope(where: tuple[str, str], reason: str, denied: dict[str, int] | None = None) -> ScopeChoice:
    """A scope choice; ``where`` is (directory scope id, display name)."""
    sid, label = where
    kind = (
        "tenant"
        if sid == "/"
        else "administrative_unit"
        if "administrativeUnits" in sid
        else "application"
    )
    return ScopeChoice(
        kind=kind,
        directory_scope_id=sid,
        display_name=label,
        reason=reason,
        denied_by_narrower=denied or {},
    )


TENANT = ("/", "Tenant")


def assign(
    who: tuple[str, str],
    role: str,
    where: tuple[str, str],
    kind: str = "eligible",
    principal_kind: str = "user",
    reason: str = "",
) -> AssignmentProposal:
    """An assignment proposal."""
    return AssignmentProposal(
        principal_id=who[0],
        principal_name=who[1],
        principal_kind=principal_kind,
        role_key=role,
        scope=scope(where, f"every target of {who[1]} is in {where[1]}"),
        assignment_type=kind,
        reason=reason or f"{who[1]} used every action of the role",
    )


def roles() -> tuple[RoleProposal, ...]:
    """Custom roles at AU / app / tenant scope, a split pair, a built-in and a PIM group."""
    user_exec = (f"{D}/users/basic/update", f"{D}/users/manager/update", f"{D}/users/standard/read")
    return (
        RoleProposal(
            key="user-profile-exec",
            display_name="LP - User profile maintenance (AU)",
            description="Update basic profile fields and managers of users in a region.",
            kind="custom",
            actions=user_exec,
            plane="execution",
            assignable_scopes=("tenant", "administrative_unit"),
            tasks=("users.update-profile",),
            evidence=(
                observed(user_exec[0], 412, 180, 2),
                observed(user_exec[1], 57, 40, 2),
                from_task(user_exec[2], "users.update-profile"),
            ),
            risk=RiskSummary(tier="user_access", plane="execution", score=1.5),
            pim=pim("user_access", 4),
            split_from="alice-and-bob-usage",
        ),
        RoleProposal(
            key="group-members-exec",
            display_name="LP - Security group membership (AU)",
            description="Add and remove members of security groups in a region.",
            kind="custom",
            actions=(f"{D}/groups.security/members/update",),
            plane="execution",
            assignable_scopes=("administrative_unit",),
            evidence=(observed(f"{D}/groups.security/members/update", 96, 31),),
            risk=RiskSummary(
                tier="management",
                plane="execution",
                score=3.0,
                escalation_paths=(
                    EscalationPath(
                        action=f"{D}/groups.security/members/update",
                        gains="access granted through membership of groups in the unit",
                        severity="medium",
                        explanation="membership of a group can grant app roles and licences",
                    ),
                ),
            ),
            pim=pim("management", 8),
        ),
        RoleProposal(
            key="app-credentials",
            display_name="LP - App credential rotation (per app)",
            description="Rotate secrets and certificates of named app registrations.",
            kind="custom",
            actions=(f"{D}/applications/credentials/update", f"{D}/applications/standard/read"),
            plane="execution",
            assignable_scopes=("tenant", "application"),
            evidence=(observed(f"{D}/applications/credentials/update", 14, 2, 2),),
            risk=RiskSummary(
                tier="control",
                plane="execution",
                score=9.0,
                escalation_paths=(
                    EscalationPath(
                        action=f"{D}/applications/credentials/update",
                        gains="act as the Payroll API service principal "
                        "(holds Directory.ReadWrite.All)",
                        severity="critical",
                        via=(APP_PAY[1],),
                        explanation=f"{CARMEN[1]} can add a secret and sign in as the app",
                    ),
                ),
            ),
            pim=pim("control", 2, authentication_context="c1"),
        ),
        RoleProposal(
            key="app-config",
            display_name="LP - App registration configuration",
            description="Create app registrations and manage dynamic group rules.",
            kind="custom",
            actions=(f"{D}/applications/create", f"{D}/groups/dynamicMembershipRule/update"),
            plane="configuration",
            assignable_scopes=("tenant",),
            evidence=(
                observed(f"{D}/applications/create", 6, 6),
                observed(f"{D}/groups/dynamicMembershipRule/update", 3, 2),
            ),
            risk=RiskSummary(tier="management", plane="configuration", score=4.0),
            pim=pim("management", 3, require_ticket=True),
            split_from="alice-and-bob-usage",
        ),
        RoleProposal(
            key="password-reset",
            display_name="Password Administrator",
            description="Reset passwords of non-administrators and Password Administrators.",
            kind="builtin",
            builtin_template_id=PASSWORD_ADMIN,
            actions=(f"{D}/users/password/update",),
            extra_actions=(f"{D}/users/invalidateAllRefreshTokens",),
            plane="execution",
            assignable_scopes=("tenant", "administrative_unit"),
            evidence=(observed(f"{D}/users/password/update", 230, 201),),
            risk=RiskSummary(tier="control", plane="execution", score=7.0),
            pim=pim("control", 4),
            limitations=("password reset is not allowed in custom roles",),
        ),
        RoleProposal(
            key="auth-methods-group",
            display_name="Authentication methods support",
            description="Manage authentication methods of non-administrators.",
            kind="pim_group",
            builtin_template_id=AUTH_ADMIN,
            actions=(f"{D}/users/authenticationMethods/create",),
            plane="execution",
            assignable_scopes=("tenant",),
            evidence=(observed(f"{D}/users/authenticationMethods/create", 88, 70, 3),),
            risk=RiskSummary(tier="control", plane="execution", score=8.0),
            pim=pim("control", 2),
            limitations=("authentication methods actions are not allowed in custom roles",),
        ),
    )


def recommendation(**changes: object) -> Recommendation:
    """The full sample recommendation; ``changes`` override top-level fields."""
    rec = Recommendation(
        catalog_version="2026-05-04",
        source="usage",
        window_start=T0,
        window_end=T1,
        options={"objective": "risk_weighted", "seed": 7, "client_secret": "s3cr3t-never-written"},
        roles=roles(),
        assignments=(
            assign(ALICE, "user-profile-exec", AU_NORTH),
            assign(BOB, "user-profile-exec", AU_SOUTH),
            assign(ALICE, "app-config", TENANT),
            assign(BOB, "group-members-exec", AU_SOUTH),
            assign(CARMEN, "app-credentials", APP_HR),
            assign(CARMEN, "app-credentials", APP_PAY),
            assign(
                DEPLOY_SP,
                "app-credentials",
                APP_PAY,
                "active",
                "service_principal",
                "a service principal cannot activate an eligible role",
            ),
            assign(DAVID, "password-reset", AU_NORTH),
            assign(ERIN, "auth-methods-group", TENANT),
            assign(FRANK, "auth-methods-group", TENANT),
            assign(DAVID, "auth-methods-group", TENANT),
        ),
        exclusions=(
            Exclusion(
                principal_id=BREAK_GLASS[0],
                principal_name=BREAK_GLASS[1],
                kind="break_glass",
                reason="permanent Global Administrator, no activity",
            ),
            Exclusion(
                principal_id=SYNC[0],
                principal_name=SYNC[1],
                kind="sync_account",
                reason="Directory Synchronization Accounts role",
            ),
        ),
        attestation=(
            AttestationItem(
                principal_id=ALICE[0],
                action=f"{D}/users/standard/read",
                reason="unobservable",
                detail=f"{ALICE[1]} reads are never audited",
            ),
            AttestationItem(
                principal_id=FRANK[0],
                action=f"{D}/groups/create",
                reason="held_never_seen",
                held_via="Groups Administrator",
            ),
            AttestationItem(
                principal_id=None,
                action=f"{D}/devices/disable",
                reason="ambiguous_mapping",
                detail="'Update device' maps to 3 actions",
            ),
        ),
        cannot_express=(
            "Password reset cannot be granted by a custom role: Password Administrator is "
            "assigned at the North region AU instead.",
            "Authentication methods management has no custom-role action: three principals "
            "share one PIM-for-Groups group holding Authentication Administrator.",
        ),
        metrics=Metrics(
            proposed=MetricSet(
                n_roles=6,
                n_assignments=11,
                wsc=31.0,
                over_privilege=4.5,
                over_privilege_actions=9,
                standing_control_plane_hours=26.0,
                coverage=0.9971,
                denied_operations=12,
            ),
            current=MetricSet(
                n_roles=5,
                n_assignments=14,
                wsc=88.0,
                over_privilege=412.0,
                over_privilege_actions=930,
                standing_control_plane_hours=9400.0,
            ),
            baselines={
                "exact_union": MetricSet(
                    n_roles=9,
                    n_assignments=9,
                    wsc=64.0,
                    over_privilege=0.0,
                    over_privilege_actions=0,
                    standing_control_plane_hours=3100.0,
                ),
                "least_privileged_builtin": MetricSet(
                    n_roles=4,
                    n_assignments=12,
                    wsc=40.0,
                    over_privilege=175.0,
                    over_privilege_actions=402,
                    standing_control_plane_hours=5200.0,
                ),
            },
        ),
    )
    return rec.model_copy(update=changes) if changes else rec
