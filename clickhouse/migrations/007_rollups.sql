-- Stored hourly rollups of SETTLED hours (issue 16; docs/query.md "Stored rollups"). Not a
-- materialized view on insert: every revision of a window is inserted, so a view would add
-- a revised window once per revision. Not an AggregatingMergeTree of argMax(…, revision)
-- states per (device, hour) either: the argMax must be taken per WINDOW (an hour holds 60
-- windows, each with its own newest revision), and a state per hour has lost the window key.
-- Instead the sink (sinks/rollups.ts) computes an hour from `aggregates_1m FINAL` once no
-- window of it can be revised any more (the processors' max lateness has passed its end in
-- the loaded data's event time), writes its rows here and records how far it got in
-- rollup_progress. An hour is rewritten (re-rolled) when windows of it were loaded after
-- it was rolled (a lagging partition, a replay): the newest roll wins (ReplacingMergeTree
-- by rolled_at), so FINAL reads one row per key.
--
-- The grain is (hour, device, site, kind): the summary groups windows by kind and site, and
-- a device that moved site mid-hour keeps its two halves apart. Ordered by time first, as
-- the fleet-wide reports read every device of a span of hours.

CREATE TABLE IF NOT EXISTS rollups_1h
(
    bucket_start DateTime('UTC'),
    device_id LowCardinality(String),
    site_id LowCardinality(String),
    kind LowCardinality(String),
    windows UInt32,
    max_revision UInt32,
    event_count UInt64,
    first_event_ts DateTime64(3, 'UTC'),
    last_event_ts DateTime64(3, 'UTC'),
    field_count Map(String, UInt64),
    field_min Map(String, Float64),
    field_max Map(String, Float64),
    field_sum Map(String, Float64),
    derived_count Map(String, UInt64),
    derived_min Map(String, Float64),
    derived_max Map(String, Float64),
    derived_sum Map(String, Float64),
    rolled_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(rolled_at)
PARTITION BY toYYYYMM(bucket_start)
ORDER BY (bucket_start, device_id, site_id, kind)
TTL bucket_start + INTERVAL {{AGG_TTL_DAYS}} DAY;

-- How far the hourly rollups reach: every hour before settled_until is in rollups_1h.
-- One row per roll (the newest by updated_at counts), so a rebuild may move it back.
CREATE TABLE IF NOT EXISTS rollup_progress
(
    rollup LowCardinality(String),
    settled_until DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY rollup;
