"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document of every route the server
answers (query API, collectors, operations), written out as data.

A test compares it with the routes ``create_app()`` really mounts, so a new route
without documentation fails the suite. Routes that are not part of api.md but that
Threadline adds (the CLI's administration routes) carry ``x-threadline-extension``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from threadline import __version__
from threadline.query.openapi_schemas import (
    INT,
    OBJ,
    SCHEMAS,
    SECURITY_SCHEMES,
    STR,
    JSONDoc,
    array,
    obj,
    ref,
)

ERRORS = {
    "400": "Body is not JSON, or not of the expected top-level type",
    "401": "Missing or unknown key",
    "403": "The key may not do this (a write key on the query API)",
    "404": "Not found",
    "409": "Conflict",
    "413": "Body too large",
    "422": "Invalid input (validation_error with details)",
    "503": "The store cannot take writes; retry after Retry-After",
}
SECRET: list[JSONDoc] = [{"secretKey": []}]
INGEST: list[JSONDoc] = [{"writeKeyBasic": []}]


def _json(schema: JSONDoc, description: str) -> JSONDoc:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def param(name: str, where: str = "query", description: str = "", schema: JSONDoc | None = None,
          required: bool = False) -> JSONDoc:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema or STR}


PAGE = [param("cursor", description="Opaque cursor from the previous page's next_cursor"),
        param("limit", description="Items per page, 1 to 1000", schema={**INT, "default": 50})]
RANGE = [param("from", description="Start (inclusive): ISO 8601 time, date, or unix seconds"),
         param("to", description="End (exclusive); a date includes that whole day")]
PERSON_ID = param("person_id", "path", "A person id; an id merged away answers with its person now")
COMPANY_ID = param("company_id", "path", "The company (group) id as sent")


def op(summary: str, tag: str, answer: JSONDoc, *, security: list[JSONDoc] | None = None,
       params: list[JSONDoc] | None = None, body: JSONDoc | None = None,
       errors: tuple[str, ...] = ("401", "403", "422"), extension: bool = False,
       status: str = "200", error: str = "Error") -> JSONDoc:
    """One operation object; ``error`` names the schema of its error answers."""
    out: JSONDoc = {"summary": summary, "tags": [tag], "security": SECRET if security is None else security,
                    "responses": {status: answer}}
    for code in errors:
        out["responses"][code] = _json(ref(error), ERRORS[code])
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if extension:
        out["x-threadline-extension"] = True
    return out


def _query_paths() -> dict[str, JSONDoc]:
    p = "/api/v1"
    persons = _json(ref("PersonPage"), "Persons and the next page's cursor")
    person = _json(ref("Person"), "The person")
    events = _json(ref("EventPage"), "Events and the next page's cursor")
    return {
        f"{p}/openapi.json": {"get": op("This document", "meta", _json(OBJ, "OpenAPI 3.1"),
                                        security=[], errors=())},
        f"{p}/persons": {"get": op(
            "Persons, newest activity first", "persons", persons,
            params=[param("search", description="Substring of an identifier, person id or trait value"),
                    *PAGE])},
        f"{p}/persons/lookup": {"get": op(
            "The person holding an identifier", "persons", person,
            params=[param("anonymous_id"), param("user_id")], errors=("401", "403", "404", "422"))},
        f"{p}/persons/merge": {"post": op(
            "Manual merge", "persons", _json(ref("Person"), "The merged person"),
            body=ref("MergeRequest"), errors=("400", "401", "403", "404", "409", "422", "503"))},
        f"{p}/persons/{{person_id}}": {
            "get": op("One person", "persons", person, params=[PERSON_ID],
                      errors=("401", "403", "404")),
            "delete": op("Erase (GDPR) and suppress the person's identifiers", "persons",
                         _json(ref("Erase"), "Rows removed"), params=[PERSON_ID],
                         errors=("401", "403", "404", "503")),
        },
        f"{p}/persons/{{person_id}}/events": {"get": op(
            "The person's timeline, oldest first, pre-login events included", "persons", events,
            params=[PERSON_ID, *PAGE], errors=("401", "403", "404", "422"))},
        f"{p}/persons/{{person_id}}/explain": {"get": op(
            "Identifiers, the edges that linked them, refused conflicts and blocks", "persons",
            _json(ref("Explain"), "Why this person is who it is"), params=[PERSON_ID],
            errors=("401", "403", "404"))},
        f"{p}/persons/{{person_id}}/split": {"post": op(
            "Detach identifiers (a timeless block)", "persons",
            _json(obj({"data": array(ref("Person")), "next_cursor": {"type": "null"}}),
                  "The resulting persons"),
            params=[PERSON_ID], body=ref("SplitRequest"),
            errors=("400", "401", "403", "404", "409", "422", "503"))},
        f"{p}/companies": {"get": op(
            "Companies, most recently active first", "companies",
            _json(ref("CompanyPage"), "Companies"),
            params=[param("search", description="Substring of the id or a trait value"), *PAGE])},
        f"{p}/companies/{{company_id}}": {"get": op(
            "One company", "companies", _json(ref("Company"), "The company"), params=[COMPANY_ID],
            errors=("401", "403", "404"))},
        f"{p}/companies/{{company_id}}/persons": {"get": op(
            "Members, earliest membership first", "companies", persons,
            params=[COMPANY_ID, *PAGE], errors=("401", "403", "404", "422"))},
        f"{p}/companies/{{company_id}}/events": {"get": op(
            "Company timeline: members' events from their membership on, and events carrying "
            "the company id", "companies", events, params=[COMPANY_ID, *PAGE],
            errors=("401", "403", "404", "422"))},
        f"{p}/events": {"get": op(
            "Raw events, newest first, with their resolved person", "events",
            _json(ref("RawEventPage"), "Events and the next page's cursor"),
            params=[param("type"), param("event"), *RANGE,
                    param("include_hidden", schema={"type": "boolean", "default": False}), *PAGE])},
        f"{p}/events/stream": {"get": op(
            "Live events as server-sent events (event: message, id: message id, data: event JSON)",
            "events", {"description": "An endless text/event-stream",
                       "content": {"text/event-stream": {"schema": STR}}},
            params=[param("type"), param("event")], errors=("401", "403"))},
        f"{p}/insights/unique-persons": {"get": op(
            "Unique persons per interval, resolved and naive", "insights",
            _json(ref("UniquePersons"), "Counts per bucket and for the whole range"),
            params=[*RANGE, param("interval", schema={"type": "string", "enum": ["hour", "day", "week", "month"],
                                                      "default": "day"}),
                    param("tz", description="IANA time zone of the buckets", schema={**STR, "default": "UTC"}),
                    param("event"), param("type")])},
        f"{p}/insights/funnel": {"post": op(
            "Funnel by person or by company", "insights", _json(ref("Funnel"), "Counts per step"),
            body=ref("FunnelRequest"), errors=("400", "401", "403", "422"))},
        f"{p}/quarantine": {"get": op(
            "Rejected messages with their reasons, newest first", "ingest",
            _json(ref("QuarantinePage"), "Quarantined messages"),
            params=[*RANGE, param("code"), *PAGE])},
        f"{p}/ingest/stats": {"get": op(
            "Ingest counts per UTC day", "ingest", _json(ref("IngestStats"), "Per day"),
            params=[param("from", description="First day (YYYY-MM-DD)"),
                    param("to", description="Last day, inclusive")])},
        f"{p}/projects/current": {"get": op(
            "The key's project: name, settings, keys", "admin", _json(ref("Project"), "The project"),
            errors=("401", "403"), extension=True)},
        f"{p}/projects/current/settings": {"patch": op(
            "Change per-project settings", "admin", _json(ref("Project"), "The project"),
            body={"type": "object", "additionalProperties": True,
                  "description": "Setting name to new value, e.g. {\"retention_days\": 30}"},
            errors=("400", "401", "403", "422", "503"), extension=True)},
        f"{p}/keys/rotate": {"post": op(
            "Issue new keys; old ones stay valid for the grace period", "admin",
            _json(ref("NewKeys"), "The new keys"), errors=("401", "403", "503"), extension=True)},
    }


def _collector_paths() -> dict[str, JSONDoc]:
    native = _json(ref("IngestAnswer"), "Committed (durable ack)")
    errs = ("400", "401", "413", "503")
    seg = "SegmentError"
    out: dict[str, JSONDoc] = {"/v1/batch": {"post": op(
        "Native batch (Segment spec)", "collector", native, security=INGEST,
        body=ref("SegmentBatch"), errors=errs, error=seg)}}
    out["/v1/b"] = {"post": op("Native batch, analytics.js batching path", "collector", native,
                               security=INGEST, body=ref("SegmentBatch"), errors=errs, error=seg)}
    out["/beacon/v1/batch"] = {"post": op(
        "Native batch, RudderStack JS beacon (text/plain body)", "collector", native,
        security=[{"writeKeyQuery": []}, *INGEST], body=ref("SegmentBatch"), errors=errs,
        error=seg)}
    for short, type_ in (("i", "identify"), ("t", "track"), ("p", "page"), ("s", "screen"),
                         ("g", "group"), ("a", "alias")):
        for path in (f"/v1/{type_}", f"/v1/{short}"):
            out[path] = {"post": op(f"One {type_} message", "collector", native, security=INGEST,
                                    body=ref("SegmentMessage"), errors=(*errs, "422"), error=seg)}
    out["/v1/projects/{write_key}/settings"] = {"get": op(
        "analytics.js settings naming this server as the API host", "collector",
        _json(OBJ, "Settings"), security=[], errors=("401",), error=seg,
        params=[param("write_key", "path", "The project's write key")])}
    source_config = {"get": op("RudderStack JS source configuration", "collector",
                               _json(OBJ, "Source configuration"),
                               security=[{"writeKeyQuery": []}, *INGEST], errors=("401",), error=seg)}
    out["/sourceConfig"] = source_config
    out["/sourceConfig/"] = source_config
    um_browser = {"post": op("Usermaven browser SDK event", "usermaven",
                             _json(ref("UsermavenAnswer"), "Committed"),
                             security=[{"usermavenToken": []}], body=OBJ, errors=errs)}
    um_s2s = {"post": op("Usermaven server-to-server event (token=WRITE_KEY.SECRET_KEY)", "usermaven",
                         _json(ref("UsermavenAnswer"), "Committed"),
                         security=[{"usermavenToken": []}], body=OBJ, errors=errs)}
    out["/api/v1/event"] = um_browser
    # Any other suffix is no route of this server: 404.
    out["/api.{suffix}"] = {"post": {
        **um_browser["post"], "summary": "Usermaven browser SDK event, randomized path "
                                         "(/api.xxxxx?p_xxxxx=WRITE_KEY; a doubled leading slash works too)",
        "parameters": [param("suffix", "path", "Chosen by the SDK (five letters and digits)",
                             schema={"type": "string", "pattern": "^[A-Za-z0-9]{1,32}$"})],
        "responses": {**um_browser["post"]["responses"], "404": _json(ref("Error"), ERRORS["404"])}}}
    out["/api/v1/s2s/event"] = um_s2s
    out["/api/v1/s2s/event/"] = um_s2s
    moesif_created = {"description": "Committed", "content": {"application/json": {"schema": OBJ}}}
    for name in ("events", "users", "companies", "actions"):
        for path in (f"/v1/{name}", f"/v1/{name}/batch"):
            out[path] = {"post": op(f"Moesif {name}{' (batch)' if path.endswith('batch') else ''}",
                                    "moesif", moesif_created, status="201",
                                    security=[{"moesifApplicationId": []}],
                                    body=array(OBJ) if path.endswith("batch") else OBJ,
                                    errors=(*errs, "422"))}
    for name, schema in (("config", OBJ), ("rules", array(OBJ))):  # rules answer a JSON array
        out[f"/v1/{name}"] = {"get": op(f"Moesif {name} (for the SDKs)", "moesif",
                                        _json(schema, name.capitalize()),
                                        security=[{"moesifApplicationId": []}], errors=("401",))}
    out["/t.js"] = {"get": op("The browser tracker", "tracker",
                              {"description": "JavaScript",
                               "content": {"application/javascript": {"schema": STR}}},
                              security=[], errors=())}
    return out


def _operations_paths() -> dict[str, JSONDoc]:
    return {
        "/healthz": {"get": op("The process is alive", "operations",
                               _json(obj({"status": STR}), "Alive"), security=[], errors=())},
        "/readyz": {"get": op("The store takes writes", "operations",
                              _json(obj({"status": STR, "queue_depth": INT}), "Ready"),
                              security=[], errors=("503",))},
        "/metrics": {"get": op("Prometheus metrics of the whole server", "operations",
                               {"description": "Prometheus text",
                                "content": {"text/plain": {"schema": STR}}},
                               security=[{"adminToken": []}], errors=("401", "403"))},
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Threadline",
            "version": __version__,
            "description": "Self-hosted identity resolution and product analytics. Collectors take "
                           "Segment-spec, Usermaven and Moesif traffic; the query API answers "
                           "persons, timelines, companies and insights. Times are UTC ISO 8601 "
                           "with milliseconds; lists are {data, next_cursor}.",
        },
        "paths": {**_query_paths(), **_collector_paths(), **_operations_paths()},
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }
