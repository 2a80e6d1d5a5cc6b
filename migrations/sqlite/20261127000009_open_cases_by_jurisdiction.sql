-- A district's open cases newest first, with their deadlines in the index: the case list's
-- `overdue=true` in a jurisdiction (a banner's staff, the dashboard's first view) then skips the
-- cases not yet due inside the index and reads only the rows of its page. Through the
-- jurisdiction index alone it read every recent case's row to test it: ~500 pages of a cold
-- cache for a first page at a million cases.
CREATE INDEX case_summaries_open_by_jurisdiction ON case_summaries (jurisdiction, submitted_at DESC, id DESC, due_at)
    WHERE is_open;
