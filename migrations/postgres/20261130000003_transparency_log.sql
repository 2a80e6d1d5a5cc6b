-- The Merkle tree over the whole log (RFC 9162), in the log's order: leaf `leaf_index` is the
-- event at `position`, hashed as its export's canonical JSON. `merkle_nodes` keeps every
-- perfect subtree above the leaves (level l, index i covers leaves i·2^l .. (i+1)·2^l - 1), so
-- that any root or proof is folded from O(log n) stored hashes. Both are append-only: a node,
-- once complete, never changes.
CREATE TABLE merkle_leaves
(
    leaf_index bigint PRIMARY KEY CHECK (leaf_index >= 0),
    position   bigint NOT NULL UNIQUE,
    hash       bytea  NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE merkle_nodes
(
    level      smallint NOT NULL CHECK (level >= 1),
    node_index bigint   NOT NULL CHECK (node_index >= 0),
    hash       bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, node_index)
);

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note), one per tree size.
CREATE TABLE checkpoints
(
    tree_size bigint      PRIMARY KEY CHECK (tree_size >= 0),
    root_hash bytea       NOT NULL CHECK (length(root_hash) = 32),
    note      text        NOT NULL,
    cut_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TRIGGER merkle_leaves_append_only
    BEFORE UPDATE OR DELETE ON merkle_leaves
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER merkle_nodes_append_only
    BEFORE UPDATE OR DELETE ON merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER checkpoints_append_only
    BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

-- Least privilege: `lianxin migrate` runs as the owner of the schema; `serve` may run as any
-- login role granted `lianxin_runtime` (created here when the cluster lacks it, which needs
-- CREATEROLE once per cluster). The runtime role reads and appends the log, the tree and the
-- checkpoints, writes the read models and tokens, and nothing else: no UPDATE, DELETE or
-- TRUNCATE on the log, no DDL, and no trigger control, which only the owner has.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lianxin_runtime') THEN
        BEGIN
            CREATE ROLE lianxin_runtime NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created meanwhile by a migration of another database of the cluster
        END;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO lianxin_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO lianxin_runtime;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO lianxin_runtime;
REVOKE UPDATE, DELETE ON events, merkle_leaves, merkle_nodes, checkpoints FROM lianxin_runtime;
REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM lianxin_runtime;
-- Tables later migrations create are read models unless they say otherwise.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO lianxin_runtime;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO lianxin_runtime;
