"""Step 5 of the DuckDB engine: each window's records (and its Python path's rows) grouped
into usage rows, a slice of principals at a time.

Per key: the count, the earliest ``(time, id)`` (the example), the latest time and the
latest named ``(time, id, name)``, exactly as ``Aggregator._merge`` merges. Codes are mapped
into each window's sorted dictionaries; since the principal leads the row order, each
window's principals are cut into slices of about :data:`CHUNK_ROWS` records. One pass over
the records (a range at a time) distributes their columns into the slices' columns, which
the run's store keeps in memory up to its budget and on disk beyond it; each slice is then
read back, grouped and dropped, and its rows are appended to the window's result columns.
The rows of a log past the budget thus end up in files mapped read-only, and the memory a
run holds stays bounded by the budget plus one slice and its sort temporaries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from entra_lp._memory import release_memory

from ._aggregate import _NO_TIME
from ._records import KEY_COLUMNS
from ._scan import Records
from ._spill import Column, Store
from ._table import (
    SORT_COLUMNS,
    STRING_COLUMNS,
    Ids,
    UsageTable,
    combine,
    lookup,
)

CHUNK_ROWS = 1 << 19
"""Records grouped at once (a principal with more records is one slice on its own)."""

PyRow = tuple[tuple[str, ...], list[Any]]
"""A Python-path row: its key and ``Aggregator`` slot (count, first, last, example id, name,
time of the name, id of the name)."""

_Rows = dict[str, np.ndarray]
"""Grouped rows: codes per string column, ``count``, ``first``, ``last`` and ``example``
(the example's id position)."""


@dataclass
class _Window:
    """One window: its Python rows, sorted dictionaries and ids (the records' ids, then the
    Python rows' example ids, then their name ids)."""

    py: Sequence[PyRow]
    lookups: dict[str, np.ndarray]  # column: record code, then base + Python row -> sorted
    values: dict[str, np.ndarray]  # column: sorted distinct values
    ids: Ids
    base: dict[str, int]  # column: number of record values (Python rows' codes follow)
    n_records: int
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    first_slice: int = 0  # number of the window's first slice among all windows'


class _Slice:
    """A slice's inputs: records (codes, times, id positions, in :class:`Column` objects
    that the store keeps in memory or on disk) and Python row numbers."""

    def __init__(self, store: Store, window: int, pys: np.ndarray,
                 dtypes: dict[str, np.dtype[Any]]) -> None:
        self.window = window
        self.pys = pys
        self.codes = {c: Column(store, dtypes[c]) for c in STRING_COLUMNS}
        self.t = Column(store, np.int64)
        self.positions = Column(store, np.int64)


class _Result:
    """A window's grouped rows, appended slice by slice (principal-name codes still in the
    window's dictionary, with the codes in use marked)."""

    def __init__(self, store: Store, win: _Window) -> None:
        self.columns = {c: Column(store, win.lookups[c].dtype) for c in STRING_COLUMNS}
        for name in ("count", "first", "last", "example"):
            self.columns[name] = Column(store, np.int64)
        self.names_used = np.zeros(len(win.values["principal_name"]), dtype=bool)

    def add(self, rows: _Rows) -> None:
        names = rows["principal_name"]
        self.names_used[np.unique(names)] = True
        for name, column in self.columns.items():
            column.append(rows.pop(name))


Selection = Callable[[int, int, int], np.ndarray]
"""``kept(w, start, stop)``: which of records ``start:stop`` window ``w`` groups."""


def group_windows(rec: Records, kept: Selection, pys: list[Sequence[PyRow]]
                  ) -> list[UsageTable]:
    """Usage rows per window: the records that ``kept`` selects and the window's Python rows
    ``pys[w]``. Consumes the records' columns."""
    wins, per = _prepare(rec, kept, pys)
    slices = _partition(rec, wins, per, kept)
    results = [_Result(rec.store, win) for win in wins]
    while slices:
        piece = slices.pop(0)
        results[piece.window].add(_group_slice(wins[piece.window], piece))
        del piece
        release_memory()  # the slice's inputs and sort temporaries: freed pages go back
    return [_join(win, result) for win, result in zip(wins, results, strict=True)]


def _prepare(rec: Records, kept: Selection, pys: list[Sequence[PyRow]]
             ) -> tuple[list[_Window], list[np.ndarray]]:
    """Each window's sorted dictionaries over the values it uses (the principal name's
    always holds "", the name of a group without a named record), and its records per
    principal code (one pass over the records for every window)."""
    n_win = len(pys)
    used = [{c: np.zeros(len(rec.values[c]), dtype=bool) for c in STRING_COLUMNS}
            for _ in range(n_win)]
    per_raw = [np.zeros(len(rec.values["principal_id"]), dtype=np.int64) for _ in pys]
    for a, b in rec.ranges():
        masks = [kept(w, a, b) for w in range(n_win)]
        for column in STRING_COLUMNS:
            codes = rec.read(column, a, b).astype(np.int64)
            for w, mask in enumerate(masks):
                count = np.bincount(codes[mask], minlength=len(rec.values[column]))
                used[w][column] |= count > 0
                if column == "principal_id":
                    per_raw[w] += count
    wins, per = [], []
    for w, py in enumerate(pys):
        wins.append(_window(rec, py, used[w]))
        win = wins[-1]
        py_codes = win.lookups["principal_id"][win.base["principal_id"] + np.arange(
            len(py), dtype=np.int64)]
        n = len(win.values["principal_id"])
        per.append(np.bincount(win.lookups["principal_id"][:win.base["principal_id"]],
                               weights=per_raw[w], minlength=n).astype(np.int64)
                   + np.bincount(py_codes.astype(np.int64), minlength=n))
    return wins, per


def _window(rec: Records, py: Sequence[PyRow], used: dict[str, np.ndarray]) -> _Window:
    lookups: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for column in STRING_COLUMNS:
        extra = [s[4] for _, s in py] if column == "principal_name" else [
            k[KEY_COLUMNS.index(column)] for k, _ in py]
        base = rec.values[column]
        mask = np.r_[used[column], np.ones(len(extra), dtype=bool),
                     column == "principal_name"]
        lookups[column], values[column] = lookup(
            np.concatenate([base, np.asarray([*extra, ""], dtype=object)]), mask)
    extra_ids = pa.array([str(s[3]) for _, s in py] + [str(s[6]) for _, s in py],
                         type=pa.string())
    ids = Ids(pa.chunked_array([*rec.rid.chunks.chunks, extra_ids], type=pa.string()))
    return _Window(py, lookups, values, ids, {c: len(rec.values[c]) for c in STRING_COLUMNS},
                   len(rec.rid))


def _partition(rec: Records, wins: list[_Window], per: list[np.ndarray], kept: Selection
               ) -> list[_Slice]:
    """Every window's slices, in window then principal order, with their records' columns
    (one pass over the records, whose columns are then dropped)."""
    slices: list[_Slice] = []
    dtypes = {c: rec.column(c).dtype for c in STRING_COLUMNS}
    positions = np.int32 if len(rec) < np.iinfo(np.int32).max else np.int64
    for w, win in enumerate(wins):
        win.starts = np.asarray([lo for lo, _ in _slices(per[w])], dtype=np.int64)
        win.first_slice = len(slices)
        py_codes = win.lookups["principal_id"][win.base["principal_id"] + np.arange(
            len(win.py), dtype=np.int64)]
        py_slice = np.searchsorted(win.starts, py_codes, side="right") - 1
        slices += [_Slice(rec.store, w, np.flatnonzero(py_slice == k), dtypes)
                   for k in range(len(win.starts))]
    for a, b in rec.ranges():
        slice_of = np.full(b - a, -1, dtype=np.int64)
        pid = rec.read("principal_id", a, b)
        for w, win in enumerate(wins):
            mask = kept(w, a, b)
            codes = win.lookups["principal_id"][pid[mask]]
            slice_of[mask] = win.first_slice + np.searchsorted(win.starts, codes,
                                                               side="right") - 1
        order = np.argsort(slice_of, kind="stable")
        bounds = np.cumsum(np.bincount(slice_of + 1, minlength=len(slices) + 1)).tolist()
        pieces = [(k, order[bounds[k]:bounds[k + 1]])
                  for k in range(len(slices)) if bounds[k + 1] > bounds[k]]
        for k, at in pieces:
            slices[k].positions.append((at + a).astype(positions))
        for name in ("t", *STRING_COLUMNS):
            values = rec.read(name, a, b)
            for k, at in pieces:
                target = slices[k].t if name == "t" else slices[k].codes[name]
                target.append(values[at])
    for name in ("f", "state", "t", "h", *STRING_COLUMNS):
        rec.column(name).clear()
    release_memory()  # the scan's columns are gone
    return slices


def _slices(per_principal: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive principal-code ranges of about :data:`CHUNK_ROWS` records each."""
    out: list[tuple[int, int]] = []
    lo, size = 0, 0
    for code, count in enumerate(per_principal.tolist()):
        if size and size + count > CHUNK_ROWS:
            out.append((lo, code))
            lo, size = code, 0
        size += count
    if size:
        out.append((lo, len(per_principal)))
    return out


def _group_slice(win: _Window, piece: _Slice) -> _Rows:
    """Group one slice: its records, then its Python rows."""
    pys = piece.pys
    codes = {
        c: win.lookups[c][np.concatenate([piece.codes[c].drain().astype(np.int64),
                                          win.base[c] + pys])]
        for c in STRING_COLUMNS
    }
    t, positions = piece.t.drain(), piece.positions.drain()
    n = len(t)
    slots = [win.py[i][1] for i in pys.tolist()]
    named = np.array([v != "" for v in win.values["principal_name"]], dtype=bool)[
        codes["principal_name"][:n]]
    count = np.concatenate([np.ones(n, np.int64), np.asarray([s[0] for s in slots], np.int64)])
    lo = np.concatenate([t, np.asarray([s[1] for s in slots], np.int64)])
    hi = np.concatenate([t, np.asarray([s[2] for s in slots], np.int64)])
    nmt = np.concatenate([np.where(named, t, _NO_TIME), np.asarray([s[5] for s in slots],
                                                                   np.int64)])
    lo_pos = np.concatenate([positions, win.n_records + pys])
    nm_pos = np.concatenate([positions, win.n_records + len(win.py) + pys])
    return _reduce(codes, count, lo, hi, nmt, lo_pos, nm_pos, win.ids)


def _join(win: _Window, result: _Result) -> UsageTable:
    """A window's table from its grouped rows, a column at a time (in memory, or mapped
    from a file where the rows went to disk). The principal names are renumbered into the
    names the rows use."""
    columns = result.columns
    values = dict(win.values)
    names, values["principal_name"] = lookup(values["principal_name"], result.names_used)
    codes = {c: columns[c].array() for c in STRING_COLUMNS if c != "principal_name"}
    codes["principal_name"] = columns["principal_name"].array(
        transform=lambda part: names[part])
    count, first, last, example = (columns[k].array() for k in ("count", "first", "last",
                                                                "example"))
    release_memory()  # the rows' pieces, once copied
    return UsageTable(codes, values, count, first, last,
                      example_id=Ids(win.ids.chunks, example))


def _reduce(  # noqa: PLR0917
    codes: dict[str, np.ndarray], n: np.ndarray, lo: np.ndarray, hi: np.ndarray,
    nmt: np.ndarray, lo_pos: np.ndarray, nm_pos: np.ndarray, ids: Ids,
) -> _Rows:
    """Merge the partial aggregates of each key."""
    key = combine([codes[c] for c in SORT_COLUMNS])
    # any order within a key will do: every aggregate below is a sum, a min or a max, and
    # ties between elements are settled by their ids
    order = np.argsort(key)
    skey, slo = key[order], lo[order]
    del key
    starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    del skey
    ends = np.r_[starts[1:], len(order)].astype(np.int64)
    groups = np.repeat(np.arange(len(starts)), ends - starts)
    count = np.add.reduceat(n[order], starts)
    first = np.minimum.reduceat(slo, starts)
    last = np.maximum.reduceat(hi[order], starts)
    example = _pick(order, groups, slo == first[groups], lo_pos, ids, best=min,
                    n_groups=len(starts))
    snmt = nmt[order]
    top = np.maximum.reduceat(snmt, starts)
    named = (snmt == top[groups]) & (top[groups] > _NO_TIME)
    del snmt
    chosen = _pick(order, groups, named, nm_pos, ids, best=max, n_groups=len(starts))
    out = {c: codes[c][order[starts]] for c in STRING_COLUMNS}
    # a group without a named element gets "" (code 0: "" sorts first)
    has = chosen >= 0
    out["principal_name"] = np.where(has, codes["principal_name"][np.maximum(chosen, 0)], 0)
    return {**out, "count": count, "first": first, "last": last, "example": lo_pos[example]}


def _pick(
    order: np.ndarray, groups: np.ndarray, candidate: np.ndarray, positions: np.ndarray,
    ids: Ids, *, best: Callable[..., str], n_groups: int,
) -> np.ndarray:
    """Per group the element among its candidates with the ``best`` (min or max) id; -1 when
    a group has none. Ties are rare (same time in one group), so they are settled in Python."""
    chosen = np.full(n_groups, -1, dtype=np.int64)
    pos = np.flatnonzero(candidate)
    owner = groups[pos]  # sorted: groups run along ``order``
    chosen[owner] = order[pos]
    tied = np.flatnonzero(np.bincount(owner, minlength=n_groups) > 1)
    lo, hi = np.searchsorted(owner, tied), np.searchsorted(owner, tied, side="right")
    for g, a, b in zip(tied.tolist(), lo.tolist(), hi.tolist(), strict=True):
        members = order[pos[a:b]]
        names = ids.strings(positions[members])
        chosen[g] = members[names.index(best(names))]
    return chosen
