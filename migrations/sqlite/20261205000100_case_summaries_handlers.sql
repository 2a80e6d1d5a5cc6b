-- The units that handled a case get a column of their own, which a unit's case list tests, as
-- on PostgreSQL (where the summary document became text).
ALTER TABLE case_summaries ADD COLUMN handlers TEXT NOT NULL DEFAULT '[]';
UPDATE case_summaries SET handlers = COALESCE(json_extract(summary, '$.handlers'), '[]');
