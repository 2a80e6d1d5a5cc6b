-- Staff of a banner or district act within it; city staff (no jurisdiction) act everywhere.
ALTER TABLE tokens ADD COLUMN jurisdiction TEXT;

-- The public channel's tracking codes, hashed like tokens: the code is shown once.
CREATE TABLE tracking_codes
(
    case_id   TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL
) STRICT;

-- Submitters' personal data, kept out of the event log so that it can be erased (the erasure
-- itself is then recorded as an event) without breaking any hash chain.
CREATE TABLE personal_data
(
    case_id TEXT PRIMARY KEY,
    name    TEXT,
    phone   TEXT
) STRICT;

-- Citizens list their own cases. The case summaries are rebuilt to fill the new column.
ALTER TABLE case_summaries ADD COLUMN submitter_id TEXT;
CREATE INDEX case_summaries_by_submitter ON case_summaries (submitter_id, submitted_at DESC);
DELETE FROM case_summaries;
DELETE FROM member_cases;
DELETE FROM member_years;
UPDATE projection_checkpoints SET position = 0;
