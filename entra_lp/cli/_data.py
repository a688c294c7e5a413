"""Inputs of the commands: audit logs (one or several sources), snapshots, recommendations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import EXIT_INPUT, Steps, fail

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from entra_lp.directory import DirectorySnapshot
    from entra_lp.ingest import AuditLog, IngestReport
    from entra_lp.recommendation import Recommendation
    from entra_lp.usage import UsageMatrix
    from entra_lp.validate import ValidationReport


def read_logs(
    sources: Sequence[Path],
    steps: Steps,
    *,
    since: str | None = None,
    until: str | None = None,
    fmt: str = "auto",
    label: str = "Reading audit logs",
) -> AuditLog:
    """Read every source (file or folder) into one :class:`AuditLog`.

    One source is read by ``read_audit_logs`` as is. Several are read one by one (a progress
    step each) and their usage rows merged on the contract's key columns; a record present in
    two sources is then counted twice, so overlapping exports belong in one folder, where the
    reader counts a repeated record id once.
    """
    from entra_lp.ingest import read_audit_logs

    if not sources:
        fail(EXIT_INPUT, "give at least one audit-log file or folder")
    logs: list[AuditLog] = []
    with steps.step(label, total=len(sources)) as step:
        for src in sources:
            step.say(src.name)
            logs.append(read_audit_logs(src, fmt, since=since, until=until))
            step.advance(1)
    return logs[0] if len(logs) == 1 else merge_logs(logs)


def merge_logs(logs: Sequence[AuditLog]) -> AuditLog:
    """Usage rows, buckets and reports of several ``AuditLog`` objects as one."""
    import pandas as pd

    from entra_lp.ingest import KEY_COLUMNS, USAGE_COLUMNS, AuditLog

    rows = pd.concat([lg.rows for lg in logs], ignore_index=True)
    # Earliest record first, so "first" picks the example id of the earliest record and
    # the name of the latest one ("last"), as a single read would.
    rows = rows.sort_values(["first_seen", "example_id"], kind="stable")
    by_last = rows.sort_values(["last_seen", "example_id"], kind="stable")
    keys = list(KEY_COLUMNS)
    agg = rows.groupby(keys, sort=False).agg(
        count=("count", "sum"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        example_id=("example_id", "first"),
    )
    names = by_last.groupby(keys, sort=False)["principal_name"].last()
    merged = agg.join(names).reset_index()[list(USAGE_COLUMNS)]
    merged = merged.sort_values(list(USAGE_COLUMNS), kind="stable").reset_index(drop=True)
    buckets = _merge_buckets([lg.buckets for lg in logs])
    return AuditLog(merged, buckets, _merge_reports([lg.report for lg in logs]),
                    logs[0].system_initiators)


def _merge_buckets(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    both = pd.concat(frames, ignore_index=True)
    out = both.groupby(["principal_id", "bucket_start"], sort=True)["count"].sum().reset_index()
    out["count"] = out["count"].astype("int64")
    return out


def _merge_reports(reports: Sequence[IngestReport]) -> IngestReport:
    from entra_lp.ingest import IngestReport

    total = IngestReport(engine=reports[0].engine)
    for r in reports:
        for name in ("records_read", "records_parsed", "records_rejected", "duplicates",
                     "filtered_out", "no_initiator", "encoding_repairs"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        for k, v in r.formats.items():
            total.formats[k] = total.formats.get(k, 0) + v
        for k, v in r.rejected_by_field.items():
            total.rejected_by_field[k] = total.rejected_by_field.get(k, 0) + v
        total.sources += r.sources
        total.skipped_files += r.skipped_files
        total.rejected_samples += r.rejected_samples
        total.duplicate_samples += r.duplicate_samples
        total.notes += r.notes
        total.first_seen = _min(total.first_seen, r.first_seen)
        total.last_seen = _max(total.last_seen, r.last_seen)
    total.notes.append(
        f"{len(reports)} sources merged; a record repeated across sources counts once per "
        "source (put overlapping exports in one folder to de-duplicate them)"
    )
    return total


def _min(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _max(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def usage_of(log: AuditLog, steps: Steps, label: str = "Mapping activities to actions"
             ) -> UsageMatrix:
    """Stage 2 under a progress step."""
    with steps.step(label):
        return log.usage()


def load_directory(path: Path | None) -> DirectorySnapshot | None:
    """The snapshot at ``path`` (``EntraLPError`` naming the file when invalid), or None."""
    if path is None:
        return None
    from entra_lp.directory import DirectorySnapshot

    return DirectorySnapshot.load(path)


def load_recommendation(path: Path) -> Recommendation:
    """A recommendation JSON file (``RecommendationError`` naming the file when invalid)."""
    from entra_lp.recommendation import Recommendation

    return Recommendation.load(path)


def load_validation(path: Path) -> ValidationReport:
    """A validation report JSON file (``entra-lp validate --report``); ``RecommendationError``
    naming the file when it cannot be read or is not one."""
    from entra_lp.errors import RecommendationError
    from entra_lp.validate import ValidationReport

    try:
        return ValidationReport.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise RecommendationError(f"{path}: cannot read validation report: {exc}") from exc
    except ValueError as exc:
        raise RecommendationError(f"{path}: invalid validation report (write one with "
                                  f"entra-lp validate --report): {exc}") from exc


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (creating parent folders); ``-`` writes to stdout."""
    if str(path) == "-":
        import sys

        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
