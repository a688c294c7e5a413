"""The DuckDB engine: JSON-lines audit logs aggregated in SQL, exact through the Python path.

How a run goes (``run``):

1. One parallel scan of every JSON-lines file (``_duck_sql.projection``) groups the kept
   records by the usage-row key into a temp table, with per group the count, the earliest
   ``(time, id)``, the latest time, the latest named ``(time, id, name)`` and the list of
   ``(time, id hash, file)`` of its records (buckets and duplicate detection come from it).
   Records the SQL cannot vouch for (``state = 1``) are only counted; so are records outside
   ``since``/``until`` (``state = 2``). DuckDB runs under a memory limit and spills to a temp
   folder, so memory does not grow with the file.
2. Key values the SQL kept verbatim (service, category, activity, ...) are checked once per
   distinct value rather than per record; a suspect one (whitespace at an edge, a rendering
   of a non-string) raises :class:`Fallback`.
3. Files with bad records get a second, ordered scan that numbers the records (``row_number``
   keeps the file order), a cheap pass over the file maps those numbers to lines, and the
   lines go through the reference Python path: every bad record is rejected with its file,
   line, field and reason exactly as the Python engine would, and good ones are kept.
4. Duplicate ids: the id hashes of all kept records are grouped. Copies that are the same
   record (same key, same time) are counted once, as the Python engine does, and located for
   the report. Anything else (a reused id with other content, an id shared with a record the
   Python path read) raises :class:`Fallback`, as does a file whose line count DuckDB and
   Python disagree on; the caller then reruns the whole input on the Python engine and says
   so in ``report.notes`` (exact, but at Python speed).

Hashes are DuckDB's 64-bit ``hash(id)``; two *different* ids are only confused when their
hashes collide *and* they sit in the same usage row with the same timestamp (probability
below 2^-64 per such pair).

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

from entra_lp.errors import IngestError

from . import _duck_sql as q
from . import _sources
from ._aggregate import BUCKET_US, Aggregator, utc_us
from ._records import EVENT_HUB, FORMATS, GRAPH, USAGE_COLUMNS, detect_record
from .report import MAX_SAMPLES, FileReport, IngestReport

MEMORY_LIMIT = os.environ.get("ENTRA_LP_DUCKDB_MEMORY", "512MB")
"""DuckDB's memory limit for one ingest (beyond it, aggregation spills to a temp folder)."""
_BOM = b"\xef\xbb\xbf"
_FORMS = {GRAPH: "graph", EVENT_HUB: "event_hub"}
_SORT = (
    "pid", "service", "category", "activity", "operation_type", "result", "target_type",
    "target_id", "related_group_id", "modified_properties", "ptype",
)


class Fallback(Exception):
    """The DuckDB engine cannot be exact on this input; the reason is the message."""


@dataclass
class FastFile:
    """A JSON-lines file the DuckDB engine reads, and what the run learns about it."""

    path: Path
    form: str  # graph | event_hub
    index: int
    kept: int = 0
    bad: int = 0
    outside: int = 0
    bad_rows: set[int] = field(default_factory=set)
    dup_rows: dict[int, tuple[int, str]] = field(default_factory=dict)  # rn -> (hash, id)


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


def _group_sql(files: Sequence[FastFile], since: int | None, until: int | None) -> str:
    scans = " UNION ALL ".join(
        f"SELECT * FROM ({q.projection(str(f.path), f.form, f.index, since, until)})"
        for f in files
    )
    # Bad rows collapse to one group per file; rows outside the window keep their key so
    # that their values are checked like those of kept rows.
    keys = ", ".join(f"CASE WHEN state <> 1 THEN {k} END AS {k}" for k in q.KEY)
    return f"""CREATE TEMP TABLE g AS
SELECT state, CASE WHEN state = 1 THEN f END AS bf, {", ".join(q.KEY)},
  count(*) AS n, min({{'t': t, 'r': rid}}) AS lo, max(t) AS hi,
  max({{'t': t, 'r': rid, 'n': pname}}) FILTER (WHERE pname <> '') AS nm,
  list({{'t': t, 'h': h, 'f': f}}) FILTER (WHERE state <> 1) AS ev
FROM (SELECT f, state, {keys}, t, rid, pname, h FROM ({scans}))
GROUP BY ALL"""


class DuckRun:
    """One DuckDB-engine ingest over ``files`` (every other file goes to ``agg``)."""

    def __init__(self, con: Any, agg: Aggregator, files: list[FastFile]) -> None:
        self.con = con
        self.agg = agg
        self.files = files
        self.by_index = {f.index: f for f in files}
        self.copies: list[tuple[int, int, int, str]] = []  # (file, line, hash, id)
        self.py_dups: list[tuple[int, int, str]] = []  # (file, line, "location: id")
        self.duplicates = 0
        self.extra: dict[int, int] = {}  # group rowid -> later copies to discount

    # ---- steps 1 and 2 -----------------------------------------------------------------------
    def scan(self) -> None:
        """Group every file's records (one parallel scan) and collect per-file counts."""
        self.con.execute(_group_sql(self.files, self.agg.since_us, self.agg.until_us))
        self._check_values()
        for index, n in self.con.execute("SELECT bf, n FROM g WHERE state = 1").fetchall():
            self.by_index[index].bad = n
        for state, index, n in self.con.execute(
            "SELECT state, e.f, count(*) FROM (SELECT state, unnest(ev) AS e FROM g "
            "WHERE state <> 1) GROUP BY 1, 2"
        ).fetchall():
            if state == 0:
                self.by_index[index].kept = n
            else:
                self.by_index[index].outside = n

    def _check_values(self) -> None:
        """Key values kept verbatim must read the same in Python (checked per distinct value);
        one that may not sends the whole input to the Python engine."""
        for column in (*q.SUSPECT_COLUMNS, "modified_properties"):
            hit = self.con.execute(
                f"SELECT {column} FROM (SELECT DISTINCT {column} FROM g WHERE state <> 1) "
                f"WHERE {q.suspect_value(column)} LIMIT 1"
            ).fetchone()
            if hit:
                raise Fallback(f"{column} value {hit[0]!r:.60} needs the Python path")

    # ---- step 3 ------------------------------------------------------------------------------
    def locate(self, dup_hashes: list[int]) -> None:
        """Record numbers of bad rows (and of records with a duplicated id hash) per file."""
        hashes = ", ".join(str(h) for h in dup_hashes) or "NULL"
        for f in self.files:
            if not f.bad and not (dup_hashes and f.kept):
                continue
            proj = q.projection(
                str(f.path), f.form, f.index, self.agg.since_us, self.agg.until_us
            )
            rows = self.con.execute(
                "SELECT rn, state, h, rid FROM (SELECT row_number() OVER () AS rn, state, h, "
                f"rid FROM ({proj})) WHERE state = 1 OR (state = 0 AND h IN ({hashes}))"
            ).fetchall()
            f.bad_rows = {rn for rn, state, _, _ in rows if state == 1}
            f.dup_rows = {rn: (int(h), rid) for rn, state, h, rid in rows if state == 0}

    def file_report(self, f: FastFile, counters: _sources.Counters) -> FileReport:
        """Send the bad lines of ``f`` through the Python path; the file's report."""
        report = FileReport(source=str(f.path), format="empty")
        formats: Counter[str] = Counter()
        first: dict[str, int] = {}
        ordinal = 0
        if f.bad_rows or f.dup_rows:
            with _sources.open_binary(f.path) as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    ordinal += 1
                    if ordinal in f.bad_rows:
                        self._consume_line(f, lineno, line, counters, report, formats, first)
                        continue
                    first.setdefault("", lineno)
                    if ordinal in f.dup_rows:
                        h, rid = f.dup_rows[ordinal]
                        self.copies.append((f.index, lineno, h, rid))
            total = f.kept + f.bad + f.outside
            if ordinal != total:
                raise Fallback(f"{f.path}: DuckDB read {total} records, the lines are {ordinal}")
        self._set_format(f, report, formats, first)
        return report

    def _consume_line(  # noqa: PLR0917
        self,
        f: FastFile,
        lineno: int,
        line: bytes,
        counters: _sources.Counters,
        report: FileReport,
        formats: Counter[str],
        first: dict[str, int],
    ) -> None:
        agg = self.agg
        for where, item in _sources.jsonl_line(str(f.path), lineno, line, counters):
            before = agg.report.duplicates
            agg.consume_item(report, formats, where, item, None)
            if agg.report.duplicates > before:
                self.py_dups.append((f.index, lineno, agg.report.duplicate_samples.pop()))
            for fmt in formats:
                first.setdefault(fmt, lineno)

    def _set_format(
        self, f: FastFile, report: FileReport, formats: Counter[str], first: dict[str, int]
    ) -> None:
        """The file's format is that of most of its parsed records, ties going to the one seen
        first (the Python engine's ``Counter.most_common``)."""
        parsed = f.kept + f.outside
        fast = GRAPH if f.form == "graph" else EVENT_HUB
        if parsed:
            first[fast] = min(first.get(fast, first.get("", 0)), first.get("", 0))
            formats[fast] += parsed
        ordered = Counter({k: formats[k] for k in sorted(formats, key=lambda k: first[k])})
        if ordered:
            report.format = ordered.most_common(1)[0][0]
        report.records_read += parsed
        self.agg.formats.update(formats)
        self.agg.report.records_parsed += parsed

    # ---- step 4 ------------------------------------------------------------------------------
    def duplicate_hashes(self) -> list[int]:
        """Id hashes seen more than once among kept records; only copies of one record (same
        key and time) are handled here, any other reuse of an id raises Fallback."""
        rows = self.con.execute(
            "SELECT e.h FROM (SELECT unnest(ev) AS e FROM g WHERE state = 0) "
            "GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
        hashes = sorted(int(h) for (h,) in rows)
        if not hashes:
            return []
        copies = self.con.execute(
            "SELECT e.h, count(DISTINCT {'g': gid, 't': e.t}), count(*), min(gid) FROM "
            "(SELECT rowid AS gid, unnest(ev) AS e FROM g WHERE state = 0) "
            "WHERE e.h IN (SELECT unnest(?::UBIGINT[])) GROUP BY 1",
            [hashes],
        ).fetchall()
        for _, places, n, gid in copies:
            if places != 1:
                raise Fallback("an id is reused by records with other content or time")
            self.extra[int(gid)] = self.extra.get(int(gid), 0) + n - 1
            self.duplicates += n - 1
        return hashes

    def check_python_ids(self) -> None:
        """Ids the Python path kept must not also be among the DuckDB-kept records."""
        ids = sorted(self.agg.seen)
        if not ids:
            return
        hit = self.con.execute(
            "SELECT count(*) FROM (SELECT unnest(ev).h AS h FROM g WHERE state = 0) "
            "WHERE h IN (SELECT hash(x) FROM (SELECT unnest(?::VARCHAR[]) AS x))",
            [ids],
        ).fetchone()
        if hit and hit[0]:
            raise Fallback("an id is shared by records of the DuckDB and the Python path")

    def duplicate_samples(self) -> list[str]:
        """``location: id`` of the later copies, in read order (first MAX_SAMPLES)."""
        seen: set[int] = set()
        found: list[tuple[int, int, str]] = list(self.py_dups)
        for index, lineno, h, rid in sorted(self.copies):
            if h in seen:
                found.append((index, lineno, f"{self.by_index[index].path}:{lineno}: {rid}"))
            seen.add(h)
        return [text for _, _, text in sorted(found)[:MAX_SAMPLES]]

    # ---- results -----------------------------------------------------------------------------
    def rows_frame(self) -> pd.DataFrame:
        """Usage rows (contract schema, Python-engine order), merged with the Python path's."""
        keys = ", ".join(q.KEY)
        source = "SELECT * FROM g WHERE state = 0"
        if self.extra:
            self.con.execute("CREATE TEMP TABLE fix (gid BIGINT, extra BIGINT)")
            self.con.executemany("INSERT INTO fix VALUES (?, ?)", sorted(self.extra.items()))
            source = (
                f"SELECT {keys}, n - coalesce(fix.extra, 0) AS n, lo, hi, nm FROM "
                "(SELECT rowid AS gid, * FROM g WHERE state = 0) LEFT JOIN fix USING (gid)"
            )
        if self.agg.rows:
            self._python_rows_table()
            source = (
                f"SELECT {keys}, sum(n)::BIGINT AS n, min(lo) AS lo, max(hi) AS hi, "
                f"max(nm) AS nm FROM (SELECT {keys}, n, lo, hi, nm FROM ({source}) "
                f"UNION ALL SELECT {keys}, n, lo, hi, nm FROM py) GROUP BY ALL"
            )
        self.con.execute(
            f"""CREATE TEMP TABLE final AS
SELECT pid, coalesce(nm.n, '') AS pname, {", ".join(q.KEY[1:])}, n::BIGINT AS n,
       lo.t AS first, hi, lo.r AS example
FROM ({source}) ORDER BY concat_ws(chr(0), {", ".join(_SORT)})"""
        )
        return self._fetch_final()

    def _fetch_final(self) -> pd.DataFrame:
        """The ``final`` table as a DataFrame: repeated strings come through DuckDB ENUMs,
        so each distinct value is one Python object however many rows share it."""
        shared = ["pid", "pname", *q.KEY[1:]]
        casts = []
        for i, column in enumerate(shared):
            self.con.execute(
                f"CREATE TYPE e{i} AS ENUM (SELECT DISTINCT {column} FROM final "
                f"WHERE {column} IS NOT NULL)"
            )
            casts.append(f"{column}::e{i} AS {column}")
        self.con.execute("DROP TABLE g")  # its memory is no longer needed
        result = self.con.execute(f"SELECT {', '.join(casts)}, n, first, hi, example FROM final")
        parts = []  # streamed in chunks: DuckDB never materialises the whole result at once
        while not (part := result.fetch_df_chunk(64)).empty:
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else (
            parts[0] if parts else result.df())
        out: dict[str, Any] = {}
        names = dict(zip(["pid", "pname", *q.KEY[1:]], _ROW_COLUMNS, strict=True))
        for column in shared:
            cat = frame[column].astype(str(frame[column].cat.categories.dtype))
            out[names[column]] = cat.array if len(frame) else pd.array([], dtype="str")
        out["count"] = frame["n"].to_numpy(dtype=np.int64)
        out["first_seen"] = utc_us(frame["first"].to_numpy(dtype=np.int64))
        out["last_seen"] = utc_us(frame["hi"].to_numpy(dtype=np.int64))
        out["example_id"] = pd.array(frame["example"].to_numpy(dtype=object), dtype="str")
        return pd.DataFrame(out, columns=list(USAGE_COLUMNS))

    def _python_rows_table(self) -> None:
        cols = ", ".join(f"{k} VARCHAR" for k in q.KEY)
        self.con.execute(
            f"CREATE TEMP TABLE py ({cols}, n BIGINT, lo STRUCT(t BIGINT, r VARCHAR), "
            "hi BIGINT, nm STRUCT(t BIGINT, r VARCHAR, n VARCHAR))"
        )
        rows = [
            (*key, s[0], {"t": s[1], "r": s[3]}, s[2],
             {"t": s[5], "r": s[6], "n": s[4]} if s[4] else None)
            for key, s in self.agg.rows.items()
        ]
        if rows:
            marks = ", ".join("?" for _ in range(len(q.KEY) + 4))
            self.con.executemany(f"INSERT INTO py VALUES ({marks})", rows)

    def buckets_frame(self) -> pd.DataFrame:
        """principal x 15-minute success counts, later copies of duplicated ids discounted."""
        width = BUCKET_US
        start = f"(e.t - (((e.t % {width}) + {width}) % {width}))"
        if self.extra:  # copies of one record share group, time and hash: count them once
            fast = (
                f"SELECT pid, b, sum(c) AS c FROM (SELECT pid, {start} AS b, "
                "count(DISTINCT {'t': e.t, 'h': e.h}) AS c FROM (SELECT rowid AS gid, pid, "
                "unnest(ev) AS e FROM g WHERE state = 0 AND result = 'success') "
                "GROUP BY gid, pid, b) GROUP BY 1, 2"
            )
        else:
            fast = (
                f"SELECT pid, {start} AS b, count(*) AS c FROM (SELECT pid, unnest(ev) AS e "
                "FROM g WHERE state = 0 AND result = 'success') GROUP BY 1, 2"
            )
        self.con.execute("CREATE TEMP TABLE pyb (pid VARCHAR, b BIGINT, c BIGINT)")
        if self.agg.buckets:
            self.con.executemany(
                "INSERT INTO pyb VALUES (?, ?, ?)",
                [(p, b, c) for (p, b), c in sorted(self.agg.buckets.items())],
            )
        data = self.con.execute(
            f"SELECT pid, b, sum(c)::BIGINT AS c FROM ({fast} UNION ALL SELECT * FROM pyb) "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchnumpy()
        return pd.DataFrame(
            {
                "principal_id": pd.array(np.asarray(data["pid"], dtype=object), dtype="str"),
                "bucket_start": utc_us(np.asarray(data["b"], dtype=np.int64)),
                "count": np.asarray(data["c"], dtype=np.int64),
            }
        )


_ROW_COLUMNS = (
    "principal_id",
    "principal_name",
    "principal_type",
    "service",
    "category",
    "activity",
    "operation_type",
    "result",
    "target_type",
    "target_id",
    "related_group_id",
    "modified_properties",
)


def run(
    agg: Aggregator,
    files: list[Path],
    forms: dict[Path, str],
    counters: _sources.Counters,
) -> tuple[pd.DataFrame, pd.DataFrame, IngestReport]:
    """Read ``files`` (in order) with DuckDB where ``forms`` names a form, with ``agg`` (the
    Python path) elsewhere; raises :class:`Fallback` when exactness needs the Python engine."""
    fast = [FastFile(p, forms[p], i) for i, p in enumerate(files) if p in forms]
    with _connection() as con:
        job = DuckRun(con, agg, fast)
        job.scan()
        job.locate(job.duplicate_hashes())
        reports: list[FileReport] = []
        for i, path in enumerate(files):
            f = job.by_index.get(i)
            if f is None:
                agg.consume(str(path), _sources.read_file(path, counters), None)
                reports.append(agg.report.sources.pop())
                job.py_dups += [(i, k, text) for k, text in enumerate(agg.report.duplicate_samples)]
                agg.report.duplicate_samples.clear()
            else:
                reports.append(job.file_report(f, counters))
        job.check_python_ids()
        buckets = job.buckets_frame()
        rows = job.rows_frame()
    report = agg.report
    report.sources = reports
    report.engine = "duckdb"
    report.records_read = sum(s.records_read for s in reports)
    report.filtered_out += sum(f.outside for f in fast)
    report.duplicates += job.duplicates
    report.duplicate_samples = job.duplicate_samples()
    report.rejected_by_field = dict(sorted(agg.rejected_fields.items()))
    report.formats = {f: agg.formats[f] for f in FORMATS if agg.formats[f]}
    report.encoding_repairs += counters.encoding_repairs
    if len(rows):
        report.first_seen = rows["first_seen"].min().to_pydatetime()
        report.last_seen = rows["last_seen"].max().to_pydatetime()
    return rows, buckets, report
