"""Reading and validating query-API inputs: times, durations, time zones, choices.

Every refusal is a 422 ``validation_error`` naming the field, so a client can tell
which input was wrong; nothing unchecked reaches SQL.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from threadline.errors import HTTPError, unprocessable
from threadline.query.serialize import us_of

US = 1_000_000
DURATION_RE = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
MAX_DURATION_US = 3660 * 86_400 * US  # ten years
# Inputs outside these years are refused: nothing is stored there, and date arithmetic
# near year 1 or 9999 would overflow.
MIN_US = -2_208_988_800 * US  # 1900-01-01
MAX_US = 221_845_392_000 * US  # 9000-01-01


def invalid(field: str, message: str) -> HTTPError:
    """A 422 naming the offending field."""
    return unprocessable(f"{field}: {message}", details={"field": field, "message": message})


def parse_time(value: Any, field: str, tz: dt.tzinfo = dt.UTC, end_of_day: bool = False) -> int:
    """An input time as UTC microseconds.

    Accepts ISO 8601 (``2026-01-05T10:00:00Z``, with any offset; without one the time is
    read in ``tz``), a date (``2026-01-05``: local midnight in ``tz``; with
    ``end_of_day`` the next midnight, so ``to=2026-01-05`` includes that day), or unix
    seconds or milliseconds.
    """
    if isinstance(value, bool) or value is None:
        raise invalid(field, "a time is required")
    if isinstance(value, int | float):
        return _epoch(float(value), field)
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "expected an ISO 8601 time, a date or unix seconds")
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _epoch(float(text), field)
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            if end_of_day:
                day += dt.timedelta(days=1)
            return _bounded(us_of(dt.datetime.combine(day, dt.time(), tzinfo=tz)), field)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise invalid(field, f"{value!r} is not an ISO 8601 time or date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        return _bounded(us_of(moment), field)
    except OverflowError:
        raise invalid(field, f"{value!r} is out of range") from None


def _epoch(seconds: float, field: str) -> int:
    # Same magnitude rule as the collector: seconds, else milliseconds.
    us = seconds * US if abs(seconds) < 1e11 else seconds * 1000
    return _bounded(int(us), field)


def _bounded(us: int, field: str) -> int:
    if not MIN_US <= us < MAX_US:
        raise invalid(field, "must be between the years 1900 and 9000")
    return us


def optional_time(params: Mapping[str, Any], field: str, tz: dt.tzinfo = dt.UTC,
                  end_of_day: bool = False) -> int | None:
    """``parse_time`` of an optional parameter (absent or empty: None)."""
    value = params.get(field)
    if value is None or value == "":
        return None
    return parse_time(value, field, tz, end_of_day)


def time_range(params: Mapping[str, Any], tz: dt.tzinfo = dt.UTC,
               default_days: float | None = None) -> tuple[int | None, int | None]:
    """``from``/``to`` as a half-open UTC range; a date ``to`` includes that day.

    With ``default_days``, a missing ``to`` is now and a missing ``from`` that many days
    before ``to``.
    """
    start = optional_time(params, "from", tz)
    end = optional_time(params, "to", tz, end_of_day=True)
    if default_days is not None:
        if end is None:
            end = us_of(dt.datetime.now(dt.UTC))
        if start is None:
            start = end - int(default_days * 86_400 * US)
    if start is not None and end is not None and end < start:
        raise invalid("to", "must not be before from")
    return start, end


def duration(value: Any, field: str) -> int:
    """An ISO 8601 duration in weeks, days, hours, minutes, seconds (``P7D``, ``PT1H``,
    ``P1DT12H``) as microseconds. Months and years have no fixed length: refused."""
    if not isinstance(value, str) or not value:
        raise invalid(field, "expected an ISO 8601 duration such as P7D or PT1H")
    m = DURATION_RE.match(value.strip().upper())
    if m is None or value.strip().upper() in ("P", "PT") or value.strip().upper().endswith("T"):
        hint = " (months and years are not supported; use days, e.g. P30D)" if re.search(
            r"^P[^T]*[YM]", value.strip().upper()) else ""
        raise invalid(field, f"{value!r} is not an ISO 8601 duration such as P7D or PT1H{hint}")
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    seconds = (parts["w"] * 7 * 86_400 + parts["d"] * 86_400 + parts["h"] * 3600
               + parts["m"] * 60 + parts["s"])
    # Hundreds of digits read as an infinite float: no duration, and no int either.
    us = int(seconds * US) if math.isfinite(seconds) else MAX_DURATION_US + 1
    if us <= 0 or us > MAX_DURATION_US:
        raise invalid(field, "must be positive and at most ten years")
    return us


def timezone(params: Mapping[str, Any], field: str = "tz") -> tuple[str, ZoneInfo]:
    """The IANA time zone named by ``tz`` (default ``UTC``)."""
    name = params.get(field) or "UTC"
    if not isinstance(name, str):
        raise invalid(field, "expected an IANA time zone name such as Europe/Berlin")
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(field, f"{name!r} is not an IANA time zone name") from None


def choice(params: Mapping[str, Any], field: str, options: tuple[str, ...], default: str) -> str:
    """One of ``options`` (default when absent)."""
    value = params.get(field)
    if value is None or value == "":
        return default
    if value not in options:
        raise invalid(field, f"must be one of {', '.join(options)}")
    return str(value)


def text(params: Mapping[str, Any], field: str, max_length: int = 1000) -> str | None:
    """An optional non-empty string parameter."""
    value = params.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if len(value) > max_length:
        raise invalid(field, f"must be at most {max_length} characters")
    return value


def flag(params: Mapping[str, Any], field: str) -> bool:
    """A boolean query parameter: true/1/yes or false/0/no (default false)."""
    value = params.get(field)
    if value is None or value == "":
        return False
    low = str(value).strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise invalid(field, "must be true or false")
