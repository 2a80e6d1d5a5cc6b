-- Each outcome-cell row's revision: a random number drawn anew whenever the row is written, so
-- that a service process may keep a row it decoded and know, by reading the revision alone,
-- that the row has not changed since (and that it is this database's row: revisions are not
-- shared between databases, but for copies of one, which hold the same rows).
ALTER TABLE outcome_cells ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
UPDATE outcome_cells SET revision = random();
