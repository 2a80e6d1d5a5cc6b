-- Case summaries now carry how a case is handled: its lead and co-handling units, the first
-- (statutory) and the effective deadline, lateness on record, signature, reply, objections and
-- extensions. Rows written before hold none of it, so the projection starts again: emptied
-- here, rebuilt from the whole log in one pass when the service starts.
DELETE FROM outcome_cells;
DELETE FROM case_summaries;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'case_summaries';
