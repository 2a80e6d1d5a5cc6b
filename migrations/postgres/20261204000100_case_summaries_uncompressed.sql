-- A case's summary row (its title and body, and the summary document, which repeats them) is
-- about 2.5 kB: just past the 2 kB at which PostgreSQL compresses a row's long values, so every
-- write of a summary compressed it again and every read decompressed it. Rows up to 8 kB now
-- stay as they are; longer ones (a long body) are still compressed. The rebuild copies this
-- setting to the tables it stages.
ALTER TABLE case_summaries SET (toast_tuple_target = 8160);
