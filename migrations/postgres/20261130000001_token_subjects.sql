-- Every token names its holder by a subject id: a member's id for member tokens, otherwise an id
-- generated when the token is created (or handed on from an earlier token of the same holder).
-- The display name is only a label: two people of the same name are two subjects. Tokens issued
-- before this migration keep the id their events already carry (their member id, else their
-- name), so ownership and idempotency keys recorded in the log keep working.
ALTER TABLE tokens ADD COLUMN subject text;
UPDATE tokens SET subject = COALESCE(member_id, name);
ALTER TABLE tokens ALTER COLUMN subject SET NOT NULL;
CREATE INDEX tokens_by_subject ON tokens (subject);

-- An optional end of validity, after which the token is refused like a revoked one.
ALTER TABLE tokens ADD COLUMN expires_at timestamptz;
