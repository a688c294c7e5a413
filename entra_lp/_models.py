"""Shared pydantic bases: immutable models, and JSON documents with file I/O.

Every boundary model of entra-lp is frozen and rejects unknown fields, so a typo in a
hand-edited file is an error rather than silently ignored. Documents (snapshots,
recommendations, desired states, ground truth) also share one JSON round-trip whose load
errors name the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict

from .errors import EntraLPError

__all__ = ["FrozenModel", "JsonDocument"]


class FrozenModel(BaseModel):
    """Immutable pydantic model that rejects unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class JsonDocument(FrozenModel):
    """A frozen model saved as deterministic JSON (fields in declaration order).

    Subclasses name what they are (``document_kind``) and which error a bad file raises
    (``document_error``), so a failed load reads "<file>: invalid recommendation: ...".
    """

    document_kind: ClassVar[str] = "document"
    document_error: ClassVar[type[EntraLPError]] = EntraLPError

    def to_json(self) -> str:
        """Deterministic JSON; :meth:`from_json` gives back an equal object."""
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse what :meth:`to_json` wrote."""
        return cls.model_validate_json(text)

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_json` (and a final newline) to ``path``."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a file written by :meth:`save` (or by hand), naming the file in any error."""
        p = Path(path)
        try:
            return cls.from_json(p.read_bytes())
        except OSError as exc:
            raise cls.document_error(f"{p}: cannot read {cls.document_kind}: {exc}") from exc
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            raise cls.document_error(f"{p}: invalid {cls.document_kind}: {exc}") from exc
