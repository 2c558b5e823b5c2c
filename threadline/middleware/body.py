"""Turning a captured body into an event property: parsed, redacted, cut to a budget.

JSON bodies become JSON values (redacted member by member), form bodies objects, text
stays text (redacted by pattern), anything else is base64. Runs on the consumer thread.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl

import orjson

from threadline.middleware.redaction import Redactor


def body_value(
    data: bytes, content_type: str | None, truncated: bool, redactor: Redactor
) -> tuple[Any, bool, str | None]:
    """``(value, truncated, encoding)`` for a body; encoding is ``"base64"`` or ``None``."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    looks_json = ctype.endswith("json") or data[:1] in (b"{", b"[")
    if looks_json and not truncated:
        try:
            return redactor.tree(orjson.loads(data)), False, None
        except orjson.JSONDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if not truncated or not _cut_utf8(data):
            return base64.b64encode(data).decode("ascii"), truncated, "base64"
        text = _cut_utf8(data) or ""
    if ctype == "application/x-www-form-urlencoded" and not truncated:
        pairs = parse_qsl(text, keep_blank_values=True)
        return redactor.tree(dict(pairs)), False, None
    return redactor.text(text), truncated, None


def _cut_utf8(data: bytes) -> str | None:
    """Text of a UTF-8 body cut inside a multi-byte character (up to 3 bytes dropped)."""
    for drop in (1, 2, 3):
        try:
            return data[:-drop].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def cut(value: Any, max_chars: int) -> str:
    """``value`` as text (JSON for structures) of at most ``max_chars`` characters."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:max_chars]
