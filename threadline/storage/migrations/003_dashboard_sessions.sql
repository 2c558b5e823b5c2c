-- Dashboard sign-ins kept in the store, not in one process's memory, so that several
-- server processes on one database agree on them and a logout ends the session
-- everywhere. Only a hash of the session id is stored: reading the database does not
-- give anyone a live cookie.

CREATE TABLE dashboard_sessions (
    id_hash     VARCHAR PRIMARY KEY,          -- sha256 hex of the session id in the cookie
    project_id  VARCHAR NOT NULL,
    key_fp      VARCHAR NOT NULL,             -- fingerprint of the secret key signed in with
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);

-- Failed sign-ins per client address, for the login rate limit; rows older than the
-- limit's window are deleted as new ones come in.
CREATE TABLE dashboard_login_failures (
    client      VARCHAR NOT NULL,
    failed_at   TIMESTAMP NOT NULL
);
