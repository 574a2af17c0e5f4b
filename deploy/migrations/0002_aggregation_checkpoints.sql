-- 0002: what the aggregation service's checkpoints need beyond 0001 (aggregation-service/
-- aggregate_store.h): the partition that owns each window, owner epochs that fence a partition's
-- former owner, the watermark, window-scoped deduplication chunks, and an outbox of records to
-- publish once the checkpoint that decided them has committed.

-- The metrics-events partition whose events built the window (a series lives on one partition,
-- its key being the record key). A new owner of the partition reloads its windows by it.
ALTER TABLE metrics.metric_aggregates ADD COLUMN source_partition INTEGER;
-- The consumer group that owns it: a claim reloads only its own group's windows, so a second
-- group (a test, a staging replay into the same database) never reads another's state.
ALTER TABLE metrics.metric_aggregates ADD COLUMN source_group TEXT;

-- Serves the claim query `source_group = g AND source_partition = p AND (NOT is_final OR timestamp >= floor)`, which
-- the store writes as `NOT is_final OR (is_final AND timestamp >= floor)` so each arm is one range
-- of this index: the open windows of p, and p's final windows from `floor` on. Final rows before
-- the floor (nearly all rows of a long-running partition) are never read by a claim.
CREATE INDEX idx_metrics_partition_claim
    ON metrics.metric_aggregates (source_group, source_partition, is_final, timestamp);

-- Fencing moves from a compare-and-set on next_offset to one on an owner epoch: a claim increments
-- it, and a checkpoint updates the row only while it still carries the epoch its writer claimed.
-- That also fences a former owner whose offset happens to equal the new owner's.
ALTER TABLE metrics.consumer_offsets
    ADD COLUMN owner_epoch BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN watermark TIMESTAMPTZ;
-- NULL: the partition was claimed but never checkpointed (its consumer starts from the beginning).
ALTER TABLE metrics.consumer_offsets ALTER COLUMN next_offset DROP NOT NULL;

COMMENT ON COLUMN metrics.consumer_offsets.owner_epoch IS
    'Incremented by every claim of the partition; a checkpoint writes only with the current epoch';
COMMENT ON COLUMN metrics.consumer_offsets.next_offset IS
    'Offset of the next record to consume; NULL when claimed but never checkpointed';
COMMENT ON COLUMN metrics.consumer_offsets.watermark IS
    'Event-time watermark of the partition after its last checkpoint; NULL before any';

-- Idempotency keys counted in one 1-minute window of one partition (all series), serialized as
-- streammetrics.internal.DedupChunk. A window may have several chunks (one per checkpoint that
-- counted keys in it); their union is the window's set. Deleted once the window is final.
CREATE TABLE metrics.dedup_keys (
    consumer_group TEXT NOT NULL,
    partition INTEGER NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    id BIGSERIAL,
    keys BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- Serves both the claim (all chunks of a partition) and the release (window_start < t).
    PRIMARY KEY (consumer_group, partition, window_start, id)
);

-- Records (final windows, dead letters) decided inside a checkpoint, stored in its transaction,
-- published to Kafka after it commits and deleted once delivered; a crash in between republishes
-- them after the next claim (at least once; consumers keep the highest revision).
CREATE TABLE metrics.outbox (
    id BIGSERIAL PRIMARY KEY,
    consumer_group TEXT NOT NULL,
    partition INTEGER NOT NULL,
    topic TEXT NOT NULL,
    key BYTEA NOT NULL,
    value BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_outbox_partition ON metrics.outbox (consumer_group, partition, id);

-- client_sequences kept, per client, every (sequence, event index) ever counted: state that grows
-- with the history of every client and is never released, and that a checkpoint rewrites per
-- client. Nothing wrote it yet. Deduplication is now scoped to windows instead (dedup_keys above,
-- aggregation-service/engine/partition_windows.h): a resent event carries its original timestamp, so it
-- either meets its key in its still-open window or finds the window final and is dead-lettered
-- as late; keys are released with their window.
DROP TABLE metrics.client_sequences;
