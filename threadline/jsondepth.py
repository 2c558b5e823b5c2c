"""The one nesting limit of stored JSON, and the two ways of living with it.

orjson encodes at most 254 levels (and parses at most 1,024), and every answer wraps
a stored document in a few more levels (``{"data": [{"properties": ...}]}``). A
document accepted at ingest must therefore be comfortably shallower than the encoder's
limit, or every read that includes it would fail from then on. ``MAX_DEPTH`` is that
limit (docs/collector.md): a message may nest objects and arrays at most 32 levels,
the message itself being the first, so every document stored from it is at most 32
levels deep. A message over it is refused (``too_deep``); its quarantine copy is
:func:`cut` to the limit, so that it can be stored and listed.

Depth counts containers: a scalar is 0, ``{}`` and ``[]`` are 1, ``{"a": {}}`` is 2.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32
# What a container below the limit becomes in a cut copy: a string, so the copy is no
# deeper than the limit and says why something is missing.
TOO_DEEP = "[too deep]"


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` levels deep.

    Walks only containers, and stops at the limit: the cost is the number of objects
    and arrays within the limit, never the depth of a hostile value (nor the
    interpreter's recursion limit, which is far above ``limit``).
    """
    cls = value.__class__
    if cls is dict:
        children: Any = value.values()
    elif cls is list or cls is tuple:
        children = value
    else:
        return False
    if limit <= 0:
        return True
    limit -= 1
    for child in children:
        c = child.__class__
        if (c is dict or c is list or c is tuple) and too_deep(child, limit):
            return True
    return False


def cut(value: Any, limit: int = MAX_DEPTH) -> Any:
    """A copy of ``value`` no deeper than ``limit``: each object or array that would sit
    below it is replaced by :data:`TOO_DEEP`. Shallow parts are shared, not copied."""
    if not too_deep(value, limit):
        return value
    if limit <= 0:
        return TOO_DEEP
    if value.__class__ is dict:
        return {k: cut(v, limit - 1) for k, v in value.items()}
    return [cut(v, limit - 1) for v in value]


def text_may_be_too_deep(text: str, limit: int) -> bool:
    """Whether stored JSON text could nest more than ``limit`` levels: never when it has
    no more brackets than that (counted in C; brackets inside strings only make the
    answer more cautious), so nearly every document skips the walk."""
    return text.count("{") + text.count("[") > limit
