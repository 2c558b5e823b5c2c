"""HTTP plumbing shared by the collector routes: bounded body reading with gzip and
deflate, JSON parsing, key extraction, client addresses, JSON answers."""

from __future__ import annotations

import base64
import ipaddress
import zlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from threadline.errors import HTTPError, bad_request, too_large


class JSONResponse(Response):
    """A JSON response rendered with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed, refusing (413) anything over ``limit`` bytes.

    The limit applies to decompressed bytes, and reading stops as soon as it is
    passed, so a small gzip bomb cannot make the server inflate gigabytes.
    """
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        decomp = None
    elif encoding in ("gzip", "x-gzip"):
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decomp = zlib.decompressobj()
    else:
        raise HTTPError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported")
    declared = request.headers.get("content-length")
    if decomp is None and declared and declared.isdigit() and int(declared) > limit:
        raise too_large(f"request body is over {limit} bytes", {"limit": limit})
    chunks: list[bytes] = []
    size = 0
    raw_size = 0
    try:
        async for chunk in request.stream():
            raw_size += len(chunk)
            if decomp is not None:
                if raw_size > limit:  # compressed bytes can never be fewer than needed here
                    raise too_large(f"request body is over {limit} bytes", {"limit": limit})
                chunk = decomp.decompress(chunk, limit + 1 - size)
                if decomp.unconsumed_tail:
                    raise too_large(f"request body is over {limit} bytes", {"limit": limit})
            size += len(chunk)
            if size > limit:
                raise too_large(f"request body is over {limit} bytes", {"limit": limit})
            chunks.append(chunk)
        if decomp is not None:
            tail = decomp.flush()
            size += len(tail)
            if size > limit:
                raise too_large(f"request body is over {limit} bytes", {"limit": limit})
            chunks.append(tail)
            if not decomp.eof and raw_size:
                raise bad_request("the compressed body is truncated", "invalid_body")
    except zlib.error as exc:
        raise bad_request(f"the body is not valid {encoding}: {exc}", "invalid_body") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """Parse a JSON body or answer 400 ``invalid_json``."""
    if not body.strip():
        raise bad_request("the body is empty; a JSON document was expected", "invalid_json")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON: {exc}", "invalid_json") from None


def basic_user(request: Request) -> str | None:
    """The user name of an HTTP Basic ``Authorization`` header (the write key), if any."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=False).decode("utf-8", "replace")
    except (ValueError, UnicodeDecodeError):
        return None
    user = decoded.split(":", 1)[0]
    return user or None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


class ProxyPolicy:
    """Which peers may set the client address through ``X-Forwarded-For``."""

    def __init__(self, trusted: str) -> None:
        self.networks = []
        for part in trusted.split(","):
            part = part.strip()
            if part:
                self.networks.append(ipaddress.ip_network(part, strict=False))

    def trusted(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def client_ip(self, request: Request) -> str:
        """The client address: the peer, or walking X-Forwarded-For right to left past
        trusted proxies only (a client can prepend anything it likes)."""
        peer = request.client.host if request.client else ""
        if not self.networks or not self.trusted(peer):
            return peer
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        ip = peer
        for hop in reversed(hops):
            ip = hop
            if not self.trusted(hop):
                break
        return ip
