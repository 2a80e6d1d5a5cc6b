-- The physical limit of BENCHMARK.md: per transaction, what the cheapest possible command must
-- do — read one case's events by key, append one event row with the same shape as lianxin's.
\set case random(1, 2000000000)
BEGIN;
SELECT sequence, payload, metadata FROM limit_events WHERE aggregate_id = :case::text || '-' || :client_id ORDER BY sequence;
INSERT INTO limit_events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
VALUES ('suggestion', :case::text || '-' || :client_id, 1, 'assigned', '1',
        '{"type": "assigned", "department": "市住房和城乡建设局", "due_at": "2026-12-12T09:00:00Z", "at": "2026-11-27T09:00:00Z"}',
        '{"kind": "suggestion", "actor_id": "bench-staff", "actor_role": "staff", "request_id": "0195a1e0-0000-7000-8000-000000000000"}');
END;
