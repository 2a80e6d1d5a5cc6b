-- The event log. Columns up to `metadata` are the ones postgres-es reads and writes; the rest
-- are filled by the database, so every event gets them whoever writes it.
CREATE TABLE events
(
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL CHECK (sequence >= 1),
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    payload        jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    -- Global order of the log: assigned at insert, never reused.
    position       bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The writing transaction, so that a reader following `position` can tell which
    -- smaller positions may still commit.
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    -- One case, one id: the key is the case id and its sequence, whatever the kind. A second
    -- writer of the same sequence fails here, which is the optimistic lock.
    PRIMARY KEY (aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_position ON events (position);

-- Token hashes only: the token itself is shown once, when created.
CREATE TABLE tokens
(
    id            text        PRIMARY KEY,
    name          text        NOT NULL,
    role          text        NOT NULL,
    member_id     text,
    department_id text,
    secret_hash   text        NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
