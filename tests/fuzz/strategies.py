"""Hypothesis strategies for collector bodies: valid messages of every wire format, and
mutations of them (wrong types in any field, missing fields, extreme numbers, deep
nesting, huge strings, odd unicode, repeated keys, tokens that are not JSON)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.rawjson import Dup, Nested, Token

JSONish = Any

# ---------------------------------------------------------------- building blocks

EXTREME_NUMBERS: list[int | float] = [
    0, -1, 1.5, -0.0, 5e-324, 1e300, 1e308, -1e308, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1,
    -(2**63), 99_999_999_999, 1e11, 1e14 - 1, 1e14, 1e16, -1e16, 1e17, -1e17, 1e19, -1e19,
    253_402_300_800, -62_135_596_801, 1_767_225_600, 1_767_225_600_000, 1_767_225_600_000_000,
]
# Text that looks like a time, or like a number that could be one, to a lenient parser.
TIME_LIKE = [
    "\u00b2", "\u0663\u0664\u0665", "\uff11\uff12\uff13", "9" * 40, "-" + "9" * 25, "1e400", "1767225600", "1767225600000",
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0001-01-01", "9999-12-31",
    "2026-02-30T00:00:00Z", "+275760-09-13T00:00:00Z", "2026-01-01T25:00Z",
    "2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00z ", "T", "Z", "now",
    "1970-01-01T00:00:00Z", "1800-01-01T00:00:00Z",
]
STRANGE_STRINGS = [
    "", " ", "undefined", "null", "0", "NaN", "true", "[object Object]", "\x00", "\t\n", "é",
    "\u2028", "\ufeff", "\U0001f600", "\ud800", "a\udfffb", "\udbff\udfff", *TIME_LIKE,
    "http://", "::1", "256.256.256.256", "a" * 600,
]
TOKENS = [Token("NaN"), Token("Infinity"), Token("-Infinity"), Token("nan"), Token("undefined"),
          Token("0x10"), Token("01"), Token("+1"), Token(".5"), Token("1."), Token("'x'"),
          Token("tru"), Token("1e400", valid=True), Token("-1e400", valid=True),
          Token("1" * 400, valid=True), Token("-" + "9" * 400, valid=True)]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
                    st.sampled_from(EXTREME_NUMBERS), st.sampled_from(STRANGE_STRINGS))
json_values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=8)
deep = st.builds(Nested, st.integers(1, 700), st.sampled_from([1, "x", None, {}, []]), st.booleans())
huge_strings = st.builds(lambda n, c: c * n, st.integers(1_000, 45_000), st.sampled_from(["x", "é", "\U0001f600"]))

# What a mutation puts in place of a field's value.
weird_values = st.one_of(
    st.sampled_from(EXTREME_NUMBERS), st.sampled_from(STRANGE_STRINGS), json_values,
    st.sampled_from([None, True, False, [], {}, [None], {"": None}, [{}], {"id": {}}]),
    deep, huge_strings, st.sampled_from(TOKENS),
)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)
times = st.one_of(
    st.datetimes(min_value=NOW - dt.timedelta(days=900), max_value=NOW + dt.timedelta(days=3)).map(iso),
    st.sampled_from([iso(NOW), iso(NOW).replace("Z", "+02:00"), iso(NOW)[:19]]),
)
# Time fields as senders fill them: mostly real times, sometimes numbers of any size or
# text that only looks like a time.
ODD_TIMES: list[Any] = [*EXTREME_NUMBERS, *TIME_LIKE, True, []]
any_times = st.one_of(times, st.sampled_from(ODD_TIMES))
ids = st.one_of(st.text(st.characters(codec="utf-8"), min_size=1, max_size=16),
                st.integers(1, 10**12), st.sampled_from(["undefined", "null", "", "0", "guest"]))
message_ids = st.uuids().map(str)
names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
# Properties and traits as sent: any JSON, now and then nested a few hundred levels deep.
small_objects = st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8),
                                st.one_of(json_values, json_values, json_values, deep), max_size=4)
urls = st.sampled_from(["https://www.example.com/pricing?x=1", "http://shop.test:8900/p", "/relative",
                        "https://例え.jp/パス", "", "mailto:a@b", "http://[::1]:80/x", "http://a b/"])
ips = st.sampled_from(["1.2.3.4", "2001:db8::1", "", "not-an-ip", "10.0.0.256"])


def _some(d: dict[str, Any], **optional: Any) -> st.SearchStrategy[dict[str, Any]]:
    """``d`` plus any subset of ``optional`` (each a strategy)."""
    return st.fixed_dictionaries(d, optional=optional)


# ---------------------------------------------------------------- native (Segment spec)

context = _some({}, library=st.fixed_dictionaries({"name": st.sampled_from(
    ["analytics-python", "threadline.js", "threadline-python", "analytics.js", ""]),
    "version": st.just("1.0.0")}), ip=ips, userAgent=names,
    page=_some({}, url=urls, path=names, referrer=urls, title=names),
    groupId=ids, cookieless=st.booleans(), linked_anonymous_id=ids, traits=small_objects)


@st.composite
def segment_message(draw: st.DrawFn, type_: str | None = None) -> dict[str, Any]:
    """A valid Segment-spec message (of ``type_``, else any type)."""
    kind = type_ or draw(st.sampled_from(["identify", "track", "page", "screen", "group", "alias"]))
    who = draw(st.sampled_from(["anon", "user", "both"]))
    out: dict[str, Any] = {"type": kind, "messageId": draw(message_ids)}
    if who in ("anon", "both") or kind == "alias":
        out["anonymousId"] = draw(ids)
    if who in ("user", "both") or kind == "alias":
        out["userId"] = draw(ids)
    if kind == "track":
        out["event"] = draw(names)
        out["properties"] = draw(small_objects)
    elif kind in ("page", "screen"):
        out["name"] = draw(names)
        out["properties"] = draw(small_objects)
    elif kind in ("identify", "group"):
        out["traits"] = draw(small_objects)
    if kind == "group":
        out["groupId"] = draw(ids)
    if kind == "alias":
        out["previousId"] = draw(ids)
    out.update(draw(_some({}, context=context, timestamp=any_times, sentAt=any_times,
                          originalTimestamp=any_times,
                          integrations=st.just({"All": True}), channel=st.just("server"),
                          custom_field=json_values)))
    return out


# ---------------------------------------------------------------- Usermaven

@st.composite
def usermaven_event(draw: st.DrawFn) -> dict[str, Any]:
    """A Usermaven event as the browser SDK or the server API sends it."""
    event_type = draw(st.sampled_from(["pageview", "user_identify", "group", "clicked", "signed_up"]))
    company = draw(st.one_of(st.just({}), _some({"id": ids}, name=names, created_at=times,
                                                custom=small_objects)))
    user = draw(_some({"anonymous_id": ids}, id=ids, email=names, created_at=times, first_name=names,
                      custom=small_objects, company=st.just(company) if company else st.just({})))
    if event_type == "group" and not company.get("id"):
        company = {"id": draw(ids), "name": draw(names)}
    out: dict[str, Any] = {"event_id": draw(message_ids), "event_type": event_type, "user": user,
                           "company": company, "ids": {}, "utc_time": draw(any_times),
                           "src": draw(st.sampled_from(["usermaven", "usermaven-python", "http"]))}
    out.update(draw(_some({}, event_attributes=small_objects, autocapture_attributes=small_objects,
                          url=urls, doc_path=names, referer=urls, page_title=names, doc_search=names,
                          user_agent=names, user_language=st.just("en-US"), source_ip=ips,
                          utm=_some({}, source=names, campaign=names, medium=names),
                          local_tz_offset=st.integers(-720, 720), context=small_objects,
                          namespace=st.just("default"))))
    return out


# ---------------------------------------------------------------- Moesif

headers = st.dictionaries(st.sampled_from(["user-agent", "content-length", "Authorization", "cookie",
                                           "X-Custom", "content-type"]), names, max_size=4)
moesif_request = _some({"time": any_times, "uri": urls.filter(bool), "verb": st.sampled_from(["GET", "POST", "delete"])},
                       headers=headers, api_version=names, ip_address=ips, body=json_values,
                       transfer_encoding=st.sampled_from(["json", "base64"]), user_agent_string=names)
moesif_response = _some({"time": any_times, "status": st.integers(100, 599)}, headers=headers, body=json_values,
                        transfer_encoding=st.sampled_from(["json", "base64"]))
moesif_event = _some({"request": moesif_request}, response=moesif_response, user_id=ids, company_id=ids,
                     anonymous_id=ids, session_token=names, metadata=small_objects,
                     direction=st.sampled_from(["Incoming", "Outgoing"]), weight=st.integers(0, 100),
                     transaction_id=message_ids, tags=names, blocked_by=st.none())
campaign = _some({}, utm_source=names, utm_medium=names, gclid=names, utm_term=st.none())
moesif_user = _some({"user_id": ids}, anonymous_id=ids, company_id=ids, metadata=small_objects,
                    campaign=campaign, modified_time=any_times, ip_address=ips, user_agent_string=names,
                    session_token=names)
moesif_anon_user = _some({"anonymous_id": ids}, campaign=campaign, modified_time=any_times)
moesif_company = _some({"company_id": ids}, company_domain=names, metadata=small_objects,
                       modified_time=any_times, campaign=campaign, ip_address=ips)
moesif_action = _some({"action_name": names}, request=_some({"time": any_times}, uri=urls, ip_address=ips,
                                                              user_agent_string=names),
                      user_id=ids, anonymous_id=ids, company_id=ids, transaction_id=message_ids,
                      metadata=small_objects, session_token=names)
MOESIF_ITEMS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "events": moesif_event, "users": moesif_user | moesif_anon_user, "companies": moesif_company,
    "actions": moesif_action,
}


# ---------------------------------------------------------------- mutations

def paths_in(value: JSONish, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member or element of ``value`` (not into marks)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out += paths_in(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out += paths_in(v, (*prefix, i))
    return out


def copy_set(value: JSONish, path: tuple[Any, ...], new: Any, delete: bool = False) -> JSONish:
    """A copy of ``value`` with the member or element at ``path`` set to ``new`` (or
    deleted); a missing last key of an object is added."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    out: Any = dict(value) if isinstance(value, dict) else list(value)
    if rest:
        out[head] = copy_set(value[head], rest, new, delete)
    elif delete:
        del out[head]
    else:
        out[head] = new
    return out


def _get(value: JSONish, path: tuple[Any, ...]) -> JSONish:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[JSONish], max_mutations: int = 3) -> JSONish:
    """``base``'s value with up to ``max_mutations`` changes anywhere in it: a member
    deleted, a value replaced by a wrong-typed or extreme one, a member repeated, an
    unknown member added."""
    value = draw(base)
    for _ in range(draw(st.integers(0, max_mutations))):
        paths = paths_in(value)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "repeat", "add"]))
        if op == "delete":
            value = copy_set(value, path, None, delete=True)
        elif op == "repeat" and isinstance(_get(value, path[:-1]), dict):
            value = copy_set(value, path, Dup(draw(weird_values), _get(value, path)))
        elif op == "add" and isinstance(_get(value, path), dict):
            value = copy_set(value, (*path, draw(st.text(max_size=8))), draw(weird_values))
        else:
            value = copy_set(value, path, draw(weird_values))
    return value


def batch_of(item: st.SearchStrategy[JSONish], max_size: int = 8) -> st.SearchStrategy[list[JSONish]]:
    """Lists mixing valid items and mutated ones (and the odd non-object)."""
    element = st.one_of(item, mutated(item), mutated(item), st.sampled_from([None, 1, "x", [], [{}]]))
    return st.lists(element, min_size=0, max_size=max_size)
