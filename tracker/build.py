#!/usr/bin/env python3
"""Build the browser bundle ``threadline/tracker/dist/t.js`` from ``tracker/src``.

No Node needed: the ES module source is turned into one script (``export`` keywords
and ``import`` lines dropped, everything wrapped in a function), then minified by the
small tokenizer below, which removes comments and whitespace and nothing else: no
renaming, so what runs is exactly what the source says. The source keeps to what the
tokenizer understands (no template literals; every statement ends with a semicolon,
because newlines are dropped).

Usage: ``python tracker/build.py`` writes the bundle and prints its raw and gzipped
size; ``--check`` exits 1 when the committed bundle is not what the source builds.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = HERE / "src"
DIST = ROOT / "threadline" / "tracker" / "dist" / "t.js"
SIZE_LIMIT_GZIP = 6144

PUNCTUATORS = sorted(
    [">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&", "||", "??", "?.", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "=>", "++", "--", "<<", ">>", "**", "{", "}", "(", ")", "[", "]", ";", ",", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "?", ":", "=", ".", "@", "#"],
    key=len,
    reverse=True,
)
# After these a "/" starts a regular expression, not a division.
REGEX_AFTER_WORDS = {"return", "typeof", "case", "do", "else", "in", "instanceof", "new",
                     "void", "delete", "throw", "yield", "await"}
WORD = re.compile(r"[A-Za-z_$0-9]")


class MinifyError(ValueError):
    """The source uses something the tokenizer does not handle."""


def _scan_quoted(src: str, i: int, quote: str) -> int:
    """Index just past the string or regex body that starts at ``i``."""
    j = i + 1
    in_class = False
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == "\n":
            raise MinifyError(f"unterminated literal at offset {i}")
        if quote == "/" and c == "[":
            in_class = True
        elif quote == "/" and c == "]":
            in_class = False
        elif c == quote and not in_class:
            return j + 1
        j += 1
    raise MinifyError(f"unterminated literal at offset {i}")


def tokens(src: str) -> list[str]:
    """The significant tokens of ``src`` (comments and whitespace dropped)."""
    out: list[str] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in " \t\r\n":
            i += 1
        elif src.startswith("//", i):
            end = src.find("\n", i)
            i = n if end < 0 else end
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            if end < 0:
                raise MinifyError("unterminated comment")
            i = end + 2
        elif c == "`":
            raise MinifyError("template literals are not supported by this minifier")
        elif c in "'\"":
            j = _scan_quoted(src, i, c)
            out.append(src[i:j])
            i = j
        elif c == "/" and (not out or _regex_may_follow(out[-1])):
            j = _scan_quoted(src, i, "/")
            while j < n and WORD.match(src[j]):  # flags
                j += 1
            out.append(src[i:j])
            i = j
        elif WORD.match(c) or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            j = i + 1
            while j < n and (WORD.match(src[j]) or (src[j] == "." and c.isdigit())):
                j += 1
            out.append(src[i:j])
            i = j
        else:
            for p in PUNCTUATORS:
                if src.startswith(p, i):
                    out.append(p)
                    i += len(p)
                    break
            else:
                raise MinifyError(f"unexpected character {c!r} at offset {i}")
    return out


def _regex_may_follow(prev: str) -> bool:
    if prev in (")", "]", "}"):
        return False
    if WORD.match(prev[-1]):
        return prev in REGEX_AFTER_WORDS
    return not prev.startswith(("'", '"', "/"))


def minify(src: str) -> str:
    """Join the tokens with a space only where two would otherwise fuse."""
    out: list[str] = []
    prev = ""
    for tok in tokens(src):
        if prev and (
            (WORD.match(prev[-1]) and WORD.match(tok[0]))
            or (prev[-1] in "+-" and tok[0] == prev[-1])
        ):
            out.append(" ")
        out.append(tok)
        prev = tok
    return "".join(out)


def version() -> str:
    """The package version; the source's ``VERSION`` must agree."""
    pkg = json.loads((HERE / "package.json").read_text())
    v = str(pkg["version"])
    src = (SRC / "index.js").read_text()
    if f'export var VERSION = "{v}";' not in src:
        raise SystemExit(f"tracker/src/index.js VERSION does not match package.json {v}")
    return v


def bundle_source() -> str:
    """The ES modules as one classic script, before minification."""
    core = (SRC / "index.js").read_text()
    auto = (SRC / "auto.js").read_text()
    core = re.sub(r"^export (?=var|function)", "", core, flags=re.M)
    if re.search(r"^\s*(export|import)\b", core, flags=re.M):
        raise SystemExit("index.js: only `export var`/`export function` are supported")
    auto = re.sub(r"^import .*?;\n", "", auto, flags=re.M)
    return '(function(){"use strict";\n' + core + "\n" + auto + "\n})();\n"


def build() -> bytes:
    """The bundle's bytes, exactly as ``dist/t.js`` must hold them."""
    banner = f"/*! threadline.js {version()} | Threadline browser tracker | Apache-2.0 */\n"
    return (banner + minify(bundle_source()) + "\n").encode()


def gzip_size(data: bytes) -> int:
    """Size after gzip at level 9, as a server or CDN would send it."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def main(argv: list[str]) -> int:
    data = build()
    if "--check" in argv:
        current = DIST.read_bytes() if DIST.exists() else b""
        if current != data:
            print(f"{DIST.relative_to(ROOT)} is stale: run python tracker/build.py", file=sys.stderr)
            return 1
        print(f"{DIST.relative_to(ROOT)} is up to date")
        return 0
    node = shutil.which("node")
    if node:  # a syntax check when Node happens to be there; the build never needs it
        subprocess.run([node, "--check", "-"], input=data, check=True)
    DIST.parent.mkdir(parents=True, exist_ok=True)
    DIST.write_bytes(data)
    gz = gzip_size(data)
    print(f"{DIST.relative_to(ROOT)}: {len(data)} bytes, {gz} bytes gzipped "
          f"(limit {SIZE_LIMIT_GZIP})")
    if gz >= SIZE_LIMIT_GZIP:
        print("over the gzipped size limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
