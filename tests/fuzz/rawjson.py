"""JSON bodies as bytes, including what a JSON library will not write: lone surrogates as
``\\u`` escapes, repeated keys, tokens such as ``NaN``, and nesting deeper than an
encoder's recursion limit. A fuzz example is a tree of Python values plus these marks;
:func:`encode` writes it out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Token:
    """Text written into the body as it is (``NaN``, ``1e400``, ``-Infinity``...).

    ``valid`` says whether the token is valid JSON grammar that a parser may still
    refuse (a number too large for a double): then 400 and acceptance are both right.
    """

    text: str
    valid: bool = False


@dataclass(frozen=True)
class Dup:
    """An object member written twice: first ``shadow``, then ``value`` under the same key.

    Parsers that keep the last member (as orjson and most others do) read ``value``.
    """

    shadow: Any
    value: Any


@dataclass(frozen=True)
class Nested:
    """``depth`` arrays (or objects) around ``inner``, without building a deep Python
    value that the encoder would have to recurse through."""

    depth: int
    inner: Any = 1
    objects: bool = False


def _string(s: str, ascii_only: bool) -> str:
    if not ascii_only:
        try:
            return orjson.dumps(s).decode()
        except TypeError:  # a lone surrogate: orjson refuses it, json escapes it
            pass
    return json.dumps(s, ensure_ascii=True)


def _write(value: Any, out: list[str], ascii_only: bool) -> None:
    if isinstance(value, Token):
        out.append(value.text)
    elif isinstance(value, Dup):  # repeated only as an object member; elsewhere its value
        _write(value.value, out, ascii_only)
    elif isinstance(value, Nested):
        opener, closer = ('{"n":', "}") if value.objects else ("[", "]")
        out.append(opener * value.depth)
        _write(value.inner, out, ascii_only)
        out.append(closer * value.depth)
    elif value is None or isinstance(value, bool | int | float):
        out.append(orjson.dumps(value).decode() if not isinstance(value, int) or isinstance(value, bool)
                   else str(value))
    elif isinstance(value, str):
        out.append(_string(value, ascii_only))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, ascii_only)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            members = [(key, item.shadow), (key, item.value)] if isinstance(item, Dup) else [(key, item)]
            for k, v in members:
                if not first:
                    out.append(",")
                first = False
                out.append(_string(str(k), ascii_only))
                out.append(":")
                _write(v, out, ascii_only)
        out.append("}")
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def encode(value: Any, ascii_only: bool = False) -> bytes:
    """The body bytes of ``value`` (escaping every non-ASCII character when asked)."""
    out: list[str] = []
    _write(value, out, ascii_only)
    return "".join(out).encode("utf-8")


def plain(value: Any) -> Any:
    """``value`` as a parser that keeps the last of repeated keys reads it (marks
    resolved; a deep ``Nested`` stays a mark, since Python cannot always hold it)."""
    if isinstance(value, Dup):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def marks(value: Any) -> set[str]:
    """Which kinds of mark the tree holds: ``invalid`` (a token no JSON parser may
    accept), ``maybe`` (valid grammar a parser may refuse), ``surrogate``, ``deep``."""
    found: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, Token):
            found.add("maybe" if v.valid else "invalid")
        elif isinstance(v, Nested):
            found.add("deep")
            walk(v.inner)
        elif isinstance(v, Dup):
            walk(v.shadow)
            walk(v.value)
        elif isinstance(v, str):
            if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
                found.add("surrogate")
        elif isinstance(v, dict):
            for k, item in v.items():
                walk(k)
                walk(item)
        elif isinstance(v, list | tuple):
            for item in v:
                walk(item)

    walk(value)
    return found
