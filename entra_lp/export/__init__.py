"""Export stage: desired state and the Microsoft Graph bodies that realise it.

``desired`` holds the models (:class:`RoleSpec`, :class:`AssignmentSpec`,
:class:`PolicySpec`, :class:`DesiredState`) and the offline rule checks; ``graph`` the
request-body builders shared by the live tenant client and the file exporters. Neither
imports msgraph-sdk.
"""

from __future__ import annotations

from .desired import (
    AssignmentSpec,
    CatalogLike,
    DesiredState,
    EntraLimits,
    PolicySpec,
    RoleSpec,
    ScopeKind,
    Violation,
    scope_kind,
    validate_desired,
)
from .graph import (
    MANAGED_RULE_IDS,
    RULE_IDS,
    iso_duration,
    parse_iso_duration,
    policy_rule_bodies,
    role_definition_body,
    rules_equivalent,
    schedule_request_body,
    settings_from_rules,
)

__all__ = [
    "MANAGED_RULE_IDS",
    "RULE_IDS",
    "AssignmentSpec",
    "CatalogLike",
    "DesiredState",
    "EntraLimits",
    "PolicySpec",
    "RoleSpec",
    "ScopeKind",
    "Violation",
    "iso_duration",
    "parse_iso_duration",
    "policy_rule_bodies",
    "role_definition_body",
    "rules_equivalent",
    "schedule_request_body",
    "scope_kind",
    "settings_from_rules",
    "validate_desired",
]
