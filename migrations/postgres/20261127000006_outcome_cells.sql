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
    dimension            text   NOT NULL,
    month                text   NOT NULL,
    group_key            text   NOT NULL,
    submitted            bigint NOT NULL,
    relayed              bigint NOT NULL,
    assigned             bigint NOT NULL,
    consulted            bigint NOT NULL,
    adopted              bigint NOT NULL,
    declined             bigint NOT NULL,
    closed               bigint NOT NULL,
    closed_a             bigint NOT NULL,
    closed_b             bigint NOT NULL,
    closed_c             bigint NOT NULL,
    rated                bigint NOT NULL,
    satisfied            bigint NOT NULL,
    closed_with_deadline bigint NOT NULL,
    closed_on_time       bigint NOT NULL,
    seconds_to_assign    bytea  NOT NULL,
    seconds_to_close     bytea  NOT NULL,
    open_deadlines       bytea  NOT NULL,
    PRIMARY KEY (dimension, month, group_key)
);
-- Packed already: compressing them would cost every write and every read for little.
ALTER TABLE outcome_cells
    ALTER COLUMN seconds_to_assign SET STORAGE EXTERNAL,
    ALTER COLUMN seconds_to_close SET STORAGE EXTERNAL,
    ALTER COLUMN open_deadlines SET STORAGE EXTERNAL;

-- Built with the case summaries: the projection starts again from the beginning of the log.
DELETE FROM case_summaries;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'case_summaries';
