-- The member registry and duty credits 一人一档. A member's counts are no longer sums per year
-- but one credit per activity and subject (a case, a session, a constituent's key in a year),
-- each with the event behind it: nothing counts twice, a reopened case's "solved" is taken back,
-- and the quota set is applied when read. The member-records projection starts again from the
-- beginning of the log (a service that finds it there rebuilds it in one pass).
DROP TABLE member_years;
CREATE TABLE member_credits
(
    member_id TEXT NOT NULL,
    activity  TEXT NOT NULL,
    subject   TEXT NOT NULL,
    -- The day it took place where the event states one (YYYY-MM-DD, the deployment's day).
    on_date   TEXT,
    at        TEXT NOT NULL,
    level     TEXT,
    stream    TEXT NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (member_id, activity, subject)
) STRICT;
CREATE INDEX member_credits_by_subject ON member_credits (activity, subject);

-- The registry as its events leave it; dates are YYYY-MM-DD.
CREATE TABLE members
(
    member_id    TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    sector       TEXT NOT NULL,
    level        TEXT NOT NULL,
    jurisdiction TEXT,
    term_start   TEXT NOT NULL,
    term_end     TEXT NOT NULL,
    left_on      TEXT
) STRICT;

-- Staff's decisions on members' duty years: reminder talks, resignations started, years re-opened.
CREATE TABLE member_decisions
(
    member_id TEXT NOT NULL,
    position  INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    year      INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    by_id     TEXT NOT NULL,
    by_role   TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (member_id, position)
) STRICT;

DELETE FROM member_cases;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'member_records';
