"""Step 5 of the DuckDB engine: each window's records (and its Python path's rows) grouped
into usage rows, a slice of principals at a time.

Per key: the count, the earliest ``(time, id)`` (the example), the latest time and the
latest named ``(time, id, name)``, exactly as ``Aggregator._merge`` merges. Codes are mapped
into each window's sorted dictionaries; since the principal leads the row order, each
window's principals are cut into slices of about :data:`CHUNK_ROWS` records. The records'
columns are first moved into one array per slice (a column at a time, the scan's array freed
at once), then each slice is grouped and its inputs dropped, and the slices' rows are joined
a column at a time: the peak is about the larger of the records and the usage rows, not
their sum, and the sort's temporaries stay the size of a slice.
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
from ._table import (
    SORT_COLUMNS,
    STRING_COLUMNS,
    Ids,
    UsageTable,
    combine,
    lookup,
    recode,
    used_mask,
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


@dataclass
class _Slice:
    """A slice's inputs: records (raw codes, times, id positions) and Python row numbers."""

    window: int
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    t: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def group_windows(rec: Records, selections: list[np.ndarray],
                  pys: list[Sequence[PyRow]]) -> list[UsageTable]:
    """Usage rows per window: the records where ``selections[w]`` (a boolean mask) holds and
    the window's Python rows ``pys[w]``. Consumes the records' codes and times."""
    wins = [_prepare(rec, mask, py) for mask, py in zip(selections, pys, strict=True)]
    slices = _partition(rec, wins, selections)
    parts: list[list[_Rows]] = [[] for _ in wins]
    while slices:
        piece = slices.pop(0)
        parts[piece.window].append(_group_slice(wins[piece.window], piece))
        del piece
        release_memory()  # the slice's inputs and sort temporaries: freed pages go back
    return [_join(win, rows) for win, rows in zip(wins, parts, strict=True)]


def _prepare(rec: Records, mask: np.ndarray, py: Sequence[PyRow]) -> _Window:
    """A window's sorted dictionaries over the values it uses (the principal name's always
    holds "", the name of a group without a named record)."""
    lookups: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for column in STRING_COLUMNS:
        extra = [s[4] for _, s in py] if column == "principal_name" else [
            k[KEY_COLUMNS.index(column)] for k, _ in py]
        base = rec.values[column]
        used = used_mask(rec.codes[column][mask], len(base), len(extra) + 1)
        used[-1] = column == "principal_name"
        lookups[column], values[column] = lookup(
            np.concatenate([base, np.asarray([*extra, ""], dtype=object)]), used)
    extra_ids = pa.array([str(s[3]) for _, s in py] + [str(s[6]) for _, s in py],
                         type=pa.string())
    ids = Ids(pa.chunked_array([*rec.rid.chunks.chunks, extra_ids], type=pa.string()))
    return _Window(py, lookups, values, ids, {c: len(rec.values[c]) for c in STRING_COLUMNS},
                   len(rec.rid))


def _partition(rec: Records, wins: list[_Window], selections: list[np.ndarray]
               ) -> list[_Slice]:
    """Every window's slices, in window then principal order, with their records' columns
    (moved out of ``rec``, whose arrays are freed column by column)."""
    slices: list[_Slice] = []
    # int16: slices hold CHUNK_ROWS records but the last of a window (2**14 windows' worth)
    slice_of = np.full(len(rec), -1, dtype=np.int16)
    for w, (win, mask) in enumerate(zip(wins, selections, strict=True)):
        record_codes = win.lookups["principal_id"][rec.codes["principal_id"][mask]]
        py_codes = win.lookups["principal_id"][win.base["principal_id"] + np.arange(
            len(win.py), dtype=np.int64)]
        per = np.bincount(np.concatenate([record_codes, py_codes]).astype(np.int64),
                          minlength=len(win.values["principal_id"]))
        starts = np.asarray([lo for lo, _ in _slices(per)], dtype=np.int64)
        first = len(slices)
        slice_of[mask] = first + np.searchsorted(starts, record_codes, side="right") - 1
        py_slice = np.searchsorted(starts, py_codes, side="right") - 1
        slices += [_Slice(w, pys=np.flatnonzero(py_slice == k)) for k in range(len(starts))]
    for piece, positions in zip(slices, _positions(slice_of, len(slices)), strict=True):
        piece.positions = positions
    del slice_of
    for column in STRING_COLUMNS:
        codes = rec.codes.pop(column)
        for piece in slices:
            piece.codes[column] = codes[piece.positions]
        del codes
    times, rec.t = rec.t, np.zeros(0, dtype=np.int64)
    for piece in slices:
        piece.t = times[piece.positions]
    del times
    release_memory()  # the scan's columns are gone
    return slices


def _positions(slice_of: np.ndarray, n_slices: int) -> list[np.ndarray]:
    """Per slice, the (ascending) numbers of its records; ``slice_of`` is -1 for records of
    no slice. Sorted a block of records at a time, so the only full-size arrays are the
    positions themselves (int32 where the records allow)."""
    dtype = np.int32 if len(slice_of) < np.iinfo(np.int32).max else np.int64
    parts: list[list[np.ndarray]] = [[] for _ in range(n_slices)]
    for start in range(0, len(slice_of), CHUNK_ROWS):
        block = slice_of[start:start + CHUNK_ROWS]
        order = np.argsort(block, kind="stable").astype(dtype)
        np.add(order, start, out=order)
        bounds = np.cumsum(np.bincount(block + 1, minlength=n_slices + 1)).tolist()
        for k in range(n_slices):  # bounds[0]: records of no slice
            if bounds[k + 1] > bounds[k]:
                parts[k].append(order[bounds[k]:bounds[k + 1]].copy())  # frees the block
    out = []
    for pieces in parts:
        out.append(np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype))
        pieces.clear()
    return out


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
        c: win.lookups[c][np.concatenate([piece.codes.pop(c).astype(np.int64),
                                          win.base[c] + pys])]
        for c in STRING_COLUMNS
    }
    n = len(piece.t)
    slots = [win.py[i][1] for i in pys.tolist()]
    named = np.array([v != "" for v in win.values["principal_name"]], dtype=bool)[
        codes["principal_name"][:n]]
    t = piece.t
    count = np.concatenate([np.ones(n, np.int64), np.asarray([s[0] for s in slots], np.int64)])
    lo = np.concatenate([t, np.asarray([s[1] for s in slots], np.int64)])
    hi = np.concatenate([t, np.asarray([s[2] for s in slots], np.int64)])
    nmt = np.concatenate([np.where(named, t, _NO_TIME), np.asarray([s[5] for s in slots],
                                                                   np.int64)])
    lo_pos = np.concatenate([piece.positions, win.n_records + pys])
    nm_pos = np.concatenate([piece.positions, win.n_records + len(win.py) + pys])
    return _reduce(codes, count, lo, hi, nmt, lo_pos, nm_pos, win.ids)


def _join(win: _Window, parts: list[_Rows]) -> UsageTable:
    """A window's table from its slices' rows, joined a column at a time (each part's
    column dropped as it is copied)."""
    def cat(name: str, dtype: Any) -> np.ndarray:
        pieces = [p.pop(name) for p in parts]
        out = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
        del pieces
        release_memory()  # the pieces' pages, before the next column is copied
        return out

    codes = {c: cat(c, win.lookups[c].dtype) for c in STRING_COLUMNS}
    values = dict(win.values)
    codes["principal_name"], values["principal_name"] = recode(
        codes["principal_name"].astype(np.int64), values["principal_name"])
    count, first, last, example = (cat(k, np.int64) for k in ("count", "first", "last",
                                                              "example"))
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
