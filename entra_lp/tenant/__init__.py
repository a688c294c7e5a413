"""The live tenant: read it, report PIM state, plan and apply changes safely (msgraph-sdk).

Entry point: :meth:`Tenant.connect`. Needs the ``graph`` extra
(``pip install 'entra-lp[graph]'``); importing this package does not import msgraph-sdk,
and its submodules load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Tenant": "client",
    "GraphError": "_http",
    "RetryPolicy": "_http",
    "RetryEvent": "_http",
    "GRAPH_V1": "_http",
    "GRAPH_BETA": "_http",
    "AuditCheckpoint": "audits",
    "AuditDownload": "audits",
    "AuditProgress": "audits",
    "AuditStream": "audits",
    "PERMISSIONS": "reads",
    "SNAPSHOT_SECTIONS": "reads",
    "RolePolicy": "reads",
    "TenantWarning": "reads",
    "ApplyError": "plan",
    "ApplyResult": "plan",
    "ExecutedRequest": "plan",
    "Plan": "plan",
    "PlannedRequest": "plan",
    "REPORT_COLUMNS": "report",
    "render_privileged_access_html": "report",
}

__all__ = [
    "GRAPH_BETA",
    "GRAPH_V1",
    "PERMISSIONS",
    "REPORT_COLUMNS",
    "SNAPSHOT_SECTIONS",
    "ApplyError",
    "ApplyResult",
    "AuditCheckpoint",
    "AuditDownload",
    "AuditProgress",
    "AuditStream",
    "ExecutedRequest",
    "GraphError",
    "Plan",
    "PlannedRequest",
    "RetryEvent",
    "RetryPolicy",
    "RolePolicy",
    "Tenant",
    "TenantWarning",
    "render_privileged_access_html",
]

if TYPE_CHECKING:  # pragma: no cover - static view of the lazy exports
    from ._http import GRAPH_BETA, GRAPH_V1, GraphError, RetryEvent, RetryPolicy
    from .audits import AuditCheckpoint, AuditDownload, AuditProgress, AuditStream
    from .client import Tenant
    from .plan import ApplyError, ApplyResult, ExecutedRequest, Plan, PlannedRequest
    from .reads import PERMISSIONS, SNAPSHOT_SECTIONS, RolePolicy, TenantWarning
    from .report import REPORT_COLUMNS, render_privileged_access_html


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'entra_lp.tenant' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
