-- The outcome cells, one row per dimension, span and period holding the cells of all its groups
-- (a read of a period by member read thousands of one-member rows). `cells`: per group, in
-- group order, its name, the counters (a mask of those not zero in the order of
-- `projections::Counter`, then each of them) and every sample
-- but the open cases' deadlines; `open_deadlines`: per group that has open cases with a
-- deadline, its name and those deadlines, apart so that the overdue list reads only them.
-- Numbers are LEB128 varints (zigzag where they may be negative); samples ascending, stored as
-- their count, the first, then the differences.
DROP TABLE outcome_cells;
CREATE TABLE outcome_cells
(
    dimension      text  NOT NULL,
    span           text  NOT NULL,
    period         text  NOT NULL,
    cells          bytea NOT NULL,
    open_deadlines bytea NOT NULL,
    PRIMARY KEY (dimension, span, period)
);
-- Packed already: compressing them would cost every write and every read for little.
ALTER TABLE outcome_cells
    ALTER COLUMN cells SET STORAGE EXTERNAL,
    ALTER COLUMN open_deadlines SET STORAGE EXTERNAL;

-- The cells are new: the case-summary projection starts again, rebuilt from the whole log in
-- one pass when the service starts.
DELETE FROM case_summaries;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'case_summaries';
