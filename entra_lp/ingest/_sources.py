"""Turn a source (path, folder, iterable, DataFrame) into located raw records.

Each yielded item is ``(location, record_or_bad)``: a dict, or a :class:`BadItem` for input
that is not a JSON object at all (invalid JSON, truncated tail, a number on a line...).
JSON lines and CSV stream line by line (memory independent of file size); a whole-document
JSON file (a Graph ``value`` page, an Event Hub ``records`` blob, a query-API ``tables``
answer, a JSON list) is loaded at once, which is what those bounded-size exports are for.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import orjson

from entra_lp.errors import IngestError

SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")
_WRAPPERS = ("value", "records")
_ARRAY_START = re.compile(rb'"(?:value|records)"\s*:\s*\[')
_UTC_SUFFIX = re.compile(r"\s*\[UTC\]$")


@dataclass(frozen=True, slots=True)
class BadItem:
    """Input that could not even be read as a record."""

    field: str
    reason: str


Item = tuple[str, "Mapping[str, Any] | BadItem"]


class Counters:
    """Side counts a reader reports (mutable, one per run)."""

    def __init__(self) -> None:
        self.encoding_repairs = 0


def is_supported(path: Path) -> bool:
    """Whether a folder member is read (``.json``, ``.jsonl``, ``.ndjson``, ``.csv``, + .gz)."""
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name.endswith(SUFFIXES)


def list_files(path: Path) -> tuple[list[Path], list[str]]:
    """Files to read under ``path`` (sorted) and the folder members skipped."""
    if not path.exists():
        raise IngestError(f"{path}: no such file or folder")
    if path.is_file():
        return [path], []
    found: list[Path] = []
    skipped: list[Path] = []
    for member in sorted(p for p in path.rglob("*") if p.is_file()):
        (found if is_supported(member) else skipped).append(member)
    return found, [str(p) for p in skipped]


@contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    try:
        # closed by the ``with`` below; opening inside it would hide the file name on error
        raw = cast(
            IO[bytes],
            gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb"),  # noqa: SIM115
        )
    except OSError as exc:
        raise IngestError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    with raw:
        yield raw


def _loads(data: bytes, counters: Counters) -> Any:
    """orjson.loads; invalid UTF-8 is decoded with replacement characters and counted."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "utf-8" not in str(exc).lower():
            raise
    text = data.decode("utf-8", errors="replace")
    value = orjson.loads(text)
    counters.encoding_repairs += 1
    return value


def _unwrap(value: Any) -> list[Any] | None:
    """Records inside a page / batch / query answer; None when ``value`` is a record."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return None
    for key in _WRAPPERS:
        inner = value.get(key)
        if isinstance(inner, list):
            return inner
    tables = value.get("tables")
    if isinstance(tables, list):
        return list(_table_rows(tables))
    return None


def _table_rows(tables: list[Any]) -> Iterator[Any]:
    """Rows of a Log Analytics query-API answer as dicts keyed by column name."""
    for table in tables:
        if not isinstance(table, dict):
            yield table
            continue
        columns = [c.get("name") if isinstance(c, dict) else c for c in table.get("columns", [])]
        for row in table.get("rows", []):
            yield dict(zip(columns, row, strict=False)) if isinstance(row, list) else row


def _located(where: str, items: Iterable[Any]) -> Iterator[Item]:
    for n, item in enumerate(items, 1):
        if isinstance(item, dict):
            yield f"{where}#{n}", item
        else:
            yield f"{where}#{n}", BadItem("", f"expected a JSON object, got {type(item).__name__}")


def _jsonl(name: str, fh: IO[bytes], counters: Counters) -> Iterator[Item]:
    for lineno, line in enumerate(fh, 1):
        if line.strip():
            yield from jsonl_line(name, lineno, line, counters)


def jsonl_line(name: str, lineno: int, line: bytes, counters: Counters) -> Iterator[Item]:
    """Located items of one non-blank JSON-lines line (a record, a page or batch, or bad)."""
    where = f"{name}:{lineno}"
    try:
        value = _loads(line, counters)
    except orjson.JSONDecodeError as exc:
        yield where, BadItem("", f"invalid JSON ({exc.msg}, column {exc.colno})")
        return
    inner = _unwrap(value)
    if inner is not None:
        yield from _located(where, inner)
    elif isinstance(value, dict):
        yield where, value
    else:
        yield where, BadItem("", f"expected a JSON object, got {type(value).__name__}")


def open_binary(path: Path) -> IO[bytes]:
    """``path`` opened for binary reading (gzip by extension); IngestError naming it."""
    try:
        if path.name.lower().endswith(".gz"):
            return cast(IO[bytes], gzip.open(path, "rb"))
        return path.open("rb")
    except OSError as exc:
        raise IngestError(f"{path}: cannot open ({exc.strerror or exc})") from exc


def _salvage(name: str, data: bytes, error: str) -> Iterator[Item]:
    """Records before the point where a JSON document breaks (a truncated download)."""
    text_start = _ARRAY_START.search(data)
    start = (
        text_start.end()
        if text_start
        else (data.find(b"[") + 1 if data.lstrip()[:1] == b"[" else 0)
    )
    if start <= 0:
        yield f"{name}:record 1", BadItem("", f"invalid JSON document ({error})")
        return
    text = data[start:].decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    pos, n = 0, 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return
        n += 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield (
                f"{name}:record {n}",
                BadItem("", f"invalid or truncated JSON from here to the end ({exc.msg})"),
            )
            return
        if isinstance(value, dict):
            yield f"{name}:record {n}", value
        else:
            yield f"{name}:record {n}", BadItem("", "expected a JSON object")


def _document(name: str, fh: IO[bytes], counters: Counters) -> Iterator[Item]:
    data = fh.read()
    try:
        value = _loads(data, counters)
    except orjson.JSONDecodeError as exc:
        yield from _salvage(name, data, f"{exc.msg}, line {exc.lineno}")
        return
    inner = _unwrap(value)
    if inner is None:
        inner = [value]
    for n, item in enumerate(inner, 1):
        where = f"{name}:record {n}"
        if isinstance(item, dict):
            yield where, item
        else:
            yield where, BadItem("", f"expected a JSON object, got {type(item).__name__}")


@contextmanager
def _csv_field_limit() -> Iterator[None]:
    # Dynamic columns can hold megabytes of JSON; the stdlib default (128 KiB) is global.
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv(name: str, fh: IO[bytes]) -> Iterator[Item]:
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield from _csv_rows(name, text)
    finally:
        # ``fh`` belongs to the caller's ``with``; a wrapper left attached when a consumer stops
        # early would be collected "unclosed" (ResourceWarning) before that ``with`` closes it.
        text.detach()


def _csv_rows(name: str, text: IO[str]) -> Iterator[Item]:
    with _csv_field_limit():
        reader = csv.reader(text)
        columns: list[str] | None = None
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                where, what = ((1, "unreadable CSV header") if columns is None
                               else (reader.line_num, "malformed CSV"))
                yield f"{name}:{where}", BadItem("", f"{what} ({exc})")
                return
            if columns is None:
                columns = [_UTC_SUFFIX.sub("", h.strip()) for h in row]
            elif any(cell.strip() for cell in row):
                yield (
                    f"{name}:{reader.line_num}",
                    {c: (v if v != "" else None) for c, v in zip(columns, row, strict=False)},
                )


def first_line(fh: IO[bytes]) -> bytes:
    """The first non-blank line (whole, however long), without losing the stream."""
    for _ in range(1000):
        line = fh.readline()
        if not line or line.strip(b"\xef\xbb\xbf \t\r\n"):
            break
    fh.seek(0)
    return line


def sniff(path: Path, first_line: bytes) -> str:
    """``jsonl``, ``json`` (one document), ``csv`` or ``empty`` from name and first line."""
    stripped = first_line.strip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        return "empty"
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if stripped[:1] == b"[":
        return "json"
    if stripped[:1] != b"{":
        return "csv"
    try:
        orjson.loads(stripped.decode("utf-8", errors="replace"))
    except orjson.JSONDecodeError:
        return "json"
    return "jsonl"


def read_file(path: Path, counters: Counters) -> Iterator[Item]:
    """Located raw records of one file; IngestError when it cannot be read at all."""
    name = str(path)
    try:
        with _open(path) as fh:
            kind = sniff(path, first_line(fh))
            if kind == "jsonl":
                yield from _jsonl(name, fh, counters)
            elif kind == "json":
                yield from _document(name, fh, counters)
            elif kind == "csv":
                yield from _csv(name, fh)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{path}: cannot be read ({exc})") from exc


def iter_records(records: Iterable[Any], name: str = "<records>") -> Iterator[Item]:
    """Located items of an in-memory iterable of dicts."""
    for n, item in enumerate(records, 1):
        where = f"{name}:{n}"
        if isinstance(item, Mapping):
            yield where, item
        else:
            yield where, BadItem("", f"expected a dict, got {type(item).__name__}")
