"""Exception hierarchy shared by ``permission_catalog`` and ``entra_lp``.

``EntraLPError`` is the single root. It lives here, in the lowest layer, so that the
catalog can raise it without importing the engine; ``entra_lp.errors`` re-exports it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EntraLPError(Exception):
    """Root of every error entra-lp raises on purpose."""


class CatalogError(EntraLPError):
    """The permission catalog's data is missing, stale or inconsistent."""


class UnknownNameError(EntraLPError, KeyError):
    """A value (action, role name, role id, task id...) is not known.

    The message names the offending value and suggests the closest known values.
    """

    def __init__(self, kind: str, value: str, known: Iterable[str] = (), hint: str = "") -> None:
        self.kind = kind
        self.value = value
        self.suggestions = close_matches(value, known)
        msg = f"unknown {kind}: {value!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class InvalidValueError(EntraLPError, ValueError):
    """A value is malformed (e.g. an action string or a GUID that cannot be parsed)."""


def close_matches(value: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` known values that look like ``value`` (case-insensitive)."""
    known_list = list(known)
    by_lower: dict[str, str] = {}
    for k in known_list:
        by_lower.setdefault(k.lower(), k)
    hits = difflib.get_close_matches(value.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[h] for h in hits]
