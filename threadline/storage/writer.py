"""The one writer of a store: a thread that owns the write connection and commits
many requests' work in one transaction (group commit).

A request hands the writer a *job* and waits on its future; the future resolves
only after the transaction holding the job has committed, which is what makes a
2xx a durable ack. Batching commits is what makes that affordable: the fsync of
one commit is shared by every request that arrived while the previous one ran.

When the store itself fails (a full disk: the commit cannot be written, or DuckDB
invalidates the database), the writer is *unhealthy*: ``/readyz`` says so, queued and
new jobs fail at once with :class:`StoreError` (503, the client keeps its batch), and
the writer asks the store to recover (reopen the database) with a growing delay until
a recovery succeeds. Nothing acked is lost: a job is acked only after its commit.
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
        recover: Callable[[], None] | None = None,
        store_failure: Callable[[BaseException], bool] = lambda exc: False,
        retry_s: float = 0.5,
        max_retry_s: float = 10.0,
    ) -> None:
        self._begin = begin
        self._commit = commit
        self._rollback = rollback
        self._reset = reset
        self._recover = recover
        self._store_failure = store_failure
        self.max_group = max_group
        self.queue: queue.Queue[Job[Any] | None] = queue.Queue(maxsize=queue_limit)
        self.stats = WriterStats()
        # False from a store failure until a recovery succeeds (a job's own error, such
        # as a bug in one request's work, leaves the store healthy).
        self.healthy = True
        self.last_error: str | None = None
        self.last_failure: BaseException | None = None  # the store failure, while unhealthy
        self.recoveries = 0
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._delay = retry_s
        self._next_recovery = 0.0
        self._recovered_at = -1e9
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
            if pending is not None:
                job: Job[Any] | None = pending
            elif self.healthy:
                job = self.queue.get()
            else:  # wait for a job only until the next recovery attempt is due
                try:
                    job = self.queue.get(timeout=max(0.0, self._next_recovery - time.monotonic()))
                except queue.Empty:
                    self._try_recover()
                    continue
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
            if not self.healthy and time.monotonic() >= self._next_recovery:
                self._try_recover()
            if not self.healthy:
                self._fail(group)
                continue
            self._run_group(group)

    def _fail(self, group: list[Job[Any]]) -> None:
        error = StoreError(f"the store is unavailable: {self.last_error}")
        for job in group:
            job.future.set_exception(error)

    def _mark_unhealthy(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.healthy:
            # A store that fails again soon after it recovered keeps its longer delay.
            if now - self._recovered_at > 60:
                self._delay = self._retry_s
            log.error("the store failed; writes answer 503 until it reopens: %s", exc)
        self.healthy = False
        self.last_error = str(exc)
        self.last_failure = exc
        self._next_recovery = now + self._delay

    def _try_recover(self) -> None:
        """Ask the store to reopen; on failure try again later, waiting longer each time."""
        if self._recover is None:
            self._next_recovery = time.monotonic() + self._delay
            return
        try:
            self._recover()
        except Exception as exc:  # still failing: the disk may still be full
            log.warning("the store could not reopen yet: %s", exc)
            self.last_error = str(exc)
            self._delay = min(self._delay * 2, self._max_retry_s)
            self._next_recovery = time.monotonic() + self._delay
            return
        self.recoveries += 1
        self._recovered_at = time.monotonic()
        self.healthy = True
        self.last_error = None
        self.last_failure = None
        log.warning("the store reopened and takes writes again")

    def _run_group(self, group: list[Job[Any]]) -> None:
        try:
            results = self._transaction(group)
        except _StoreFailure as failure:  # every job would fail the same way: none is retried
            self.stats.failures += 1
            self._mark_unhealthy(failure.cause)
            error = StoreError(f"the store could not commit: {failure.cause}")
            for job in group:
                job.future.set_exception(error)
            return
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

    def _abort(self, tx: Any) -> None:
        """Roll back and drop in-memory state derived from the transaction; neither may
        hide the error that got us here (on an invalidated database both fail too)."""
        try:
            self._rollback(tx)
        except Exception as exc:
            log.warning("rollback failed: %s", exc)
        try:
            self._reset()
        except Exception as exc:  # the store failed: its recovery rebuilds that state
            log.warning("reset after a failed transaction failed: %s", exc)

    def _transaction(self, group: list[Job[Any]]) -> list[Any]:
        started = time.perf_counter()
        try:
            tx = self._begin()
        except Exception as exc:
            raise _StoreFailure(exc) from exc
        phase = "run"
        try:
            results = [job.run(tx) for job in group]
            tx.flush()
            phase = "commit"
            self._commit(tx)
        except BaseException as exc:
            self._abort(tx)
            # A commit that fails is the store's failure, whatever the jobs were.
            if phase == "commit" or (isinstance(exc, Exception) and self._store_failure(exc)):
                raise _StoreFailure(exc) from exc
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


class _StoreFailure(Exception):
    """A transaction failed because the store did (not because of one of its jobs)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause
