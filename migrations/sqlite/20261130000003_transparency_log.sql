-- The Merkle tree over the whole log (RFC 9162), in the log's order: leaf `leaf_index` is the
-- event at `position`, hashed as its export's canonical JSON. `merkle_nodes` keeps every
-- perfect subtree above the leaves (level l, index i covers leaves i·2^l .. (i+1)·2^l - 1), so
-- that any root or proof is folded from O(log n) stored hashes. Both are append-only.
CREATE TABLE merkle_leaves
(
    leaf_index INTEGER PRIMARY KEY CHECK (leaf_index >= 0),
    position   INTEGER NOT NULL UNIQUE,
    hash       BLOB    NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE merkle_nodes
(
    level      INTEGER NOT NULL CHECK (level >= 1),
    node_index INTEGER NOT NULL CHECK (node_index >= 0),
    hash       BLOB    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, node_index)
) WITHOUT ROWID;

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note), one per tree size.
CREATE TABLE checkpoints
(
    tree_size INTEGER PRIMARY KEY CHECK (tree_size >= 0),
    root_hash BLOB    NOT NULL CHECK (length(root_hash) = 32),
    note      TEXT    NOT NULL,
    cut_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Whoever can write the file can drop these triggers: on SQLite the signed checkpoints and the
-- witnesses that keep them are the protection, not the database's rights.
CREATE TRIGGER merkle_leaves_append_only BEFORE UPDATE ON merkle_leaves
BEGIN
    SELECT RAISE(ABORT, 'the Merkle tree is append-only');
END;
CREATE TRIGGER merkle_leaves_no_delete BEFORE DELETE ON merkle_leaves
BEGIN
    SELECT RAISE(ABORT, 'the Merkle tree is append-only');
END;
CREATE TRIGGER merkle_nodes_append_only BEFORE UPDATE ON merkle_nodes
BEGIN
    SELECT RAISE(ABORT, 'the Merkle tree is append-only');
END;
CREATE TRIGGER merkle_nodes_no_delete BEFORE DELETE ON merkle_nodes
BEGIN
    SELECT RAISE(ABORT, 'the Merkle tree is append-only');
END;
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;
