-- The handling units 承办单位, kept by staff: a department token's subject is one of these ids.
-- `categories` is a JSON array of the categories the unit handles (a guide for staff assigning cases; the demo pairs cases by it).
CREATE TABLE units
(
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    level        TEXT NOT NULL,
    jurisdiction TEXT,
    categories   TEXT NOT NULL
) STRICT;

-- Members' names as people read them, until the member registry keeps them: ids stay in the API
-- and the log, names are looked up only where a person reads (see access::names).
CREATE TABLE member_names
(
    member_id TEXT PRIMARY KEY,
    name      TEXT NOT NULL
) STRICT;
