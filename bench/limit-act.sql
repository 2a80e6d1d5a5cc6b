-- The fair limit, an action on a case the engine holds (four of a lifecycle's five commands):
-- the engine decides on the case as held and reads nothing, so the command's one round trip is
-- the append guarded by the stream having no later event, as `store/append.rs` writes it: one
-- prepared INSERT … SELECT … WHERE NOT EXISTS … RETURNING position, its own transaction. The
-- stream is new here (sequence 1, guarded after 0) where the product's has earlier events: the
-- probe and the insert touch the same indexes either way. The rest as in `limit.sql`.
\set case random(1, 9000000000000000)
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT * FROM (VALUES ('suggestion', :case::text || '-' || :client_id, 1::bigint, 'consulted', '1',
        :payload::jsonb, :metadata::jsonb)) AS appended
WHERE NOT EXISTS (SELECT 1 FROM events WHERE aggregate_id = :case::text || '-' || :client_id AND sequence > 0)
RETURNING position;
