"""Event templates: audit records derived by inverting the catalog's audit rules.

For a task, every admin rule whose actions are a subset of the task's actions is a candidate
way the task shows up in the audit log. For each observable action of the task the simulator
keeps the candidates of the strongest confidence that contain it (``exact`` before ``likely``
before ``ambiguous``). Each candidate becomes a :class:`Template`: the record's service,
category, activity, operation type, target and modified properties, chosen so that the rule's
predicate holds, then **verified** through ``ActivityMatcher.match`` exactly as stage 2 will
call it. A template whose real mapping is not a non-empty subset of the task's actions is
dropped, so the ground truth never promises what ingest cannot see.

How records of common activities really look (targets, properties, companions) lives in
:data:`_HINTS`; anything else gets a shape inferred from the rule's actions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from entra_lp.errors import EntraLPError

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog.audit_rules import ActivityMapping, AuditRule
    from permission_catalog.catalog import Catalog
    from permission_catalog.tasks import Task

__all__ = [
    "SERVICE_AS_LOGGED",
    "Prop",
    "Shape",
    "Template",
    "TemplateLibrary",
]

CONFIDENCE_ORDER = ("exact", "likely", "ambiguous")

SERVICE_AS_LOGGED: Mapping[str, str] = {
    "Privileged Identity Management (PIM)": "PIM",
    "Self-service group management": "Self-service Group Management",
    "Access reviews": "Access Reviews",
    "Application proxy": "Application Proxy",
}
"""How ``loggedByService`` spells a documented service in real records."""

ID_PREFIX: Mapping[str, str] = {
    "Core Directory": "Directory",
    "PIM": "PIM",
    "Self-service Group Management": "SSGM",
    "Device Registration Service": "Device Registration Service",
    "Authentication Methods": "AuthenticationMethods",
    "Conditional Access": "IPCGraph",
    "Invited users": "B2BInvite",
    "Self-service password management": "SSPR",
}
"""Record id prefix by logging service (``<prefix>_<correlationId>_<code>_<n>``); other
services use their name without spaces (:func:`id_prefix`)."""


def id_prefix(service: str) -> str:
    """The record id prefix of a logging service."""
    return ID_PREFIX.get(service) or "".join(ch for ch in service if ch.isalnum())

# Entra target type for each kind of object a template can point at.
KIND_TYPE: Mapping[str, str] = {
    "user": "User", "group": "Group", "device": "Device", "application": "Application",
    "servicePrincipal": "ServicePrincipal", "role": "Role", "policy": "Policy",
    "administrativeUnit": "Other", "directory": "Directory", "other": "Other",
}
_TYPE_KIND = {"user": "user", "group": "group", "device": "device", "application": "application",
              "serviceprincipal": "servicePrincipal", "role": "role", "policy": "policy",
              "directory": "directory"}

_RESOURCE_KIND: Mapping[str, str] = {
    "users": "user", "groups": "group", "groupsAssignableToRoles": "group",
    "devices": "device", "bitlockerKeys": "device", "deviceLocalCredentials": "device",
    "applications": "application", "servicePrincipals": "servicePrincipal",
    "oAuth2PermissionGrants": "servicePrincipal", "applicationTemplates": "servicePrincipal",
    "roleAssignments": "user", "scopedRoleMemberships": "user", "roleDefinitions": "role",
    "privilegedIdentityManagement": "role", "administrativeUnits": "administrativeUnit",
    "organization": "directory", "domains": "other",
    "deletedItems.users": "user", "deletedItems.groups": "group",
    "deletedItems.applications": "application", "deletedItems.devices": "device",
}
_POLICY_RESOURCES = ("Policies", "policies", "Policy", "namedLocations")

_ACTION_CATEGORY: Mapping[str, str] = {
    "roleAssignments": "RoleManagement", "roleDefinitions": "RoleManagement",
    "scopedRoleMemberships": "RoleManagement", "users": "UserManagement",
    "deletedItems.users": "UserManagement", "groups": "GroupManagement",
    "groupsAssignableToRoles": "GroupManagement",
}
_RESOURCE_CATEGORY: Mapping[str, str] = {
    "user": "UserManagement", "group": "GroupManagement", "device": "Device",
    "application": "ApplicationManagement", "servicePrincipal": "ApplicationManagement",
    "role": "RoleManagement", "policy": "Policy", "administrativeUnit": "AdministrativeUnit",
    "directory": "DirectoryManagement", "other": "DirectoryManagement",
}
_SERVICE_CATEGORY: Mapping[str, str] = {
    "Conditional Access": "Policy",
    "Privileged Identity Management (PIM)": "RoleManagement",
    "Invited users": "UserManagement",
    "Entitlement Management": "EntitlementManagement",
    "Identity protection": "IdentityProtection",
    "Account provisioning": "ProvisioningManagement",
    "B2B Auth": "UserManagement",
    "Hybrid Authentication": "Authentication",
    "Microsoft Entra multifactor authentication (Azure MFA)": "UserManagement",
    "Mobility Management": "PolicyManagement",
    "Terms of use": "Policy",
    "Verified ID": "ResourceManagement",
    "Lifecycle Workflows": "WorkflowManagement",
}
_ACTIVITY_CATEGORY: Mapping[str, str] = {
    "Read BitLocker key": "KeyManagement",
    "Authentication Methods Policy Update": "ApplicationManagement",
    "Authentication Methods Policy Reset": "ApplicationManagement",
}


class TemplateError(EntraLPError):
    """A persona's task cannot be turned into audit events (names the task and why)."""


@dataclass(frozen=True, slots=True)
class Prop:
    """A modified property: its name and the kind of value the renderer writes."""

    name: str
    value: str = "text"


@dataclass(frozen=True, slots=True)
class Shape:
    """How one activity's record looks."""

    target: str
    """Kind of the first target (a key of :data:`KIND_TYPE`)."""
    context: str | None = None
    """Kind of a second object the record names (group of a membership, role of an
    assignment, user or group given an app role)."""
    second_target: bool = False
    """Whether the context object is also listed as a second target."""
    props: tuple[Prop, ...] = ()
    included: bool = False
    """Whether ``Included Updated Properties`` lists the changed names."""
    operation: str | None = None
    removal: bool = False
    """Context values go to ``oldValue`` (a removal) instead of ``newValue``."""


@dataclass(frozen=True, slots=True)
class Template:
    """One kind of audit record a task (or the system) produces, verified against the rules."""

    key: str
    task_id: str
    service: str
    category: str
    activity: str
    operation: str
    shape: Shape
    actions: tuple[str, ...]
    rule_ids: tuple[str, ...]
    confidence: str
    kind: str
    initiator: str | None = None
    """Fixed initiator app name (``MS-PIM`` twins); ``None`` = the acting principal."""
    weight: float = 1.0
    """Relative frequency among the task's templates."""
    spellings: tuple[str, ...] = ()
    """Other spellings real records use for the activity (written now and then)."""
    companions: tuple[Template, ...] = ()
    """Records written with the same correlation id right after this one."""

    @property
    def target_type(self) -> str:
        """The Entra type label of the first target."""
        return KIND_TYPE[self.shape.target]


# --------------------------------------------------------------------------------------------
# Realism hints: how records of common activities look
# --------------------------------------------------------------------------------------------

_GROUP_REF = (Prop("Group.ObjectID", "ctx_id"), Prop("Group.DisplayName", "ctx_name"),
              Prop("Group.WellKnownObjectName", "null"))
ROLE_REF = (Prop("Role.ObjectID", "ctx_id"), Prop("Role.DisplayName", "ctx_name"),
             Prop("Role.TemplateId", "ctx_id"))
_APP_ROLE = (Prop("AppRole.Id", "guid_zero"), Prop("AppRole.Value", "empty"),
             Prop("AppRole.DisplayName", "default_access"))


def membership(target: str, ctx: str, refs: tuple[Prop, ...], *, removal: bool) -> Shape:
    """Shape of a membership-like change: the member first, the container second."""
    return Shape(target=target, context=ctx, props=refs, removal=removal,
                 operation="Unassign" if removal else "Assign", second_target=True)


_HINTS: dict[str, Shape] = {
    "Add member to group": membership("user", "group", _GROUP_REF, removal=False),
    "Remove member from group": membership("user", "group", _GROUP_REF, removal=True),
    "Add owner to group": membership("user", "group", _GROUP_REF, removal=False),
    "Remove owner from group": membership("user", "group", _GROUP_REF, removal=True),
    "Add member to role": membership("user", "role", ROLE_REF, removal=False),
    "Remove member from role": membership("user", "role", ROLE_REF, removal=True),
    "Add eligible member to role": membership("user", "role", ROLE_REF, removal=False),
    "Remove eligible member from role": membership("user", "role", ROLE_REF, removal=True),
    "Add app role assignment to group": Shape(
        "servicePrincipal", "group", True,
        (*_APP_ROLE, Prop("Group.ObjectID", "ctx_id"), Prop("Group.DisplayName", "ctx_name")),
        operation="Assign"),
    "Remove app role assignment from group": Shape(
        "servicePrincipal", "group", True,
        (*_APP_ROLE, Prop("Group.ObjectID", "ctx_id"), Prop("Group.DisplayName", "ctx_name")),
        operation="Unassign", removal=True),
    "Remove app role assignment from user": Shape(
        "servicePrincipal", "user", True,
        (*_APP_ROLE, Prop("User.ObjectID", "ctx_id"), Prop("User.UPN", "ctx_upn")),
        operation="Unassign", removal=True),
    "Add app role assignment to service principal": Shape(
        "servicePrincipal", None, False, (*_APP_ROLE, Prop("ServicePrincipal.ObjectID", "self_id")),
        operation="Assign"),
    "Remove app role assignment from service principal": Shape(
        "servicePrincipal", None, False, (*_APP_ROLE, Prop("ServicePrincipal.ObjectID", "self_id")),
        operation="Unassign", removal=True),
    "Add owner to application": Shape(
        "application", "user", True, (Prop("Application.ObjectID", "self_id"),
                                      Prop("Application.AppId", "self_app_id"),
                                      Prop("Application.DisplayName", "self_name")),
        operation="Assign"),
    "Remove owner from application": Shape(
        "application", "user", True, (Prop("Application.ObjectID", "self_id"),
                                      Prop("Application.AppId", "self_app_id"),
                                      Prop("Application.DisplayName", "self_name")),
        operation="Unassign", removal=True),
    "Add owner to service principal": Shape(
        "servicePrincipal", "user", True, (Prop("ServicePrincipal.ObjectID", "self_id"),
                                           Prop("ServicePrincipal.DisplayName", "self_name")),
        operation="Assign"),
    "Remove owner from service principal": Shape(
        "servicePrincipal", "user", True, (Prop("ServicePrincipal.ObjectID", "self_id"),
                                           Prop("ServicePrincipal.DisplayName", "self_name")),
        operation="Unassign", removal=True),
    "Update application - Certificates and secrets management": Shape(
        "application", props=(Prop("KeyDescription", "key_description"),), included=True,
        operation="Update"),
    "Add service principal credentials": Shape(
        "servicePrincipal", props=(Prop("KeyDescription", "key_description"),), included=True,
        operation="Update"),
    "Remove service principal credentials": Shape(
        "servicePrincipal", props=(Prop("KeyDescription", "key_removed"),), included=True,
        operation="Update"),
    "Update StsRefreshTokenValidFrom Timestamp": Shape(
        "user", props=(Prop("StsRefreshTokensValidFrom", "timestamp"),), included=True,
        operation="Update"),
    "Disable account": Shape("user", props=(Prop("AccountEnabled", "disable"),), included=True,
                             operation="Update"),
    "Enable account": Shape("user", props=(Prop("AccountEnabled", "enable"),), included=True,
                            operation="Update"),
    "Reset password": Shape("user", operation="Update"),
    "Set force change user password": Shape("user", operation="Update"),
    "Change user license": Shape("user", operation="Update"),
    "Add user": Shape("user", props=(Prop("AccountEnabled", "true"),
                                     Prop("DisplayName", "self_name"),
                                     Prop("UserPrincipalName", "self_upn"),
                                     Prop("UserType", "member")), included=True,
                      operation="Add"),
    "Add group": Shape("group", props=(Prop("DisplayName", "self_name"),
                                       Prop("MailNickname", "nickname"),
                                       Prop("SecurityEnabled", "true")), included=True,
                       operation="Add"),
    "Update device": Shape("device", props=(Prop("AccountEnabled", "disable"),), included=True,
                           operation="Update"),
    "Read BitLocker key": Shape("device", operation="Get"),
    "Reveal local administrator password": Shape("device", operation="Get"),
    "Trigger group license recalculation": Shape("group", operation="Update"),
    "Set group license": Shape("group", operation="Update"),
    "Restore user": Shape("user", operation="Update"),
    "Consent to application": Shape(
        "servicePrincipal", props=(Prop("ConsentContext.IsAdminConsent", "true_text"),
                                   Prop("ConsentAction.Permissions", "text")),
        operation="Assign"),
}

# Values written for property names a rule predicate asks for (anything else: "text").
_NAME_VALUES: Mapping[str, str] = {
    "AccountEnabled": "disable", "StsRefreshTokensValidFrom": "timestamp",
    "UsageLocation": "usage_location", "AssignedLicense": "license",
    "AssignedPlan": "license", "LicenseAssignmentDetail": "license",
    "GroupLicenseAssignment": "license", "KeyDescription": "key_description",
    "KeyCredentials": "key_description", "PasswordCredentials": "key_description",
    "DisplayName": "self_name", "UserPrincipalName": "self_upn", "Manager": "ctx_id",
    "StrongAuthenticationMethod": "auth_methods", "IsPublic": "false", "Visibility": "private",
    "RequiredResourceAccess": "resource_access", "ReplyUrls": "urls", "RedirectUris": "urls",
    "AppRoles": "text", "SignInAudience": "audience",
}

# Properties added to an "Update user" / "Update group" / ... record whose rule is a default
# rule (the catch-all): harmless names that no property rule claims.
_FILLER: Mapping[str, tuple[str, ...]] = {
    "user": ("JobTitle", "Department", "TelephoneNumber", "City", "CompanyName"),
    "group": ("Description", "DisplayName"),
    "application": ("Description", "Notes"),
    "servicePrincipal": ("Tags", "Notes"),
    "device": ("DisplayName",),
}

# First new value the renderer writes for value kinds with a fixed value (rules may test them).
_FIRST_VALUES: Mapping[str, str] = {
    "true_text": "True", "true": "true", "false": "false", "disable": "false", "enable": "true",
    "member": "Member", "private": "Private", "audience": "AzureADMultipleOrgs", "empty": "",
    "default_access": "Default Access", "guid_zero": "00000000-0000-0000-0000-000000000000",
}

_ASSIGN_PREFIXES = ("Add member to", "Add owner to", "Add eligible member", "Add scoped member",
                    "Add registered", "Add app role assignment", "Assign ")
_UNASSIGN_PREFIXES = ("Remove member from", "Remove owner from", "Remove eligible member",
                      "Remove scoped member", "Remove registered", "Remove app role assignment")


def _operation(activity: str) -> str:
    if activity.startswith(_ASSIGN_PREFIXES):
        return "Assign"
    if activity.startswith(_UNASSIGN_PREFIXES):
        return "Unassign"
    first = activity.split(" ", 1)[0].lower()
    if first in ("add", "create", "invite", "register"):
        return "Add"
    if first in ("delete", "remove", "hard"):
        return "Delete"
    if first in ("read", "reveal", "get"):
        return "Get"
    return "Update"


def _resource(action: str) -> str:
    parts = action.split("/")
    return parts[1] if len(parts) > 1 else ""


def _infer_kind(actions: Sequence[str]) -> str:
    resource = _resource(actions[0]) if actions else ""
    if resource in _RESOURCE_KIND:
        return _RESOURCE_KIND[resource]
    if resource.endswith(_POLICY_RESOURCES) or "Polic" in resource:
        return "policy"
    return "other"


def _category(rule: AuditRule, kind: str) -> str:
    if rule.category:
        return rule.category
    if rule.activity in _ACTIVITY_CATEGORY:
        return _ACTIVITY_CATEGORY[rule.activity]
    if "app role assignment" in rule.activity:
        # Logged under the category of the object that receives the app role.
        for word, category in (("group", "GroupManagement"), ("user", "UserManagement")):
            if rule.activity.endswith(word):
                return category
    if rule.service in _SERVICE_CATEGORY:
        return _SERVICE_CATEGORY[rule.service]
    if rule.service == "Device Registration Service" and kind != "user":
        return "Device"
    if re.search(r"\bpolic(y|ies)\b", rule.activity, re.IGNORECASE):
        return "Policy"
    resource = _resource(rule.actions[0]) if rule.actions else ""
    if resource in _ACTION_CATEGORY and rule.service != "Authentication Methods":
        return _ACTION_CATEGORY[resource]
    return _RESOURCE_CATEGORY.get(kind, "DirectoryManagement")


# Activities real tenants log far less often than their alternatives for the same right.
_UNCOMMON = ("safe rollout", "PIM alert", "GroupLifecyclePolicies", "Set group to be managed",
             "role assignment to role definition", "Policy Reset",
             "app role assignment to service principal", "app role assignment from service",
             "Set Company Information")


def _weight(activity: str) -> float:
    return 0.15 if any(marker in activity for marker in _UNCOMMON) else 1.0


def _predicate_props(rule: AuditRule) -> list[Prop]:
    """Property names that make the rule's ``modified_properties_*`` keys hold."""
    when = rule.when
    names: list[str] = [*when.modified_properties_all]
    if when.modified_properties_any and not names:
        names.append(when.modified_properties_any[0])
    out = []
    for name in names:
        real = name[:-1] + "Contoso" if name.endswith("*") else name
        out.append(Prop(real, _NAME_VALUES.get(real, "text")))
    return out


def _shape_for(rule: AuditRule) -> Shape:
    """The hinted shape of the rule's activity, adjusted so the rule's predicate holds."""
    hinted = _HINTS.get(rule.activity)
    kind = _infer_kind(rule.actions)
    wanted = rule.when.target_type
    if wanted:
        kind = _TYPE_KIND.get(wanted[0].casefold(), "other")
        if hinted is not None and hinted.target != kind:
            hinted = None
    if hinted is None and rule.service == "Privileged Identity Management (PIM)" and not wanted:
        # PIM records name the role first; member changes name the member second.
        member = "member" in rule.activity.lower()
        hinted = Shape("role", "user" if member else None, member)
    shape = hinted or Shape(target=kind)
    needed = _predicate_props(rule)
    if needed:
        have = {p.name.casefold() for p in shape.props}
        extra = tuple(p for p in needed if p.name.casefold() not in have)
        shape = replace(shape, props=shape.props + extra,
                        included=shape.included or _operation(rule.activity) == "Update")
        if shape.context is None and any(p.value.startswith("ctx_") for p in extra):
            shape = replace(shape, context="user")  # e.g. the new manager
    elif not rule.when.has_property_keys and hinted is None and shape.target in _FILLER \
            and rule.activity.startswith("Update "):
        # A catch-all "Update <object>" record changed some ordinary property.
        name = _FILLER[shape.target][0]
        shape = replace(shape, props=(Prop(name, "text"),), included=True)
    return shape


# --------------------------------------------------------------------------------------------
# Library
# --------------------------------------------------------------------------------------------

@dataclass
class TemplateLibrary:
    """Verified templates per task, built lazily from a catalog.

    ``library.for_task(task_id)`` returns the task's templates (possibly empty: a task whose
    actions no audit record shows). ``observable(task_id)`` / ``unobservable(task_id)`` split
    the task's actions accordingly.
    """

    catalog: Catalog
    _by_task: dict[str, tuple[Template, ...]] = field(default_factory=dict)
    _system: dict[str, Template] = field(default_factory=dict)

    def task(self, task_id: str) -> Task:
        """The catalog task (``UnknownNameError`` with suggestions when unknown)."""
        return self.catalog.task(task_id)

    def for_task(self, task_id: str) -> tuple[Template, ...]:
        """The task's verified templates, in a stable order."""
        hit = self._by_task.get(task_id)
        if hit is None:
            hit = self._by_task[task_id] = self._build(self.task(task_id))
        return hit

    def observable(self, task_id: str) -> frozenset[str]:
        """Actions of the task that its templates' records show."""
        return frozenset(a for t in self.for_task(task_id) for a in t.actions)

    def unobservable(self, task_id: str) -> frozenset[str]:
        """Actions of the task that no record of it shows."""
        return frozenset(self.task(task_id).actions) - self.observable(task_id)

    # ---- building ---------------------------------------------------------------------------
    def _build(self, task: Task) -> tuple[Template, ...]:
        wanted = frozenset(task.actions)
        verified: list[Template] = []
        for rule in self.catalog.audit_rules:
            if rule.kind != "admin" or not rule.actions or not set(rule.actions) <= wanted:
                continue
            if rule.when.tier == 0 and rule.when.self_initiated is not False:
                continue  # initiator rules only fit when the actor is a named Microsoft app
            made = self._make(task.id, rule, wanted)
            if made is not None:
                verified.append(made)
        chosen: dict[str, Template] = {}
        for action in sorted(wanted):
            having = [t for t in verified if action in t.actions]
            if not having:
                continue
            best = min(CONFIDENCE_ORDER.index(t.confidence) for t in having)
            for t in having:
                if CONFIDENCE_ORDER.index(t.confidence) == best:
                    chosen.setdefault(t.key, t)
        # One activity logged under several documented categories: share its weight.
        same: dict[tuple[str, str, tuple[str, ...]], int] = {}
        for t in chosen.values():
            sig = (t.service, t.activity, tuple(p.name for p in t.shape.props))
            same[sig] = same.get(sig, 0) + 1
        shared = [
            replace(t, weight=t.weight / same[(t.service, t.activity,
                                                tuple(p.name for p in t.shape.props))])
            for t in chosen.values()
        ]
        return tuple(sorted(shared, key=lambda t: t.key))

    def _make(self, task_id: str, rule: AuditRule, wanted: frozenset[str]) -> Template | None:
        shape = _shape_for(rule)
        category = _category(rule, shape.target)
        mapping = self._verify(rule.service, category, rule.activity, shape)
        if mapping is None or not mapping.actions or not set(mapping.actions) <= wanted:
            return None
        template = Template(
            key=f"{task_id}:{rule.id}", task_id=task_id,
            service=SERVICE_AS_LOGGED.get(rule.service, rule.service), category=category,
            activity=rule.activity, operation=shape.operation or _operation(rule.activity),
            shape=shape, actions=mapping.actions, rule_ids=mapping.rule_ids,
            confidence=mapping.confidence, kind=mapping.kind, weight=_weight(rule.activity),
            spellings=tuple(self._spellings(rule)),
        )
        return replace(template, companions=self._companions(template, wanted))

    def _spellings(self, rule: AuditRule) -> list[str]:
        out: list[str] = []
        for other in self.catalog.audit_rules:
            if other.service == rule.service and other.activity == rule.activity:
                out.extend(n for n in other.also_logged_as if n not in out)
        return out

    def _verify(self, service: str, category: str, activity: str, shape: Shape,
                initiator: str | None = None) -> ActivityMapping | None:
        """Map the record as stage 2 will; require the same answer whether stage 2 passes
        ``self_initiated=False`` and the record's property values, or leaves them unknown."""
        names = [p.name for p in shape.props]
        values = {p.name: _FIRST_VALUES[p.value] for p in shape.props
                  if p.value in _FIRST_VALUES}
        target_type = KIND_TYPE[shape.target]
        results = [
            self.catalog.map_activity(service, category, activity, names, target_type,
                                      initiated_by=initiator, self_initiated=flag,
                                      property_values=given)
            for flag in (False, None) for given in (values, None)
        ]
        if any(r.actions != results[0].actions or r.kind != results[0].kind
               for r in results[1:]):
            return None
        return results[0]

    def _companions(self, template: Template, wanted: frozenset[str]) -> tuple[Template, ...]:
        """Records Entra writes alongside (same correlation id)."""
        out: list[Template] = []
        if template.service == "PIM" and template.actions and "role" in template.activity:
            twin = self._pim_twin(template)
            if twin is not None:
                out.append(twin)
        if template.activity == "Add service principal credentials":
            extra = self._plain("Core Directory", "Update service principal",
                                Shape("servicePrincipal",
                                      props=(Prop("KeyDescription", "key_description"),),
                                      included=True, operation="Update"), template.task_id)
            if extra is not None and set(extra.actions) <= wanted:
                out.append(extra)
        return tuple(out)

    def _pim_twin(self, template: Template) -> Template | None:
        activity = _twin_activity(template.activity)
        if activity is None:
            return None
        removal = activity.startswith("Remove")
        shape = membership("user", "role", ROLE_REF, removal=removal)
        return self.system_template(f"{template.task_id}:twin:{activity}", "Core Directory",
                                    activity, shape, initiator="MS-PIM",
                                    category="RoleManagement")

    def _plain(self, service: str, activity: str, shape: Shape, task_id: str
               ) -> Template | None:
        category = "ApplicationManagement" if shape.target in (
            "application", "servicePrincipal") else _RESOURCE_CATEGORY.get(shape.target, "Other")
        mapping = self._verify(service, category, activity, shape)
        if mapping is None or mapping.kind != "admin":
            return None
        return Template(
            key=f"{task_id}:companion:{activity}", task_id=task_id, service=service,
            category=category, activity=activity,
            operation=shape.operation or _operation(activity), shape=shape,
            actions=mapping.actions, rule_ids=mapping.rule_ids, confidence=mapping.confidence,
            kind=mapping.kind,
        )

    def system_template(self, key: str, service: str, activity: str, shape: Shape, *,
                        initiator: str | None = None, category: str | None = None,
                        expect: Iterable[str] = ("system", "self_service")) -> Template | None:
        """A record that exercises no admin right (PIM twins, self-activation...), verified
        to map to one of the ``expect`` kinds; ``None`` when the rules say otherwise."""
        hit = self._system.get(key)
        if hit is not None:
            return hit
        cat = category or _RESOURCE_CATEGORY.get(shape.target, "Other")
        documented = _documented_service(service)
        mapping = self._verify(documented, cat, activity, shape, initiator=initiator)
        if mapping is None or mapping.kind not in tuple(expect) or mapping.actions:
            return None
        made = Template(
            key=key, task_id="", service=service, category=cat, activity=activity,
            operation=shape.operation or _operation(activity), shape=shape, actions=(),
            rule_ids=mapping.rule_ids, confidence=mapping.confidence, kind=mapping.kind,
            initiator=initiator,
        )
        self._system[key] = made
        return made


def _documented_service(logged: str) -> str:
    for documented, spelled in SERVICE_AS_LOGGED.items():
        if spelled == logged:
            return documented
    return logged


def _twin_activity(pim_activity: str) -> str | None:
    """The Core Directory activity ``MS-PIM`` writes for a PIM role change."""
    text = pim_activity
    if " completed" not in text and "Remove permanent" not in text:
        return None
    eligible = "eligible" in text.lower()
    if text.startswith(("Add", "Restore")):
        return "Add eligible member to role" if eligible else "Add member to role"
    if text.startswith("Remove"):
        return "Remove eligible member from role" if eligible else "Remove member from role"
    return None
