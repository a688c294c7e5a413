"""Errors raised by entra-lp. Everything derives from :class:`EntraLPError`."""

from __future__ import annotations

from permission_catalog.errors import (
    CatalogError,
    EntraLPError,
    InvalidValueError,
    UnknownNameError,
    close_matches,
)

__all__ = [
    "CatalogError",
    "EntraLPError",
    "IngestError",
    "InvalidValueError",
    "MiningError",
    "RecommendationError",
    "TenantError",
    "UnknownNameError",
    "close_matches",
]


class IngestError(EntraLPError):
    """Audit logs cannot be read at all (as opposed to single bad records, which are
    rejected, counted and reported without stopping the read)."""


class MiningError(EntraLPError):
    """Role mining got an input it cannot work on (wrong shape, bad parameter)."""


class RecommendationError(EntraLPError):
    """A recommendation cannot be built, validated or exported from the given inputs."""


class TenantError(EntraLPError):
    """Talking to a live tenant failed (auth, throttling beyond retries, bad response)."""
