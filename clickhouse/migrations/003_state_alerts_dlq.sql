-- The CQRS entity view from telemetry.device-state: one row per device after merges,
-- newest by seq (per device, +1 per event, so it orders states even when two arrive
-- with the same last_seen). Read with FINAL or argMax(…, seq).
CREATE TABLE IF NOT EXISTS device_state
(
    device_id String,
    site_id LowCardinality(String),
    kind LowCardinality(String),
    last_seen DateTime64(3, 'UTC'),
    last_event_id String,
    seq UInt64,
    event_count UInt64,
    lat Nullable(Float64),
    lon Nullable(Float64),
    speed_kmh Nullable(Float32),
    heading_deg Nullable(Float32),
    engine_on Nullable(Bool),
    engine_temp_c Nullable(Float32),
    fuel_pct Nullable(Float32),
    odometer_km Nullable(Float64),
    cargo_temp_c Nullable(Float32),
    active_diagnostic_codes Array(String),
    status Nullable(String),
    power_kw Nullable(Float32),
    wind_speed_ms Nullable(Float32),
    ac_power_w Nullable(Float32),
    irradiance_wm2 Nullable(Float32),
    energy_today_kwh Nullable(Float64),
    open_alerts Array(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY device_id
SETTINGS non_replicated_deduplication_window = 10000;

-- Alert lifecycle from telemetry.alerts: RAISED then RESOLVED with the same alert_id.
-- Both transitions are inserted; the version `ts` (time of the transition) makes the
-- newest transition win, so `FINAL` gives each alert's current state while the
-- unmerged table still holds the history until merges fold it.
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id String,
    rule LowCardinality(String),
    device_id String,
    site_id LowCardinality(String),
    kind LowCardinality(String),
    state LowCardinality(String),
    severity LowCardinality(String),
    raised_at DateTime64(3, 'UTC'),
    resolved_at Nullable(DateTime64(3, 'UTC')),
    ts DateTime64(3, 'UTC'),
    value Nullable(Float64),
    threshold Nullable(Float64),
    message String,
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ts)
PARTITION BY toYYYYMM(raised_at)
ORDER BY (device_id, raised_at, alert_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- telemetry.dlq loaded for exploration. One row per DLQ record (its own partition and
-- offset are the key, so a redelivered DLQ record folds into the same row). The value
-- is kept as base64 so any bytes survive JSON and the SQL prompt; decode with
-- base64Decode(value_base64).
CREATE TABLE IF NOT EXISTS dead_letters
(
    error_code LowCardinality(String),
    error_message String,
    stage LowCardinality(String),
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset Int64,
    failed_at DateTime64(3, 'UTC'),
    dlq_partition UInt16,
    dlq_offset UInt64,
    key String,
    value_base64 String,
    value_size UInt32,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(failed_at)
ORDER BY (dlq_partition, dlq_offset)
SETTINGS non_replicated_deduplication_window = 10000;
