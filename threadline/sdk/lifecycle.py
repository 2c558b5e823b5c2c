"""Process-wide hooks for every live client: a fresh start in forked children, a bounded
flush at interpreter exit. Kept weak, so clients dropped by their owner can be collected.
"""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from typing import Protocol

log = logging.getLogger("threadline.sdk")


class _Lifecycle(Protocol):
    def after_fork(self) -> None: ...

    def at_exit(self) -> None: ...


_LIVE: weakref.WeakSet[_Lifecycle] = weakref.WeakSet()


def track(client: _Lifecycle) -> None:
    """Include ``client`` in the at-fork and at-exit hooks."""
    _LIVE.add(client)


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client.after_fork()


def _at_exit() -> None:
    for client in list(_LIVE):
        try:
            client.at_exit()
        except Exception:  # pragma: no cover - exiting anyway
            log.exception("threadline: flushing at exit failed")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
