"""Demo data: a realistic month of traffic, so a new install shows merged persons at once.

The loader is imported on first use: the generator alone is light, the loader pulls in
the store.
"""

from __future__ import annotations

from typing import Any

from threadline.demo.generator import DEFAULT_EVENTS, generate

__all__ = ["DEFAULT_EVENTS", "generate", "load_demo", "load_demo_if_empty", "store_is_empty"]


def __getattr__(name: str) -> Any:
    if name in ("load_demo", "load_demo_if_empty", "store_is_empty"):
        from threadline.demo import loader

        return getattr(loader, name)
    raise AttributeError(name)
