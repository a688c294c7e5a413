"""Plumbing shared by the ``entra-lp`` commands: output, progress, errors and exit codes.

Exit codes (documented in ``docs/cli.md``; scripts rely on them):

* ``0`` ok;
* ``1`` findings: the command worked and found something the caller asked to be told about
  (coverage below ``--min-coverage``, plan violations, rejected records with ``--strict``;
  ``catalog`` commands: nothing found);
* ``2`` usage or input errors: bad option, unreadable or invalid file, unknown name;
* ``3`` tenant or network errors: authentication, permission, throttling, connection.

Machine output (``--json``) goes to stdout as one JSON document; progress bars and error lines
go to stderr, so ``entra-lp ... --json | jq`` always sees clean JSON.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from entra_lp.errors import EntraLPError, TenantError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_TENANT = 3
PIPE_WIDTH = 132
"""Console width when stdout is not a terminal (and COLUMNS is unset)."""

F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout (for scripts).")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars and no notes on stderr.")
]
SinceOpt = Annotated[
    str | None,
    typer.Option(help="Keep records at or after this time (ISO 8601, e.g. 2025-05-01)."),
]
UntilOpt = Annotated[
    str | None, typer.Option(help="Keep records before this time (ISO 8601, exclusive).")
]
DirectoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--directory",
        "-d",
        help="Directory snapshot JSON (from `entra-lp tenant pull` or the simulator).",
    ),
]
LogsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Audit-log files or folders: Graph JSON/JSONL, Log Analytics CSV/JSON, "
        "Event Hub batches, KQL usage export (each optionally .gz)."
    ),
]


class Output:
    """Where a command writes: results to stdout, progress and notes to stderr."""

    def __init__(self, *, json: bool = False, quiet: bool = False) -> None:
        self.json = json
        self.quiet = quiet
        _library_warnings(quiet)
        self.out = Console(soft_wrap=True, highlight=False)
        if not self.out.is_terminal and "COLUMNS" not in os.environ:
            # Piped or captured output: wide enough that tables keep one line per row.
            self.out = Console(soft_wrap=True, highlight=False, width=PIPE_WIDTH)
        self.err = Console(stderr=True, soft_wrap=True, highlight=False)

    def emit(self, obj: Any) -> None:
        """One JSON document on stdout (sorted keys: same input, same bytes)."""
        text = orjson.dumps(
            obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
            default=_json_default,
        )
        sys.stdout.write(text.decode() + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """An informational line on stderr (silenced by ``--quiet``)."""
        if not self.quiet:
            self.err.print(text)

    def steps(self) -> Steps:
        """Progress bars for the long steps of a command (stderr, TTY only)."""
        return Steps(enabled=not self.quiet and self.err.is_terminal, console=self.err)


def _library_warnings(quiet: bool) -> None:
    """Show the library's warnings on stderr as ``warning: ...`` lines (none with --quiet)."""
    detach_library_warnings()
    handler = _StderrHandler()
    handler.setLevel(logging.ERROR if quiet else logging.WARNING)
    handler.setFormatter(_LowerLevel())
    logging.getLogger("entra_lp").addHandler(handler)


def detach_library_warnings() -> None:
    """Remove what :func:`_library_warnings` attached (commands run in-process, e.g. tests)."""
    logger = logging.getLogger("entra_lp")
    for h in list(logger.handlers):
        if isinstance(h, _StderrHandler):
            logger.removeHandler(h)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # not setStream: it would flush a stream a test closed
        super().emit(record)


class _LowerLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


class Steps:
    """Rich progress on stderr: one line per step, a bar when the step has a size.

    Disabled (no output at all) when stderr is not a terminal or ``--quiet`` is given. The
    recommender's per-stage log lines update the current step's text while it runs.
    """

    def __init__(self, *, enabled: bool, console: Console) -> None:
        self.enabled = enabled
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )

    def __enter__(self) -> Steps:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Step]:
        """Show ``description`` while the block runs; the block may advance or re-word it."""
        task = self._progress.add_task(description, total=total)
        handle = Step(self._progress, task, description)
        with _log_to_step(handle, enabled=self.enabled):
            yield handle
        done = total if total is not None else 1
        self._progress.update(task, total=done, completed=done, description=description)


class Step:
    """The running step of a :class:`Steps`: ``advance(n)`` its bar, ``say(text)`` a detail."""

    def __init__(self, progress: Progress, task: Any, description: str) -> None:
        self._progress = progress
        self._task = task
        self.description = description

    def advance(self, n: int = 1) -> None:
        """Move the bar by ``n``."""
        self._progress.advance(self._task, n)

    def say(self, detail: str) -> None:
        """Show ``description: detail`` until the next call or the end of the step."""
        self._progress.update(self._task, description=f"{self.description}: {detail}")


@contextmanager
def _log_to_step(step: Step, *, enabled: bool) -> Iterator[None]:
    """Route the library's INFO stage lines (logger ``entra_lp``) into the step's text."""
    if not enabled:
        yield
        return
    handler = _StepHandler(step.say)
    logger = logging.getLogger("entra_lp")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


class _StepHandler(logging.Handler):
    def __init__(self, show: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._show = show

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage().splitlines()[0] if record.getMessage() else ""
        self._show(msg[:80])


# ---- errors -----------------------------------------------------------------------------------
def one_line(exc: BaseException, limit: int = 400) -> str:
    """The error message on a single line (pydantic and others write several)."""
    parts = [p.strip() for p in str(exc).splitlines()]
    text = " ".join(p for p in parts if p and not p.startswith("For further information"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fail(code: int, message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    Console(stderr=True, soft_wrap=True, highlight=False).print(
        f"[bold red]error:[/bold red] {message}", markup=True
    )
    raise typer.Exit(code)


def guarded(*, tenant: bool = False) -> Callable[[F], F]:
    """Map expected failures to one clear line and an exit code (never a traceback).

    ``TenantError`` → 3; any other ``EntraLPError``, unreadable files and bad JSON → 2. With
    ``tenant=True`` (commands that talk to Graph) connection and credential failures → 3.
    Anything else is a bug and keeps its traceback.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (typer.Exit, typer.Abort, KeyboardInterrupt):
                raise
            except TenantError as exc:
                fail(EXIT_TENANT, one_line(exc))
            except EntraLPError as exc:
                fail(EXIT_INPUT, one_line(exc))
            except Exception as exc:
                if tenant and _is_network_error(exc):
                    fail(EXIT_TENANT, f"{type(exc).__name__}: {one_line(exc)}")
                if isinstance(exc, OSError) or _is_bad_input(exc):
                    fail(EXIT_INPUT, _os_message(exc))
                raise
            finally:
                detach_library_warnings()

        return run  # type: ignore[return-value]

    return wrap


def _is_network_error(exc: BaseException) -> bool:
    """Connection and credential failures from httpx / azure-core, without importing them."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    names = {c.__module__.split(".")[0] for c in type(exc).__mro__}
    return bool(names & {"httpx", "httpcore", "azure", "msal", "kiota_abstractions"})


def _is_bad_input(exc: BaseException) -> bool:
    """Invalid JSON / YAML / model input given by the user (not a bug of ours)."""
    import json

    import yaml
    from pydantic import ValidationError

    return isinstance(exc, ValidationError | json.JSONDecodeError | yaml.YAMLError)


def _os_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or one_line(exc)}"
    return one_line(exc)


def read_json_file(path: Path, what: str) -> bytes:
    """The bytes of an input file, or exit 2 naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(EXIT_INPUT, f"{path}: cannot read {what}: {exc.strerror or exc}")
