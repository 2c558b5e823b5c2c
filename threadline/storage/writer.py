"""The one writer of a store: a thread that owns the write connection and commits
many requests' work in one transaction (group commit).

A request hands the writer a *job* and waits on its future; the future resolves
only after the transaction holding the job has committed, which is what makes a
2xx a durable ack. Batching commits is what makes that affordable: the fsync of
one commit is shared by every request that arrived while the previous one ran.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from threadline.errors import StoreError

log = logging.getLogger("threadline.writer")

T = TypeVar("T")


class Transaction(Protocol):
    """What a job sees: the write connection inside an open transaction, plus a
    buffer shared by all jobs of the group and flushed once before the commit."""

    def flush(self) -> None: ...


@dataclass
class Job(Generic[T]):
    """A unit of write work. ``run`` executes inside the group's transaction."""

    run: Callable[[Any], T]
    size: int = 1
    future: Future[T] = field(default_factory=Future)
    # Exclusive jobs (migrations of state, erase, rebuilds) run in a transaction of their own.
    exclusive: bool = False


@dataclass
class WriterStats:
    commits: int = 0
    jobs: int = 0
    failures: int = 0
    last_commit_ms: float = 0.0
    commit_ms_total: float = 0.0
    commit_ms_buckets: dict[float, int] = field(default_factory=dict)


COMMIT_BUCKETS_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0)


class Writer:
    """Runs jobs on one thread, grouping queued jobs into one transaction.

    ``begin``, ``commit`` and ``rollback`` are the store's; ``reset`` drops any
    in-memory state derived from the store after a failed transaction.
    """

    def __init__(
        self,
        begin: Callable[[], Any],
        commit: Callable[[Any], None],
        rollback: Callable[[Any], None],
        reset: Callable[[], None],
        max_group: int = 20000,
        queue_limit: int = 2000,
    ) -> None:
        self._begin = begin
        self._commit = commit
        self._rollback = rollback
        self._reset = reset
        self.max_group = max_group
        self.queue: queue.Queue[Job[Any] | None] = queue.Queue(maxsize=queue_limit)
        self.stats = WriterStats()
        self.healthy = True
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._loop, name="threadline-writer", daemon=True)
        self._stopped = threading.Event()
        self._thread.start()

    def submit(self, job: Job[T]) -> Future[T]:
        """Queue a job; raises :class:`StoreError` when the queue is full or stopped."""
        if self._stopped.is_set():
            raise StoreError("the store is shutting down")
        try:
            self.queue.put_nowait(job)
        except queue.Full as exc:
            raise StoreError("the writer queue is full") from exc
        return job.future

    def call(self, fn: Callable[[Any], T], exclusive: bool = False, timeout: float = 300) -> T:
        """Run ``fn`` in a write transaction and wait for its committed result."""
        return self.submit(Job(fn, exclusive=exclusive)).result(timeout)

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopped.is_set()

    def stop(self, timeout: float = 30) -> None:
        """Finish queued jobs, then stop the thread."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.queue.put(None)
        self._thread.join(timeout)

    # ---- the thread ------------------------------------------------------------------

    def _loop(self) -> None:
        pending: Job[Any] | None = None
        while True:
            job = pending if pending is not None else self.queue.get()
            pending = None
            if job is None:
                return
            group = [job]
            size = job.size
            if not job.exclusive:
                while size < self.max_group:
                    try:
                        nxt = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None or nxt.exclusive:
                        pending = nxt
                        if nxt is None:
                            self.queue.put(None)
                            pending = None
                        break
                    group.append(nxt)
                    size += nxt.size
            self._run_group(group)

    def _run_group(self, group: list[Job[Any]]) -> None:
        try:
            results = self._transaction(group)
        except Exception as exc:  # one bad job must not fail its neighbours: retry alone
            self.stats.failures += 1
            if len(group) == 1:
                log.exception("write transaction failed")
                self.last_error = str(exc)
                group[0].future.set_exception(exc)
                return
            for job in group:
                self._run_group([job])
            return
        for job, result in zip(group, results, strict=True):
            job.future.set_result(result)

    def _transaction(self, group: list[Job[Any]]) -> list[Any]:
        started = time.perf_counter()
        tx = self._begin()
        try:
            results = [job.run(tx) for job in group]
            tx.flush()
            self._commit(tx)
        except BaseException:
            try:
                self._rollback(tx)
            finally:
                self._reset()
            raise
        elapsed = (time.perf_counter() - started) * 1000
        self.stats.commits += 1
        self.stats.jobs += len(group)
        self.stats.last_commit_ms = elapsed
        self.stats.commit_ms_total += elapsed
        for bound in COMMIT_BUCKETS_MS:
            if elapsed <= bound:
                self.stats.commit_ms_buckets[bound] = self.stats.commit_ms_buckets.get(bound, 0) + 1
        self.healthy = True
        self.last_error = None
        return results
