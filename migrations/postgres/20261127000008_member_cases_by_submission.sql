-- A member's carried cases by submission, newest first, straight from `member_cases`: the case
-- list's carried half then reads one page of one index instead of looking up every case the
-- member ever carried (thousands of random probes for an active member). The table is built
-- again with the column, and the member-records projection starts again from the beginning of
-- the log (a service that finds it there rebuilds it in one pass).
DROP TABLE member_cases;
CREATE TABLE member_cases
(
    case_id      text        NOT NULL,
    member_id    text        NOT NULL,
    -- The case's submission time, as in `case_summaries`.
    submitted_at timestamptz NOT NULL,
    PRIMARY KEY (case_id, member_id)
);
CREATE INDEX member_cases_by_member ON member_cases (member_id, submitted_at DESC, case_id DESC);
DELETE FROM member_years;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'member_records';

-- The carried half no longer sorts by the summaries' primary key.
ALTER TABLE case_summaries
    DROP CONSTRAINT case_summaries_pkey,
    ADD CONSTRAINT case_summaries_pkey PRIMARY KEY (id);
