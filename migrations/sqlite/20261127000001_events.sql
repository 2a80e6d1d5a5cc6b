-- The event log. Columns `aggregate_type` to `metadata` are the ones sqlite-es reads and
-- writes; the rest are filled by the database, so every event gets them whoever writes it.
CREATE TABLE events
(
    -- Global order of the log. SQLite has one writer at a time, so insert order is commit
    -- order; AUTOINCREMENT makes sure a position is never reused.
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence >= 1),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- One case, one id, whatever the kind: a second writer of the same sequence fails here,
    -- which is the optimistic lock.
    UNIQUE (aggregate_id, sequence)
) STRICT;

-- Token hashes only: the token itself is shown once, when created.
CREATE TABLE tokens
(
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    member_id     TEXT,
    department_id TEXT,
    secret_hash   TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at    TEXT
) STRICT;
