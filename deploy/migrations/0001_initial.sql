-- 0001: the original aggregates table and indexes, extended for exactly-once results (docs/contract.md §4),
-- plus the tables the aggregation service checkpoints into in the same transaction.

CREATE SCHEMA IF NOT EXISTS metrics;

-- One row per (series, window size, window start). Columns up to created_at are the original ones;
-- `timestamp` is the window start.
CREATE TABLE metrics.metric_aggregates (
    id BIGSERIAL PRIMARY KEY,
    timestamp TIMESTAMPTZ NOT NULL,
    service_id VARCHAR(100) NOT NULL,
    metric_name VARCHAR(200) NOT NULL,
    window_size VARCHAR(10) NOT NULL,
    count BIGINT,
    sum DOUBLE PRECISION,
    avg DOUBLE PRECISION,
    min DOUBLE PRECISION,
    max DOUBLE PRECISION,
    p50 DOUBLE PRECISION,
    p95 DOUBLE PRECISION,
    p99 DOUBLE PRECISION,
    tags JSONB,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    -- Exactly-once additions.
    -- Canonical series key (service, metric name, sorted tags): the Kafka record key of its events.
    series_key TEXT NOT NULL,
    -- Exclusive end of the window (timestamp + window size).
    window_end TIMESTAMPTZ NOT NULL,
    -- Serialized streammetrics.v1.DDSketch: lets windows be merged (5m = merge of 1m, Summarize).
    sketch BYTEA NOT NULL,
    -- True once the watermark passed window_end; the row never changes afterwards.
    is_final BOOLEAN NOT NULL DEFAULT FALSE,
    -- Incremented on every change of the row.
    revision BIGINT NOT NULL DEFAULT 1,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT metric_aggregates_window_key UNIQUE (series_key, window_size, timestamp),
    CONSTRAINT metric_aggregates_window_size CHECK (window_size IN ('1m', '5m'))
);

-- The original three indexes.
CREATE INDEX idx_metrics_lookup
    ON metrics.metric_aggregates (service_id, metric_name, timestamp DESC);
CREATE INDEX idx_metrics_tags
    ON metrics.metric_aggregates USING GIN (tags);
CREATE INDEX idx_metrics_timestamp
    ON metrics.metric_aggregates (timestamp DESC);

-- Where each partition of each consumed topic resumes: the offset of the next record to read.
-- Moved only with a compare-and-set on next_offset inside the checkpoint transaction, so an
-- instance that lost the partition in a rebalance cannot overwrite its new owner's progress.
CREATE TABLE metrics.consumer_offsets (
    consumer_group TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset BIGINT NOT NULL CHECK (next_offset >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Per partition and client: which (sequence, event index) idempotency keys were already counted,
-- serialized by the aggregation service, so a batch resent by a client is counted once.
CREATE TABLE metrics.client_sequences (
    consumer_group TEXT NOT NULL,
    partition INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    state BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (consumer_group, partition, client_id)
);
