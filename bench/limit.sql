-- The fair limit, a submission: per transaction, exactly the round trips of a lianxin command on
-- a case it does not hold, as a submission is (no stream to read): one prepared
-- INSERT … RETURNING position that is its own transaction, on lianxin's own `events` table (the
-- script applies the product's migrations first, so the columns, indexes and triggers are the
-- same). No BEGIN/END: a command sends none. Payload and metadata are bound at every execution,
-- as sqlx binds them, so the server parses their JSON each time (`scripts/bench-limit` gives
-- them: a submission of the benchmark's title and body, the chain's two hashes in the
-- metadata). `limit-act.sql` is the other four commands of a lifecycle. Keys drawn from 9e15:
-- drawn from 2e9, a client's tens of thousands of inserts in a run repeated one about every
-- other round, and the duplicate key aborted pgbench.
\set case random(1, 9000000000000000)
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
VALUES ('suggestion', :case::text || '-' || :client_id, 1, 'submitted', '1',
        :submission::jsonb, :metadata::jsonb)
RETURNING position;
