-- The member registry and duty credits 一人一档. A member's counts are no longer sums per year
-- but one credit per activity and subject (a case, a session, a constituent's key in a year),
-- each with the event behind it: nothing counts twice, a reopened case's "solved" is taken back,
-- and the quota set is applied when read. The member-records projection starts again from the
-- beginning of the log (a service that finds it there rebuilds it in one pass).
DROP TABLE member_years;
CREATE TABLE member_credits
(
    member_id text NOT NULL,
    activity  text NOT NULL,
    subject   text NOT NULL,
    -- The day it took place where the event states one (YYYY-MM-DD, the deployment's day).
    on_date   text,
    at        timestamptz NOT NULL,
    level     text,
    stream    text NOT NULL,
    position  bigint NOT NULL,
    PRIMARY KEY (member_id, activity, subject)
);
CREATE INDEX member_credits_by_subject ON member_credits (activity, subject);

-- The registry as its events leave it; dates are YYYY-MM-DD.
CREATE TABLE members
(
    member_id    text NOT NULL PRIMARY KEY,
    name         text NOT NULL,
    sector       text NOT NULL,
    level        text NOT NULL,
    jurisdiction text,
    term_start   text NOT NULL,
    term_end     text NOT NULL,
    left_on      text
);

-- Staff's decisions on members' duty years: reminder talks, resignations started, years re-opened.
CREATE TABLE member_decisions
(
    member_id text NOT NULL,
    position  bigint NOT NULL,
    kind      text NOT NULL,
    year      bigint NOT NULL,
    reason    text NOT NULL,
    by_id     text NOT NULL,
    by_role   text NOT NULL,
    at        timestamptz NOT NULL,
    PRIMARY KEY (member_id, position)
);

DELETE FROM member_cases;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'member_records';
