"""Request bodies for the fuzz suites: a marked JSON tree encoded to bytes, sometimes
with a token that is not JSON, truncated, or compressed; and what such a body must be
answered by the rules of api.md ("Collector answers and limits")."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.rawjson import Dup, Nested, encode, marks
from tests.fuzz.strategies import TOKENS, copy_set, paths_in

# orjson's depth limit; a body nested deeper may be refused as not parseable (400).
PARSER_DEPTH = 1024


# Stands for the example's write key in a tree (a project is made per example, after
# the body is drawn).
WRITE_KEY_MARK = "__write_key__"


@dataclass
class Body:
    """One request body: the tree and the bytes it is written as (before compression)."""

    tree: Any
    template: bytes
    encoding: str = ""
    truncated: bool = False
    raw: bytes = b""

    def bind(self, write_key: str) -> tuple[bytes, dict[str, str]]:
        """The bytes to send and their headers, with the example's write key in place."""
        self.raw = self.template.replace(WRITE_KEY_MARK.encode(), write_key.encode())
        headers = {"content-type": "application/json"}
        if self.encoding == "gzip":
            headers["content-encoding"] = "gzip"
            return gzip.compress(self.raw, compresslevel=1), headers
        if self.encoding == "deflate":
            headers["content-encoding"] = "deflate"
            return zlib.compress(self.raw, 1), headers
        return self.raw, headers

    @property
    def marks(self) -> set[str]:
        found = marks(self.tree)
        if self.truncated:
            found.add("invalid")
        if depth(self.tree) > PARSER_DEPTH - 8:
            found.add("too_deep")
        return found

    def parse_outcomes(self, limit: int) -> tuple[str, ...]:
        """What the server may make of the bytes: ``too_large``, ``not_json``, ``json``
        (the tree as a last-member-wins parser reads it). Several where the contract
        allows a choice (a lone surrogate, a number no double holds, nesting past the
        parser's limit)."""
        if len(self.raw) > limit:
            return ("too_large",)
        found = self.marks
        if "invalid" in found:
            return ("not_json",)
        if found & {"maybe", "surrogate", "too_deep"}:
            return ("not_json", "json")
        return ("json",)

    def short(self, n: int = 600) -> str:
        text = self.raw.decode("utf-8", "replace")
        return text if len(text) <= n else f"{text[:n]}... ({len(self.raw)} bytes)"


def resolve(value: Any) -> Any:
    """One level of ``value`` as parsed: a repeated member's last value, one level of a
    ``Nested`` unwrapped."""
    while True:
        if isinstance(value, Dup):
            value = value.value
        elif isinstance(value, Nested):
            if value.depth <= 0:
                value = value.inner
            else:
                rest = Nested(value.depth - 1, value.inner, value.objects)
                return {"n": rest} if value.objects else [rest]
        else:
            return value


def depth(value: Any) -> int:
    """Nesting depth of containers in ``value`` as written."""
    best = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, Dup):
            stack += [(v.shadow, d), (v.value, d)]
        elif isinstance(v, Nested):
            stack.append((v.inner, d + v.depth))
        elif isinstance(v, dict):
            best = max(best, d + 1)
            stack += [(x, d + 1) for x in v.values()]
        elif isinstance(v, list | tuple):
            best = max(best, d + 1)
            stack += [(x, d + 1) for x in v]
        else:
            best = max(best, d)
    return best


def text_id(value: Any) -> str | None:
    """A message id field the sender gave as a non-empty string, else None."""
    value = resolve(value)
    return value if isinstance(value, str) and value else None


@st.composite
def bodies(draw: st.DrawFn, trees: st.SearchStrategy[Any], allow_tokens: bool = True) -> Body:
    """``trees`` written as a body: mostly plain, sometimes ASCII-escaped, with a token
    that is not JSON put in, cut short, or sent gzip- or deflate-compressed."""
    tree = draw(trees)
    if allow_tokens and draw(st.integers(0, 9)) == 0:
        paths = paths_in(tree)
        if paths:
            tree = copy_set(tree, draw(st.sampled_from(paths)), draw(st.sampled_from(TOKENS)))
    raw = encode(tree, ascii_only=draw(st.booleans()))
    truncated = False
    if isinstance(resolve(tree), dict | list) and draw(st.integers(0, 14)) == 0:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
        truncated = True
    encoding = draw(st.sampled_from(["", "", "", "gzip", "deflate"]))
    return Body(tree, raw, encoding, truncated, raw)
