"""Microsoft Graph request bodies for custom roles, PIM assignments and PIM role settings.

Pure functions from the desired-state models (:mod:`entra_lp.export.desired`) and
:class:`~entra_lp.directory.PimSettings` to the JSON bodies Graph expects. The live tenant
client (:mod:`entra_lp.tenant`) sends exactly these bodies; the export stage writes them to
files. Nothing here imports msgraph-sdk.

Durations are always ISO 8601 (``PT8H``, ``P90D``), never ``str(timedelta)``: the SDK's own
serialiser gets this wrong (msgraph-sdk-python #1262), which is one reason the tenant client
sends these dictionaries rather than SDK model objects.

The reverse mapping, :func:`settings_from_rules`, summarises a role's current policy rules
(as read from Graph) into a ``PimSettings``; :func:`rules_equivalent` decides whether a rule
already says what a PATCH body would say, which makes re-applying a plan a no-op.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ..directory import PimSettings
from ..errors import InvalidValueError
from .desired import AssignmentSpec, RoleSpec

__all__ = [
    "ACTIVE_SCHEDULE_REQUESTS_PATH",
    "ELIGIBILITY_SCHEDULE_REQUESTS_PATH",
    "MANAGED_RULE_IDS",
    "POLICY_ASSIGNMENTS_PATH",
    "ROLE_DEFINITIONS_PATH",
    "RULE_IDS",
    "approval_rule",
    "approver_ref",
    "authentication_context_rule",
    "enablement_rule",
    "expiration_rule",
    "format_datetime",
    "iso_duration",
    "notification_rule",
    "parse_iso_duration",
    "policy_rule_bodies",
    "policy_rule_path",
    "role_definition_body",
    "rules_equivalent",
    "schedule_request_body",
    "schedule_request_path",
    "settings_from_rules",
]

# ---- endpoints (relative to https://graph.microsoft.com/v1.0) ---------------------------
ROLE_DEFINITIONS_PATH = "/roleManagement/directory/roleDefinitions"
ELIGIBILITY_SCHEDULE_REQUESTS_PATH = "/roleManagement/directory/roleEligibilityScheduleRequests"
ACTIVE_SCHEDULE_REQUESTS_PATH = "/roleManagement/directory/roleAssignmentScheduleRequests"
POLICY_ASSIGNMENTS_PATH = "/policies/roleManagementPolicyAssignments"


def policy_rule_path(policy_id: str, rule_id: str) -> str:
    """Path of ``PATCH`` for one rule of a role management policy."""
    return f"/policies/roleManagementPolicies/{policy_id}/rules/{rule_id}"


def schedule_request_path(kind: Literal["eligible", "active"]) -> str:
    """Collection that receives the schedule request for an assignment of this kind."""
    if kind == "eligible":
        return ELIGIBILITY_SCHEDULE_REQUESTS_PATH
    return ACTIVE_SCHEDULE_REQUESTS_PATH


# ---- PIM rule ids (Graph: identity-governance PIM rules overview) ----------------------------
RULE_IDS: tuple[str, ...] = (
    "Expiration_Admin_Eligibility",
    "Enablement_Admin_Eligibility",
    "Notification_Admin_Admin_Eligibility",
    "Notification_Requestor_Admin_Eligibility",
    "Notification_Approver_Admin_Eligibility",
    "Expiration_Admin_Assignment",
    "Enablement_Admin_Assignment",
    "Notification_Admin_Admin_Assignment",
    "Notification_Requestor_Admin_Assignment",
    "Notification_Approver_Admin_Assignment",
    "Expiration_EndUser_Assignment",
    "Enablement_EndUser_Assignment",
    "Approval_EndUser_Assignment",
    "AuthenticationContext_EndUser_Assignment",
    "Notification_Admin_EndUser_Assignment",
    "Notification_Requestor_EndUser_Assignment",
    "Notification_Approver_EndUser_Assignment",
)
"""The 17 fixed rules of every Entra role's PIM policy."""

MANAGED_RULE_IDS: tuple[str, ...] = (
    "Expiration_EndUser_Assignment",
    "Enablement_EndUser_Assignment",
    "AuthenticationContext_EndUser_Assignment",
    "Approval_EndUser_Assignment",
    "Expiration_Admin_Eligibility",
    "Expiration_Admin_Assignment",
    "Notification_Admin_EndUser_Assignment",
)
"""The rules a :class:`PimSettings` determines; the other ten are left as the tenant has them."""

_GRAPH = "#microsoft.graph."
_EXPIRATION = _GRAPH + "unifiedRoleManagementPolicyExpirationRule"
_ENABLEMENT = _GRAPH + "unifiedRoleManagementPolicyEnablementRule"
_APPROVAL = _GRAPH + "unifiedRoleManagementPolicyApprovalRule"
_AUTH_CONTEXT = _GRAPH + "unifiedRoleManagementPolicyAuthenticationContextRule"
_NOTIFICATION = _GRAPH + "unifiedRoleManagementPolicyNotificationRule"

Caller = Literal["Admin", "EndUser"]
Level = Literal["Eligibility", "Assignment"]


# ---- ISO 8601 durations and timestamps ------------------------------------------------------
_DURATION_RE = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def iso_duration(value: timedelta) -> str:
    """Format a positive duration as ISO 8601 (``P90D``, ``PT8H``, ``P1DT2H30M``).

    Whole seconds only: Graph's PIM durations have no use for fractions, and a silent
    rounding would make a body differ from what the caller asked for.
    """
    if not isinstance(value, timedelta):
        raise InvalidValueError(f"duration must be a timedelta, got {type(value).__name__}")
    if value <= timedelta(0):
        raise InvalidValueError(f"duration must be positive, got {value!r}")
    if value.microseconds:
        raise InvalidValueError(f"duration must be whole seconds, got {value!r}")
    days, rest = value.days, value.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"P{days}D" if days else "P"
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return out + ("T" + clock if clock else "")


def parse_iso_duration(text: str) -> timedelta:
    """Parse the ISO 8601 durations Graph returns (``P365D``, ``PT8H``, ``PT1H45M``, ``P1W``)."""
    match = _DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if not match or text.strip() in ("P", "PT"):
        raise InvalidValueError(f"not an ISO 8601 duration: {text!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return timedelta(
        weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
    )


def format_datetime(value: datetime) -> str:
    """UTC timestamp as Graph writes it: ``2025-05-12T08:30:15Z`` (fractions kept if present)."""
    if value.tzinfo is None:
        raise InvalidValueError(f"datetime must be timezone-aware: {value!r}")
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


# ---- role definitions and schedule requests ----------------------------------------------
def role_definition_body(role: RoleSpec, *, for_update: bool = False) -> dict[str, Any]:
    """``unifiedRoleDefinition`` body for ``POST`` (create) or ``PATCH`` (``for_update``).

    Actions are sorted so the body is deterministic; ``templateId`` is sent on create only,
    because Graph does not let an existing definition change it.
    """
    body: dict[str, Any] = {
        "description": role.description,
        "displayName": role.display_name,
        "isEnabled": role.is_enabled,
        "rolePermissions": [{"allowedResourceActions": sorted(role.actions)}],
    }
    if role.template_id and not for_update:
        body["templateId"] = role.template_id
    return body


def schedule_request_body(
    assignment: AssignmentSpec,
    role_definition_id: str,
    *,
    action: Literal["adminAssign", "adminUpdate"] = "adminAssign",
) -> dict[str, Any]:
    """``unifiedRoleEligibilityScheduleRequest`` / ``unifiedRoleAssignmentScheduleRequest`` body.

    The same shape serves both kinds; :func:`schedule_request_path` says where it goes.
    ``startDateTime`` is sent only when the spec fixes one (Graph then starts "now"), which
    keeps the body independent of the wall clock.
    """
    expiration: dict[str, Any]
    if assignment.duration is not None:
        expiration = {"type": "afterDuration", "duration": iso_duration(assignment.duration)}
    elif assignment.expiry is not None:
        expiration = {"type": "afterDateTime", "endDateTime": format_datetime(assignment.expiry)}
    else:
        expiration = {"type": "noExpiration"}
    schedule: dict[str, Any] = {"expiration": expiration}
    if assignment.start is not None:
        schedule["startDateTime"] = format_datetime(assignment.start)
    return {
        "action": action,
        "directoryScopeId": assignment.directory_scope_id,
        "justification": assignment.justification,
        "principalId": assignment.principal_id,
        "roleDefinitionId": role_definition_id,
        "scheduleInfo": schedule,
    }


# ---- policy rules ---------------------------------------------------------------------------
def _target(caller: Caller, level: Level) -> dict[str, Any]:
    return {
        "caller": caller,
        "enforcedSettings": [],
        "inheritableSettings": [],
        "level": level,
        "operations": ["all"],
    }


def expiration_rule(
    rule_id: str, caller: Caller, level: Level, maximum: timedelta | None
) -> dict[str, Any]:
    """An expiration rule; ``maximum=None`` allows permanent assignments.

    ``maximumDuration`` is required by Graph only when expiration is required, so it is
    omitted otherwise rather than invented.
    """
    body: dict[str, Any] = {
        "@odata.type": _EXPIRATION,
        "id": rule_id,
        "isExpirationRequired": maximum is not None,
        "target": _target(caller, level),
    }
    if maximum is not None:
        body["maximumDuration"] = iso_duration(maximum)
    return body


def enablement_rule(
    rule_id: str, caller: Caller, level: Level, enabled: Iterable[str]
) -> dict[str, Any]:
    """An enablement rule: ``MultiFactorAuthentication``, ``Justification``, ``Ticketing``."""
    allowed = {"MultiFactorAuthentication", "Justification", "Ticketing"}
    chosen = sorted(set(enabled))
    bad = [e for e in chosen if e not in allowed]
    if bad:
        raise InvalidValueError(f"{rule_id}: enabledRules value(s) {bad} not in {sorted(allowed)}")
    return {
        "@odata.type": _ENABLEMENT,
        "enabledRules": chosen,
        "id": rule_id,
        "target": _target(caller, level),
    }


def authentication_context_rule(claim_value: str | None) -> dict[str, Any]:
    """``AuthenticationContext_EndUser_Assignment``: a CA authentication context on activation."""
    return {
        "@odata.type": _AUTH_CONTEXT,
        "claimValue": claim_value,
        "id": "AuthenticationContext_EndUser_Assignment",
        "isEnabled": claim_value is not None,
        "target": _target("EndUser", "Assignment"),
    }


def approver_ref(approver: str, approver_types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Graph ``subjectSet`` for one approver.

    ``approver`` is ``"user:<object id>"``, ``"group:<object id>"`` or a bare object id whose
    kind (``"user"`` / ``"group"``) ``approver_types`` gives; Graph needs to know which.
    """
    kind, _, object_id = approver.partition(":")
    if not object_id:
        object_id, kind = approver, (approver_types or {}).get(approver, "")
    if kind == "user":
        return {"@odata.type": _GRAPH + "singleUser", "userId": object_id}
    if kind == "group":
        return {"@odata.type": _GRAPH + "groupMembers", "groupId": object_id}
    raise InvalidValueError(
        f"approver {approver!r}: write 'user:<id>' or 'group:<id>' (or resolve it against the "
        "tenant); Graph needs to know whether an approver is a user or a group"
    )


def approval_rule(
    required: bool, approvers: Iterable[str] = (), approver_types: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``Approval_EndUser_Assignment``: single-stage approval of activation by named approvers.

    With no approvers Entra falls back to Privileged Role Administrators / Global
    Administrators, which is valid, so an empty list is allowed.
    """
    primary = [approver_ref(a, approver_types) for a in sorted(set(approvers))] if required else []
    return {
        "@odata.type": _APPROVAL,
        "id": "Approval_EndUser_Assignment",
        "setting": {
            "approvalMode": "SingleStage",
            "approvalStages": [
                {
                    "approvalStageTimeOutInDays": 1,
                    "escalationApprovers": [],
                    "escalationTimeInMinutes": 0,
                    "isApproverJustificationRequired": True,
                    "isEscalationEnabled": False,
                    "primaryApprovers": primary,
                }
            ],
            "isApprovalRequired": required,
            "isApprovalRequiredForExtension": False,
            "isRequestorJustificationRequired": True,
        },
        "target": _target("EndUser", "Assignment"),
    }


def notification_rule(
    rule_id: str,
    caller: Caller,
    level: Level,
    recipient_type: Literal["Admin", "Requestor", "Approver"],
    recipients: Iterable[str] = (),
    *,
    level_of_detail: Literal["None", "Critical", "All"] = "All",
    default_recipients: bool = True,
) -> dict[str, Any]:
    """An e-mail notification rule with extra recipients."""
    return {
        "@odata.type": _NOTIFICATION,
        "id": rule_id,
        "isDefaultRecipientsEnabled": default_recipients,
        "notificationLevel": level_of_detail,
        "notificationRecipients": sorted(set(recipients)),
        "notificationType": "Email",
        "recipientType": recipient_type,
        "target": _target(caller, level),
    }


def policy_rule_bodies(
    settings: PimSettings, approver_types: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """PATCH bodies, by rule id, for the seven rules ``settings`` determines (MANAGED_RULE_IDS)."""
    enabled = [
        name
        for flag, name in (
            (settings.require_mfa, "MultiFactorAuthentication"),
            (settings.require_justification, "Justification"),
            (settings.require_ticket, "Ticketing"),
        )
        if flag
    ]
    days = settings.eligibility_expiry_days
    active_days = settings.active_assignment_expiry_days
    bodies = [
        expiration_rule(
            "Expiration_EndUser_Assignment",
            "EndUser",
            "Assignment",
            timedelta(hours=settings.max_activation_hours),
        ),
        enablement_rule("Enablement_EndUser_Assignment", "EndUser", "Assignment", enabled),
        authentication_context_rule(settings.authentication_context),
        approval_rule(settings.require_approval, settings.approvers, approver_types),
        expiration_rule(
            "Expiration_Admin_Eligibility",
            "Admin",
            "Eligibility",
            None if days is None else timedelta(days=days),
        ),
        expiration_rule(
            "Expiration_Admin_Assignment",
            "Admin",
            "Assignment",
            None if active_days is None else timedelta(days=active_days),
        ),
        notification_rule(
            "Notification_Admin_EndUser_Assignment",
            "EndUser",
            "Assignment",
            "Admin",
            settings.notify_on_activation,
        ),
    ]
    return {b["id"]: b for b in bodies}


# ---- reading rules back ---------------------------------------------------------------------
def _odata_kind(rule: Mapping[str, Any]) -> str:
    return str(rule.get("@odata.type", "")).rsplit(".", 1)[-1]


def _approver_ids(setting: Mapping[str, Any]) -> tuple[str, ...]:
    out: set[str] = set()
    for stage in setting.get("approvalStages") or []:
        for ref in stage.get("primaryApprovers") or []:
            kind = str(ref.get("@odata.type", "")).rsplit(".", 1)[-1]
            if kind == "singleUser" and ref.get("userId"):
                out.add(f"user:{ref['userId']}")
            elif kind == "groupMembers" and ref.get("groupId"):
                out.add(f"group:{ref['groupId']}")
    return tuple(sorted(out))


def _duration(rule: Mapping[str, Any]) -> timedelta | None:
    if not rule.get("isExpirationRequired"):
        return None
    raw = rule.get("maximumDuration")
    return parse_iso_duration(raw) if isinstance(raw, str) else None


def settings_from_rules(rules: Iterable[Mapping[str, Any]]) -> PimSettings:
    """Summarise a policy's rules (Graph JSON) into ``PimSettings``.

    Lossy where ``PimSettings`` is coarser than Graph: an activation limit such as
    ``PT1H45M`` is rounded *up* to whole hours (and clamped to 1–24), expiry limits up to
    whole days, so the summary never understates standing exposure. Approvers come back as
    ``"user:<id>"`` / ``"group:<id>"``. ``eligible`` keeps its default: a policy does not say
    whether a role should be assigned eligible or active.
    """
    by_id = {str(r.get("id")): r for r in rules}
    values: dict[str, Any] = {}
    if (r := by_id.get("Expiration_EndUser_Assignment")) is not None:
        limit = _duration(r)
        hours = 24 if limit is None else math.ceil(limit.total_seconds() / 3600)
        values["max_activation_hours"] = min(24, max(1, hours))
    if (r := by_id.get("Enablement_EndUser_Assignment")) is not None:
        enabled = set(r.get("enabledRules") or [])
        values["require_mfa"] = "MultiFactorAuthentication" in enabled
        values["require_justification"] = "Justification" in enabled
        values["require_ticket"] = "Ticketing" in enabled
    if (r := by_id.get("AuthenticationContext_EndUser_Assignment")) is not None:
        values["authentication_context"] = r.get("claimValue") if r.get("isEnabled") else None
    if (r := by_id.get("Approval_EndUser_Assignment")) is not None:
        setting = r.get("setting") or {}
        values["require_approval"] = bool(setting.get("isApprovalRequired"))
        values["approvers"] = _approver_ids(setting) if values["require_approval"] else ()
    for rule_id, field in (
        ("Expiration_Admin_Eligibility", "eligibility_expiry_days"),
        ("Expiration_Admin_Assignment", "active_assignment_expiry_days"),
    ):
        if (r := by_id.get(rule_id)) is not None:
            limit = _duration(r)
            values[field] = None if limit is None else max(1, math.ceil(limit / timedelta(days=1)))
    if (r := by_id.get("Notification_Admin_EndUser_Assignment")) is not None:
        values["notify_on_activation"] = tuple(sorted(set(r.get("notificationRecipients") or [])))
    return PimSettings(**values)


def _normalise_rule(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a rule *means*, ignoring formatting (``P1D`` = ``PT24H``, list order, casing of ops)."""
    kind = _odata_kind(rule)
    if kind.endswith("ExpirationRule"):
        return (kind, _duration(rule))
    if kind.endswith("EnablementRule"):
        return (kind, tuple(sorted(set(rule.get("enabledRules") or []))))
    if kind.endswith("AuthenticationContextRule"):
        enabled = bool(rule.get("isEnabled"))
        return (kind, enabled, rule.get("claimValue") if enabled else None)
    if kind.endswith("ApprovalRule"):
        setting = rule.get("setting") or {}
        required = bool(setting.get("isApprovalRequired"))
        return (kind, required, _approver_ids(setting) if required else ())
    if kind.endswith("NotificationRule"):
        return (
            kind,
            rule.get("notificationLevel"),
            bool(rule.get("isDefaultRecipientsEnabled")),
            tuple(sorted(set(rule.get("notificationRecipients") or []))),
        )
    return (kind, tuple(sorted((k, repr(v)) for k, v in rule.items() if k != "target")))


def rules_equivalent(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Does the tenant's ``current`` rule already say what the ``desired`` PATCH body says?"""
    return _normalise_rule(current) == _normalise_rule(desired)


PERMISSIONS: dict[str, str] = {
    "role_definitions": "RoleManagement.Read.Directory",
    "resource_actions": "RoleManagement.Read.Directory",
    "role_assignments": "RoleManagement.Read.Directory",
    "eligibility_schedules": "RoleEligibilitySchedule.Read.Directory",
    "active_schedule_instances": "RoleAssignmentSchedule.Read.Directory",
    "activation_requests": "RoleAssignmentSchedule.Read.Directory",
    "role_management_policies": "RoleManagementPolicy.Read.Directory",
    "administrative_units": "AdministrativeUnit.Read.All",
    "applications": "Application.Read.All",
    "service_principals": "Application.Read.All",
    "users": "User.Read.All",
    "groups": "GroupMember.Read.All",
    "devices": "Device.Read.All",
    "directory_objects": "Directory.Read.All",
    "organization": "Organization.Read.All",
    "directory_audits": "AuditLog.Read.All",
    # writes (Tenant.apply)
    "write_role_definitions": "RoleManagement.ReadWrite.Directory",
    "write_eligibility": "RoleEligibilitySchedule.ReadWrite.Directory",
    "write_active": "RoleAssignmentSchedule.ReadWrite.Directory",
    "write_policy_rules": "RoleManagementPolicy.ReadWrite.Directory",
}
"""Least-privileged Microsoft Graph permission of each read (and of each write ``apply`` makes)."""
