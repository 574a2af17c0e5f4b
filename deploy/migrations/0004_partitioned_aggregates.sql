-- 0004: metrics.metric_aggregates partitioned by window size, then by day of the window start
-- (UTC), so old windows age out by dropping whole days instead of a DELETE that rewrites the
-- table (aggregation-service/store/retention.h has the rule; docs/retention.md the operator's view).
--
--   metric_aggregates                     PARTITION BY LIST (window_size)
--     metric_aggregates_1m                  PARTITION BY RANGE (timestamp)
--       metric_aggregates_1m_20261205         one day: [2026-12-05, 2026-12-06)
--       metric_aggregates_1m_default          any day without a partition of its own
--     metric_aggregates_5m                  likewise
--
-- The aggregation service creates day partitions ahead and drops those past the retention. The
-- default partitions take rows of days without a partition (a replay older than the days
-- created, data at fixed test dates), so no write fails for want of one; a day partition created
-- later takes its rows over.
--
-- Every row of the old table is kept, with its id: one partition is made for each day it holds
-- (and for today and the next three days), then the rows are copied. The service's first
-- maintenance afterwards drops the days already past the retention. The copy holds an exclusive
-- lock for its duration: stop the aggregation service, or expect its checkpoints to wait.

ALTER TABLE metrics.metric_aggregates RENAME TO metric_aggregates_unpartitioned;
-- The id sequence outlives the old table and goes on numbering the new one.
ALTER SEQUENCE metrics.metric_aggregates_id_seq OWNED BY NONE;

CREATE TABLE metrics.metric_aggregates (
    id BIGINT NOT NULL DEFAULT nextval('metrics.metric_aggregates_id_seq'),
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
    series_key TEXT NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    sketch BYTEA NOT NULL,
    is_final BOOLEAN NOT NULL DEFAULT FALSE,
    revision BIGINT NOT NULL DEFAULT 1,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    source_partition INTEGER,
    source_group TEXT,
    CONSTRAINT metric_aggregates_window_size CHECK (window_size IN ('1m', '5m'))
) PARTITION BY LIST (window_size);

CREATE TABLE metrics.metric_aggregates_1m PARTITION OF metrics.metric_aggregates
    FOR VALUES IN ('1m') PARTITION BY RANGE (timestamp);
CREATE TABLE metrics.metric_aggregates_5m PARTITION OF metrics.metric_aggregates
    FOR VALUES IN ('5m') PARTITION BY RANGE (timestamp);
CREATE TABLE metrics.metric_aggregates_1m_default PARTITION OF metrics.metric_aggregates_1m DEFAULT;
CREATE TABLE metrics.metric_aggregates_5m_default PARTITION OF metrics.metric_aggregates_5m DEFAULT;

DO $$
DECLARE
  r RECORD;
BEGIN
  FOR r IN
    SELECT DISTINCT window_size AS size, date_trunc('day', timestamp AT TIME ZONE 'UTC') AS day
    FROM metrics.metric_aggregates_unpartitioned
    UNION
    SELECT size, day
    FROM unnest(ARRAY['1m', '5m']) AS size,
         generate_series(date_trunc('day', now() AT TIME ZONE 'UTC'),
                         date_trunc('day', now() AT TIME ZONE 'UTC') + interval '3 days',
                         interval '1 day') AS day
  LOOP
    EXECUTE format('CREATE TABLE metrics.%I PARTITION OF metrics.%I FOR VALUES FROM (%L) TO (%L)',
                   'metric_aggregates_' || r.size || '_' || to_char(r.day, 'YYYYMMDD'),
                   'metric_aggregates_' || r.size,
                   to_char(r.day, 'YYYY-MM-DD') || ' 00:00:00+00',
                   to_char(r.day + interval '1 day', 'YYYY-MM-DD') || ' 00:00:00+00');
  END LOOP;
END
$$;

INSERT INTO metrics.metric_aggregates (
    id, timestamp, service_id, metric_name, window_size, count, sum, avg, min, max, p50, p95, p99,
    tags, created_at, series_key, window_end, sketch, is_final, revision, updated_at,
    source_partition, source_group)
SELECT id, timestamp, service_id, metric_name, window_size, count, sum, avg, min, max, p50, p95,
       p99, tags, created_at, series_key, window_end, sketch, is_final, revision, updated_at,
       source_partition, source_group
FROM metrics.metric_aggregates_unpartitioned;

DROP TABLE metrics.metric_aggregates_unpartitioned;
ALTER SEQUENCE metrics.metric_aggregates_id_seq OWNED BY metrics.metric_aggregates.id;

-- Keys and indexes as before, built once after the copy. A partitioned table's unique keys must
-- hold its partition columns: the window key does, and the primary key gains them.
ALTER TABLE metrics.metric_aggregates
    ADD CONSTRAINT metric_aggregates_pkey PRIMARY KEY (id, window_size, timestamp),
    ADD CONSTRAINT metric_aggregates_window_key UNIQUE (series_key, window_size, timestamp);
CREATE INDEX idx_metrics_lookup
    ON metrics.metric_aggregates (service_id, metric_name, timestamp DESC);
CREATE INDEX idx_metrics_tags
    ON metrics.metric_aggregates USING GIN (tags);
CREATE INDEX idx_metrics_timestamp
    ON metrics.metric_aggregates (timestamp DESC);
CREATE INDEX idx_metrics_partition_claim
    ON metrics.metric_aggregates (source_group, source_partition, is_final, timestamp);
