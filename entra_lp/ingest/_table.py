"""Stage-1 usage rows in columnar form: integer codes into sorted dictionaries of values.

When target ids are part of the key, distinct usage rows are nearly as many as records, yet
every string column except ``example_id`` takes few distinct values (the principals,
activities and objects of one tenant). :class:`UsageTable` keeps one narrow code per row
and column plus each distinct value once (dictionaries sorted, so codes order like the
strings), and the example ids by position into Arrow chunks (the DuckDB engine's are a
memory-mapped file): ~50 bytes a row in memory instead of ~400 for a frame of Python
strings. ``AuditLog.rows`` builds the contract DataFrame from it only when asked; stage 2
(``entra_lp.usage``) works on the codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ._records import KEY_COLUMNS, USAGE_COLUMNS
from ._spill import release_pages

STRING_COLUMNS: tuple[str, ...] = tuple(
    c for c in USAGE_COLUMNS
    if c not in ("count", "first_seen", "last_seen", "example_id")
)
"""Dictionary-encoded columns (every string column but ``example_id``)."""

SORT_COLUMNS: tuple[str, ...] = (
    *(c for c in KEY_COLUMNS if c != "principal_type"),
    "principal_type",
)
"""Row order of the usage rows: principal, activity signature, then target (the key)."""


def narrow(codes: np.ndarray, n_values: int) -> np.ndarray:
    """``codes`` in the smallest signed integer type that holds ``n_values`` codes (most
    columns have fewer than 128 distinct values: one byte a row instead of four)."""
    dtype = np.int8 if n_values <= 127 else np.int16 if n_values <= 32767 else np.int32
    return codes.astype(dtype, copy=False)


def dictionary(values: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct strings of ``values`` and each value's code into them."""
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values,
                     dtype=object)
    if not len(arr):
        return np.zeros(0, dtype=np.int8), np.array([], dtype=object)
    uniques, codes = np.unique(arr, return_inverse=True)
    return narrow(codes.reshape(-1), len(uniques)), uniques.astype(object)


def lookup(values: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``values``' code into the sorted distinct values where ``used`` (a mask) holds,
    and those values (``values`` may be unsorted and repeat; unused ones get code 0)."""
    codes, uniques = dictionary(np.asarray(values, dtype=object)[used])
    table = np.zeros(len(values), dtype=codes.dtype)
    table[used] = codes
    return table, uniques


def used_mask(codes: np.ndarray, n_values: int, n_extra: int = 0) -> np.ndarray:
    """Which of ``n_values`` values ``codes`` use, followed by ``n_extra`` values all used."""
    used = np.ones(n_values + n_extra, dtype=bool)
    used[:n_values] = np.bincount(codes.astype(np.int64, copy=False), minlength=n_values) > 0
    return used


def recode(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the sorted distinct values that ``codes`` use (``values`` may be unsorted,
    hold duplicates and values no row uses)."""
    if not len(codes):
        return np.zeros(0, dtype=np.int8), np.array([], dtype=object)
    table, uniques = lookup(values, used_mask(codes, len(values)))
    return table[codes], uniques


def combine(parts: Sequence[np.ndarray]) -> np.ndarray:
    """One int64 per row from several code arrays; order follows the tuple of codes (mixed
    radix, renumbered densely whenever the next digit could overflow)."""
    key = np.zeros(len(parts[0]) if parts else 0, dtype=np.int64)
    for codes in parts:
        radix = int(codes.max(initial=-1)) + 1
        if int(key.max(initial=0)) + 1 > (1 << 62) // max(radix, 1):
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
        key = key * radix + codes
    return key


class Ids:
    """Strings held by reference: positions into Arrow chunks that several tables may share
    (the record ids of one scan serve as the example ids of every window's rows)."""

    def __init__(self, chunks: pa.ChunkedArray | pa.Array, index: np.ndarray | None = None):
        self.chunks = chunks if isinstance(chunks, pa.ChunkedArray) else pa.chunked_array(
            [chunks], type=chunks.type)
        lengths = [len(c) for c in self.chunks.chunks]
        self._offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        # None: every id in chunk order (no index array for a scan's millions of records)
        self._index = None if index is None else np.asarray(index, dtype=np.int64)

    @property
    def index(self) -> np.ndarray:
        """Position of each id in the chunks."""
        if self._index is None:
            return np.arange(self._offsets[-1], dtype=np.int64)
        return self._index

    @classmethod
    def of(cls, strings: Sequence[str]) -> Ids:
        """Ids of a list of Python strings."""
        return cls(pa.array(list(strings), type=pa.string()))

    def __len__(self) -> int:
        return int(self._offsets[-1]) if self._index is None else len(self._index)

    def take(self, index: np.ndarray) -> Ids:
        """The ids at ``index`` (no string is copied)."""
        index = np.asarray(index, dtype=np.int64)
        return Ids(self.chunks, index if self._index is None else self._index[index])

    def arrow(self) -> pa.Array:
        """The ids as one Arrow string array (taken chunk by chunk, then put in order)."""
        if self._index is None:
            return self.chunks.combine_chunks() if self.chunks.num_chunks else pa.array(
                [], type=pa.string())
        if not len(self._index):
            return pa.array([], type=pa.string())
        order = np.argsort(self._index, kind="stable")
        where = self._index[order]
        bounds = np.searchsorted(where, self._offsets).tolist()  # each chunk's run of `where`
        parts = [
            self.chunks.chunk(c).take(pa.array(where[a:b] - self._offsets[c]))
            for c, (a, b) in enumerate(pairwise(bounds)) if b > a
        ]
        taken = pa.concat_arrays(parts)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return taken.take(pa.array(inverse))

    def strings(self, index: np.ndarray | None = None) -> list[str]:
        """The ids (at ``index``) as Python strings."""
        positions = self.index if index is None else self.take(index).index
        if len(positions) > 4096:
            return [str(x) for x in Ids(self.chunks, positions).arrow().to_pylist()]
        chunk = np.searchsorted(self._offsets, positions, side="right") - 1
        return [str(self.chunks.chunk(c)[int(p - self._offsets[c])].as_py())
                for c, p in zip(chunk.tolist(), positions.tolist(), strict=True)]


class UsageTable:
    """Usage rows as codes (``codes[c]`` indexes ``values[c]``, sorted distinct strings),
    ``count`` / ``first_us`` / ``last_us`` (int64 epoch microseconds) and ``example_id``
    (:class:`Ids`). Rows are unique by key and in :data:`SORT_COLUMNS` order."""

    def __init__(
        self,
        codes: Mapping[str, np.ndarray],
        values: Mapping[str, np.ndarray],
        count: np.ndarray,
        first_us: np.ndarray,
        last_us: np.ndarray,
        *,
        example_id: Ids,
    ) -> None:
        self.codes = {c: np.asarray(codes[c]) for c in STRING_COLUMNS}
        self.values = {c: np.asarray(values[c], dtype=object) for c in STRING_COLUMNS}
        self.count = np.asarray(count, dtype=np.int64)
        self.first_us = np.asarray(first_us, dtype=np.int64)
        self.last_us = np.asarray(last_us, dtype=np.int64)
        self.example_id = example_id

    def __len__(self) -> int:
        return len(self.count)

    def release_pages(self) -> None:
        """Hand back the resident pages of columns mapped from disk (the DuckDB engine's
        rows of a large log); they are read again when next touched. Nothing for columns in
        memory."""
        index = self.example_id._index  # None: the ids in chunk order, no array
        for array in (*self.codes.values(), self.count, self.first_us, self.last_us,
                      *([] if index is None else [index])):
            release_pages(array)

    def column(self, name: str) -> np.ndarray:
        """One string column as an object array (one shared object per distinct value)."""
        if name == "example_id":
            return np.asarray(self.example_id.strings(), dtype=object)
        column: np.ndarray = self.values[name][self.codes[name]]
        return column

    def code_of(self, name: str, value: str) -> int:
        """Code of ``value`` in column ``name``, -1 when the column never takes it."""
        vals = self.values[name]
        i = int(np.searchsorted(vals, value)) if len(vals) else 0
        return i if i < len(vals) and vals[i] == value else -1

    def take(self, index: np.ndarray) -> UsageTable:
        """The rows at ``index`` (in that order; dictionaries kept)."""
        return UsageTable(
            {c: self.codes[c][index] for c in STRING_COLUMNS}, self.values,
            self.count[index], self.first_us[index], self.last_us[index],
            example_id=self.example_id.take(index),
        )

    def to_frame(self) -> pd.DataFrame:
        """The contract's usage-row DataFrame (``str`` columns, UTC microsecond times)."""
        from ._aggregate import utc_us

        data: dict[str, Any] = {}
        for name in USAGE_COLUMNS:
            if name == "count":
                data[name] = self.count.copy()
            elif name == "first_seen":
                data[name] = utc_us(self.first_us)
            elif name == "last_seen":
                data[name] = utc_us(self.last_us)
            elif name == "example_id":
                data[name] = pd.array(self.example_id.arrow().cast(pa.large_string()),
                                      dtype="str")
            else:
                data[name] = _decode(self.codes[name], self.values[name])
        return pd.DataFrame(data, columns=list(USAGE_COLUMNS))

    @classmethod
    def build(
        cls,
        codes: Mapping[str, np.ndarray],
        values: Mapping[str, np.ndarray],
        count: np.ndarray,
        first_us: np.ndarray,
        last_us: np.ndarray,
        *,
        example_id: Ids,
    ) -> UsageTable:
        """A table from rows with unique keys in any order and unsorted dictionaries."""
        sorted_codes: dict[str, np.ndarray] = {}
        sorted_values: dict[str, np.ndarray] = {}
        for c in STRING_COLUMNS:
            sorted_codes[c], sorted_values[c] = recode(np.asarray(codes[c]), values[c])
        order = np.argsort(combine([sorted_codes[c] for c in SORT_COLUMNS]), kind="stable")
        return cls(
            {c: sorted_codes[c][order] for c in STRING_COLUMNS}, sorted_values,
            np.asarray(count, dtype=np.int64)[order], np.asarray(first_us)[order],
            np.asarray(last_us)[order], example_id=example_id.take(order),
        )

    @classmethod
    def from_tuples(cls, rows: Sequence[tuple[Any, ...]]) -> UsageTable:
        """Rows as tuples in :data:`USAGE_COLUMNS` order (times as epoch microseconds)."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(USAGE_COLUMNS)
        by_name = dict(zip(USAGE_COLUMNS, columns, strict=True))
        codes, values = {}, {}
        for c in STRING_COLUMNS:
            codes[c], values[c] = dictionary(by_name[c])
        return cls.build(
            codes, values,
            np.fromiter(by_name["count"], dtype=np.int64, count=len(rows)),
            np.fromiter(by_name["first_seen"], dtype=np.int64, count=len(rows)),
            np.fromiter(by_name["last_seen"], dtype=np.int64, count=len(rows)),
            example_id=Ids.of(by_name["example_id"]),
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> UsageTable:
        """A table from a usage-row DataFrame (contract schema; rows unique by key)."""
        codes, values = {}, {}
        for c in STRING_COLUMNS:
            column = frame[c] if c in frame else pd.Series([""] * len(frame))
            raw = column.to_numpy(dtype=object)
            codes[c], values[c] = dictionary(np.where(pd.isna(raw), "", raw))
        times = {
            c: frame[c].to_numpy(dtype="datetime64[us]").astype(np.int64)
            for c in ("first_seen", "last_seen")
        }
        examples = frame["example_id"].to_numpy(dtype=object)
        return cls.build(
            codes, values, frame["count"].to_numpy(dtype=np.int64),
            times["first_seen"], times["last_seen"],
            example_id=Ids.of([str(e) for e in examples]),
        )


def _decode(codes: np.ndarray, values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as a ``str`` array, decoded by Arrow (no Python object per cell)."""
    dict_array = pa.DictionaryArray.from_arrays(
        pa.array(codes, type=pa.int32()), pa.array(list(values), type=pa.large_string())
    )
    decoded: pd.api.extensions.ExtensionArray = pd.array(
        dict_array.cast(pa.large_string()), dtype="str")
    return decoded
