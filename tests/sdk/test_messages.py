"""Message building: validation, ids, timestamps and serialisation (pure functions)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import orjson
import pytest

from threadline.sdk.messages import (
    InvalidCall,
    OversizedMessage,
    build,
    encode,
    iso,
    new_message_id,
)

LIB = {"name": "threadline-python", "version": "0"}


def test_message_ids_are_random_uuid4_strings() -> None:
    ids = {new_message_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in list(ids)[:200]:
        u = uuid.UUID(text)
        assert u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2026, 3, 1, 12, 0, 0, 123456), "2026-03-01T12:00:00.123Z"),
        (dt.datetime(2026, 3, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
         "2026-03-01T12:00:00.000Z"),
        (dt.date(2026, 3, 1), "2026-03-01T00:00:00.000Z"),
        (1_772_366_400, "2026-03-01T12:00:00.000Z"),
        ("2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z"),
    ],
)
def test_timestamps(value: object, expected: str) -> None:
    assert iso(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("type_", "fields"),
    [
        ("track", {"user_id": "u"}),  # no event name
        ("track", {"user_id": "u", "event": "  "}),
        ("identify", {}),  # nobody
        ("group", {"user_id": "u"}),  # no group id
        ("alias", {"user_id": "u"}),  # no previous id
        ("page", {"user_id": True}),  # ids are strings or integers
        ("identify", {"user_id": "u", "traits": ["not", "a", "mapping"]}),
    ],
)
def test_invalid_calls(type_: str, fields: dict[str, object]) -> None:
    with pytest.raises(InvalidCall):
        build(type_, library=LIB, **fields)


def test_shape_of_each_type() -> None:
    page = build("page", library=LIB, anonymous_id="a-1", name="Pricing", properties={"path": "/p"})
    assert page["anonymousId"] == "a-1" and page["name"] == "Pricing" and "userId" not in page
    ident = build("identify", library=LIB, user_id=42, traits={"plan": "pro"})
    assert ident["userId"] == "42" and ident["traits"] == {"plan": "pro"}
    assert ident["context"] == {"library": LIB}
    alias = build("alias", library=LIB, previous_id="old", user_id="new")
    assert (alias["previousId"], alias["userId"]) == ("old", "new")


def test_serialisation_tolerates_python_types_and_enforces_the_limit() -> None:
    msg = build("track", library=LIB, user_id="u", event="E",
                properties={"d": decimal.Decimal("1.5"), "s": {3}, "b": b"x", 7: "int key",
                            "o": object(), "when": dt.datetime(2026, 1, 1)})
    data = orjson.loads(encode(msg))
    props = data["properties"]
    assert props["d"] == 1.5 and props["s"] == [3] and props["b"] == "x" and props["7"] == "int key"
    assert props["when"] == "2026-01-01T00:00:00Z"
    assert props["o"].startswith("<object")
    with pytest.raises(OversizedMessage):
        encode({"blob": "x" * 40_000})
