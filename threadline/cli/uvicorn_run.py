"""Running the application under uvicorn with a hook that runs before the process exits."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from threadline.settings import Settings


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM and SIGINT once it has shut down gracefully, so the
    process dies before any code after ``run()``: ``on_exit`` runs just before that."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self.on_exit()


def run_uvicorn(app: Any, settings: Settings, on_exit: Callable[[], None]) -> None:
    """Serve ``app`` on the settings' host and port until stopped."""
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                            access_log=False, timeout_graceful_shutdown=10)
    _Server(config, on_exit).run()
