-- Readers follow the log in (transaction_id, position) order, only below the oldest running
-- transaction, so that an event committing late can never fall behind a reader's checkpoint.
CREATE INDEX events_log_order ON events (transaction_id, position);

-- An idempotency key is used once per actor: a retried command that raced its first attempt
-- fails here instead of writing twice, and the first result is replayed.
CREATE UNIQUE INDEX events_idempotency_key
    ON events ((metadata ->> 'actor_id'), (metadata ->> 'idempotency_key'))
    WHERE metadata ? 'idempotency_key';

-- Append-only: the database itself refuses to change or remove an event.
CREATE FUNCTION events_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % is refused', TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'correct a case by appending an event, never by editing one';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
