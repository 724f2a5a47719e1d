-- Operators' commands on alerts from alerts.commands (AlertCommand.avsc): the audit trail
-- and what the API folds into "acknowledged by/at" and "shelved until". One row per
-- command: the client's command id is the key, so a command written twice (a retried
-- produce, a replay) folds into one row. Read with FINAL.
CREATE TABLE IF NOT EXISTS alert_actions
(
    command_id String,
    alert_id String,
    action LowCardinality(String),
    rule LowCardinality(String),
    device_id String,
    by String,
    comment String,
    shelved_until Nullable(DateTime64(3, 'UTC')),
    silence_id Nullable(String),
    ts DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (alert_id, command_id)
SETTINGS non_replicated_deduplication_window = 10000;
