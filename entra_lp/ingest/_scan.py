"""What the DuckDB scan hands to Python, held compactly while the scan streams.

Per record Python keeps the file, the state, the time, the id hash and one narrow code per
string column (one or two bytes for most columns): about 40 bytes a record, in
:class:`~._spill.Column` objects that stay in memory up to the run's budget and go to a
scratch file beyond it. The string values live once per column in a dictionary that grows
as batches arrive, and the record ids go to a file next to DuckDB's spill folder, mapped
back into memory once the scan ends: the operating system pages them in only where an
example id is read, so they never count towards the process's peak.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from entra_lp._memory import release_memory
from entra_lp.errors import IngestError

from ._spill import Column, Store, map_file, remove_file, unlink_mapped
from ._table import STRING_COLUMNS, Ids, narrow

_MERGE_AT = 1 << 20
"""Distinct values a column's batches may hold before they are merged into its dictionary."""
_MERGE_ROWS = 1 << 20
"""Records a column's batches may hold before they are merged (so the codes waiting for a
merge stay bounded however few values the column takes)."""
READ_ROWS = 1 << 20
"""Records a pass over the scan's columns reads at once."""


class Dictionary:
    """One string column of the scan as narrow integer codes into a growing dictionary.

    Each batch is dictionary-encoded by Arrow (in C++); its own dictionary is merged into the
    column's once the batches waiting hold as many values as the column's dictionary (or
    ``_MERGE_AT``), or ``_MERGE_ROWS`` records: every value is hashed a bounded number of
    times, a column with few distinct values never keeps a copy per batch, and the merged
    codes go to a :class:`Column` (in memory or on disk, as its store decides)."""

    def __init__(self, store: Store) -> None:
        self.values = pa.array([], type=pa.string())
        # into ``values``, numbered by first appearance
        self.codes = Column(store, np.int32, READ_ROWS)
        self._waiting: list[tuple[np.ndarray, pa.Array]] = []  # (batch codes, batch values)
        self._waiting_values = 0
        self._waiting_rows = 0

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        """One batch's column."""
        if not len(column):
            return  # no record: nothing to place (the codes of a batch are its records')
        encoded = pc.dictionary_encode(column)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        local = encoded.dictionary
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        self._waiting.append((narrow(codes, len(local)), local))
        self._waiting_values += len(local)
        self._waiting_rows += len(codes)
        if (self._waiting_values >= max(len(self.values), _MERGE_AT)
                or self._waiting_rows >= _MERGE_ROWS):
            self._merge()

    def _merge(self) -> None:
        if not self._waiting:
            return
        # encoded as chunks (no concatenated copy); the chunks share the final dictionary,
        # numbered by first appearance, so known values keep their codes
        known = [self.values] if len(self.values) else []  # an empty chunk gets no output
        merged = pc.dictionary_encode(pa.chunked_array(
            [*known, *(local for _, local in self._waiting)], type=pa.string()))
        self.values = merged.chunk(0).dictionary
        for (codes, _), chunk in zip(self._waiting, merged.chunks[len(known):], strict=True):
            lookup = chunk.indices.to_numpy(zero_copy_only=False)
            self.codes.append(narrow(lookup[codes], len(self.values)))
        self._waiting.clear()
        self._waiting_values = self._waiting_rows = 0

    def finish(self) -> tuple[Column, np.ndarray]:
        """Every record's code into the sorted dictionary (narrowest type) and the distinct
        values."""
        self._merge()
        # sorted by Arrow (UTF-8 byte order is code point order, as Python sorts strings):
        # the values become Python strings once, already in order
        order = pc.array_sort_indices(self.values).to_numpy(zero_copy_only=False)
        dtype = narrow(np.zeros(0, dtype=np.int32), len(order)).dtype
        rank = np.empty(len(order), dtype=dtype)
        rank[order] = np.arange(len(order), dtype=dtype)
        self.codes.map(lambda codes: rank[codes])
        self.codes.dtype = dtype
        ordered = self.values.take(pa.array(order))
        self.values = pa.array([], type=pa.string())
        return self.codes, np.asarray(ordered.to_pylist(), dtype=object)


class SpilledIds:
    """Record ids written to a file batch by batch (no copy is gathered in memory), then
    memory-mapped as :class:`Ids`."""

    def __init__(self, folder: str | None = None) -> None:
        fd, self.path = tempfile.mkstemp(prefix="entra_lp_ids_", suffix=".arrow", dir=folder)
        os.close(fd)
        self._sink = pa.OSFile(self.path, "wb")
        self._writer = pa.ipc.new_file(self._sink, pa.schema([("rid", pa.string())]))

    def add(self, ids: pa.Array) -> None:
        """One batch's ids (a full disk is an :class:`IngestError` naming the folder)."""
        if not len(ids):
            return
        try:
            self._writer.write_batch(pa.record_batch([ids], names=["rid"]))
        except OSError as exc:  # pyarrow's IO errors are OSErrors
            folder = os.path.dirname(self.path)
            raise IngestError(
                f"cannot write the record ids to {folder} ({exc}); point TMPDIR at a folder "
                "with room for about 70 bytes per record") from exc

    def finish(self) -> Ids:
        """The ids, mapped from the file (which is removed now, or with the ids where the
        system does not allow removing an open file)."""
        self._writer.close()
        self._sink.close()
        mapped = map_file(self.path)  # never empty: an Arrow file has a footer
        chunks = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(mapped))).read_all().column("rid")
        if hasattr(mapped, "madvise"):  # reading checked every batch's offsets (4 bytes an
            mapped.madvise(mmap.MADV_DONTNEED)  # id): unmap those pages until an id is read
        ids = Ids(chunks if chunks.num_chunks else pa.chunked_array([], type=pa.string()))
        unlink_mapped(self.path, ids)
        return ids

    def discard(self) -> None:
        """Remove the file of a scan that did not finish."""
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(Exception):
            self._sink.close()
        remove_file(self.path)


class Records:
    """Every record the scan returned, as :class:`Column` objects sharing one store: ``f``
    (file), ``state``, ``t``, ``h`` (id hash) and, once finished, one code column per string
    column into the sorted ``values``; ``rid`` the record ids. Passes read them a range of
    :data:`READ_ROWS` records at a time (:meth:`ranges`, :meth:`read`)."""

    def __init__(self, names: dict[str, str], store: Store, folder: str | None = None) -> None:
        self.names = names  # scan column -> usage column
        self.store = store
        self.parts = {k: Column(store, dtype, READ_ROWS) for k, dtype in (
            ("f", np.uint16), ("state", np.uint8), ("t", np.int64), ("h", np.uint64))}
        self.columns = {c: Dictionary(store) for c in STRING_COLUMNS}
        self.codes: dict[str, Column] = {}
        self.values: dict[str, np.ndarray] = {}
        self.ids = SpilledIds(folder)
        self.rid: Ids = Ids(pa.chunked_array([], type=pa.string()))

    def add(self, batch: pa.RecordBatch) -> None:
        """One Arrow batch of the scan."""
        for name, part in self.parts.items():
            part.append(batch.column(name).to_numpy(zero_copy_only=False))
        self.ids.add(batch.column("rid"))
        for sql, column in self.names.items():
            self.columns[column].add(batch.column(sql))

    def finish(self) -> None:
        """Sort the dictionaries (codes follow); map the ids back."""
        self.rid = self.ids.finish()
        for column in list(self.columns):
            self.codes[column], self.values[column] = self.columns.pop(column).finish()
            release_memory()  # its batches' temporaries, before the next column

    def ranges(self) -> list[tuple[int, int]]:
        """Consecutive ``(start, stop)`` record ranges of :data:`READ_ROWS`."""
        n = len(self)
        return [(a, min(a + READ_ROWS, n)) for a in range(0, n, READ_ROWS)]

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Column ``name`` (``f``, ``state``, ``t``, ``h`` or a string column's codes) for
        records ``start:stop``."""
        return self.column(name).read(start, stop)

    def column(self, name: str) -> Column:
        """Column ``name`` itself (``f``, ``state``, ``t``, ``h`` or a string column)."""
        return self.parts[name] if name in self.parts else self.codes[name]

    def drop_hashes(self) -> None:
        """Free the file numbers and id hashes (only the duplicate checks use them)."""
        self.parts["f"].clear()
        self.parts["h"].clear()

    def discard(self) -> None:
        """Drop the ids file of an unfinished scan."""
        self.ids.discard()

    def __len__(self) -> int:
        return len(self.parts["state"])
