-- A member's own case list (the cases it submitted, and those it carries): `member_cases` by
-- member, so that a page costs one lookup per carried case instead of a scan of the table.
CREATE INDEX member_cases_by_member ON member_cases (member_id, case_id);
