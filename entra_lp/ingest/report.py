"""What an ingest run read, kept, rejected and why (pydantic, JSON round-trip)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

MAX_SAMPLES = 50
"""Rejected / duplicate samples kept in a report (the counts are always complete)."""


class RejectedSample(BaseModel):
    """One rejected record: where it is, which field, and why."""

    model_config = ConfigDict(frozen=True)

    location: str = Field(description="file:line, file:record N, or <records>:N")
    field: str = Field(description="dotted path of the offending field ('' for the whole record)")
    reason: str

    def __str__(self) -> str:
        where = f" field {self.field}" if self.field else ""
        return f"{self.location}:{where}: {self.reason}"


class FileReport(BaseModel):
    """Per-source counts (a file, or ``<records>`` for an iterable / DataFrame)."""

    source: str
    format: str = Field(description="detected format of most records, 'empty' when none")
    records_read: int = 0
    records_rejected: int = 0


class IngestReport(BaseModel):
    """Counts and samples of one ``read_audit_logs`` run.

    ``records_read`` = ``records_parsed`` + ``records_rejected``; of the parsed records,
    ``duplicates`` and ``filtered_out`` (outside since/until) are not counted in the rows.
    """

    engine: str = ""
    records_read: int = 0
    records_parsed: int = 0
    records_rejected: int = 0
    duplicates: int = 0
    filtered_out: int = 0
    no_initiator: int = Field(0, description="parsed records without user or app initiator")
    encoding_repairs: int = Field(0, description="lines with invalid UTF-8, decoded with U+FFFD")
    formats: dict[str, int] = Field(default_factory=dict)
    sources: list[FileReport] = Field(default_factory=list)
    skipped_files: list[str] = Field(default_factory=list)
    rejected_by_field: dict[str, int] = Field(default_factory=dict)
    rejected_samples: list[RejectedSample] = Field(default_factory=list)
    duplicate_samples: list[str] = Field(default_factory=list, description="location: id")
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    principals_by_kind: dict[str, int] = Field(default_factory=dict)
    records_by_kind: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        """A few human-readable lines for notebooks and logs."""
        span = (
            f"{self.first_seen:%Y-%m-%d %H:%M} .. {self.last_seen:%Y-%m-%d %H:%M} UTC"
            if self.first_seen and self.last_seen
            else "no records"
        )
        lines = [
            f"read {self.records_read} records ({self.engine} engine): "
            f"{self.records_parsed} parsed, {self.records_rejected} rejected, "
            f"{self.duplicates} duplicates, {self.filtered_out} outside the window",
            "formats: "
            + (", ".join(f"{k}={v}" for k, v in sorted(self.formats.items())) or "none"),
            f"span: {span}",
            "principals: "
            + (", ".join(f"{k}={v}" for k, v in sorted(self.principals_by_kind.items())) or "none"),
        ]
        lines += [f"rejected: {s}" for s in self.rejected_samples[:5]]
        lines += self.notes
        return "\n".join(lines)
