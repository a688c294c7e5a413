"""Columns held in memory up to a budget and in a scratch file beyond it.

The DuckDB engine keeps per-record and per-row columns (codes, times, hashes, positions)
in :class:`Column` objects that share one :class:`Store`. While the store's in-memory
segments stay under its budget, a column is a list of numpy arrays; past the budget, new
segments are written to the store's scratch file and read back with ``readinto`` (through
the page cache, which the process's resident memory does not count). Every pass over the
records reads a chunk at a time, so one code path serves a small log held in memory and a
large one mostly on disk, and peak memory stops growing once the budget is reached.

A finished column that went to disk becomes a read-only array mapped from a file of its own
(:meth:`Column.array`); :func:`release_pages` hands its touched pages back after a pass.
"""

from __future__ import annotations

import atexit
import contextlib
import mmap
import os
import re
import tempfile
import weakref
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from entra_lp.errors import IngestError, InvalidValueError

DEFAULT_BUDGET = "64MB"

MEMORY_BUDGET: int | None = None
"""Bytes of per-record and per-row columns one DuckDB-engine ingest keeps in memory (the
rest goes to a scratch file in ``TMPDIR``, at most about 150 bytes a record); None: the
``ENTRA_LP_INGEST_MEMORY`` environment variable (``"256MB"``, ``"1GB"``), else 64 MB."""


def parse_size(text: str) -> int:
    """Bytes of ``"64MB"``, ``"2GB"``, ``"512KB"`` or a plain number of bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)B?\s*", text, flags=re.IGNORECASE)
    if not match:
        raise InvalidValueError(
            f"ENTRA_LP_INGEST_MEMORY={text!r}: expected a size such as 64MB or 1GB")
    return int(match.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]


def memory_budget() -> int:
    """The memory budget in force (see :data:`MEMORY_BUDGET`)."""
    if MEMORY_BUDGET is not None:
        return MEMORY_BUDGET
    return parse_size(os.environ.get("ENTRA_LP_INGEST_MEMORY", DEFAULT_BUDGET))


@dataclass
class _Segment:
    """A run of a column: in memory (``data``) or at ``offset`` in the store's file."""

    length: int
    dtype: np.dtype[Any]
    data: np.ndarray | None = None
    offset: int = 0

    @property
    def nbytes(self) -> int:
        return self.length * self.dtype.itemsize


class Store:
    """The budget and the scratch file that a run's columns share."""

    def __init__(self, budget: int | None = None, folder: str | None = None) -> None:
        self.budget = memory_budget() if budget is None else budget
        self.folder = folder
        self.held = 0  # bytes of in-memory segments
        self.written = 0  # bytes written to the scratch file
        self._file: BinaryIO | None = None
        self._path = ""

    def put(self, values: np.ndarray) -> _Segment:
        """A segment holding ``values``: in memory while the budget allows (a view is copied,
        so that the budget counts what is really held), else in the scratch file."""
        values = np.ascontiguousarray(values)
        segment = _Segment(len(values), values.dtype)
        if self.held + values.nbytes <= self.budget:
            segment.data = values if values.flags.owndata else values.copy()
            self.held += values.nbytes
            return segment
        fh = self._open()
        segment.offset = self.written
        try:
            fh.seek(segment.offset)
            fh.write(_bytes(values))
        except OSError as exc:
            raise _no_room(self._path, exc) from exc
        self.written += values.nbytes
        return segment

    def get(self, segment: _Segment, start: int, stop: int) -> np.ndarray:
        """Elements ``start:stop`` of ``segment``."""
        if segment.data is not None:
            return segment.data[start:stop]
        out = np.empty(stop - start, dtype=segment.dtype)
        if len(out):
            fh = self._open()
            fh.seek(segment.offset + start * segment.dtype.itemsize)
            if fh.readinto(_bytes(out)) != out.nbytes:  # type: ignore[attr-defined]
                raise IngestError(f"the ingest's scratch file {self._path} was cut short")
        return out

    def drop(self, segment: _Segment) -> None:
        """Forget a segment (its memory is freed; file space is reclaimed with the file)."""
        if segment.data is not None:
            self.held -= segment.nbytes
            segment.data = None

    def _open(self) -> BinaryIO:
        if self._file is None:
            fd, self._path = tempfile.mkstemp(prefix="entra_lp_spill_", dir=self.folder)
            self._file = os.fdopen(fd, "w+b")  # buffered: writes and reads are whole
            with contextlib.suppress(OSError):
                os.unlink(self._path)  # POSIX: gone with the last handle; Windows: see close
        return self._file

    def close(self) -> None:
        """Close (and remove) the scratch file."""
        if self._file is not None:
            self._file.close()
            self._file = None
            remove_file(self._path)


def _bytes(array: np.ndarray) -> memoryview:
    """A contiguous array's bytes, without a copy."""
    return memoryview(array).cast("B")  # type: ignore[arg-type]


def _no_room(path: str, exc: OSError) -> IngestError:
    folder = os.path.dirname(path) or "."
    return IngestError(
        f"cannot write the ingest's scratch columns to {folder} ({exc}); point TMPDIR at a "
        "folder with room for about 150 bytes per record, or raise ENTRA_LP_INGEST_MEMORY")


def remove_file(path: str) -> None:
    """Remove ``path`` if it is there (a scratch file; errors are of no use here)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


class Column:
    """A numpy column appended to in segments, read back a range at a time.

    With ``block``, appends are copied into a buffer of that many elements that becomes one
    segment when full (a scan's small batches make few, large segments, and a read of an
    aligned range is a view of one of them); without, every append is a segment."""

    def __init__(self, store: Store, dtype: Any, block: int = 0) -> None:
        self.store = store
        self.dtype = np.dtype(dtype)  # the widest type of the segments
        self.block = block
        self._segments: list[_Segment] = []
        self._starts: list[int] = []
        self._tail = np.zeros(0, dtype=self.dtype)  # the block being filled
        self._used = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def append(self, values: np.ndarray) -> None:
        """Add ``values`` at the end (kept in their own type if it is not wider)."""
        if not len(values):
            return
        if values.dtype.itemsize > self.dtype.itemsize:
            values = values.astype(self.dtype)
        if not self.block:
            self._add(values, self.size)
            self.size += len(values)
            return
        done = 0
        while done < len(values):
            if self._tail.dtype != values.dtype or self._used == len(self._tail):
                self._flush()  # blocks end at multiples of ``block``: aligned reads are views
                self._tail = np.empty(self.block - self.size % self.block, dtype=values.dtype)
            take = min(len(self._tail) - self._used, len(values) - done)
            self._tail[self._used:self._used + take] = values[done:done + take]
            self._used += take
            done += take
            self.size += take

    def _add(self, values: np.ndarray, start: int) -> None:
        self._starts.append(start)
        self._segments.append(self.store.put(values))

    def _flush(self) -> None:
        """The block being filled becomes a segment (a partial one is copied to its size)."""
        if self._used:
            full = self._used == len(self._tail)
            self._add(self._tail if full else self._tail[:self._used].copy(),
                      self.size - self._used)
        self._tail, self._used = np.zeros(0, dtype=self._tail.dtype), 0

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Elements ``start:stop``: a read-only view where one in-memory segment holds them
        (in that segment's type), else a new array of the segments' widest type."""
        self._flush()
        stop = self.size if stop is None else min(stop, self.size)
        k = max(bisect_right(self._starts, start) - 1, 0)
        if start < stop <= self._starts[k] + self._segments[k].length:
            first, segment = self._starts[k], self._segments[k]
            view = self.store.get(segment, start - first, stop - first)
            view.flags.writeable = False
            return view
        out = np.empty(max(stop - start, 0), dtype=self.dtype)
        at = start
        while at < stop:
            first, segment = self._starts[k], self._segments[k]
            end = min(stop, first + segment.length)
            out[at - start:end - start] = self.store.get(segment, at - first, end - first)
            at, k = end, k + 1
        return out

    def gather(self, positions: np.ndarray, step: int = 1 << 20) -> np.ndarray:
        """Elements at ascending ``positions``, reading only the ranges that hold them."""
        out = np.empty(len(positions), dtype=self.dtype)
        done = 0
        while done < len(positions):
            lo = int(positions[done])
            end = int(np.searchsorted(positions, lo + step, side="left"))
            out[done:end] = self.read(lo, lo + step)[positions[done:end] - lo]
            done = end
        return out

    def map(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        """Replace every segment by ``fn`` of it (dtype may change; sizes must not)."""
        self._flush()
        segments, self._segments = self._segments, []
        for segment in segments:
            values = fn(self.store.get(segment, 0, segment.length))
            self.store.drop(segment)
            self._segments.append(self.store.put(values))
        self.dtype = np.result_type(*(s.dtype for s in self._segments)) if segments else (
            self.dtype)

    def clear(self) -> None:
        """Drop every element (memory is handed back to the store's budget)."""
        for segment in self._segments:
            self.store.drop(segment)
        self._segments, self._starts, self.size = [], [], 0
        self._tail, self._used = np.zeros(0, dtype=self.dtype), 0

    def drain(self) -> np.ndarray:
        """Every element as one array, the column emptied."""
        values = self.read()
        self.clear()
        return values

    @property
    def spilled(self) -> bool:
        """Whether any segment is on disk."""
        self._flush()
        return any(s.data is None for s in self._segments)

    def array(self, transform: Callable[[np.ndarray], np.ndarray] | None = None,
               step: int = 1 << 20) -> np.ndarray:
        """The whole column as one array, ``transform`` applied a range at a time, and the
        column cleared. In memory when every segment is; otherwise written to a file of its
        own and mapped read-only (the file is removed once mapped)."""
        self._flush()
        widest = np.result_type(*(s.dtype for s in self._segments)) if self._segments else (
            self.dtype)

        def part(a: int) -> np.ndarray:
            values = self.read(a, a + step).astype(widest, copy=False)
            return transform(values) if transform is not None else values

        if not self.spilled or not self.size:
            pieces = [part(a) for a in range(0, self.size, step)]
            self.clear()
            return np.concatenate(pieces) if pieces else np.zeros(0, dtype=self.dtype)
        fd, path = tempfile.mkstemp(prefix="entra_lp_rows_", dir=self.store.folder)
        dtype = None
        try:
            with os.fdopen(fd, "wb") as fh:
                for a in range(0, self.size, step):
                    values = part(a)
                    dtype = values.dtype
                    fh.write(_bytes(np.ascontiguousarray(values)))
            self.clear()
            return _mapped(path, np.dtype(dtype))
        except OSError as exc:
            remove_file(path)
            raise _no_room(path, exc) from exc
        except BaseException:
            remove_file(path)  # an interrupted read leaves no file behind
            raise


def _mapped(path: str, dtype: np.dtype[Any]) -> np.ndarray:
    mapped = map_file(path)
    out = np.frombuffer(mapped, dtype=dtype)
    unlink_mapped(path, out)
    return out


def map_file(path: str) -> mmap.mmap:
    """The whole (non-empty) file at ``path``, mapped read-only."""
    with open(path, "rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def unlink_mapped(path: str, owner: object) -> None:
    """Remove a file whose mapping ``owner`` holds: now where the system allows it (POSIX),
    else once ``owner`` is gone or at exit (Windows keeps a mapped file)."""
    try:
        os.unlink(path)
    except OSError:
        weakref.finalize(owner, remove_file, path)
        atexit.register(remove_file, path)


def release_pages(array: np.ndarray) -> None:
    """Hand back the resident pages of an array mapped by :meth:`Column.array` (they are
    read from the file again when next touched); nothing for an in-memory array."""
    mapped = _mapping(array)
    if mapped is not None and hasattr(mapped, "madvise"):
        mapped.madvise(mmap.MADV_DONTNEED)


def _mapping(array: np.ndarray) -> mmap.mmap | None:
    """The mmap under ``array`` (through views and memoryviews), if any."""
    base: Any = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return base
