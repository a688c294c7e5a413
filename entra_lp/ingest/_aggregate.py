"""Stage-1 aggregation in Python: canonical records to usage rows, buckets and counts.

Memory holds one slot per distinct usage row, per (principal, 15-minute bucket) and the set
of record ids seen (exact de-duplication), never the records themselves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._records import (
    CANONICALIZERS,
    FORMATS,
    KEY_COLUMNS,
    KQL_USAGE,
    BadRecord,
    Canon,
    UsageRow,
    canon_usage_row,
    detect_record,
)
from ._sources import BadItem, Item
from ._table import UsageTable
from .report import MAX_SAMPLES, FileReport, IngestReport, RejectedSample

BUCKET_US = 15 * 60 * 1_000_000
"""Width of the activity buckets used for PIM activation-length analysis."""
_NO_TIME = -(1 << 62)
_RESULT = KEY_COLUMNS.index("result")


class Aggregator:
    """Accumulates usage rows, success buckets and report counts over any number of sources."""

    def __init__(
        self,
        since_us: int | None = None,
        until_us: int | None = None,
        values: frozenset[str] = frozenset(),
    ) -> None:
        self.since_us = since_us
        self.until_us = until_us
        self.values = values  # lower-case names of the properties whose values are kept
        # key -> [count, first_us, last_us, example_id, name, name_us, name_id]
        self.rows: dict[tuple[str, ...], list[Any]] = {}
        self.buckets: Counter[tuple[str, int]] = Counter()
        self.seen: set[str] = set()
        self.report = IngestReport()
        self.rejected_fields: Counter[str] = Counter()
        self.formats: Counter[str] = Counter()

    # ---- per source --------------------------------------------------------------------
    def consume(self, source: str, items: Iterable[Item], forced: str | None) -> None:
        """Read one source's located items (records or unreadable input)."""
        file_report = FileReport(source=source, format="empty")
        formats: Counter[str] = Counter()
        for where, item in items:
            self.consume_item(file_report, formats, where, item, forced)
        self.close_source(file_report, formats)

    def consume_item(
        self,
        file_report: FileReport,
        formats: Counter[str],
        where: str,
        item: Mapping[str, Any] | BadItem,
        forced: str | None,
    ) -> None:
        """One located item of a source: parsed and aggregated, or rejected."""
        file_report.records_read += 1
        fmt = forced or self._detect(item)
        try:
            if isinstance(item, BadItem):
                raise BadRecord(item.field, item.reason)
            if fmt is None:
                raise BadRecord(
                    "",
                    "not an audit record in any known form "
                    "(Graph, Log Analytics, Event Hub, KQL usage row)",
                )
            if fmt == KQL_USAGE:
                self._add_row(canon_usage_row(item), where)
            else:
                self._add(CANONICALIZERS[fmt](item, values=self.values), where)
            formats[fmt] += 1
        except BadRecord as bad:
            file_report.records_rejected += 1
            self._reject(where, bad.field, bad.reason)

    def close_source(self, file_report: FileReport, formats: Counter[str]) -> None:
        """Record a finished source's report (its format is that of most of its records)."""
        if formats:
            file_report.format = formats.most_common(1)[0][0]
        self.formats.update(formats)
        self.report.sources.append(file_report)

    @staticmethod
    def _detect(item: Mapping[str, Any] | BadItem) -> str | None:
        return None if isinstance(item, BadItem) else detect_record(item)

    def _reject(self, where: str, field: str, reason: str) -> None:
        report = self.report
        report.records_rejected += 1
        self.rejected_fields[field or "<record>"] += 1
        if len(report.rejected_samples) < MAX_SAMPLES:
            report.rejected_samples.append(
                RejectedSample(location=where, field=field, reason=reason)
            )

    def _in_window(self, time_us: int) -> bool:
        if self.since_us is not None and time_us < self.since_us:
            return False
        return self.until_us is None or time_us < self.until_us

    # ---- per record ----------------------------------------------------------------------
    def _add(self, canon: Canon, where: str) -> None:
        report = self.report
        report.records_parsed += 1
        key, name, t, rid = canon
        if not self._in_window(t):
            report.filtered_out += 1
            return
        if rid in self.seen:
            report.duplicates += 1
            if len(report.duplicate_samples) < MAX_SAMPLES:
                report.duplicate_samples.append(f"{where}: {rid}")
            return
        self.seen.add(rid)
        if not key[0]:
            report.no_initiator += 1
            return
        slot = self.rows.get(key)
        if slot is None:
            self.rows[key] = [1, t, t, rid, name, t if name else _NO_TIME, rid]
        else:
            _merge(slot, 1, t, t, rid, name)
        if key[_RESULT] == "success":
            self.buckets[(key[0], t - t % BUCKET_US)] += 1

    def _add_row(self, row: UsageRow, where: str) -> None:
        self.report.records_parsed += 1
        if not (self._in_window(row.first_us) and self._in_window(row.last_us)):
            self.report.filtered_out += 1  # a pre-aggregated row cannot be split in time
            return
        slot = self.rows.get(row.key)
        if slot is None:
            self.rows[row.key] = [
                row.n,
                row.first_us,
                row.last_us,
                row.example_id,
                row.principal_name,
                row.last_us if row.principal_name else _NO_TIME,
                row.example_id,
            ]
        else:
            _merge(slot, row.n, row.first_us, row.last_us, row.example_id, row.principal_name)

    # ---- results -------------------------------------------------------------------------
    def finish(self, engine: str) -> IngestReport:
        """Complete the report (counts by field and format, time span)."""
        report = self.report
        report.engine = engine
        report.records_read = sum(s.records_read for s in report.sources)
        report.rejected_by_field = dict(sorted(self.rejected_fields.items()))
        report.formats = {f: self.formats[f] for f in FORMATS if self.formats[f]}
        if self.rows:
            from ._timeparse import us_to_datetime

            report.first_seen = us_to_datetime(min(s[1] for s in self.rows.values()))
            report.last_seen = us_to_datetime(max(s[2] for s in self.rows.values()))
        return report

    def table(self) -> UsageTable:
        """Usage rows (contract content) as a :class:`UsageTable`."""
        return UsageTable.from_tuples(
            [(*k[:1], s[4], *k[1:], s[0], s[1], s[2], s[3]) for k, s in self.rows.items()]
        )

    def buckets_frame(self) -> pd.DataFrame:
        """principal_id, bucket_start (UTC), count of successful records; sorted."""
        items = sorted(self.buckets.items())
        return buckets_to_frame(
            [p for (p, _), _ in items], [b for (_, b), _ in items], [c for _, c in items]
        )


def _merge(  # noqa: PLR0917
    slot: list[Any],
    count: int,
    first: int,
    last: int,
    example: str,
    name: str,
) -> None:
    slot[0] += count
    if first < slot[1] or (first == slot[1] and example < slot[3]):
        slot[1], slot[3] = first, example
    slot[2] = max(slot[2], last)
    if name and (last > slot[5] or (last == slot[5] and example > slot[6])):
        slot[4], slot[5], slot[6] = name, last, example


def utc_us(values: Iterable[int]) -> pd.DatetimeIndex:
    """epoch microseconds -> tz-aware UTC datetimes with microsecond resolution."""
    arr = np.fromiter(values, dtype=np.int64).astype("datetime64[us]")
    return pd.DatetimeIndex(arr).tz_localize("UTC")


def buckets_to_frame(principals: list[str], starts: list[int], counts: list[int]) -> pd.DataFrame:
    """The buckets table from parallel lists (already sorted)."""
    return pd.DataFrame(
        {
            "principal_id": pd.array(principals, dtype="str"),
            "bucket_start": utc_us(starts),
            "count": np.asarray(counts, dtype=np.int64),
        }
    )
