-- Threadline store, version 1. Times are UTC TIMESTAMPs (microseconds).
-- JSON documents are kept as VARCHAR text: inserting them costs no parse, and
-- DuckDB's json_* functions read VARCHAR as well as JSON.

CREATE TABLE projects (
    id              VARCHAR PRIMARY KEY,
    name            VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    settings        VARCHAR NOT NULL,         -- JSON object of per-project settings
    suppression_key VARCHAR NOT NULL          -- key of the erased-identifier hashes
);

CREATE TABLE api_keys (
    key         VARCHAR PRIMARY KEY,
    project_id  VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,             -- 'write' or 'secret'
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP                     -- set when rotated away; NULL = valid
);

CREATE TABLE salts (
    project_id  VARCHAR NOT NULL,
    day         DATE NOT NULL,
    salt        VARCHAR NOT NULL,
    PRIMARY KEY (project_id, day)
);

-- Every identifier ever seen, with the person it belongs to now.
-- person_iid is the iid of the cluster's earliest identifier; person_id its UUIDv5.
CREATE TABLE identifiers (
    project_id  VARCHAR NOT NULL,
    iid         BIGINT NOT NULL,
    kind        VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    first_seen  TIMESTAMP NOT NULL,
    person_iid  BIGINT NOT NULL,
    person_id   VARCHAR NOT NULL,
    self_id     VARCHAR NOT NULL              -- UUIDv5 of this identifier: old person ids resolve through it
);

-- Kept evidence: the earliest edge per (pair, class), with its replay outcome.
CREATE TABLE edges (
    project_id  VARCHAR NOT NULL,
    a_iid       BIGINT NOT NULL,
    b_iid       BIGINT NOT NULL,
    class       VARCHAR NOT NULL,             -- 'forced' (alias, manual) or 'conditional'
    kind        VARCHAR NOT NULL,             -- alias, identified, linked, manual
    ts          TIMESTAMP NOT NULL,
    message_id  VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL              -- accepted, redundant, conflict, blocked
);

CREATE TABLE blocks (
    project_id  VARCHAR NOT NULL,
    block_id    VARCHAR NOT NULL,
    s_iids      BIGINT[] NOT NULL,
    r_iids      BIGINT[] NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE events (
    project_id          VARCHAR NOT NULL,
    message_id          VARCHAR NOT NULL,
    seq                 BIGINT NOT NULL,      -- store order, for cursors and the live stream
    type                VARCHAR NOT NULL,
    event               VARCHAR,
    ts                  TIMESTAMP NOT NULL,   -- event time after skew correction
    received_at         TIMESTAMP NOT NULL,
    sent_at             TIMESTAMP,
    anonymous_id        VARCHAR,
    user_id             VARCHAR,
    previous_id         VARCHAR,
    linked_anonymous_id VARCHAR,
    anon_iid            BIGINT,
    user_iid            BIGINT,
    owner_iid           BIGINT,               -- NULL: personless
    company_ids         VARCHAR[],            -- companies the event carries
    member_of           VARCHAR[],            -- companies it makes its owner a member of
    properties          VARCHAR,
    traits              VARCHAR,
    context             VARCHAR,
    extra               VARCHAR,
    source              VARCHAR NOT NULL,
    hidden              BOOLEAN NOT NULL,
    PRIMARY KEY (project_id, message_id)
);

-- Company trait updates (group calls, company blocks, Moesif companies).
CREATE TABLE company_updates (
    project_id  VARCHAR NOT NULL,
    company_id  VARCHAR NOT NULL,
    ts          TIMESTAMP NOT NULL,
    message_id  VARCHAR NOT NULL,
    traits      VARCHAR NOT NULL
);

CREATE TABLE quarantine (
    project_id   VARCHAR NOT NULL,
    qid          BIGINT NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    source       VARCHAR NOT NULL,
    idx          INTEGER NOT NULL,
    code         VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,
    body         VARCHAR,
    anonymous_id VARCHAR,
    user_id      VARCHAR
);

CREATE TABLE suppressions (
    project_id  VARCHAR NOT NULL,
    hash        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

-- One row per commit, project and day; readers sum them (an upsert per commit costs
-- more than the whole insert of a group's events).
CREATE TABLE ingest_stats (
    project_id   VARCHAR NOT NULL,
    day          DATE NOT NULL,
    accepted     BIGINT NOT NULL DEFAULT 0,
    duplicates   BIGINT NOT NULL DEFAULT 0,
    quarantined  BIGINT NOT NULL DEFAULT 0,
    personless   BIGINT NOT NULL DEFAULT 0,
    suppressed   BIGINT NOT NULL DEFAULT 0
);
