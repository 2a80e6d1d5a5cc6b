-- A member's own case list (the cases it submitted, and those it carries): `member_cases` by
-- member, and the carried cases' submission times from the primary key alone (an index-only
-- scan), so that a page costs one index lookup per carried case instead of a walk through every
-- case by submission time.
CREATE INDEX member_cases_by_member ON member_cases (member_id, case_id);
ALTER TABLE case_summaries
    DROP CONSTRAINT case_summaries_pkey,
    ADD CONSTRAINT case_summaries_pkey PRIMARY KEY (id) INCLUDE (submitted_at);
