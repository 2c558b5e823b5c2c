"""Which (user, company) memberships this process has already announced.

The middleware sends a ``group`` call the first time it sees a user act for a company,
so the member's other events show in the company's timeline (identity.md: membership
comes from a group call). A small LRU keeps that to once per pair per process; the
group message id is derived from the pair, so a resend from another process or after
eviction is a duplicate the server stores once.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict


def membership_message_id(user_id: str, company_id: str) -> str:
    """A stable message id for the membership of ``user_id`` in ``company_id``."""
    digest = hashlib.sha256(f"{user_id}\n{company_id}".encode()).hexdigest()[:32]
    return f"tlm_group_{digest}"


class Memberships:
    """A bounded set of announced pairs (least recently seen evicted).

    It has no lock on purpose: it is used from the consumer thread (or, in sync mode,
    from callers' threads, where a race can at worst send a group call twice, which
    the server stores once), and a lock copied into a forked child while held would
    deadlock it.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def first_time(self, user_id: str, company_id: str) -> bool:
        """True the first time a pair is seen (it is then remembered)."""
        key = (user_id, company_id)
        seen = self._seen
        if key in seen:
            with contextlib.suppress(KeyError):  # evicted meanwhile by another thread
                seen.move_to_end(key)
            return False
        seen[key] = None
        if len(seen) > self.maxsize:
            with contextlib.suppress(KeyError):
                seen.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._seen)
