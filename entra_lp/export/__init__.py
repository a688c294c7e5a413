"""Export stage: a Recommendation as desired state, Graph request bodies, Terraform,
PowerShell, Markdown and a self-contained HTML report.

``desired`` holds the models (:class:`RoleSpec`, :class:`AssignmentSpec`,
:class:`PolicySpec`, :class:`DesiredState`) and the offline rule checks; ``graph`` the
request-body builders shared by the live tenant client and the file exporters;
``from_recommendation`` turns a recommendation into desired state (checking every custom
role first); ``bundle.export`` writes every format into a folder. Nothing here imports
msgraph-sdk.

Submodules load on first use (the report and code generators are not needed by the tenant
client, which only builds request bodies).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    PERMISSIONS,
    RULE_IDS,
    iso_duration,
    parse_iso_duration,
    policy_rule_bodies,
    role_definition_body,
    rules_equivalent,
    schedule_request_body,
    settings_from_rules,
)

_LAZY: dict[str, str] = {
    "FORMATS": "bundle",
    "ExportResult": "bundle",
    "export": "bundle",
    "ExportPlan": "from_recommendation",
    "GraphRequest": "from_recommendation",
    "ManualStep": "from_recommendation",
    "graph_requests": "from_recommendation",
    "least_privileged_scopes": "from_recommendation",
    "prepare_export": "from_recommendation",
    "pseudonymize": "from_recommendation",
    "to_desired_state": "from_recommendation",
    "to_html": "html",
    "to_markdown": "markdown",
    "to_powershell": "powershell",
    "to_terraform": "terraform",
}

__all__ = [
    "FORMATS",
    "MANAGED_RULE_IDS",
    "PERMISSIONS",
    "RULE_IDS",
    "AssignmentSpec",
    "CatalogLike",
    "DesiredState",
    "EntraLimits",
    "ExportPlan",
    "ExportResult",
    "GraphRequest",
    "ManualStep",
    "PolicySpec",
    "RoleSpec",
    "ScopeKind",
    "Violation",
    "export",
    "graph_requests",
    "iso_duration",
    "least_privileged_scopes",
    "parse_iso_duration",
    "policy_rule_bodies",
    "prepare_export",
    "pseudonymize",
    "role_definition_body",
    "rules_equivalent",
    "schedule_request_body",
    "scope_kind",
    "settings_from_rules",
    "to_desired_state",
    "to_html",
    "to_markdown",
    "to_powershell",
    "to_terraform",
    "validate_desired",
]

if TYPE_CHECKING:  # pragma: no cover - static view of the lazy exports
    from .bundle import FORMATS, ExportResult, export
    from .from_recommendation import (
        ExportPlan,
        GraphRequest,
        ManualStep,
        graph_requests,
        least_privileged_scopes,
        prepare_export,
        pseudonymize,
        to_desired_state,
    )
    from .html import to_html
    from .markdown import to_markdown
    from .powershell import to_powershell
    from .terraform import to_terraform


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'entra_lp.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
