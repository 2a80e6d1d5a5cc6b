-- Figures kept per day of submission (and per month, rolling up its days), in the deployment's
-- time zone, per dimension (`all`, `kind`, `category`, `jurisdiction`, `department`, `level`,
-- `member`) and group, holding both the outcome funnel's and the published figures' counters
-- (`counts`: varints, in the order of `projections::Counter`), so that the figures of any
-- period of days are a sum of rows. Each sample column is ascending integers (durations,
-- working days, deadlines as nanoseconds since 1970), stored as the first and then the
-- differences, as varints (zigzag for the first).
DROP TABLE outcome_cells;
CREATE TABLE outcome_cells
(
    dimension                  TEXT NOT NULL,
    span                       TEXT NOT NULL,
    period                     TEXT NOT NULL,
    group_key                  TEXT NOT NULL,
    counts                     BLOB NOT NULL,
    seconds_to_assign          BLOB NOT NULL,
    seconds_to_close           BLOB NOT NULL,
    open_deadlines             BLOB NOT NULL,
    working_days_to_sign       BLOB NOT NULL,
    working_days_to_answer     BLOB NOT NULL,
    working_days_to_close      BLOB NOT NULL,
    unanswered_first_deadlines BLOB NOT NULL,
    unanswered_deadlines       BLOB NOT NULL,
    open_late_from             BLOB NOT NULL,
    PRIMARY KEY (dimension, span, period, group_key)
) STRICT, WITHOUT ROWID;

-- The handling level (`local`, `city`), a filter of the overdue list.
ALTER TABLE case_summaries ADD COLUMN level TEXT NOT NULL DEFAULT 'local';
CREATE INDEX case_summaries_open_by_level ON case_summaries (level, department, due_at, id) WHERE is_open;

-- Summaries now keep what the published figures need of a case's history, and the cells are
-- new: the projection starts again, rebuilt from the whole log in one pass when the service
-- starts.
DELETE FROM case_summaries;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'case_summaries';
