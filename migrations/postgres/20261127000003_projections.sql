-- Where each projection stands in the log. A batch claims its row (compare-and-set on the
-- position it started from), writes its view changes and moves the position, in one
-- transaction: a crash leaves the projection before or after a batch, never inside one.
CREATE TABLE projection_checkpoints
(
    name       text PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projection_checkpoints (name) VALUES ('case_summaries'), ('member_records');

-- One row per case: filter columns for lists and dashboards, and the whole summary.
CREATE TABLE case_summaries
(
    id           text PRIMARY KEY,
    kind         text        NOT NULL,
    status       text        NOT NULL,
    category     text        NOT NULL,
    jurisdiction text        NOT NULL,
    department   text,
    assignee     text,
    submitted_at timestamptz NOT NULL,
    due_at       timestamptz,
    is_open      boolean     NOT NULL,
    title        text        NOT NULL,
    body         text        NOT NULL,
    summary      jsonb       NOT NULL
);
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
    member_id     text    NOT NULL,
    year          bigint NOT NULL,
    contacts      bigint NOT NULL DEFAULT 0,
    relays        bigint NOT NULL DEFAULT 0,
    reports       bigint NOT NULL DEFAULT 0,
    consultations bigint NOT NULL DEFAULT 0,
    solved        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (member_id, year)
);
CREATE INDEX member_years_by_year ON member_years (year);

-- Which members answer for which case (they relayed it or reported it).
CREATE TABLE member_cases
(
    case_id   text NOT NULL,
    member_id text NOT NULL,
    PRIMARY KEY (case_id, member_id)
);

-- Wakes the projectors of every service process on this database when events are appended.
CREATE FUNCTION events_notify() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('lianxin_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();
