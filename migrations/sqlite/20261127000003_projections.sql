-- Where each projection stands in the log. A batch claims its row (compare-and-set on the
-- position it started from), writes its view changes and moves the position, in one
-- transaction: a crash leaves the projection before or after a batch, never inside one.
CREATE TABLE projection_checkpoints
(
    name       TEXT PRIMARY KEY,
    position   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
INSERT INTO projection_checkpoints (name) VALUES ('case_summaries'), ('member_records');

-- One row per case: filter columns for lists and dashboards, and the whole summary.
CREATE TABLE case_summaries
(
    id           TEXT PRIMARY KEY,
    kind         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    jurisdiction TEXT    NOT NULL,
    department   TEXT,
    assignee     TEXT,
    submitted_at TEXT    NOT NULL,
    due_at       TEXT,
    is_open      INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    summary      TEXT    NOT NULL
) STRICT;
CREATE INDEX case_summaries_by_submission ON case_summaries (submitted_at DESC, id DESC);
CREATE INDEX case_summaries_by_status ON case_summaries (status, submitted_at DESC);
CREATE INDEX case_summaries_by_kind ON case_summaries (kind, submitted_at DESC);
CREATE INDEX case_summaries_by_category ON case_summaries (category, submitted_at DESC);
CREATE INDEX case_summaries_by_jurisdiction ON case_summaries (jurisdiction, submitted_at DESC);
CREATE INDEX case_summaries_by_department ON case_summaries (department, submitted_at DESC);
CREATE INDEX case_summaries_by_assignee ON case_summaries (assignee, submitted_at DESC);
CREATE INDEX case_summaries_open_by_due ON case_summaries (due_at) WHERE is_open;

-- Members' duty records 一人一档, per member and year.
CREATE TABLE member_years
(
    member_id     TEXT    NOT NULL,
    year          INTEGER NOT NULL,
    contacts      INTEGER NOT NULL DEFAULT 0,
    relays        INTEGER NOT NULL DEFAULT 0,
    reports       INTEGER NOT NULL DEFAULT 0,
    consultations INTEGER NOT NULL DEFAULT 0,
    solved        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (member_id, year)
) STRICT;
CREATE INDEX member_years_by_year ON member_years (year);

-- Which members answer for which case (they relayed it or reported it).
CREATE TABLE member_cases
(
    case_id   TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (case_id, member_id)
) STRICT;
