"""The WSGI middleware's stream wrappers: the response iterable that counts bytes and
reports when the body is done, and the request input that keeps a copy for body capture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from threadline.middleware.capture import BodyBuffer


class ClosingResponse:
    """The app's response iterable, counting bytes. The call is recorded when the body is
    exhausted or on ``close()`` (which servers must call), whichever comes first: after
    the last byte went to the server."""

    __slots__ = ("_add", "_finish", "_iterator", "_result")

    def __init__(
        self, result: Iterable[bytes], add: Callable[[bytes], None], finish: Callable[[], None]
    ) -> None:
        self._result = result
        self._iterator: Iterator[bytes] | None = None
        self._add = add
        self._finish = finish

    def __iter__(self) -> Iterator[bytes]:
        # Idempotent: a server may call iter() on us more than once; the app's iterable
        # (Django's HttpResponse, for one) would start over each time.
        if self._iterator is None:
            self._iterator = iter(self._result)
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self._result)
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._finish()
            raise
        self._add(chunk)
        return chunk

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()


class TeeInput:
    """``wsgi.input`` that keeps the first bytes read, for body capture."""

    def __init__(self, stream: Any, buffer: BodyBuffer) -> None:
        self._stream = stream
        self._buffer = buffer

    def read(self, *args: Any) -> bytes:
        data: bytes = self._stream.read(*args)
        self._buffer.add(data)
        return data

    def readinto(self, target: Any) -> int:
        # Werkzeug's LimitedStream reads through readinto(), not read().
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:
            data = self._stream.read(len(target))
            target[: len(data)] = data
            self._buffer.add(data)
            return len(data)
        n: int = readinto(target)
        if n:
            self._buffer.add(bytes(memoryview(target)[:n]))
        return n

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._stream.readline(*args)
        self._buffer.add(data)
        return data

    def readlines(self, *args: Any) -> list[bytes]:
        lines: list[bytes] = self._stream.readlines(*args)
        for line in lines:
            self._buffer.add(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            self._buffer.add(line)
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
