-- Appended events are announced by each service process after its commits (coalesced, outside
-- the appending transaction) instead of by a trigger inside it: PostgreSQL serializes the
-- commits of notifying transactions behind one lock, which undid group commit under load.
DROP TRIGGER events_notify ON events;
DROP FUNCTION events_notify();
