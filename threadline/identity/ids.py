"""Identifier values: normalising what clients send, refusing junk, person ids.

Junk values (``""``, ``"null"``, ``"undefined"``, ``"0"``, ...) never become
identifiers: peers that accept them end up with one giant "person" made of
everyone who ever sent ``"undefined"``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from threadline.model import Identifier

DEFAULT_JUNK_IDS: frozenset[str] = frozenset(
    {
        "",
        "null",
        "none",
        "nil",
        "undefined",
        "0",
        "-1",
        "anonymous",
        "anon",
        "guest",
        "unknown",
        "nan",
        "false",
        "true",
        "[object object]",
        "00000000-0000-0000-0000-000000000000",
        "user",
        "id",
        "email",
        "test",
    }
)

MAX_ID_LENGTH = 512
VERDICT_CACHE_SIZE = 50_000


def id_text(value: Any) -> str | None:
    """Turn a wire value into identifier text: strings as sent, numbers as decimal text.

    Anything else (objects, lists, booleans) is not an identifier.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return None


class JunkFilter:
    """Decides whether a value may become an identifier, per project block list.

    Block-list values are matched after trimming spaces and ignoring case
    (identity.md, details); everything else is compared exactly.
    """

    def __init__(self, blocked: Iterable[str] = DEFAULT_JUNK_IDS) -> None:
        self.blocked = frozenset(v.strip().lower() for v in blocked)
        # Verdicts on recent strings: every event of a visitor repeats its ids, and the
        # filter is asked two or three times an event.
        self._verdicts: dict[str, bool] = {}

    def usable(self, value: Any) -> str | None:
        """The identifier text of ``value``, or ``None`` when it is missing or junk."""
        text = value if value.__class__ is str else id_text(value)
        if text is None:
            return None
        ok = self._verdicts.get(text)
        if ok is None:
            ok = text.strip().lower() not in self.blocked and len(text) <= MAX_ID_LENGTH
            if len(self._verdicts) >= VERDICT_CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[text] = ok
        return text if ok else None


@lru_cache(maxsize=256)
def project_namespace(project_id: str) -> uuid.UUID:
    """The UUIDv5 namespace of a project's person ids (identity.md, Persons)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "threadline:" + project_id)


def person_id_for(project_id: str, ident: Identifier) -> str:
    """The person id named after an identifier: UUIDv5 of ``kind:value``."""
    return str(uuid.uuid5(project_namespace(project_id), f"{ident.kind}:{ident.value}"))
