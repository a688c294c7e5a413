"""entra-lp: least privilege for Microsoft Entra ID.

The public API is re-exported here flat: ``from entra_lp import read_audit_logs, recommend``.
Heavy modules (DuckDB, SciPy, networkx, msgraph-sdk) load on first use, so
``import entra_lp`` stays fast and the ``graph`` extra stays optional.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (relative to entra_lp, or absolute)
_EXPORTS: dict[str, str] = {
    "CatalogError": ".errors",
    "EntraLPError": ".errors",
    "IngestError": ".errors",
    "InvalidValueError": ".errors",
    "MiningError": ".errors",
    "RecommendationError": ".errors",
    "TenantError": ".errors",
    "UnknownNameError": ".errors",
    "AdministrativeUnit": ".directory",
    "Application": ".directory",
    "Device": ".directory",
    "DirectorySnapshot": ".directory",
    "Group": ".directory",
    "MemberRef": ".directory",
    "PimSettings": ".directory",
    "RoleAssignment": ".directory",
    "ServicePrincipal": ".directory",
    "User": ".directory",
    "build_graph": ".model_graph",
    "reachable": ".model_graph",
    "roles_for_task": ".model_graph",
    "tasks_for_role": ".model_graph",
    "AuditLog": ".ingest",
    "IngestReport": ".ingest",
    "read_audit_logs": ".ingest",
    "UsageMatrix": ".usage",
    "run_usage_query": ".kql",
    "usage_query": ".kql",
    "ParetoPoint": ".mining",
    "RoleMiner": ".mining",
    "pareto_front": ".mining",
    "read_upa": ".mining",
    "AssignmentProposal": ".recommendation",
    "AttestationItem": ".recommendation",
    "Evidence": ".recommendation",
    "Exclusion": ".recommendation",
    "Metrics": ".recommendation",
    "MetricSet": ".recommendation",
    "Recommendation": ".recommendation",
    "RoleProposal": ".recommendation",
    "ScopeChoice": ".recommendation",
    "UnknownPrincipalError": ".recommend",
    "recommend": ".recommend",
    "DeniedOperation": ".validate",
    "TaskValidationReport": ".validate",
    "ValidationReport": ".validate",
    "validate": ".validate",
    "validate_tasks": ".validate",
    "DesignComparison": ".design",
    "Runbook": ".design",
    "compare": ".design",
    "design_roles": ".design",
    "load_runbooks": ".design",
    "assess_role": ".risk",
    "escalation_graph": ".risk",
    "PimOptions": ".pim",
    "recommend_settings": ".pim",
    "sessions": ".pim",
    "NamingConvention": ".naming",
    "DesiredState": ".export",
    "export": ".export",
    "to_desired_state": ".export",
    "Tenant": ".tenant",
    "GroundTruth": ".simulate",
    "SimulatedTenant": ".simulate",
    "load_sample_tenant": ".simulate",
    "simulate_tenant": ".simulate",
    "Catalog": "permission_catalog",
    "load_catalog": "permission_catalog",
}

__all__ = [
    "AdministrativeUnit",
    "Application",
    "AssignmentProposal",
    "AttestationItem",
    "AuditLog",
    "Catalog",
    "CatalogError",
    "DeniedOperation",
    "DesignComparison",
    "DesiredState",
    "Device",
    "DirectorySnapshot",
    "EntraLPError",
    "Evidence",
    "Exclusion",
    "GroundTruth",
    "Group",
    "IngestError",
    "IngestReport",
    "InvalidValueError",
    "MemberRef",
    "MetricSet",
    "Metrics",
    "MiningError",
    "NamingConvention",
    "ParetoPoint",
    "PimOptions",
    "PimSettings",
    "Recommendation",
    "RecommendationError",
    "RoleAssignment",
    "RoleMiner",
    "RoleProposal",
    "Runbook",
    "ScopeChoice",
    "ServicePrincipal",
    "SimulatedTenant",
    "TaskValidationReport",
    "Tenant",
    "TenantError",
    "UnknownNameError",
    "UnknownPrincipalError",
    "UsageMatrix",
    "User",
    "ValidationReport",
    "__version__",
    "assess_role",
    "build_graph",
    "compare",
    "design_roles",
    "escalation_graph",
    "export",
    "load_catalog",
    "load_runbooks",
    "load_sample_tenant",
    "pareto_front",
    "reachable",
    "read_audit_logs",
    "read_upa",
    "recommend",
    "recommend_settings",
    "roles_for_task",
    "run_usage_query",
    "sessions",
    "simulate_tenant",
    "tasks_for_role",
    "to_desired_state",
    "usage_query",
    "validate",
    "validate_tasks",
]

if TYPE_CHECKING:  # pragma: no cover - static view of the lazy exports
    from permission_catalog import Catalog, load_catalog

    from .design import DesignComparison, Runbook, compare, design_roles, load_runbooks
    from .directory import (
        AdministrativeUnit,
        Application,
        Device,
        DirectorySnapshot,
        Group,
        MemberRef,
        PimSettings,
        RoleAssignment,
        ServicePrincipal,
        User,
    )
    from .errors import (
        CatalogError,
        EntraLPError,
        IngestError,
        InvalidValueError,
        MiningError,
        RecommendationError,
        TenantError,
        UnknownNameError,
    )
    from .export import DesiredState, export, to_desired_state
    from .ingest import AuditLog, IngestReport, read_audit_logs
    from .kql import run_usage_query, usage_query
    from .mining import ParetoPoint, RoleMiner, pareto_front, read_upa
    from .model_graph import build_graph, reachable, roles_for_task, tasks_for_role
    from .naming import NamingConvention
    from .pim import PimOptions, recommend_settings, sessions
    from .recommend import UnknownPrincipalError, recommend
    from .recommendation import (
        AssignmentProposal,
        AttestationItem,
        Evidence,
        Exclusion,
        Metrics,
        MetricSet,
        Recommendation,
        RoleProposal,
        ScopeChoice,
    )
    from .risk import assess_role, escalation_graph
    from .simulate import GroundTruth, SimulatedTenant, load_sample_tenant, simulate_tenant
    from .tenant import Tenant
    from .usage import UsageMatrix
    from .validate import (
        DeniedOperation,
        TaskValidationReport,
        ValidationReport,
        validate,
        validate_tasks,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'entra_lp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
