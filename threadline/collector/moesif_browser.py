"""What one browser running moesif-browser-js told us recently, to fill in what its
later requests leave out (shared/wire/moesif.md §6.3).

- ``identifyCompany`` posts ``/v1/companies`` with the company id and traits but no
  user id and no anonymous id. The person is the one who identified on that browser:
  the same ``session_token`` when the page set one (within ``WINDOW_S``), else the same
  client (address and User-Agent) within ``CLIENT_WINDOW_S``: browser-js sends
  identifyUser and identifyCompany back to back, and a longer window would let two
  people behind one office address with the same browser build take each other's
  company. The company update then also makes that user (or
  anonymous visitor) a member, even when no later action or event carries
  ``company_id``.
- ``track()`` actions carry no time; with ``batchEnabled`` they reach us up to a batch
  interval (or retries) later than they happened. An action that names only an
  anonymous id was queued *before* ``identifyUser`` claimed that id (afterwards the SDK
  sends the user id instead), so one arriving after that identify is placed just before
  it; the actions of one batch keep their order (equal times read by arrival).

The memory is per process, bounded (``MAX_ENTRIES``) and short-lived: it is a hint for
requests that follow each other within minutes, which a browser's requests do, and it
sees an identify the moment it is parsed, before its commit (browser-js sends
identifyUser and identifyCompany back to back, so the two requests race). For a company
update the store is asked as well when the memory has nothing (another server process,
or a restart in between).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from threadline.model import CompanyRef, Message, Parsed

WINDOW_S = 30 * 60.0  # how long a browser's identify is remembered by session token
CLIENT_WINDOW_S = 120.0  # ... and by client address and User-Agent alone
# A batch reaches us within its flush interval (2.5 s), or after retries within the
# request timeout (90 s): later anonymous actions are from another tab that had not
# seen the identify yet, and keep their arrival time.
BATCH_DELAY_S = 120.0
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Identified:
    """A browser identify: who, and when (event time, µs)."""

    user_id: str
    anonymous_id: str | None
    ts_us: int
    seen: float  # monotonic seconds, for expiry


class _Recent:
    """A bounded map with expiry, newest last."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[Any, ...], Identified] = OrderedDict()

    def put(self, key: tuple[Any, ...], value: Identified) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > MAX_ENTRIES:
            self._items.popitem(last=False)

    def get(self, key: tuple[Any, ...], now: float, window: float = WINDOW_S) -> Identified | None:
        hit = self._items.get(key)
        if hit is None or now - hit.seen > window:
            return None
        return hit


class BrowserMemory:
    """Recent identifies of moesif-browser-js clients, per project."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_client = _Recent()
        self._by_session = _Recent()
        self._by_anon = _Recent()

    def note(self, project_id: str, client: tuple[str, str], parsed: Parsed,
             sessions: list[str | None]) -> None:
        """Remember the identifies of a ``/v1/users`` request from a browser."""
        now = time.monotonic()
        with self._lock:
            for msg, session in zip(parsed.messages, sessions, strict=False):
                if msg.type != "identify" or msg.hidden or msg.user_id is None:
                    continue  # an anonymous campaign post identifies nobody
                seen = Identified(msg.user_id, msg.anonymous_id, msg.timestamp_us, now)
                self._by_client.put((project_id, *client), seen)
                if session:
                    self._by_session.put((project_id, session), seen)
                if msg.anonymous_id is not None:
                    self._by_anon.put((project_id, msg.anonymous_id), seen)

    def who(self, project_id: str, client: tuple[str, str], session: str | None) -> Identified | None:
        """The browser's identified person: by session token, else by client."""
        now = time.monotonic()
        with self._lock:
            hit = self._by_session.get((project_id, session), now) if session else None
            return hit or self._by_client.get((project_id, *client), now, CLIENT_WINDOW_S)

    def claimed(self, project_id: str, anonymous_id: str) -> Identified | None:
        """The recent identify that claimed ``anonymous_id``, if any."""
        with self._lock:
            return self._by_anon.get((project_id, anonymous_id), time.monotonic())


def sessions_of(data: Any, parsed: Parsed) -> list[str | None]:
    """The ``session_token`` of each item that became a message, in message order."""
    items = data if isinstance(data, list) else [data]
    bad = {r.index for r in parsed.rejected}
    kept = [raw for i, raw in enumerate(items) if i not in bad]
    return [raw.get("session_token") if isinstance(raw, dict) and isinstance(raw.get("session_token"), str)
            and raw.get("session_token") else None for raw in kept]


Lookup = Callable[[str | None], Identified | None]


def link_companies(memory: BrowserMemory, project_id: str, client: tuple[str, str],
                   parsed: Parsed, sessions: list[str | None], stored: Lookup | None = None) -> Parsed:
    """Company updates of a browser, made memberships of the person who identified there:
    remembered by this process, else found by ``stored`` (a read of the store)."""
    out: list[Message] = []
    for msg, session in zip(parsed.messages, sessions, strict=False):
        if msg.user_id is not None or msg.anonymous_id is not None:
            out.append(msg)
            continue
        who = memory.who(project_id, client, session) or (stored(session) if stored else None)
        if who is None:
            out.append(msg)
            continue
        members = tuple(CompanyRef(c.id, True, c.traits) for c in msg.companies)
        # The user alone: the identify already linked the browser's anonymous id to it.
        out.append(replace(msg, user_id=who.user_id, raw_user_id=who.user_id, companies=members))
    return Parsed(out, parsed.rejected)


def place_actions(memory: BrowserMemory, project_id: str, parsed: Parsed) -> Parsed:
    """Time-less anonymous actions of a batch that arrives within ``BATCH_DELAY_S`` after
    the identify claiming their anonymous id, placed just before that identify (see the
    module doc). Single actions are sent at once, so their arrival time stands."""
    out: list[Message] = []
    now = time.monotonic()
    for msg in parsed.messages:
        timeless = msg.timestamp_us == msg.received_at_us and "original_timestamp" not in msg.extra
        claim = memory.claimed(project_id, msg.anonymous_id) \
            if timeless and msg.user_id is None and msg.anonymous_id is not None else None
        if claim is not None and claim.ts_us <= msg.timestamp_us and now - claim.seen <= BATCH_DELAY_S:
            msg = replace(msg, timestamp_us=claim.ts_us - 1,
                          extra={**msg.extra, "timestamp_source": "before_identify"})
        out.append(msg)
    return Parsed(out, parsed.rejected)
