-- The daemon's own state, kept apart from the application's tables in schema arango_sync.
-- The migrator has already created the schema (it keeps arango_sync.schema_migrations there), so
-- IF NOT EXISTS is needed here and only here.
CREATE SCHEMA IF NOT EXISTS arango_sync;

-- Ticks and transaction ids are uint64 on the wire (arangodb-protocol.md §8). numeric(20,0)
-- holds the whole range exactly and compares numerically; text would compare "10" < "9" unless
-- padded, and bigint stops at 2^63 - 1. node-postgres returns numeric as a string, which
-- converts to a JS bigint without loss. Keeping the full range here matters for the journal and
-- the dead letters: an event whose tick the target's bigint legacy_tick cannot hold must still
-- be recorded with its real tick (invariant 4, nothing is lost). Comparisons with the target
-- tables' bigint legacy_tick work directly (bigint is implicitly cast to numeric).
CREATE DOMAIN arango_sync.uint64 AS numeric(20, 0)
    CONSTRAINT uint64_range CHECK (VALUE >= 0 AND VALUE <= 18446744073709551615);

-- One row per source database. Written in the same transaction as the rows it covers
-- (invariant 1), so after a crash it always matches the data.
CREATE TABLE arango_sync.checkpoint (
    source_database text PRIMARY KEY,
    phase text NOT NULL DEFAULT 'snapshotting',
    -- Every change up to and including this tick is applied; null until a snapshot completes.
    applied_tick arango_sync.uint64,
    -- The lastScanned value to send with the next wal/tail request: a large write batch can
    -- be cut across responses and must be re-scanned from its start (protocol §9).
    last_scanned arango_sync.uint64,
    -- Tick T of the replication batch the current (or last) snapshot reads at; the tail starts
    -- from T, so snapshot and stream meet without a gap (protocol §12).
    snapshot_tick arango_sync.uint64,
    -- Per collection: {"<collection>": {"state": "pending|dumping|done", "lastKey": ..., "documents": n}},
    -- so a restart resumes a snapshot where it stopped.
    snapshot jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT checkpoint_phase_check
        CHECK (phase IN ('snapshotting', 'streaming', 'resnapshotting', 'cutover', 'stopped')),
    CONSTRAINT checkpoint_snapshot_is_object CHECK (jsonb_typeof(snapshot) = 'object')
);

-- A removed document leaves its key and the tick of the removal, so an older image replayed
-- later (snapshot/stream overlap, retries) cannot resurrect the row (invariant 2).
CREATE TABLE arango_sync.tombstones (
    table_name text NOT NULL,
    legacy_id text NOT NULL,
    legacy_tick arango_sync.uint64 NOT NULL,
    -- The remove marker carries the removed document's _rev; kept for verification only.
    legacy_rev text,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, legacy_id)
);

-- Every applied change in apply order: the event log the target tables are projections of.
-- `replay --table` rebuilds a table from here.
CREATE TABLE arango_sync.journal (
    id bigserial PRIMARY KEY,
    tick arango_sync.uint64 NOT NULL,
    -- "0" for single-document operations, which carry no transaction (protocol §9).
    tid arango_sync.uint64 NOT NULL DEFAULT 0,
    collection text NOT NULL,
    op text NOT NULL,
    legacy_id text,
    legacy_rev text,
    -- The whole document for upserts (ArangoDB reports insert, update and replace alike as
    -- the full new image), null for removes and truncates.
    document jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT journal_op_check CHECK (op IN ('upsert', 'remove', 'truncate')),
    CONSTRAINT journal_key_check CHECK (op = 'truncate' OR legacy_id IS NOT NULL),
    CONSTRAINT journal_document_check CHECK (op <> 'upsert' OR document IS NOT NULL)
);
CREATE INDEX journal_collection_tick ON arango_sync.journal (collection, tick);
CREATE INDEX journal_collection_key ON arango_sync.journal (collection, legacy_id, tick);

-- Events that could not be applied, with the raw payload and a reason (invariant 4). jsonb
-- refuses some valid JSON (a \u0000 escape) and a payload may not be JSON at all, so the raw
-- line can be kept as text instead; one of the two is always present.
CREATE TABLE arango_sync.dead_letters (
    id bigserial PRIMARY KEY,
    table_name text,
    collection text,
    legacy_id text,
    tick arango_sync.uint64,
    -- A stable code (e.g. missing_parent, invalid_value, constraint_violation), used as the
    -- reason label of the dead_letters metric.
    reason text NOT NULL,
    error_detail text,
    raw_event jsonb,
    raw_text text,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 1,
    status text NOT NULL DEFAULT 'open',

    CONSTRAINT dead_letters_payload_check CHECK (raw_event IS NOT NULL OR raw_text IS NOT NULL),
    CONSTRAINT dead_letters_attempts_check CHECK (attempts >= 1),
    CONSTRAINT dead_letters_status_check CHECK (status IN ('open', 'resolved', 'discarded')),
    CONSTRAINT dead_letters_seen_check CHECK (last_seen >= first_seen)
);
CREATE INDEX dead_letters_open ON arango_sync.dead_letters (table_name, reason) WHERE status = 'open';
CREATE INDEX dead_letters_key ON arango_sync.dead_letters (collection, legacy_id);

-- Mapped rows whose parent row (by legacy_id) is not in PostgreSQL yet, under the `park`
-- policy. One waiting image per row: a newer image replaces an older one. A row with several
-- missing parents records the first one found; every parent is checked again on retry.
CREATE TABLE arango_sync.parked_rows (
    table_name text NOT NULL,
    legacy_id text NOT NULL,
    parent_table text NOT NULL,
    parent_legacy_id text NOT NULL,
    legacy_tick arango_sync.uint64 NOT NULL,
    row jsonb NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    -- After this the row goes to dead_letters with reason missing_parent.
    deadline timestamptz NOT NULL,
    PRIMARY KEY (table_name, legacy_id),

    CONSTRAINT parked_rows_attempts_check CHECK (attempts >= 0)
);
CREATE INDEX parked_rows_parent ON arango_sync.parked_rows (parent_table, parent_legacy_id);
CREATE INDEX parked_rows_deadline ON arango_sync.parked_rows (deadline);

-- The daemon's decisions as events (snapshot done, gap found, cutover requested, verified):
-- append-only, so the history can be trusted during a post-mortem.
CREATE TABLE arango_sync.control_events (
    id bigserial PRIMARY KEY,
    -- clock_timestamp(), not now(): several decisions made in one transaction keep their order in time.
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',

    CONSTRAINT control_events_kind_check CHECK (kind <> '')
);
CREATE INDEX control_events_kind ON arango_sync.control_events (kind, id);

CREATE FUNCTION arango_sync.refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER control_events_append_only
    BEFORE UPDATE OR DELETE ON arango_sync.control_events
    FOR EACH ROW EXECUTE FUNCTION arango_sync.refuse_change();
CREATE TRIGGER control_events_no_truncate
    BEFORE TRUNCATE ON arango_sync.control_events
    FOR EACH STATEMENT EXECUTE FUNCTION arango_sync.refuse_change();

-- One row per cutover attempt; outcome and finished_at are set together when it ends.
CREATE TABLE arango_sync.cutover_reports (
    id bigserial PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome text,
    fenced boolean NOT NULL DEFAULT false,
    source_tick arango_sync.uint64,
    applied_tick arango_sync.uint64,
    report jsonb NOT NULL DEFAULT '{}',

    CONSTRAINT cutover_reports_outcome_check CHECK (outcome IN ('GO', 'NO-GO')),
    CONSTRAINT cutover_reports_finished_check CHECK ((outcome IS NULL) = (finished_at IS NULL))
);

-- Parts of a source transaction too large to hold in memory (DESIGN.md §2 invariants 3 and 6):
-- each part is written here as it arrives, and the whole transaction is applied to the target
-- tables in one PostgreSQL transaction when its last part arrives, reading the parts back in
-- order in bounded chunks.
--
-- UNLOGGED: the rows are only ever needed by the daemon run that wrote them. After any crash the
-- checkpoint points before the transaction (its parts never move the applied tick), the daemon
-- clears this table at start and reads the transaction again from the WAL; so losing the table's
-- contents in a PostgreSQL crash loses nothing, and the parts cost no WAL volume.
CREATE UNLOGGED TABLE arango_sync.staged_changes (
    -- The source transaction: its tid and the tick of its first marker.
    group_key text NOT NULL,
    seq bigint NOT NULL,
    -- One change as the sink applies it, serialised by the daemon.
    change text NOT NULL,
    PRIMARY KEY (group_key, seq)
);

COMMENT ON SCHEMA arango_sync IS 'State of arango-pg-sync: checkpoint, journal, tombstones, dead letters, parked rows, control events, cutover reports';
COMMENT ON TABLE arango_sync.checkpoint IS 'Resume position per source database, committed with the rows it covers';
COMMENT ON TABLE arango_sync.tombstones IS 'Removed keys with the removal tick, so older images cannot resurrect them';
COMMENT ON TABLE arango_sync.journal IS 'Every applied change in apply order; the target tables are projections of it';
COMMENT ON TABLE arango_sync.dead_letters IS 'Events that could not be applied, with raw payload and reason';
COMMENT ON TABLE arango_sync.parked_rows IS 'Rows waiting for a parent row to arrive';
COMMENT ON TABLE arango_sync.control_events IS 'Append-only log of the daemon''s decisions';
COMMENT ON TABLE arango_sync.cutover_reports IS 'One report per cutover attempt';
COMMENT ON TABLE arango_sync.staged_changes IS 'Parts of a large source transaction waiting for its last part';
