-- A member's own case list (the cases it submitted, and those it carries): `member_cases` by
-- member, so that a page costs one lookup per carried case instead of a scan of the table.
CREATE INDEX member_cases_by_member ON member_cases (member_id, case_id);

-- The overdue list: per department, the open cases by deadline and id (the order it pages in);
-- the count per department reads it without touching the table. It replaces the open cases by
-- deadline alone, which served the old overdue list only, and which a plan made for no
-- department in particular preferred: for a department with few overdue cases that walked
-- through every open overdue case.
CREATE INDEX case_summaries_open_by_department ON case_summaries (department, due_at, id) WHERE is_open;
DROP INDEX case_summaries_open_by_due;
