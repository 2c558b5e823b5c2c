"""The ``components`` of the OpenAPI document: schemas and security schemes."""

from __future__ import annotations

from typing import Any

JSONDoc = dict[str, Any]

STR: JSONDoc = {"type": "string"}
INT: JSONDoc = {"type": "integer"}
NUM: JSONDoc = {"type": "number"}
BOOL: JSONDoc = {"type": "boolean"}
TIME: JSONDoc = {"type": "string", "format": "date-time", "example": "2026-01-05T10:00:00.000Z"}
OBJ: JSONDoc = {"type": "object", "additionalProperties": True}
NULL_STR: JSONDoc = {"type": ["string", "null"]}
NULL_TIME: JSONDoc = {"type": ["string", "null"], "format": "date-time"}


def ref(name: str) -> JSONDoc:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, JSONDoc], required: list[str] | None = None, extra: bool = False,
        description: str | None = None) -> JSONDoc:
    """An object schema; every property required unless ``required`` says otherwise."""
    out: JSONDoc = {"type": "object", "properties": props,
                    "required": list(props) if required is None else required,
                    "additionalProperties": extra}
    if description:
        out["description"] = description
    return out


def array(items: JSONDoc) -> JSONDoc:
    return {"type": "array", "items": items}


def page_of(item: str) -> JSONDoc:
    return obj({"data": array(ref(item)), "next_cursor": NULL_STR})


IDENT = obj({"kind": {"type": "string", "enum": ["anonymous", "user"]}, "value": STR})
EDGE_BASE = {"a": ref("Identifier"), "b": ref("Identifier"),
             "edge": {"type": "string", "enum": ["alias", "identified", "linked", "manual"]},
             "message_id": STR, "time": TIME}

SEGMENT_MESSAGE = obj({
    "type": {"type": "string", "enum": ["identify", "track", "page", "screen", "group", "alias"]},
    "messageId": STR, "anonymousId": {"type": ["string", "number"]},
    "userId": {"type": ["string", "number"]}, "groupId": {"type": ["string", "number"]},
    "previousId": {"type": ["string", "number"]}, "event": STR, "name": STR,
    "properties": OBJ, "traits": OBJ, "context": OBJ, "integrations": OBJ,
    "timestamp": {"type": ["string", "number"]}, "sentAt": {"type": ["string", "number"]},
}, required=["type"], extra=True, description="A Segment-spec message; unknown fields are kept.")

EVENT_PROPS: dict[str, JSONDoc] = {
    "id": STR, "type": STR, "event": NULL_STR, "timestamp": TIME, "received_at": TIME,
    "anonymous_id": NULL_STR, "user_id": NULL_STR, "person_id": NULL_STR,
    "company_ids": array(STR), "properties": OBJ, "context": OBJ,
    "source": {"type": "string", "enum": ["native", "tracker", "sdk", "middleware",
                                          "usermaven-browser", "usermaven-s2s", "moesif-api",
                                          "moesif-browser", "import", "operator"]},
}

SCHEMAS: dict[str, JSONDoc] = {
    "Error": obj({"error": obj({"code": STR, "message": STR, "details": {}})}),
    # The Segment-compatible routes repeat code and message at the top level, where the
    # Segment and RudderStack clients read them (docs/collector.md).
    "SegmentError": obj({"code": STR, "message": STR,
                         "error": obj({"code": STR, "message": STR, "details": {}})}),
    "Identifier": IDENT,
    "Event": obj(EVENT_PROPS),
    "RawEvent": obj({
        **EVENT_PROPS,
        "traits": OBJ, "previous_id": NULL_STR,
        "company_traits": {"type": "object", "additionalProperties": OBJ},
    }, description="An event of GET /api/v1/events: the timeline shape, plus identify traits, "
                   "an alias's previous id and the company traits the event set "
                   "(what `threadline export` needs for a faithful re-import)."),
    "CompanyRef": obj({"id": STR, "name": NULL_STR, "traits": OBJ}),
    "Person": obj({
        "id": STR, "is_identified": BOOL, "user_ids": array(STR), "anonymous_ids": array(STR),
        "traits": OBJ, "companies": array(ref("CompanyRef")), "first_seen": TIME,
        "last_seen": TIME, "event_count": INT,
    }),
    "Explain": obj({
        "person_id": STR,
        "identifiers": array(obj({"kind": STR, "value": STR, "first_seen": TIME})),
        "links": array(obj({**EDGE_BASE, "source": STR})),
        "conflicts": array(obj({**EDGE_BASE, "a_user_ids": array(STR), "b_user_ids": array(STR)})),
        "blocks": array({"oneOf": [
            obj({"type": {"const": "edge"}, **EDGE_BASE, "source": STR},
                description="An edge a split refused."),
            obj({"type": {"const": "split"}, "id": STR, "created_at": TIME,
                 "s": array(ref("Identifier")), "r": array(ref("Identifier"))},
                description="A stored split: no edge may join an identifier of s with one of r."),
        ]}),
    }),
    "Company": obj({"id": STR, "name": NULL_STR, "traits": OBJ, "member_count": INT,
                    "first_seen": NULL_TIME, "last_seen": NULL_TIME}),
    "PersonPage": page_of("Person"),
    "EventPage": page_of("Event"),
    "RawEventPage": page_of("RawEvent"),
    "CompanyPage": page_of("Company"),
    "QuarantineItem": obj({"id": INT, "received_at": TIME, "source": STR, "index": INT,
                           "code": STR, "reason": STR, "body": {}, "anonymous_id": NULL_STR,
                           "user_id": NULL_STR}),
    "QuarantinePage": page_of("QuarantineItem"),
    "IngestStats": obj({"data": array(obj({
        "day": {"type": "string", "format": "date"}, "accepted": INT, "duplicates": INT,
        "quarantined": INT, "personless": INT, "suppressed": INT}))}),
    "UniquePersons": obj({
        "interval": {"type": "string", "enum": ["hour", "day", "week", "month"]}, "tz": STR,
        "data": array(obj({"start": {"type": "string", "format": "date-time",
                                     "example": "2026-01-05T00:00:00.000+01:00"},
                           "persons": INT, "naive": INT})),
        "total": obj({"persons": INT, "naive": INT}),
    }),
    "FunnelStep": obj({"event": STR, "type": STR, "path": STR, "properties": OBJ}, required=[],
                      description="Matches events with every given field; path is "
                                  "context.page.path or properties.path; properties by equality."),
    "FunnelRequest": obj({
        "steps": {**array(ref("FunnelStep")), "minItems": 1, "maxItems": 20},
        "window": {"type": "string", "default": "P7D", "description": "ISO 8601 duration (W, D, H, M, S)"},
        "from": {"type": ["string", "number"]}, "to": {"type": ["string", "number"]},
        "by": {"type": "string", "enum": ["person", "company"], "default": "person"},
        "tz": {"type": "string", "default": "UTC"},
    }, required=["steps"]),
    "Funnel": obj({"steps": array(obj({"count": INT, "conversion": NUM, "overall": NUM}))}),
    "MergeRequest": obj({"person_ids": {**array(STR), "minItems": 2}}),
    "SplitRequest": obj({"identifiers": {**array(ref("Identifier")), "minItems": 1}}),
    "Erase": obj({"person_id": STR, "events": INT, "identifiers": INT, "edges": INT, "traits": INT,
                  "quarantine": INT, "suppressed_identifiers": INT}),
    "Key": obj({"kind": {"type": "string", "enum": ["write", "secret"]}, "key": NULL_STR,
                "prefix": STR, "created_at": TIME, "expires_at": NULL_TIME},
               description="Write keys are shown whole; secret keys by prefix only."),
    "Project": obj({"id": STR, "name": STR, "created_at": TIME, "settings": OBJ,
                    "keys": array(ref("Key"))}),
    "NewKeys": obj({"project_id": STR, "write_key": STR, "secret_key": STR, "grace_hours": NUM}),
    "SegmentMessage": SEGMENT_MESSAGE,
    "SegmentBatch": obj({"batch": array(ref("SegmentMessage")), "sentAt": {"type": ["string", "number"]},
                         "writeKey": STR, "context": OBJ}, required=["batch"], extra=True),
    "IngestAnswer": obj({"accepted": INT, "duplicates": INT, "rejected": array(obj({
        "index": INT, "code": STR, "reason": STR}))}),
    "UsermavenAnswer": obj({"status": {"type": "string", "const": "ok"}}),
}

SECURITY_SCHEMES: dict[str, JSONDoc] = {
    "secretKey": {"type": "http", "scheme": "bearer",
                  "description": "The project's secret key (sk_...). A write key is 403."},
    "writeKeyBasic": {"type": "http", "scheme": "basic",
                      "description": "Write or secret key as the user name, empty password "
                                     "(or writeKey in the body)."},
    "usermavenToken": {"type": "apiKey", "in": "query", "name": "token",
                       "description": "Write key (browser; also any p_* parameter or X-Auth-Token), "
                                      "or WRITE_KEY.SECRET_KEY (server to server)."},
    "writeKeyQuery": {"type": "apiKey", "in": "query", "name": "writeKey",
                      "description": "Write key in the query string (RudderStack JS beacons and "
                                     "source config)."},
    "moesifApplicationId": {"type": "apiKey", "in": "header", "name": "X-Moesif-Application-Id"},
    "adminToken": {"type": "http", "scheme": "bearer",
                   "description": "THREADLINE_ADMIN_TOKEN; loopback clients only when unset."},
}
