"""Redaction, unverified JWT reading and body decoding: pure functions, as tables."""

from __future__ import annotations

import base64

import jwt
import orjson
import pytest

from threadline.jwt import bearer_claims, jwt_claims
from threadline.middleware.body import body_value
from threadline.middleware.redaction import REDACTED, Redactor

R = Redactor(["ssn", "Internal-Note"])
SECRET = "an-hmac-key-of-at-least-thirty-two-bytes"


def test_secret_headers_are_always_redacted() -> None:
    out = R.headers({"authorization": "Bearer x", "cookie": "a=b", "set-cookie": "s=1",
                     "proxy-authorization": "Basic y", "internal-note": "n", "accept": "*/*"})
    assert out == {"authorization": REDACTED, "cookie": REDACTED, "set-cookie": REDACTED,
                   "proxy-authorization": REDACTED, "internal-note": REDACTED, "accept": "*/*"}


def test_configured_and_default_fields_are_redacted_at_any_depth() -> None:
    body = {"user": {"SSN": "1", "name": "a", "tokens": [{"Access_Token": "t"}, {"x": 1}]},
            "password": {"nested": "whole value goes"}, "list": [[{"api_key": "k"}]]}
    assert R.tree(body) == {
        "user": {"SSN": REDACTED, "name": "a", "tokens": [{"Access_Token": REDACTED}, {"x": 1}]},
        "password": REDACTED, "list": [[{"api_key": REDACTED}]],
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/p", "http://h/p"),
        ("http://h/p?a=1&b=2", "http://h/p?a=1&b=2"),
        ("http://h/p?token=abc&a=1", "http://h/p?token=[REDACTED]&a=1"),
        ("http://h/p?SSN=1", "http://h/p?SSN=[REDACTED]"),
        ("http://h/p?tokenize=1", "http://h/p?tokenize=1"),  # a name containing one is kept
    ],
)
def test_query_strings(url: str, expected: str) -> None:
    assert R.url(url) == expected


def test_unparseable_text_is_redacted_by_pattern() -> None:
    cut_json = '{"name": "a", "password": "p\\"w", "ssn": 123, "note": "{\\"token\\": \\"t'
    assert R.text(cut_json) == (
        '{"name": "a", "password": "[REDACTED]", "ssn": "[REDACTED]", '
        '"note": "{\\"token\\": \\"t'
    )
    assert R.text("a=1&password=hunter2&b=2") == "a=1&password=[REDACTED]&b=2"


def encode_part(obj: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("token", "claims"),
    [
        (jwt.encode({"sub": "u-1"}, SECRET, algorithm="HS256"), {"sub": "u-1"}),
        (f"{encode_part({'alg': 'none'})}.{encode_part({'sub': 7, 'x': '??>>'})}.",
         {"sub": 7, "x": "??>>"}),  # url-safe alphabet, no padding, empty signature
        ("not-a-jwt", None),
        ("a.b.c", None),
        (f"x.{encode_part([1, 2])}.y", None),  # a payload that is not an object
    ],
)
def test_jwt_payload_is_read_without_verification(token: str, claims: object) -> None:
    assert jwt_claims(token) == claims


def test_bearer_header_parsing() -> None:
    token = jwt.encode({"sub": "s"}, SECRET, algorithm="HS256")
    assert bearer_claims(f"Bearer {token}") == {"sub": "s"}
    assert bearer_claims(f"bearer {token}") == {"sub": "s"}
    assert bearer_claims(f"Basic {token}") is None
    assert bearer_claims(None) is None


@pytest.mark.parametrize(
    ("data", "ctype", "truncated", "expected"),
    [
        (b'{"a": 1, "token": "t"}', "application/json", False, ({"a": 1, "token": REDACTED}, False, None)),
        (b'{"a": 1, "token": "t', "application/json", True,
         ('{"a": 1, "token": "[REDACTED]"', True, None)),
        (b"token=t&a=1", "application/x-www-form-urlencoded", False,
         ({"token": REDACTED, "a": "1"}, False, None)),
        (b"plain text", "text/plain", False, ("plain text", False, None)),
        (b"\xff\xfe\x00", "application/octet-stream", False, ("//4A", False, "base64")),
        ("é".encode() * 3 + b"\xc3", "text/plain", True, ("ééé", True, None)),  # cut mid-character
    ],
)
def test_bodies(data: bytes, ctype: str, truncated: bool, expected: tuple[object, bool, str | None]) -> None:
    assert body_value(data, ctype, truncated, R) == expected
