"""The browser tracker, ``threadline.js``: its built bundle, served at ``GET /t.js``.

The source is the ES module package in ``tracker/`` at the repository root;
``python tracker/build.py`` writes ``dist/t.js`` here, and that committed file is all
the server needs (no Node at run time).
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from importlib import resources


@cache
def bundle() -> bytes:
    """The bundle's bytes, exactly as built."""
    return (resources.files(__name__) / "dist" / "t.js").read_bytes()


@cache
def gzipped() -> bytes:
    """The bundle gzipped once (level 9, no timestamp, so the bytes are stable)."""
    return gzip.compress(bundle(), compresslevel=9, mtime=0)


@cache
def etag() -> str:
    """A strong ETag for the bundle: a hash of its content, quoted."""
    return '"' + hashlib.sha256(bundle()).hexdigest()[:20] + '"'
