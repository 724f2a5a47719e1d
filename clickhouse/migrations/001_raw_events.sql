-- Raw device events, one table per record type (DESIGN §3). Partitioned by day so TTL
-- drops whole parts and per-day queries prune; ordered by (device_id, ts, event_id)
-- because every read is "one device over a time range". ReplacingMergeTree with
-- event_id in the key folds a device's resend of the same event (same ts, same id) at
-- merge time; redelivery by Kafka is removed at insert time by the deduplication token,
-- so count() is exact without FINAL. {{RAW_TTL_DAYS}} is filled in by the migration
-- runner from the sink config (sinks/config.ts rawTtlDays).

CREATE TABLE IF NOT EXISTS truck_telemetry
(
    event_id String,
    device_id LowCardinality(String),
    site_id LowCardinality(String),
    ts DateTime64(3, 'UTC'),
    seq UInt64,
    lat Float64,
    lon Float64,
    speed_kmh Float32,
    heading_deg Float32,
    engine_temp_c Float32,
    fuel_pct Float32,
    odometer_km Float64,
    engine_on Bool,
    cargo_temp_c Nullable(Float32),
    schema_id UInt32,
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (device_id, ts, event_id)
TTL toDateTime(ts) + INTERVAL {{RAW_TTL_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS truck_engine_events
(
    event_id String,
    device_id LowCardinality(String),
    site_id LowCardinality(String),
    ts DateTime64(3, 'UTC'),
    seq UInt64,
    engine_on Bool,
    schema_id UInt32,
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (device_id, ts, event_id)
TTL toDateTime(ts) + INTERVAL {{RAW_TTL_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS truck_diagnostics
(
    event_id String,
    device_id LowCardinality(String),
    site_id LowCardinality(String),
    ts DateTime64(3, 'UTC'),
    seq UInt64,
    code LowCardinality(String),
    severity LowCardinality(String),
    description String,
    active Bool,
    schema_id UInt32,
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (device_id, ts, event_id)
TTL toDateTime(ts) + INTERVAL {{RAW_TTL_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS turbine_telemetry
(
    event_id String,
    device_id LowCardinality(String),
    site_id LowCardinality(String),
    ts DateTime64(3, 'UTC'),
    seq UInt64,
    wind_speed_ms Float32,
    rotor_rpm Float32,
    power_kw Float32,
    pitch_deg Float32,
    nacelle_temp_c Float32,
    vibration_mm_s Float32,
    status LowCardinality(String),
    schema_id UInt32,
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (device_id, ts, event_id)
TTL toDateTime(ts) + INTERVAL {{RAW_TTL_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS solar_telemetry
(
    event_id String,
    device_id LowCardinality(String),
    site_id LowCardinality(String),
    ts DateTime64(3, 'UTC'),
    seq UInt64,
    irradiance_wm2 Float32,
    panel_temp_c Float32,
    dc_voltage_v Float32,
    dc_current_a Float32,
    ac_power_w Float32,
    status LowCardinality(String),
    schema_id UInt32,
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (device_id, ts, event_id)
TTL toDateTime(ts) + INTERVAL {{RAW_TTL_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 10000;
