"""Timestamp parsing for audit records: every delivery form to UTC epoch microseconds.

Seen forms (../shared/reference/audit-log-formats.md): ISO 8601 with ``Z`` or ``+hh:mm`` and
0-7 (or 9) fractional digits, ``T`` or space separated; the portal CSV's
``M/D/YYYY, h:mm:ss.fff AM/PM``; Elastic's legacy ``MM/DD/YYYY hh:mm:ss AM``. Fractions
beyond microseconds are truncated (never rounded) so that every engine agrees.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_US = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*([AaPp][Mm])?",
    re.ASCII,
)
# Parsing "YYYY-MM-DDTHH" costs more than the rest; a tenant's log spans few distinct hours.
_HOUR_CACHE: dict[str, int] = {}
_HOUR_CACHE_MAX = 200_000


def _fraction_us(text: str | None) -> int:
    if not text:
        return 0
    return int((text + "000000")[:6])


def _offset_us(text: str | None) -> int:
    if not text or text in ("Z", "z", "UTC"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60) * 1_000_000


def _epoch_us(  # noqa: PLR0917
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
) -> int:
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return (moment - _EPOCH) // _US_DELTA


_US_DELTA = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def _fast_iso(text: str) -> int | None:
    """The common Graph form ``YYYY-MM-DDTHH:MM:SS[.f]Z``, through an hour cache."""
    if len(text) < 20 or text[-1] != "Z" or text[10] != "T" or text[13] != ":":
        return None
    head = text[:13]
    base = _HOUR_CACHE.get(head)
    if base is None:
        if not (
            head[4] == head[7] == "-"
            and (head[:4] + head[5:7] + head[8:10] + head[11:13]).isdigit()
        ):
            return None
        try:
            base = _epoch_us(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), 0, 0)
        except ValueError:
            return None
        if len(_HOUR_CACHE) < _HOUR_CACHE_MAX:
            _HOUR_CACHE[head] = base
    rest = text[14:-1]  # "MM:SS[.fffffff]"
    if len(rest) < 5 or rest[2] != ":" or not (rest[:2] + rest[3:5]).isdigit():
        return None
    frac = rest[5:]
    if frac and (frac[0] != "." or not frac[1:].isdigit()):
        return None
    minute, second = int(rest[:2]), int(rest[3:5])
    if minute > 59 or second > 59:
        return None
    return base + (minute * 60 + second) * 1_000_000 + _fraction_us(frac[1:])


def parse_time_us(text: str) -> int | None:
    """UTC epoch microseconds of an audit timestamp, or None when it is not one."""
    fast = _fast_iso(text)
    if fast is not None:
        return fast
    text = text.strip()
    m = _ISO.fullmatch(text) or _DATE.fullmatch(text)
    if m:
        y, mo, d, h, mi, s, frac, off = (*m.groups(), None, None, None, None, None)[:8]
        try:
            base = _epoch_us(
                int(y or 0), int(mo or 0), int(d or 0), int(h or 0), int(mi or 0), int(s or 0)
            )
        except ValueError:
            return None
        return base + _fraction_us(frac) - _offset_us(off)
    m = _US.fullmatch(text)
    if m:
        return _parse_us(m.groups())
    return None


def _parse_us(groups: tuple[str | None, ...]) -> int | None:
    mo, d, y, h, mi, s, frac, ampm = groups
    hour = int(h or 0)
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    try:
        base = _epoch_us(int(y or 0), int(mo or 0), int(d or 0), hour, int(mi or 0), int(s or 0))
    except ValueError:
        return None
    return base + _fraction_us(frac)


def us_to_datetime(value: int) -> datetime:
    """UTC datetime of epoch microseconds."""
    return _EPOCH + value * _US_DELTA


def to_epoch_us(value: object) -> int | None:
    """Epoch microseconds of a datetime, a pandas Timestamp or a timestamp string."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse_time_us(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (moment - _EPOCH) // _US_DELTA
    return None
