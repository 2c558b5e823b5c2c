-- One row the writer updates to prove the database takes writes again after a failure
-- (a full disk), before /readyz says ready (storage/database.py, Database.reopen).
CREATE TABLE writer_probe (
    id          INTEGER PRIMARY KEY,
    written_at  TIMESTAMP NOT NULL
);
INSERT INTO writer_probe VALUES (1, current_timestamp::TIMESTAMP);
