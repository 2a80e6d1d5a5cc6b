-- An idempotency key is used once per actor: a retried command that raced its first attempt
-- fails here instead of writing twice, and the first result is replayed.
CREATE UNIQUE INDEX events_idempotency_key
    ON events (json_extract(metadata, '$.actor_id'), json_extract(metadata, '$.idempotency_key'))
    WHERE json_extract(metadata, '$.idempotency_key') IS NOT NULL;

-- Append-only: the database itself refuses to change or remove an event.
CREATE TRIGGER events_no_update
    BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: UPDATE is refused');
END;

CREATE TRIGGER events_no_delete
    BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: DELETE is refused');
END;
