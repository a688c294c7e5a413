"""``read_audit_logs``: any audit-log source to an :class:`AuditLog` of usage rows."""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import pandas as pd

from entra_lp._memory import release_memory
from entra_lp.errors import InvalidValueError, UnknownNameError

from . import _duck, _sources
from ._aggregate import Aggregator
from ._records import FORMATS
from ._table import UsageTable
from ._timeparse import to_epoch_us
from .principals import PRINCIPAL_KINDS, SYSTEM_INITIATORS, principals_frame
from .report import IngestReport

if TYPE_CHECKING:
    from entra_lp.usage import UsageMatrix

log = logging.getLogger("entra_lp.ingest")

ENGINES: tuple[str, ...] = ("auto", "python", "duckdb")
"""Stage-1 engines. ``python`` (orjson streaming + dict aggregation) reads every source and
is the reference. ``duckdb`` aggregates Graph / Event Hub JSON-lines files in DuckDB (parallel,
memory-limited, spilling to disk) and hands every record it cannot vouch for to the Python
path, so both give the same result; other sources are read by the Python path. ``auto`` uses
``duckdb`` when such files make up at least ``AUTO_MIN_BYTES``, else ``python``."""

AUTO_MIN_BYTES = 32 << 20
"""Below this many bytes of JSON-lines input, ``auto`` reads with Python (DuckDB's fixed
start-up cost is not worth it)."""

Source = str | PathLike[str] | Iterable[Mapping[str, Any]] | pd.DataFrame


class AuditLog:
    """Stage-1 result: usage rows, success buckets, principals and the ingest report.

    Attributes follow docs/dev/contracts.md: ``rows`` (usage rows), ``buckets``
    (principal x 15-minute bucket counts of successful records), ``formats`` (records per
    detected format), ``report`` (:class:`IngestReport`), plus ``principals`` (one line per
    initiator with its kind) and ``table`` (the same rows as a compact :class:`UsageTable`,
    which stage 2 reads). ``rows`` may be given as either; the DataFrame is built from the
    table on first access (millions of rows cost far less as codes than as strings).
    """

    def __init__(
        self,
        rows: pd.DataFrame | UsageTable,
        buckets: pd.DataFrame,
        report: IngestReport,
        system_initiators: Iterable[str] = SYSTEM_INITIATORS,
    ) -> None:
        self.table = rows if isinstance(rows, UsageTable) else UsageTable.from_frame(rows)
        self._rows: pd.DataFrame | None = None
        self.buckets = buckets
        self.report = report
        self.system_initiators = frozenset(s.casefold() for s in system_initiators)
        self.principals = principals_frame(self.table, self.system_initiators)
        self._fill_kinds()

    @property
    def rows(self) -> pd.DataFrame:
        """Usage rows (contract schema), built from :attr:`table` once and kept."""
        if self._rows is None:
            self._rows = self.table.to_frame()
        return self._rows

    @property
    def formats(self) -> dict[str, int]:
        """Records per detected format (``graph``, ``log_analytics``, ``event_hub``,
        ``kql_usage``)."""
        return dict(self.report.formats)

    def _fill_kinds(self) -> None:
        principals = self.principals
        counts = principals["kind"].value_counts()
        records = principals.groupby("kind")["records"].sum()
        self.report.principals_by_kind = {k: int(counts[k]) for k in PRINCIPAL_KINDS if k in counts}
        self.report.records_by_kind = {k: int(records[k]) for k in PRINCIPAL_KINDS if k in records}

    def usage(self, catalog: Any = None) -> UsageMatrix:
        """Stage 2: map activity signatures to resource actions (see ``entra_lp.usage``)."""
        from entra_lp.usage import build_usage_matrix

        return build_usage_matrix(self, catalog)

    def __repr__(self) -> str:
        r = self.report
        return (
            f"AuditLog({len(self.table)} usage rows from {r.records_read} records, "
            f"{r.records_rejected} rejected, formats={self.formats})"
        )


def _bound(value: object, name: str) -> int | None:
    if value is None:
        return None
    us = to_epoch_us(value)
    if us is None:
        raise InvalidValueError(f"{name}={value!r}: expected a datetime or an ISO 8601 string")
    return us


def _check_split(cut: int | None, lo: int | None, hi: int | None, split_at: object) -> None:
    """``split_at`` must lie in ``[since, until]``: outside, one window would hold records the
    caller excluded with since/until (and the engines would bound the scan differently)."""
    if cut is not None and ((lo is not None and cut < lo) or (hi is not None and cut > hi)):
        raise InvalidValueError(
            f"split_at={split_at!r}: outside the since/until window; "
            "expected since <= split_at <= until"
        )


def _check_choice(kind: str, value: str, known: tuple[str, ...]) -> None:
    if value not in known:
        raise UnknownNameError(kind, value, known)


@overload
def read_audit_logs(
    source: Source,
    format: str = "auto",
    *,
    engine: str = "auto",
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    split_at: None = None,
    progress: bool = False,
    system_initiators: Iterable[str] = SYSTEM_INITIATORS,
    value_properties: Iterable[str] | None = None,
) -> AuditLog: ...


@overload
def read_audit_logs(
    source: Source,
    format: str = "auto",
    *,
    engine: str = "auto",
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    split_at: datetime | str,
    progress: bool = False,
    system_initiators: Iterable[str] = SYSTEM_INITIATORS,
    value_properties: Iterable[str] | None = None,
) -> tuple[AuditLog, AuditLog]: ...


def read_audit_logs(
    source: Source,
    format: str = "auto",
    *,
    engine: str = "auto",
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    split_at: datetime | str | None = None,
    progress: bool = False,
    system_initiators: Iterable[str] = SYSTEM_INITIATORS,
    value_properties: Iterable[str] | None = None,
) -> AuditLog | tuple[AuditLog, AuditLog]:
    """Read directory-audit records and aggregate them into usage rows (stage 1).

    ``source``: a file or folder (``.json``, ``.jsonl``/``.ndjson``, ``.csv``, each optionally
    ``.gz``; folders are read recursively in name order), an iterable of dicts, or a pandas
    DataFrame. ``format``: ``"auto"`` (detected per record, reported per file) or one of
    ``graph``, ``log_analytics``, ``event_hub``, ``kql_usage``. ``since`` (inclusive) and
    ``until`` (exclusive) bound the activity time. Bad records are rejected and reported in
    ``log.report``, never fatal; a file that cannot be read at all raises ``IngestError``.
    A record whose id was already read is counted once (``report.duplicates``).
    ``engine``: see :data:`ENGINES`; every engine gives the same result, ``report.engine``
    says which one ran and ``report.notes`` why DuckDB handed over to Python if it did.

    ``split_at``: read once, return two logs, ``[since, split_at)`` and ``[split_at, until)``
    (a training window and the later window to validate on), each exactly what a call with
    those bounds would return. ``value_properties``: names of the modified properties whose
    decoded new value enters the key (``property_values``); default: those the audit rules of
    the default catalog test (``modified_values_any``).
    """
    _check_choice("ingest format", format, ("auto", *FORMATS))
    _check_choice("ingest engine", engine, ENGINES)
    lo, hi = _bound(since, "since"), _bound(until, "until")
    cut = _bound(split_at, "split_at")
    _check_split(cut, lo, hi, split_at)
    windows = [(lo, hi)] if cut is None else [(lo, cut), (cut, hi)]
    values = _value_names(value_properties)
    forced = None if format == "auto" else format
    started = time.perf_counter()
    with _gc_paused():
        results = _read_windows(source, forced, engine, windows, values=values, progress=progress)
        logs = [AuditLog(*r, system_initiators=system_initiators) for r in results]
    del results
    release_memory()  # the scan's temporaries are gone: keep them out of the next stage's peak
    for result in logs:
        _log_summary(result, time.perf_counter() - started)
    return logs[0] if cut is None else (logs[0], logs[1])


_Result = tuple[UsageTable, pd.DataFrame, IngestReport]


def _read_windows(
    source: Source,
    forced: str | None,
    engine: str,
    windows: list[tuple[int | None, int | None]],
    *,
    values: frozenset[str],
    progress: bool,
) -> list[_Result]:
    """One result per window: one DuckDB scan for all of them, or the Python engine."""
    note = ""
    if engine != "python" and forced is None and isinstance(source, str | PathLike):
        fast, note = _read_duckdb(Path(source), windows, values, engine, progress)
        if fast is not None:
            return fast
    if len(windows) > 1 and not isinstance(source, str | PathLike | pd.DataFrame):
        source = list(source)  # read once per window: a one-shot iterable must be kept
    out = []
    for since_us, until_us in windows:
        agg = Aggregator(since_us, until_us, values)
        used = _read_source(agg, source, forced, progress)
        report = agg.finish(used)
        if note:
            report.notes.append(note)
        out.append((agg.table(), agg.buckets_frame(), report))
    return out


def _value_names(names: Iterable[str] | None) -> frozenset[str]:
    """Lower-case property names whose values stage 1 keeps (default: the catalog's)."""
    if names is None:
        from permission_catalog.audit_rules import value_property_names

        names = value_property_names()
    return frozenset(" ".join(n.split()).lower() for n in names)


def _read_duckdb(
    path: Path,
    windows: list[tuple[int | None, int | None]],
    values: frozenset[str],
    engine: str,
    progress: bool,
) -> tuple[list[_Result] | None, str]:
    """The DuckDB engine's results, or None (and why) when the Python engine must read."""
    files, skipped = _sources.list_files(path)
    forms = {f: form for f in files if (form := _duck.sniff_form(f)) is not None}
    size = sum(f.stat().st_size for f in forms)
    if not forms or (engine == "auto" and size < AUTO_MIN_BYTES):
        return None, "" if engine == "auto" else "no Graph / Event Hub JSON-lines file: python"
    import duckdb

    aggs = [Aggregator(lo, hi, values) for lo, hi in windows]
    counters = _sources.Counters()
    started = time.perf_counter()
    try:
        results = _duck.run(aggs, files, forms, counters)
    except (_duck.Fallback, duckdb.Error) as why:
        log.info("duckdb engine: falling back to python (%s)", why)
        return None, f"duckdb engine fell back to python: {why}"
    for _, _, report in results:
        report.skipped_files = [str(s) for s in skipped]
    for name in skipped:
        log.info("skipped %s (not .json/.jsonl/.ndjson/.csv[.gz])", name)
    seconds = time.perf_counter() - started
    for done in results[0][2].sources:
        log.info("%s: %s, %d records (%d rejected)", done.source, done.format,
                 done.records_read, done.records_rejected)
        if progress:
            print(
                f"[entra-lp ingest] {done.source}: {done.format}, {done.records_read} "
                f"records, {done.records_rejected} rejected (duckdb, {seconds:.1f}s in all)",
                file=sys.stderr,
                flush=True,
            )
    return results, ""


@contextmanager
def _gc_paused() -> Iterator[None]:
    # The aggregation holds ~one container per usage row; CPython's cyclic collector would
    # rescan all of them again and again (quadratic-looking slowdown on large logs). Nothing
    # here creates reference cycles, so pausing it is safe; it is restored on exit.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_source(agg: Aggregator, source: Source, forced: str | None, progress: bool) -> str:
    used = "python"
    if isinstance(source, pd.DataFrame):
        frame = source.astype(object).where(source.notna(), None)
        _consume(
            agg,
            "<DataFrame>",
            _sources.iter_records(frame.to_dict("records"), "<DataFrame>"),
            forced,
            progress,
        )
    elif isinstance(source, str | PathLike):
        used = _read_paths(agg, Path(source), forced, progress)
    else:
        _consume(agg, "<records>", _sources.iter_records(source), forced, progress)
    return used


def _read_paths(agg: Aggregator, path: Path, forced: str | None, progress: bool) -> str:
    files, skipped = _sources.list_files(path)
    agg.report.skipped_files = skipped
    for name in skipped:
        log.info("skipped %s (not .json/.jsonl/.ndjson/.csv[.gz])", name)
    counters = _sources.Counters()
    for file in files:
        _consume(agg, str(file), _sources.read_file(file, counters), forced, progress)
    agg.report.encoding_repairs += counters.encoding_repairs
    return "python"


def _consume(
    agg: Aggregator, name: str, items: Iterable[_sources.Item], forced: str | None, progress: bool
) -> None:
    started = time.perf_counter()
    agg.consume(name, items, forced)
    done = agg.report.sources[-1]
    log.info(
        "%s: %s, %d records (%d rejected)",
        name,
        done.format,
        done.records_read,
        done.records_rejected,
    )
    if progress:
        rate = done.records_read / max(time.perf_counter() - started, 1e-9)
        print(
            f"[entra-lp ingest] {name}: {done.format}, {done.records_read} records, "
            f"{done.records_rejected} rejected ({rate:,.0f}/s)",
            file=sys.stderr,
            flush=True,
        )


def _log_summary(result: AuditLog, seconds: float) -> None:
    report = result.report
    log.info(
        "ingest: %d records in %.2fs, formats %s, %d rejected, %d duplicates",
        report.records_read,
        seconds,
        report.formats,
        report.records_rejected,
        report.duplicates,
    )
    for sample in report.rejected_samples[:5]:
        log.warning("rejected %s", sample)
