"""Removing secrets from an API-call event before anything leaves the process.

Headers ``Authorization``, ``Proxy-Authorization``, ``Cookie`` and ``Set-Cookie`` are
always redacted; field names (defaults below plus the ones configured) are redacted at
any depth of a body, in query strings and in form or text bodies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
DEFAULT_FIELDS = frozenset({
    "password", "passwd", "pwd", "secret", "client_secret", "token", "access_token",
    "refresh_token", "id_token", "api_key", "apikey", "x-api-key", "private_key",
    "authorization", "cookie", "set-cookie", "card_number", "cvv", "cvc",
})


class Redactor:
    """Redacts a fixed set of (case-insensitive) names."""

    def __init__(self, fields: Iterable[str] = ()) -> None:
        self.fields = frozenset(f.lower() for f in (*DEFAULT_FIELDS, *fields) if f)
        self.header_names = SECRET_HEADERS | self.fields
        names = "|".join(re.escape(f) for f in sorted(self.fields, key=len, reverse=True))
        self._mentions = re.compile(names, re.IGNORECASE)
        # Fallback for bodies that are not parseable (cut, or not JSON): a JSON member
        # `"name": value` or a form pair `name=value`.
        self._text = re.compile(
            rf'("(?:{names})"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}}\]\s]+)'
            rf"|((?:^|(?<=[?&;\s]))(?:{names})=)([^&;\s]*)",
            re.IGNORECASE,
        )

    def is_secret(self, name: str) -> bool:
        """Whether a field of this name is redacted."""
        return name.lower() in self.fields

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers with secret values replaced."""
        return {k: (REDACTED if k.lower() in self.header_names else v) for k, v in headers.items()}

    def tree(self, value: Any) -> Any:
        """A JSON value with every member named like a secret replaced, at any depth."""
        if isinstance(value, dict):
            return {
                k: (REDACTED if isinstance(k, str) and k.lower() in self.fields else self.tree(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        return value

    def query(self, query: str) -> str:
        """A query string with secret parameters' values replaced."""
        if not query:
            return query
        if not self._mentions.search(query):  # the common case, cheaply
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(k.lower() in self.fields for k, _ in pairs):
            return query
        redacted = [(k, REDACTED if k.lower() in self.fields else v) for k, v in pairs]
        return urlencode(redacted, safe="[]")

    def url(self, url: str) -> str:
        """A URL with its query string redacted."""
        query = url.partition("?")[2]
        if not query or not self._mentions.search(query):
            return url
        parts = urlsplit(url)
        return urlunsplit(parts._replace(query=self.query(parts.query)))

    def text(self, text: str) -> str:
        """Best-effort redaction of a body that could not be parsed."""
        def repl(m: re.Match[str]) -> str:
            if m.group(1) is not None:
                return f'{m.group(1)}"{REDACTED}"'
            return f"{m.group(3)}{REDACTED}"

        return self._text.sub(repl, text)
