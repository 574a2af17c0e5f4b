-- 0003: the series catalog behind QueryService.ListSeries. (QueryAggregates needs no new index:
-- the original idx_metrics_lookup and idx_metrics_tags serve it, docs/query.md shows the plans, and
-- every index on metric_aggregates slows the checkpoint, which writes each window many times.)
--
-- ListSeries over metric_aggregates would have to read every window of a service (a day of one
-- series is 1,440 1-minute rows) to find its distinct series. The catalog has one row per series,
-- written by the checkpoint that stores a series' new 1-minute window (revision 1), so it costs
-- one upsert per series per minute, in the same transaction as the window it describes.
CREATE TABLE metrics.series (
    -- Canonical series key (service, metric name, sorted tags), as in metric_aggregates.
    -- Bytewise ("C") collation: ListSeries pages in byte order whatever the database's
    -- collation, and the index below then gives that order without a sort.
    series_key TEXT COLLATE "C" PRIMARY KEY,
    service_id VARCHAR(100) NOT NULL,
    metric_name VARCHAR(200) COLLATE "C" NOT NULL,
    tags JSONB NOT NULL,
    -- Start of the newest 1-minute window stored for the series.
    last_window_start TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
-- ListSeries pages in (metric_name, series_key) order within a service.
CREATE INDEX idx_series_listing ON metrics.series (service_id, metric_name, series_key);

-- Windows stored before this migration. Idempotent, so an operator rolling out over instances
-- still running the previous release (which write windows but not the catalog) can run this
-- statement again once every instance runs the new one.
INSERT INTO metrics.series AS s (series_key, service_id, metric_name, tags, last_window_start)
SELECT series_key, min(service_id), min(metric_name), (array_agg(tags))[1], max(timestamp)
FROM metrics.metric_aggregates
WHERE window_size = '1m'
GROUP BY series_key
ON CONFLICT (series_key) DO UPDATE
SET last_window_start = GREATEST(s.last_window_start, EXCLUDED.last_window_start);

