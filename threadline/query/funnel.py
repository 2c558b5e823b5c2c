"""Funnels by resolved person or by company (api.md, Answer shapes: Funnel).

Semantics: an entity enters with a first-step event inside ``[from, to)``; step k+1
needs an event strictly later in (event time, message id) than the one that made
step k, and no later than the entering event's time plus ``window``. An entity
counts at the deepest step any of its entering events reaches.

For one entering event, taking the earliest qualifying event at every later step is
optimal (an earlier choice leaves every option of a later one open), so each step is
one ``ASOF JOIN`` from the previous step's matches to the next qualifying row of the
same entity: sort-merge work, no per-entity loops, all inside DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from threadline.model import JSON
from threadline.query.companies import company_events_sql
from threadline.query.params import invalid

MAX_STEPS = 20
STEP_KEYS = ("event", "type", "path", "properties")


@dataclass(frozen=True)
class Step:
    """What one funnel step matches: every given condition must hold."""

    event: str | None = None
    type: str | None = None
    path: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


def parse_steps(raw: Any) -> list[Step]:
    """Validate the ``steps`` array of a funnel request."""
    if not isinstance(raw, list) or not raw:
        raise invalid("steps", "must be a non-empty array of step objects")
    if len(raw) > MAX_STEPS:
        raise invalid("steps", f"at most {MAX_STEPS} steps")
    steps = []
    for n, item in enumerate(raw):
        where = f"steps[{n}]"
        if not isinstance(item, dict):
            raise invalid(where, "must be an object")
        unknown = sorted(set(item) - set(STEP_KEYS))
        if unknown:
            raise invalid(where, f"unknown keys {unknown}; a step has {', '.join(STEP_KEYS)}")
        for key in ("event", "type", "path"):
            if item.get(key) is not None and not isinstance(item[key], str):
                raise invalid(f"{where}.{key}", "must be a string")
        props = item.get("properties") or {}
        if not isinstance(props, dict):
            raise invalid(f"{where}.properties", "must be an object")
        step = Step(item.get("event"), item.get("type"), item.get("path"), props)
        if step.event is None and step.type is None and step.path is None and not props:
            raise invalid(where, "needs at least one of event, type, path, properties")
        steps.append(step)
    return steps


def _escaped(value: str) -> str:
    """``value`` as it appears inside a stored JSON string (orjson writes every
    document), for a cheap substring pre-filter before parsing JSON."""
    return orjson.dumps(value).decode()[1:-1]


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _condition(step: Step, k: int, params: dict[str, Any]) -> str:
    """SQL matching ``step`` over events ``e``; values go in as named parameters."""
    parts: list[str] = []
    if step.event is not None:
        params[f"ev{k}"] = step.event
        parts.append(f"e.event = $ev{k}")
    if step.type is not None:
        params[f"ty{k}"] = step.type
        parts.append(f"e.type = $ty{k}")
    if step.path is not None:
        params[f"pa{k}"] = step.path
        params[f"pe{k}"] = _escaped(step.path)
        parts.append(
            f"(contains(e.context, $pe{k}) OR contains(e.properties, $pe{k})) AND "
            f"(json_extract_string(e.context, '/page/path') = $pa{k} "
            f"OR json_extract_string(e.properties, '/path') = $pa{k})")
    for j, (key, value) in enumerate(sorted(step.properties.items())):
        name = f"p{k}_{j}"
        params[f"{name}k"] = _pointer(key)
        ref = f"json_extract(e.properties, ${name}k)"
        if isinstance(value, str):
            params[name] = value
            params[f"{name}e"] = _escaped(value)
            parts.append(f"contains(e.properties, ${name}e) AND json_extract_string(e.properties, ${name}k) = ${name}")
        elif isinstance(value, bool):
            parts.append(f"{ref}::VARCHAR = '{'true' if value else 'false'}'")
        elif isinstance(value, int | float):
            params[name] = float(value)
            parts.append(f"json_type({ref}) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') "
                         f"AND {ref}::DOUBLE = ${name}")
        elif value is None:
            parts.append(f"({ref} IS NULL OR json_type({ref}) = 'NULL')")
        else:
            params[name] = orjson.dumps(value).decode()
            parts.append(f"json({ref}) = json(${name})")
    return "(" + " AND ".join(f"({p})" for p in parts) + ")"


def funnel(cur: Any, project_id: str, steps: list[Step], start_us: int, end_us: int,
           window_us: int, by: str) -> JSON:
    """Counts per step: ``{"steps": [{"count", "conversion", "overall"}]}``."""
    params: dict[str, Any] = {"project": project_id, "start": start_us, "end": end_us,
                              "window": window_us}
    conds = [_condition(s, k, params) for k, s in enumerate(steps)]
    flags = ", ".join(f"{c} AS m{k}" for k, c in enumerate(conds))
    any_step = " OR ".join(f"m{k}" for k in range(len(steps)))
    scope = ("NOT e.hidden AND e.ts >= make_timestamp($start) "
             "AND e.ts < make_timestamp($end) + to_microseconds($window)")
    if by == "company":
        source = (f"{company_events_sql(False, f'epoch_us(e.ts) AS t, e.message_id AS mid, {flags}', scope)}, "
                  "src AS (SELECT company_id AS ent, * EXCLUDE (company_id) FROM cev)")
    else:
        source = (f"ev0 AS (SELECT e.owner_iid, epoch_us(e.ts) AS t, e.message_id AS mid, {flags} "
                  f"FROM events e WHERE e.project_id = $project AND e.owner_iid IS NOT NULL AND {scope}), "
                  "src AS (SELECT i.person_iid AS ent, ev0.* EXCLUDE (owner_iid) FROM ev0 "
                  "JOIN identifiers i ON i.project_id = $project AND i.iid = ev0.owner_iid)")
    ctes = [
        source,
        f"fm AS MATERIALIZED (SELECT * FROM src WHERE {any_step})",
        "st AS (SELECT ent, min(t) AS first FROM fm WHERE m0 AND t >= epoch_us(make_timestamp($start)) "
        "AND t < epoch_us(make_timestamp($end)) GROUP BY ent)",
        "r AS MATERIALIZED (SELECT fm.*, row_number() OVER (PARTITION BY fm.ent ORDER BY fm.t, fm.mid) AS rn "
        "FROM fm JOIN st ON st.ent = fm.ent AND fm.t >= st.first)",
        "s0 AS (SELECT ent, t AS t0, rn FROM r WHERE m0 AND t < epoch_us(make_timestamp($end)))",
    ]
    for k in range(1, len(steps)):
        ctes.append(
            f"s{k} AS (SELECT s.ent, s.t0, x.rn FROM s{k - 1} s ASOF JOIN "
            f"(SELECT ent, rn, t FROM r WHERE m{k}) x ON x.ent = s.ent AND x.rn > s.rn "
            "WHERE x.t <= s.t0 + $window)")
    counts_sql = ", ".join(f"(SELECT count(DISTINCT ent) FROM s{k})" for k in range(len(steps)))
    row = cur.execute(f"WITH {', '.join(ctes)} SELECT {counts_sql}", params).fetchone()
    counts = [int(c) for c in row] if row else [0] * len(steps)
    out = []
    for k, count in enumerate(counts):
        prev = counts[k - 1] if k else count
        out.append({
            "count": count,
            "conversion": (count / prev) if prev else 0.0,
            "overall": (count / counts[0]) if counts[0] else 0.0,
        })
    return {"steps": out}
