"""entra-lp: least privilege for Microsoft Entra ID.

The public API is re-exported here flat. Heavy modules (DuckDB, SciPy, networkx,
msgraph-sdk) load on first use, so ``import entra_lp`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "EntraLPError": "errors",
    "IngestError": "errors",
    "MiningError": "errors",
    "RecommendationError": "errors",
    "TenantError": "errors",
    "UnknownNameError": "errors",
    "InvalidValueError": "errors",
    "CatalogError": "errors",
    "DirectorySnapshot": "directory",
    "PimSettings": "directory",
    "RoleAssignment": "directory",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:  # pragma: no cover - static view of the lazy exports
    from .directory import DirectorySnapshot, PimSettings, RoleAssignment
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'entra_lp' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
