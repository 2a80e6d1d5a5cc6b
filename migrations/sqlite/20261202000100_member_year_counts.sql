-- Members' credits counted per duty year and activity, kept with the credits, so that the
-- assessment reads a few rows per member rather than every credit of two years. The duty year
-- depends on the deployment's time zone, which only the service knows: the member-records
-- projection starts again from the beginning of the log (a service that finds it there rebuilds
-- it in one pass).
CREATE TABLE member_year_counts
(
    member_id TEXT    NOT NULL,
    year      INTEGER NOT NULL,
    activity  TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (member_id, year, activity)
) STRICT, WITHOUT ROWID;

DELETE FROM member_cases;
DELETE FROM member_credits;
DELETE FROM members;
DELETE FROM member_decisions;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'member_records';
