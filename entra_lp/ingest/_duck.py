"""The DuckDB engine: JSON-lines audit logs projected in SQL, grouped on integer codes, exact
through the Python path.

How a run goes (``run``), for one or more consecutive time windows at once:

1. One parallel scan of every JSON-lines file (``_duck_sql.projection``) turns each record
   into its canonical fields and streams them out as Arrow batches. Each string column is
   dictionary-encoded batch by batch (Arrow, in C++), so Python holds one narrow code per
   record and column plus each distinct value once; the record ids go to a memory-mapped
   file (``_scan``). The per-record columns live in a store (``_spill``) that keeps them in
   memory up to ``ENTRA_LP_INGEST_MEMORY`` (64 MB) and in a scratch file beyond; every
   later pass reads them a range of records at a time, so the memory a run holds does not
   grow with the number of records past that budget.
   Records the SQL cannot vouch for (``state = 1``) are only counted; so are records outside
   ``since``/``until`` (``state = 2``). DuckDB never holds more than a few batches.
2. Key values the SQL kept verbatim (service, category, activity, ...) are checked once per
   distinct value; a suspect one (whitespace at an edge, a rendering of a non-string) raises
   :class:`Fallback`.
3. Duplicate ids, per window: the id hashes of the kept records are sorted (split by their
   top bits into parts sorted one at a time when the records are many). Copies that are
   the same record (same key, time and name) are counted once, as the Python engine does;
   anything else (a reused id with other content, an id shared with a record the Python path
   read) raises :class:`Fallback`.
4. Files with bad records (or with copies) get a second, ordered scan that numbers the
   records (``row_number`` keeps the file order); a cheap pass over the file maps those
   numbers to lines, and bad lines go through the reference Python path of every window: each
   bad record is rejected with its file, line, field and reason exactly as the Python engine
   would, good ones are kept. A file whose line count DuckDB and Python disagree on raises
   :class:`Fallback`; the caller then reruns the whole input on the Python engine and says so
   in ``report.notes`` (exact, but at Python speed).
5. Grouping, per window, in numpy (``_group``), a slice of principals at a time: records
   (and the Python path's rows) are sorted by their combined key code and time; per group
   the count, the earliest ``(time, id)`` (the example), the latest time and the latest
   named ``(time, id, name)``. Ties in time are settled by comparing the ids, as the Python
   engine does.

Hashes are DuckDB's 64-bit ``hash(id)``; two *different* ids are only confused when their
hashes collide *and* they sit in the same usage row with the same timestamp and name
(probability below 2^-64 per such pair).

Known differences, both about malformed JSON that no Entra export produces: an object with a
repeated member name (DuckDB keeps the first value, orjson the last) and JSON that orjson
rejects but DuckDB's reader accepts (a trailing comma, ``NaN``/``Infinity``, a number beyond
double range) in a member the engine does not read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from entra_lp._memory import release_memory
from entra_lp.errors import IngestError

from . import _duck_sql as q
from . import _sources
from ._aggregate import BUCKET_US, Aggregator, utc_us
from ._group import group_windows
from ._records import EVENT_HUB, FORMATS, GRAPH, KEY_COLUMNS, detect_record
from ._scan import Records
from ._spill import Column, Store
from ._table import STRING_COLUMNS, UsageTable, lookup, used_mask
from .report import MAX_SAMPLES, FileReport, IngestReport

MEMORY_LIMIT = os.environ.get("ENTRA_LP_DUCKDB_MEMORY", "512MB")
"""DuckDB's memory limit for one ingest (the scan streams; this bounds its buffers)."""
BATCH_ROWS = int(os.environ.get("ENTRA_LP_DUCKDB_BATCH", "16384"))
"""Records per Arrow batch handed from DuckDB to Python (DuckDB buffers a few batches
ahead: small batches keep its share of the scan's memory small, at no cost in speed)."""
HASH_PART_ROWS = 1 << 22
"""Id hashes sorted at once when looking for copies (more are split by their top bits)."""
_BOM = b"\xef\xbb\xbf"
_FORMS = {GRAPH: "graph", EVENT_HUB: "event_hub"}
# SQL column -> usage column, for the string columns the scan returns.
_SQL_NAMES = dict(zip(
    ("pid", "pname", "ptype", *q.KEY[2:]),
    ("principal_id", "principal_name", "principal_type", *KEY_COLUMNS[2:]),
    strict=True,
))


def _repeated(hashes: np.ndarray) -> np.ndarray:
    """The values that occur more than once in ``hashes`` (sorted; ``hashes`` is consumed)."""
    hashes.sort()
    return np.unique(hashes[1:][hashes[1:] == hashes[:-1]])


def _member(values: np.ndarray, array: np.ndarray, step: int = 1 << 20) -> np.ndarray:
    """``np.isin(array, values)`` for sorted ``values``, a slice of ``array`` at a time (its
    temporaries stay the size of a slice)."""
    out = np.zeros(len(array), dtype=bool)
    for start in range(0, len(array), step):
        part = array[start:start + step]
        at = np.minimum(np.searchsorted(values, part), len(values) - 1)
        out[start:start + step] = values[at] == part
    return out


def _release_duckdb(con: Any) -> None:
    """Make DuckDB hand back the memory its allocator keeps cached after a query (a few
    hundred MB after the scan, held until the connection closes otherwise): lowering the
    limit evicts it; the limit is then restored for the queries to come."""
    con.execute("SET memory_limit = '16MB'")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")


class Fallback(Exception):
    """The DuckDB engine cannot be exact on this input; the reason is the message."""


def _streamed(reader: Any) -> Iterator[Any]:
    """The reader's batches. A DuckDB error raised once the batches flow (a line longer than
    the reader allows, say) reaches Python through Arrow as a bare OSError: it is a
    :class:`Fallback` like the errors DuckDB raises before the first batch."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except OSError as exc:
            raise Fallback(str(exc)) from exc
        yield batch


@dataclass
class FastFile:
    """A JSON-lines file the DuckDB engine reads, and what the run learns about it."""

    path: Path
    form: str  # graph | event_hub
    index: int
    good: int = 0  # records the SQL read (kept or outside the bounds)
    bad: int = 0
    kept: list[int] = field(default_factory=list)  # per window
    bad_rows: set[int] = field(default_factory=set)
    dup_rows: dict[int, tuple[int, str, int]] = field(default_factory=dict)  # rn -> (h, id, t)


def sniff_form(path: Path) -> str | None:
    """``graph`` / ``event_hub`` when ``path`` is JSON lines whose first record is in that
    form (the engine reads it); None otherwise (the Python engine reads it)."""
    try:
        with _sources.open_binary(path) as fh:
            first = _sources.first_line(fh)
    except (OSError, EOFError, ValueError, IngestError, zlib.error):
        return None
    stripped = first.strip(b" \t\r\n")
    if first.startswith(_BOM) or not stripped or _sources.sniff(path, first) != "jsonl":
        return None
    try:
        record = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    return _FORMS.get(detect_record(record) or "")


@contextmanager
def _connection() -> Iterator[Any]:
    import duckdb

    spill = tempfile.mkdtemp(prefix="entra_lp_duckdb_")
    try:
        con = duckdb.connect(
            config={
                "memory_limit": MEMORY_LIMIT,
                "temp_directory": spill,
                "preserve_insertion_order": True,
            }
        )
        try:
            con.execute("SET enable_progress_bar = false")  # no bar in notebooks or logs
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _scan_sql(files: Sequence[FastFile], since: int | None, until: int | None,
              values: frozenset[str]) -> str:
    scans = " UNION ALL ".join(
        f"SELECT * FROM ({q.projection(str(f.path), f.form, f.index, since, until, values)})"
        for f in files
    )
    strings = ", ".join(f"coalesce({c}, '') AS {c}" for c in _SQL_NAMES)
    return f"SELECT f, state, coalesce(t, 0) AS t, h, rid, {strings} FROM ({scans})"


class DuckRun:
    """One DuckDB-engine ingest over ``files`` for the windows of ``aggs`` (every other file
    goes to the aggregators: the Python path)."""

    def __init__(self, con: Any, aggs: list[Aggregator], files: list[FastFile],
                 store: Store) -> None:
        self.con = con
        self.aggs = aggs
        self.files = files
        self.by_index = {f.index: f for f in files}
        self.rec = Records(_SQL_NAMES, store)
        # later windows start at the split
        self.cuts = np.array([a.since_us for a in aggs[1:] if a.since_us is not None],
                             dtype=np.int64)
        self.copies: list[tuple[int, int, int, str, int]] = []  # (file, line, hash, id, t)
        self.py_dups: list[list[tuple[int, int, str]]] = [[] for _ in aggs]
        self.duplicates = [0] * len(aggs)
        self.dropped = np.zeros(0, dtype=np.int64)  # later copies of a record (record numbers)

    @property
    def since_us(self) -> int | None:
        return self.aggs[0].since_us

    @property
    def until_us(self) -> int | None:
        return self.aggs[-1].until_us

    def kept(self, w: int, start: int, stop: int, *, copies: bool = False) -> np.ndarray:
        """Which of records ``start:stop`` window ``w`` keeps: read well, inside its bounds,
        and (unless ``copies``) not a later copy of a record."""
        rec = self.rec
        mask: np.ndarray = rec.read("state", start, stop) == 0
        if len(self.cuts):
            mask &= np.searchsorted(self.cuts, rec.read("t", start, stop), side="right") == w
        if not copies and len(self.dropped):
            lo, hi = np.searchsorted(self.dropped, [start, stop])
            mask[self.dropped[lo:hi] - start] = False
        return mask

    # ---- steps 1 and 2 -----------------------------------------------------------------------
    def scan(self) -> None:
        """Stream every file's records (one parallel scan) into :class:`Records`."""
        self.con.execute("SET preserve_insertion_order = false")  # order is not needed here
        sql = _scan_sql(self.files, self.since_us, self.until_us, self.aggs[0].values)
        reader = self.con.sql(sql).to_arrow_reader(BATCH_ROWS)
        try:
            for batch in _streamed(reader):
                self.rec.add(batch)
            del reader
            _release_duckdb(self.con)
            release_memory()  # and Arrow's pool, which keeps the batches' pages too
            self.rec.finish()
        except BaseException:
            self.rec.discard()
            raise
        self.con.execute("SET preserve_insertion_order = true")
        self._check_values()
        self._count_files()

    def _count_files(self) -> None:
        rec = self.rec
        n = max(self.by_index, default=-1) + 1
        good, nbad = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        kept = [np.zeros(n, dtype=np.int64) for _ in self.aggs]
        for a, b in rec.ranges():
            number = rec.read("f", a, b).astype(np.int64)
            bad = rec.read("state", a, b) == 1
            good += np.bincount(number[~bad], minlength=n)
            nbad += np.bincount(number[bad], minlength=n)
            for w in range(len(kept)):
                kept[w] += np.bincount(number[self.kept(w, a, b, copies=True)], minlength=n)
        for f in self.files:
            f.good, f.bad = int(good[f.index]), int(nbad[f.index])
            f.kept = [int(k[f.index]) for k in kept]

    def _check_values(self) -> None:
        """Key values kept verbatim must read the same in Python (checked per distinct value);
        one that may not sends the whole input to the Python engine."""
        rec = self.rec
        names = [_SQL_NAMES[s] for s in (*q.SUSPECT_COLUMNS, "modified_properties",
                                         "property_values")]
        seen = {c: np.zeros(len(rec.values[c]), dtype=bool) for c in names}
        for a, b in rec.ranges():
            good = rec.read("state", a, b) != 1
            for column in names:
                codes = rec.read(column, a, b)[good].astype(np.int64)
                seen[column] |= np.bincount(codes, minlength=len(seen[column])) > 0
        for sql_name, column in zip((*q.SUSPECT_COLUMNS, "modified_properties",
                                     "property_values"), names, strict=True):
            used = rec.values[column][np.flatnonzero(seen[column])]
            if not len(used):
                continue
            hit = self.con.execute(
                f"SELECT {sql_name} FROM (SELECT unnest(?::VARCHAR[]) AS {sql_name}) "
                f"WHERE {q.suspect_value(sql_name)} LIMIT 1",
                [[str(v) for v in used]],
            ).fetchone()
            if hit:
                raise Fallback(f"{sql_name} value {hit[0]!r:.60} needs the Python path")

    # ---- step 3 ------------------------------------------------------------------------------
    def duplicate_hashes(self) -> list[int]:
        """Id hashes seen more than once among the kept records of a window; copies of one
        record (same key, time and name) are dropped but one, any other reuse of an id raises
        Fallback. Returns every such hash (for locating the copies)."""
        found: set[int] = set()
        dropped: list[np.ndarray] = []
        for w in range(len(self.aggs)):
            repeated = self._repeated_hashes(w)
            if not len(repeated):
                continue
            members, heads, n_copies = self._copies(w, repeated)
            dropped.append(members[members != heads])
            self.duplicates[w] += n_copies
            found.update(int(h) for h in repeated)
        self.dropped = np.unique(np.concatenate(dropped)) if dropped else self.dropped
        return sorted(found)

    def _repeated_hashes(self, w: int) -> np.ndarray:
        """The id hashes that more than one of window ``w``'s records carries, sorted. Most
        logs have none: the hashes are sorted once, split by their top bits into parts of
        about :data:`HASH_PART_ROWS` when the records are many (one pass distributes them;
        each part is then sorted on its own, so the sort's memory stays bounded)."""
        rec = self.rec
        bits = max(0, int(np.ceil(np.log2(max(len(rec), 1) / HASH_PART_ROWS))))
        parts = [Column(rec.store, np.uint64) for _ in range(1 << bits)]
        shift = np.uint64(64 - bits) if bits else np.uint64(0)
        for a, b in rec.ranges():
            h = rec.read("h", a, b)[self.kept(w, a, b, copies=True)]
            if not bits:
                parts[0].append(h)
                continue
            h = np.sort(h)  # a part is a run of the sorted hashes
            bounds = np.searchsorted(h >> shift, np.arange(len(parts) + 1, dtype=np.uint64))
            for k, part in enumerate(parts):
                part.append(h[bounds[k]:bounds[k + 1]])
        out = [np.zeros(0, dtype=np.uint64)]
        for part in parts:
            out.append(_repeated(np.array(part.drain())))  # a copy: _repeated sorts in place
        return np.concatenate(out)

    def _copies(self, w: int, repeated: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Window ``w``'s records that carry a ``repeated`` hash, each with the first record
        of its hash (both record numbers), and how many are later copies; raises Fallback
        when records sharing a hash differ in content or time."""
        rec = self.rec
        sel = np.concatenate([
            np.flatnonzero(self.kept(w, a, b, copies=True)
                           & _member(repeated, rec.read("h", a, b))) + a
            for a, b in rec.ranges()])
        hashes = rec.column("h").gather(sel)
        by_hash = np.argsort(hashes, kind="stable")
        order, hs = sel[by_hash], hashes[by_hash]
        new = np.r_[True, hs[1:] != hs[:-1]]
        run = np.cumsum(new) - 1
        pos = np.flatnonzero(np.bincount(run)[run] > 1)
        heads_at = np.flatnonzero(new)[run[pos]]
        same = np.ones(len(pos), dtype=bool)
        for name in ("t", *STRING_COLUMNS):
            values = rec.column(name).gather(sel)[by_hash]
            same &= values[pos] == values[heads_at]
        if not same.all():
            raise Fallback("an id is reused by records with other content or time")
        return order[pos], order[heads_at], int(len(pos) - np.count_nonzero(new[pos]))

    def check_python_ids(self) -> None:
        """Ids a window's Python path kept must not also be among its DuckDB-kept records."""
        for w, agg in enumerate(self.aggs):
            if not agg.seen:
                continue
            hashes = self.con.execute(
                "SELECT hash(x) FROM (SELECT unnest(?::VARCHAR[]) AS x)", [sorted(agg.seen)]
            ).fetchnumpy()
            theirs = np.unique(np.asarray(hashes[next(iter(hashes))], dtype=np.uint64))
            for a, b in self.rec.ranges():
                mine = self.rec.read("h", a, b)[self.kept(w, a, b, copies=True)]
                if len(mine) and _member(theirs, mine).any():
                    raise Fallback("an id is shared by records of the DuckDB and the Python "
                                   "path")

    # ---- step 4 ------------------------------------------------------------------------------
    def locate(self, dup_hashes: list[int]) -> None:
        """Record numbers of bad rows (and of records with a duplicated id hash) per file."""
        hashes = ", ".join(str(h) for h in dup_hashes) or "NULL"
        for f in self.files:
            if not f.bad and not (dup_hashes and sum(f.kept)):
                continue
            proj = q.projection(str(f.path), f.form, f.index, self.since_us, self.until_us,
                                self.aggs[0].values)
            rows = self.con.execute(
                "SELECT rn, state, h, rid, t FROM (SELECT row_number() OVER () AS rn, state, h, "
                f"rid, t FROM ({proj})) WHERE state = 1 OR (state = 0 AND h IN ({hashes}))"
            ).fetchall()
            f.bad_rows = {rn for rn, state, _, _, _ in rows if state == 1}
            f.dup_rows = {rn: (int(h), rid, int(t)) for rn, state, h, rid, t in rows
                          if state == 0}

    def file_reports(self, f: FastFile, counters: _sources.Counters) -> list[FileReport]:
        """Send the bad lines of ``f`` through every window's Python path; the file's report
        per window."""
        reports = [FileReport(source=str(f.path), format="empty") for _ in self.aggs]
        formats: list[Counter[str]] = [Counter() for _ in self.aggs]
        first: list[dict[str, int]] = [{} for _ in self.aggs]
        ordinal = 0
        if f.bad_rows or f.dup_rows:
            with _sources.open_binary(f.path) as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    ordinal += 1
                    if ordinal in f.bad_rows:
                        self._consume_line(f, lineno, line, counters, reports, formats, first)
                        continue
                    for seen in first:
                        seen.setdefault("", lineno)
                    if ordinal in f.dup_rows:
                        h, rid, t = f.dup_rows[ordinal]
                        self.copies.append((f.index, lineno, h, rid, t))
            total = f.good + f.bad
            if ordinal != total:
                raise Fallback(f"{f.path}: DuckDB read {total} records, the lines are {ordinal}")
        for w in range(len(self.aggs)):
            self._set_format(f, w, reports[w], formats[w], first[w])
        return reports

    def _consume_line(  # noqa: PLR0917
        self,
        f: FastFile,
        lineno: int,
        line: bytes,
        counters: _sources.Counters,
        reports: list[FileReport],
        formats: list[Counter[str]],
        first: list[dict[str, int]],
    ) -> None:
        items = list(_sources.jsonl_line(str(f.path), lineno, line, counters))
        for w, agg in enumerate(self.aggs):
            for where, item in items:
                before = agg.report.duplicates
                agg.consume_item(reports[w], formats[w], where, item, None)
                if agg.report.duplicates > before:
                    self.py_dups[w].append((f.index, lineno, agg.report.duplicate_samples.pop()))
                for fmt in formats[w]:
                    first[w].setdefault(fmt, lineno)

    def _set_format(
        self, f: FastFile, w: int, report: FileReport, formats: Counter[str],
        first: dict[str, int],
    ) -> None:
        """The file's format is that of most of its parsed records, ties going to the one seen
        first (the Python engine's ``Counter.most_common``)."""
        fast = GRAPH if f.form == "graph" else EVENT_HUB
        if f.good:
            first[fast] = min(first.get(fast, first.get("", 0)), first.get("", 0))
            formats[fast] += f.good
        ordered = Counter({k: formats[k] for k in sorted(formats, key=lambda k: first[k])})
        if ordered:
            report.format = ordered.most_common(1)[0][0]
        report.records_read += f.good
        agg = self.aggs[w]
        agg.formats.update(formats)
        agg.report.records_parsed += f.good

    def duplicate_samples(self, w: int) -> list[str]:
        """``location: id`` of a window's later copies, in read order (first MAX_SAMPLES)."""
        seen: set[int] = set()
        found: list[tuple[int, int, str]] = list(self.py_dups[w])
        for index, lineno, h, rid, t in sorted(self.copies):
            if int(np.searchsorted(self.cuts, t, side="right")) != w:
                continue
            if h in seen:
                found.append((index, lineno, f"{self.by_index[index].path}:{lineno}: {rid}"))
            seen.add(h)
        return [text for _, _, text in sorted(found)[:MAX_SAMPLES]]

    # ---- step 5: results ---------------------------------------------------------------------
    def tables(self) -> list[UsageTable]:
        """Every window's usage rows, merged with its Python path's rows (consumes the
        records' columns: the buckets come first)."""
        return group_windows(self.rec, self.kept, [list(agg.rows.items()) for agg in self.aggs])

    def buckets(self, w: int) -> pd.DataFrame:
        """A window's principal x 15-minute success counts (copies counted once), counted
        a range of records at a time on one int64 key per record."""
        rec, agg = self.rec, self.aggs[w]
        success = np.array([v == "success" for v in rec.values["result"]], dtype=bool)
        # key: principal code, then the 15-minute bucket number shifted to be positive (year
        # 1 is -2**26 buckets from 1970)
        span, shift = 1 << 40, 1 << 39
        keys, counts = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for a, b in rec.ranges():
            mask = self.kept(w, a, b) & success[rec.read("result", a, b)]
            key = (rec.read("principal_id", a, b)[mask].astype(np.int64) * span + shift
                   + rec.read("t", a, b)[mask] // BUCKET_US)
            k, c = np.unique(key, return_counts=True)
            keys.append(k)
            counts.append(c.astype(np.int64))
        raw = np.concatenate(keys)  # principal codes into the scan's dictionary
        py = sorted(agg.buckets.items())
        base = rec.values["principal_id"]
        pid_code, pid_values = lookup(
            np.concatenate([base, np.asarray([p for (p, _), _ in py], dtype=object)]),
            used_mask(raw // span, len(base), len(py)))
        pid_code = pid_code.astype(np.int64)
        record_keys = pid_code[raw // span] * span + raw % span
        py_keys = (pid_code[len(base) + np.arange(len(py), dtype=np.int64)] * span + shift
                   + np.asarray([b for (_, b), _ in py], np.int64) // BUCKET_US)
        key, inverse = np.unique(np.concatenate([record_keys, py_keys]), return_inverse=True)
        total = np.bincount(inverse.reshape(-1), weights=np.concatenate(
            [*counts, np.asarray([c for _, c in py], np.int64)]),
            minlength=len(key)).astype(np.int64)
        return pd.DataFrame({
            "principal_id": pd.array(pid_values[key // span], dtype="str"),
            "bucket_start": utc_us((key % span - shift) * BUCKET_US),
            "count": total,
        })

def run(
    aggs: list[Aggregator],
    files: list[Path],
    forms: dict[Path, str],
    counters: _sources.Counters,
) -> list[tuple[UsageTable, pd.DataFrame, IngestReport]]:
    """Read ``files`` (in order) with DuckDB where ``forms`` names a form, with the windows'
    aggregators (the Python path) elsewhere; one result per window. Raises :class:`Fallback`
    when exactness needs the Python engine."""
    fast = [FastFile(p, forms[p], i) for i, p in enumerate(files) if p in forms]
    store = Store()
    try:
        return _run(aggs, files, counters, fast, store)
    finally:
        store.close()


def _run(
    aggs: list[Aggregator],
    files: list[Path],
    counters: _sources.Counters,
    fast: list[FastFile],
    store: Store,
) -> list[tuple[UsageTable, pd.DataFrame, IngestReport]]:
    own = [_sources.Counters() for _ in aggs]  # files the Python path reads once per window
    with _connection() as con:
        job = DuckRun(con, aggs, fast, store)
        job.scan()
        job.locate(job.duplicate_hashes())
        reports: list[list[FileReport]] = [[] for _ in aggs]
        for i, path in enumerate(files):
            f = job.by_index.get(i)
            if f is not None:
                for w, report in enumerate(job.file_reports(f, counters)):
                    reports[w].append(report)
                continue
            for w, agg in enumerate(aggs):
                agg.consume(str(path), _sources.read_file(path, own[w]), None)
                reports[w].append(agg.report.sources.pop())
                job.py_dups[w] += [(i, k, text)
                                   for k, text in enumerate(agg.report.duplicate_samples)]
                agg.report.duplicate_samples.clear()
        job.check_python_ids()
        job.rec.drop_hashes()
    release_memory()  # DuckDB's buffers are gone: give their pages back before grouping
    buckets = [job.buckets(w) for w in range(len(aggs))]
    tables = job.tables()
    out = [(table, bucket, _report(job, w, agg, reports[w], table))
           for w, (agg, table, bucket) in enumerate(zip(aggs, tables, buckets, strict=True))]
    del job
    release_memory()  # the records and grouping temporaries, before the principals table
    for (_, _, window_report), mine in zip(out, own, strict=True):
        window_report.encoding_repairs += counters.encoding_repairs + mine.encoding_repairs
    return out


def _report(job: DuckRun, w: int, agg: Aggregator, sources: list[FileReport],
            table: UsageTable) -> IngestReport:
    from ._timeparse import us_to_datetime

    report = agg.report
    report.sources = sources
    report.engine = "duckdb"
    report.records_read = sum(s.records_read for s in sources)
    report.filtered_out += sum(f.good - f.kept[w] for f in job.files)
    report.duplicates += job.duplicates[w]
    report.duplicate_samples = job.duplicate_samples(w)
    report.rejected_by_field = dict(sorted(agg.rejected_fields.items()))
    report.formats = {f: agg.formats[f] for f in FORMATS if agg.formats[f]}
    if len(table):
        report.first_seen = us_to_datetime(int(table.first_us.min()))
        report.last_seen = us_to_datetime(int(table.last_us.max()))
        table.release_pages()
    return report
