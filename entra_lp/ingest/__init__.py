"""Stage 1: read Entra directory-audit logs in any delivery form and aggregate them.

``read_audit_logs(source)`` accepts Graph ``directoryAudit`` exports, Log Analytics
``AuditLogs`` exports (JSON, JSON lines, portal CSV, query-API ``tables``), diagnostic-settings
/ Event Hub batches, and the exported result of our KQL usage query (``entra_lp.kql``). It
returns an :class:`AuditLog` whose ``rows`` follow the usage-row contract
(docs/dev/contracts.md). Large Graph / Event Hub JSON-lines inputs are aggregated in DuckDB
(``engine="duckdb"``, chosen by ``"auto"``); every record DuckDB cannot read exactly as the
Python reference would goes through the Python path, so both engines give the same result.
"""

from __future__ import annotations

from ._records import FORMATS, KEY_COLUMNS, USAGE_COLUMNS
from ._timeparse import parse_time_us
from .log import ENGINES, AuditLog, read_audit_logs
from .principals import PRINCIPAL_KINDS, SYSTEM_INITIATORS, principal_kind
from .report import FileReport, IngestReport, RejectedSample

__all__ = [
    "ENGINES",
    "FORMATS",
    "KEY_COLUMNS",
    "PRINCIPAL_KINDS",
    "SYSTEM_INITIATORS",
    "USAGE_COLUMNS",
    "AuditLog",
    "FileReport",
    "IngestReport",
    "RejectedSample",
    "parse_time_us",
    "principal_kind",
    "read_audit_logs",
]
