"""What an adapter may know about the HTTP request a message came in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from threadline.projects import ProjectSettings


@dataclass(frozen=True)
class RequestInfo:
    """The request facts adapters use: receipt time, client address, headers.

    ``salt`` returns the project's cookieless salt for a UTC day (``YYYY-MM-DD``);
    ``day`` is the UTC day of receipt (injectable for tests, see ``fixed_day``).
    """

    project_id: str
    settings: ProjectSettings
    received_at_us: int
    ip: str
    user_agent: str
    origin: str
    day: str
    salt: Callable[[str], bytes]
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    max_future_us: int = 86_400_000_000
    max_past_us: int = 3650 * 86_400_000_000
    message_limit: int = 32 * 1024
    # Bytes of the (decompressed) body, when known: no message of a body within the
    # limit can be over it, so adapters measure each message only for larger bodies.
    body_bytes: int | None = None
