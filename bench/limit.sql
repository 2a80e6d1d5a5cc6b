-- The fair limit: per transaction, exactly the round trips of one lianxin command, on lianxin's
-- own `events` table (the script applies the product's migrations first, so the columns,
-- indexes and triggers are the same): one prepared SELECT of the stream, one prepared
-- INSERT … RETURNING position that is its own transaction. No BEGIN/END: a command sends none.
-- Payload and metadata have the size of a lifecycle event (a note, the chain's two hashes).
-- Keys drawn from 9e15: drawn from 2e9, a client's tens of thousands of inserts in a run repeated
-- one about every other round, and the duplicate key aborted pgbench (that round had no limit).
\set case random(1, 9000000000000000)
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position, recorded_at
FROM events WHERE aggregate_id = :case::text || '-' || :client_id ORDER BY sequence;
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
VALUES ('suggestion', :case::text || '-' || :client_id, 1, 'consulted', '1',
        '{"type": "consulted", "note": "承办单位与物业公司、供电公司到现场协调，核实小区变压器容量，商定分批增容并统一规划充电车位，群众表示认可。", "participants": ["物业公司", "供电公司"], "at": "2026-11-27T09:00:00Z"}',
        '{"kind": "suggestion", "actor_id": "bench-staff", "actor_role": "staff", "request_id": "0195a1e0-0000-7000-8000-000000000000", "correlation_id": "0195a1e0-0000-7000-8000-000000000000", "causation_id": "0195a1e0-0000-7000-8000-000000000001", "command_id": "0195a1e0-0000-7000-8000-000000000001", "status": "consulting", "prev_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "hash": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"}')
RETURNING position;
