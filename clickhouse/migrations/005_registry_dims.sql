-- The fleet registry's read side (docs/registry.md "Dimension tables"): one table per
-- registry topic the reports group by, fed by the sink's registry feed (sinks/dims-feed.ts)
-- from the compacted CDC topics. Columns are the registry's own (registry/model.ts TABLES),
-- so a dimension row reads like the PostgreSQL row it copies. ReplacingMergeTree on the
-- row's `version` (registry.change_version: grows with every write of a row, never reused)
-- keeps the newest write of each id, so a change the connector re-sends after a crash never
-- rolls a row back. A delete is a row with `deleted = 1` at the id's newest version; on a
-- tie the row inserted last wins, which is the log's order. Read with FINAL and
-- `WHERE deleted = 0`.

CREATE TABLE IF NOT EXISTS dim_sites
(
    id String,
    kind LowCardinality(String),
    name String,
    lat Float64,
    lon Float64,
    time_zone String,
    capacity_kw Nullable(Float64),
    vehicle_capacity Nullable(UInt32),
    version UInt64,
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS dim_devices
(
    id String,
    kind LowCardinality(String),
    site_id String,
    model LowCardinality(String),
    status LowCardinality(String),
    plate Nullable(String),
    refrigerated Nullable(Bool),
    cargo_min_c Nullable(Float64),
    cargo_max_c Nullable(Float64),
    driver_id Nullable(String),
    rated_kw Nullable(Float64),
    power_curve Nullable(String),
    kwp Nullable(Float64),
    version UInt64,
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS dim_drivers
(
    id String,
    name String,
    licence_number String,
    licence_class String,
    licence_expires Nullable(Date),
    version UInt64,
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;
