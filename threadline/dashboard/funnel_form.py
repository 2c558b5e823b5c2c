"""The funnels page's form: GET query parameters in, a funnel request or messages out.

The form is read from the query string, so a funnel is a URL an analyst can share and
no CSRF token is involved (it only reads). Parameters:

* ``t1``..``t6``: the kind of step n, ``event`` (default) or ``page``;
  ``v1``..``v6``: its event name, or for a page its path (empty: any page).
  An event row with no name is an unused row and is skipped.
* ``window``: one of :data:`WINDOWS` (ISO 8601, as the API takes it), default ``P7D``.
* ``from``/``to``: UTC dates ``YYYY-MM-DD``, both days included; default the last
  30 days up to today.
* ``by``: ``person`` (default) or ``company``.

Bad input is reported as messages for the page (a 400), never raised: every problem is
listed at once so the analyst fixes them in one go.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from threadline.query.funnel import Step
from threadline.query.serialize import us_of

MIN_STEPS = 2
MAX_STEPS = 6
MAX_VALUE = 200
DEFAULT_DAYS = 30
WINDOWS: tuple[tuple[str, str], ...] = (
    ("PT1H", "1 hour"), ("P1D", "1 day"), ("P7D", "7 days"), ("P30D", "30 days"))
WINDOW_US = {"PT1H": 3600 * 10**6, "P1D": 86_400 * 10**6, "P7D": 7 * 86_400 * 10**6,
             "P30D": 30 * 86_400 * 10**6}
BY = ("person", "company")
KINDS = ("event", "page")
STEP_PARAM = re.compile(r"^[tv](\d+)$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Dates outside these years are refused: nothing is stored there, and the query layer
# refuses times outside 1900..9000 as well.
MIN_YEAR, MAX_YEAR = 1900, 8999
FORM_KEYS = ("window", "from", "to", "by")


@dataclass(frozen=True)
class StepRow:
    """One row of the form as typed, for showing it again."""

    kind: str
    value: str


@dataclass(frozen=True)
class FunnelRequest:
    """A valid funnel: what the query layer's ``funnel`` needs, plus step labels."""

    steps: tuple[Step, ...]
    labels: tuple[str, ...]
    window_us: int
    start_us: int
    end_us: int
    by: str


@dataclass(frozen=True)
class FunnelForm:
    """The form as typed, and either a request to run or the problems with it.

    ``request`` and ``errors`` are both empty when nothing was submitted yet (the
    first visit shows the form with its defaults).
    """

    rows: tuple[StepRow, ...]
    window: str
    start: str
    end: str
    by: str
    request: FunnelRequest | None
    errors: tuple[str, ...]


def label(step: Step) -> str:
    """How a step reads on the page."""
    if step.type == "page":
        return f"Page {step.path}" if step.path else "Any page"
    return step.event or ""


def _date(text: str, name: str, errors: list[str]) -> dt.date | None:
    if not DATE.match(text):
        errors.append(f"{name} date “{text}” is not a date; use YYYY-MM-DD.")
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        errors.append(f"{name} date “{text}” is not a date; use YYYY-MM-DD.")
        return None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        errors.append(f"{name} date must be between the years {MIN_YEAR} and {MAX_YEAR}.")
        return None
    return day


def _steps(params: Mapping[str, str], errors: list[str]) -> tuple[tuple[StepRow, ...], list[Step]]:
    """Every form row (for redisplay) and the steps of the rows in use, in order."""
    beyond = [int(m.group(1)) for k in params if (m := STEP_PARAM.match(k))
              and not 1 <= int(m.group(1)) <= MAX_STEPS and params[k].strip()]
    if beyond:
        errors.append(f"A funnel has at most {MAX_STEPS} steps.")
    rows: list[StepRow] = []
    steps: list[Step] = []
    for n in range(1, MAX_STEPS + 1):
        kind = (params.get(f"t{n}") or "event").strip()
        value = (params.get(f"v{n}") or "").strip()
        rows.append(StepRow(kind if kind in KINDS else "event", value))
        if kind not in KINDS:
            errors.append(f"Step {n}: the kind must be event or page, not “{kind}”.")
            continue
        if len(value) > MAX_VALUE:
            errors.append(f"Step {n}: at most {MAX_VALUE} characters.")
            continue
        if kind == "event":
            if value:  # an event row without a name is a row left unused
                steps.append(Step(event=value))
        elif value and not value.startswith("/"):
            errors.append(f"Step {n}: a page path starts with “/”, like /pricing.")
        else:
            steps.append(Step(type="page", path=value or None))
    return tuple(rows), steps


def parse(params: Mapping[str, str], today: dt.date) -> FunnelForm:
    """Read and check the form; ``today`` (UTC) anchors the default date range."""
    default_start = (today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    submitted = any(k in params for k in FORM_KEYS) or any(STEP_PARAM.match(k) for k in params)
    errors: list[str] = []
    rows, steps = _steps(params, errors)
    window = (params.get("window") or "P7D").strip()
    by = (params.get("by") or "person").strip()
    start_text = (params.get("from") or "").strip() or default_start
    end_text = (params.get("to") or "").strip() or today.isoformat()
    form = FunnelForm(rows, window, start_text, end_text, by, None, ())
    if not submitted:
        return form
    if len(steps) < MIN_STEPS:
        errors.append(f"A funnel needs at least {MIN_STEPS} steps; you gave {len(steps)}.")
    if window not in WINDOW_US:
        choices = ", ".join(name for _, name in WINDOWS[:-1]) + f" or {WINDOWS[-1][1]}"
        errors.append(f"Unknown conversion window “{window}”; choose {choices}.")
    if by not in BY:
        errors.append(f"Count by must be person or company, not “{by}”.")
    start = _date(start_text, "From", errors)
    end = _date(end_text, "To", errors)
    if start is not None and end is not None and end < start:
        errors.append("The To date is before the From date.")
    if errors or start is None or end is None:
        return FunnelForm(rows, window, start_text, end_text, by, None, tuple(errors))
    # ``to`` includes its whole day: the range ends at the next midnight (half-open).
    start_us = us_of(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
    end_us = us_of(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    request = FunnelRequest(tuple(steps), tuple(label(s) for s in steps), WINDOW_US[window],
                            start_us, end_us, by)
    return FunnelForm(rows, window, start_text, end_text, by, request, ())
