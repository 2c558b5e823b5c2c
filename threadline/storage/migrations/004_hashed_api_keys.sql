-- API keys are kept as the SHA-256 of the key (hex) and a short displayable prefix; the
-- key itself is shown once, when it is created (storage/keys.py says why a fast hash is
-- enough). Keys of older stores are hashed in place: they keep working.
CREATE TABLE api_keys_hashed (
    key_hash    VARCHAR PRIMARY KEY,          -- sha256 of the key, lowercase hex
    prefix      VARCHAR NOT NULL,             -- its first 8 characters, for display
    project_id  VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,             -- 'write' or 'secret'
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP                     -- set when rotated away; NULL = valid
);
INSERT INTO api_keys_hashed
    SELECT sha256(key), left(key, 8), project_id, kind, created_at, expires_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_hashed RENAME TO api_keys;
