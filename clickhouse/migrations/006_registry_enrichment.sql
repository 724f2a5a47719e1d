-- The registry fields the processors' join puts on every WindowAggregate, Alert and
-- DeviceState (docs/registry.md "Read side"): the device's model and driver in force when
-- the event was processed, and for an alert the version of the rule row that decided it.
-- Added columns, so rows written before this migration read as NULL (model, driver_id)
-- and 0 (rule_version, the built-in parameters): the query side falls back to the
-- dimension tables for a row without a model (docs/query.md "Groupings"). `IF NOT EXISTS`
-- makes a run interrupted halfway safe to repeat; the ADD is a metadata change on both
-- backends (no part is rewritten). The hourly and daily views list their columns and stay
-- as they are: they roll up per device and hour, where a driver can change mid-bucket, so
-- the groupings by model and driver read aggregates_1m.

ALTER TABLE aggregates_1m
    ADD COLUMN IF NOT EXISTS model LowCardinality(Nullable(String)) AFTER kind,
    ADD COLUMN IF NOT EXISTS driver_id LowCardinality(Nullable(String)) AFTER model;

ALTER TABLE alerts
    ADD COLUMN IF NOT EXISTS model LowCardinality(Nullable(String)) AFTER kind,
    ADD COLUMN IF NOT EXISTS driver_id LowCardinality(Nullable(String)) AFTER model,
    ADD COLUMN IF NOT EXISTS rule_version UInt64 DEFAULT 0 AFTER message;

ALTER TABLE device_state
    ADD COLUMN IF NOT EXISTS model LowCardinality(Nullable(String)) AFTER kind,
    ADD COLUMN IF NOT EXISTS driver_id LowCardinality(Nullable(String)) AFTER model;
