-- The summary document is written and read whole; the server never looks inside it but for the
-- units that handled the case. Parsing it into jsonb at every write (two thirds of the live
-- upsert's time) and printing it back at every read bought nothing: it is kept as text, and the
-- handling units, which a unit's case list tests, get a column of their own.
ALTER TABLE case_summaries ADD COLUMN handlers jsonb NOT NULL DEFAULT '[]';
UPDATE case_summaries SET handlers = COALESCE(summary->'handlers', '[]');
ALTER TABLE case_summaries ALTER COLUMN summary TYPE text USING summary::text;
