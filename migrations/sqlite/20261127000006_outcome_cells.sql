-- Outcome figures pre-aggregated per dimension (`all` cases, `kind`, `category`,
-- `jurisdiction`, `department`), month of submission (`YYYY-MM`, UTC) and group, so that a
-- period's figures merge a few cells instead of reading every case summary of the period.
-- The case-summary projection keeps them in the transaction of each batch: a cell always holds
-- exactly the cases of `case_summaries` in it. The durations (every sample, in seconds, so
-- medians and p90s stay exact) and the open cases' deadlines (nanoseconds since 1970, so
-- `open_overdue` counts those before the moment of reading) are ascending integers, stored as
-- the first and then the differences, as varints (zigzag for the first).
CREATE TABLE outcome_cells
(
    dimension            TEXT    NOT NULL,
    month                TEXT    NOT NULL,
    group_key            TEXT    NOT NULL,
    submitted            INTEGER NOT NULL,
    relayed              INTEGER NOT NULL,
    assigned             INTEGER NOT NULL,
    consulted            INTEGER NOT NULL,
    adopted              INTEGER NOT NULL,
    declined             INTEGER NOT NULL,
    closed               INTEGER NOT NULL,
    closed_a             INTEGER NOT NULL,
    closed_b             INTEGER NOT NULL,
    closed_c             INTEGER NOT NULL,
    rated                INTEGER NOT NULL,
    satisfied            INTEGER NOT NULL,
    closed_with_deadline INTEGER NOT NULL,
    closed_on_time       INTEGER NOT NULL,
    seconds_to_assign    BLOB    NOT NULL,
    seconds_to_close     BLOB    NOT NULL,
    open_deadlines       BLOB    NOT NULL,
    PRIMARY KEY (dimension, month, group_key)
) STRICT, WITHOUT ROWID;

-- Built with the case summaries: the projection starts again from the beginning of the log.
DELETE FROM case_summaries;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'case_summaries';
