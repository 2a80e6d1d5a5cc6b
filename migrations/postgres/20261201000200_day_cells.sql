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
    dimension                  text  NOT NULL,
    span                       text  NOT NULL,
    period                     text  NOT NULL,
    group_key                  text  NOT NULL,
    counts                     bytea NOT NULL,
    seconds_to_assign          bytea NOT NULL,
    seconds_to_close           bytea NOT NULL,
    open_deadlines             bytea NOT NULL,
    working_days_to_sign       bytea NOT NULL,
    working_days_to_answer     bytea NOT NULL,
    working_days_to_close      bytea NOT NULL,
    unanswered_first_deadlines bytea NOT NULL,
    unanswered_deadlines       bytea NOT NULL,
    open_late_from             bytea NOT NULL,
    PRIMARY KEY (dimension, span, period, group_key)
);
-- Packed already: compressing them would cost every write and every read for little.
ALTER TABLE outcome_cells
    ALTER COLUMN counts SET STORAGE EXTERNAL,
    ALTER COLUMN seconds_to_assign SET STORAGE EXTERNAL,
    ALTER COLUMN seconds_to_close SET STORAGE EXTERNAL,
    ALTER COLUMN open_deadlines SET STORAGE EXTERNAL,
    ALTER COLUMN working_days_to_sign SET STORAGE EXTERNAL,
    ALTER COLUMN working_days_to_answer SET STORAGE EXTERNAL,
    ALTER COLUMN working_days_to_close SET STORAGE EXTERNAL,
    ALTER COLUMN unanswered_first_deadlines SET STORAGE EXTERNAL,
    ALTER COLUMN unanswered_deadlines SET STORAGE EXTERNAL,
    ALTER COLUMN open_late_from SET STORAGE EXTERNAL;

-- The handling level (`local`, `city`), a filter of the overdue list.
ALTER TABLE case_summaries ADD COLUMN level text NOT NULL DEFAULT 'local';
CREATE INDEX case_summaries_open_by_level ON case_summaries (level, department, due_at, id) WHERE is_open;

-- Summaries now keep what the published figures need of a case's history, and the cells are
-- new: the projection starts again, rebuilt from the whole log in one pass when the service
-- starts.
DELETE FROM case_summaries;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'case_summaries';
