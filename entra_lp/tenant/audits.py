"""Directory audit records streamed page by page, resumable after a fault.

Two ways to read ``/auditLogs/directoryAudits``:

* :class:`AuditStream` — an iterator of Graph-shaped dicts (feed it to
  ``entra_lp.ingest.read_audit_logs``). Its :class:`AuditCheckpoint` holds the link of the
  page being read and how many of that page's records were delivered, so a new stream
  started from it continues exactly where the last one stopped (after an error, a ``break``
  or ``close()``), with no record twice.
* :func:`download_audits` — writes JSON lines to a file and checkpoints after each page is
  on disk (fsync, then an atomic checkpoint write). A resumed download first truncates the
  file to the last checkpointed size, so even a killed process leaves no duplicates.

Throttling (429 / 503 with ``Retry-After``) is handled by the transport's retry policy; a
fault that outlasts it stops the read with the checkpoint pointing at the failed page.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import orjson

from ..errors import TenantError
from ..export.graph import format_datetime
from ._http import GraphHttp, RetryEvent, next_link

__all__ = [
    "AUDITS_PATH",
    "AuditCheckpoint",
    "AuditDownload",
    "AuditProgress",
    "AuditStream",
    "audit_query",
    "download_audits",
]

AUDITS_PATH = "/auditLogs/directoryAudits"
AUDIT_PERMISSION = "AuditLog.Read.All"

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def _utc(value: datetime | str, name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise TenantError(f"{name}={value!r} is not an ISO 8601 date/time") from exc
    # A naive datetime is read as UTC, the zone Graph's activityDateTime uses.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def audit_query(
    since: datetime | str, until: datetime | str, filter: str | None, page_size: int | None
) -> dict[str, Any]:
    """The ``$filter`` (and ``$top``) for records with ``since <= activityDateTime <= until``."""
    start, end = _utc(since, "since"), _utc(until, "until")
    if start > end:
        raise TenantError(f"since ({start.isoformat()}) is after until ({end.isoformat()})")
    text = (
        f"activityDateTime ge {format_datetime(start)} and "
        f"activityDateTime le {format_datetime(end)}"
    )
    if filter:
        text += f" and ({filter})"
    query: dict[str, Any] = {"$filter": text}
    if page_size is not None:
        if not 1 <= page_size <= 1000:
            raise TenantError(f"page_size={page_size}: Graph accepts 1–1000")
        query["$top"] = page_size
    return query


@dataclass
class AuditCheckpoint:
    """Where a paged audit read stands; JSON-serialisable, holds no secret.

    ``query_url`` identifies the read (window and filter) and is checked on resume;
    ``next_url`` is the page to fetch next and ``skip`` how many of its records were
    already delivered. ``output_bytes`` is the size of a download file after the last
    complete page.
    """

    query_url: str
    next_url: str | None
    skip: int = 0
    pages: int = 0
    records: int = 0
    done: bool = False
    output_bytes: int = 0

    @classmethod
    def start(cls, query_url: str) -> AuditCheckpoint:
        """A checkpoint at the first page."""
        return cls(query_url=query_url, next_url=query_url)

    def to_json(self) -> str:
        """Deterministic JSON."""
        return orjson.dumps(
            asdict(self), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
        ).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditCheckpoint:
        """Parse :meth:`to_json` output."""
        try:
            return cls(**orjson.loads(text))
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise TenantError(f"invalid audit checkpoint: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write atomically (temp file + rename), so a crash never leaves half a checkpoint."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | Path) -> AuditCheckpoint:
        """Read a checkpoint file, naming it in any error."""
        p = Path(path)
        try:
            return cls.from_json(p.read_bytes())
        except OSError as exc:
            raise TenantError(f"{p}: cannot read audit checkpoint: {exc}") from exc
        except TenantError as exc:
            raise TenantError(f"{p}: {exc}") from exc

    def check_matches(self, query_url: str, where: str) -> None:
        """Refuse to resume a different read (other window, filter or endpoint)."""
        if self.query_url != query_url:
            raise TenantError(
                f"{where}: checkpoint belongs to another read ({self.query_url}); expected "
                f"{query_url}. Use a new checkpoint for a new window or filter."
            )


@dataclass(frozen=True)
class AuditProgress:
    """Progress of an audit read, passed to a ``progress`` callback."""

    pages: int
    records: int
    waiting: float | None = None
    reason: str = ""


class _Progress:
    """Fans progress out to a callback or a rich progress line on stderr."""

    def __init__(self, progress: bool | Callable[[AuditProgress], None]) -> None:
        self._callback = progress if callable(progress) else None
        self._rich: Any = None
        self._task: Any = None
        if progress is True:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._rich.start()
            self._task = self._rich.add_task("directory audits: starting")

    def emit(self, state: AuditProgress) -> None:
        if self._callback is not None:
            self._callback(state)
        if self._rich is not None:
            text = f"directory audits: {state.records:,} records, {state.pages:,} pages"
            if state.waiting is not None:
                text += f" — waiting {state.waiting:.0f} s ({state.reason})"
            self._rich.update(self._task, description=text)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None


class AuditStream(Iterator[dict[str, Any]]):
    """Iterator of directory-audit records (Graph dicts), one page fetched at a time.

    Use it as a context manager or call :meth:`close` when stopping early, so the
    checkpoint records how far the caller got. ``checkpoint`` always reflects the records
    handed out so far; with ``checkpoint_path`` it is also saved at every page boundary,
    on errors and on close.
    """

    def __init__(
        self,
        http: GraphHttp,
        run: Runner,
        checkpoint: AuditCheckpoint,
        *,
        checkpoint_path: Path | None = None,
        progress: bool | Callable[[AuditProgress], None] = False,
        listeners: list[Callable[[RetryEvent], None]] | None = None,
    ) -> None:
        self._http, self._run = http, run
        self.checkpoint = checkpoint
        self._path = checkpoint_path
        self._buffer: list[dict[str, Any]] = []
        self._loaded = False
        self._page_next: str | None = None
        self._progress = _Progress(progress)
        self._listeners = listeners
        self._listener = self._on_retry
        if listeners is not None:
            listeners.append(self._listener)
        self._closed = False

    def _on_retry(self, event: RetryEvent) -> None:
        reason = f"HTTP {event.status}" if event.status else "connection"
        cp = self.checkpoint
        self._progress.emit(AuditProgress(cp.pages, cp.records, event.delay, reason))

    def __iter__(self) -> AuditStream:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._closed:
            raise StopIteration
        cp = self.checkpoint
        while True:
            if self._buffer:
                cp.skip += 1
                cp.records += 1
                return self._buffer.pop()
            if self._loaded:
                self._advance()
            if cp.done or cp.next_url is None:
                self.close()
                raise StopIteration
            self._load(cp.next_url)

    def _load(self, url: str) -> None:
        try:
            page = self._run(self._http.get_page(url, permission=AUDIT_PERMISSION))
        except BaseException:
            self._save()
            raise
        records = page["value"][self.checkpoint.skip :]
        self._buffer = list(reversed(records))  # pop() from the end is O(1)
        self._page_next = next_link(page)
        self._loaded = True

    def _advance(self) -> None:
        cp = self.checkpoint
        cp.next_url, cp.skip, cp.pages = self._page_next, 0, cp.pages + 1
        cp.done = self._page_next is None
        self._loaded = False
        self._save()
        self._progress.emit(AuditProgress(cp.pages, cp.records))

    def _save(self) -> None:
        if self._path is not None:
            self.checkpoint.save(self._path)

    def close(self) -> None:
        """Stop reading; save the checkpoint (with the position inside the current page)."""
        if self._closed:
            return
        self._closed = True
        if self._listeners is not None and self._listener in self._listeners:
            self._listeners.remove(self._listener)
        self._progress.close()
        self._save()

    def __enter__(self) -> AuditStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class AuditDownload:
    """Result of :func:`download_audits`."""

    path: Path
    checkpoint_path: Path
    records: int
    pages: int
    complete: bool


def _open_checkpoint(path: Path, cp_path: Path, query_url: str, overwrite: bool) -> AuditCheckpoint:
    if cp_path.exists():
        cp = AuditCheckpoint.load(cp_path)
        cp.check_matches(query_url, str(cp_path))
        size = path.stat().st_size if path.exists() else 0
        if size < cp.output_bytes:
            raise TenantError(
                f"{path}: {size} bytes but the checkpoint {cp_path} recorded "
                f"{cp.output_bytes}; the file was changed — delete both to start over"
            )
        return cp
    if path.exists() and path.stat().st_size and not overwrite:
        raise TenantError(f"{path} already exists; pass overwrite=True or choose another path")
    path.write_bytes(b"")
    return AuditCheckpoint.start(query_url)


def download_audits(
    http: GraphHttp,
    run: Runner,
    query_url: str,
    path: str | Path,
    *,
    checkpoint_path: str | Path | None = None,
    overwrite: bool = False,
    progress: bool | Callable[[AuditProgress], None] = False,
    listeners: list[Callable[[RetryEvent], None]] | None = None,
) -> AuditDownload:
    """Write every record to ``path`` as JSON lines; resumable, exactly once per record."""
    out = Path(path)
    cp_path = Path(checkpoint_path) if checkpoint_path else out.with_name(out.name + ".checkpoint")
    cp = _open_checkpoint(out, cp_path, query_url, overwrite)
    stream = AuditStream(http, run, cp, progress=progress, listeners=listeners)
    try:
        with out.open("r+b") as fh:
            fh.truncate(cp.output_bytes)  # drop a page written after the last checkpoint
            fh.seek(cp.output_bytes)
            _copy_pages(stream, fh, cp_path)
    finally:
        stream.close()
    return AuditDownload(out, cp_path, cp.records, cp.pages, cp.done)


def _copy_pages(stream: AuditStream, fh: Any, cp_path: Path) -> None:
    cp = stream.checkpoint
    while not cp.done and cp.next_url is not None:
        stream._load(cp.next_url)
        lines = [orjson.dumps(r) + b"\n" for r in reversed(stream._buffer)]
        stream._buffer = []
        fh.write(b"".join(lines))
        fh.flush()
        os.fsync(fh.fileno())
        cp.records += len(lines)
        cp.output_bytes = fh.tell()
        stream._advance()
        cp.save(cp_path)
