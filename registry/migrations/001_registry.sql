-- The fleet registry: master data and alert rule parameters (docs/registry.md).
-- Everything lives in the schema `registry` of the fleetgrid database. The migrator
-- (registry/migrate.ts) runs each file in one transaction and records it.

-- Every row's `version` comes from this one sequence: it grows on every insert and
-- update, per row in commit order (the row lock is held when the trigger draws it), and
-- it is never reused, not even when a row is deleted and created again. The API hands it
-- out as the ETag, and a read model may keep the row with the highest version.
CREATE SEQUENCE registry.change_version;

CREATE FUNCTION registry.stamp_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Set here, whatever the statement said: no writer can forge or rewind a version.
  NEW.version := nextval('registry.change_version');
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TABLE registry.sites (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('depot', 'wind_farm', 'solar_park')),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
  lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
  -- An IANA name (Europe/Amsterdam), validated by the service against the runtime's zone list.
  time_zone text NOT NULL,
  -- Plants: installed capacity. Depots: parking bays for vehicles.
  capacity_kw double precision CHECK (capacity_kw >= 0),
  vehicle_capacity integer CHECK (vehicle_capacity >= 0),
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL,
  -- Target of the devices' (site_id, site_kind) key: a device sits at a site of its kind.
  UNIQUE (id, kind),
  CHECK (kind = 'depot' OR vehicle_capacity IS NULL),
  CHECK (kind <> 'depot' OR capacity_kw IS NULL)
);

CREATE TABLE registry.drivers (
  id text PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  licence_number text NOT NULL UNIQUE CHECK (length(licence_number) BETWEEN 1 AND 40),
  -- Driving licence category (EU: C, CE, C1, …; US: CDL-A, …).
  licence_class text NOT NULL CHECK (length(licence_class) BETWEEN 1 AND 16),
  licence_expires date,
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE registry.devices (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('truck', 'turbine', 'solar')),
  site_id text NOT NULL,
  -- The kind of site the device's kind belongs to; with the key below, the database itself
  -- refuses a truck at a wind farm, and a site's kind cannot change under its devices.
  site_kind text NOT NULL,
  model text NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'maintenance', 'decommissioned')),
  -- trucks
  plate text,
  refrigerated boolean,
  cargo_min_c double precision,
  cargo_max_c double precision,
  driver_id text REFERENCES registry.drivers (id),
  -- turbines
  rated_kw double precision CHECK (rated_kw > 0),
  power_curve text,
  -- solar arrays
  kwp double precision CHECK (kwp > 0),
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL,
  FOREIGN KEY (site_id, site_kind) REFERENCES registry.sites (id, kind),
  CHECK (site_kind = CASE kind WHEN 'truck' THEN 'depot' WHEN 'turbine' THEN 'wind_farm' ELSE 'solar_park' END),
  CHECK (kind = 'truck' OR (plate IS NULL AND refrigerated IS NULL AND cargo_min_c IS NULL
                            AND cargo_max_c IS NULL AND driver_id IS NULL)),
  CHECK (kind <> 'truck' OR (plate IS NOT NULL AND refrigerated IS NOT NULL)),
  CHECK (refrigerated IS TRUE OR (cargo_min_c IS NULL AND cargo_max_c IS NULL)),
  CHECK (refrigerated IS NOT TRUE OR (cargo_min_c IS NOT NULL AND cargo_max_c IS NOT NULL
                                      AND cargo_min_c < cargo_max_c)),
  CHECK (kind = 'turbine' OR (rated_kw IS NULL AND power_curve IS NULL)),
  CHECK (kind <> 'turbine' OR (rated_kw IS NOT NULL AND power_curve IS NOT NULL)),
  CHECK (kind = 'solar' OR kwp IS NULL),
  CHECK (kind <> 'solar' OR kwp IS NOT NULL)
);
CREATE INDEX devices_site ON registry.devices (site_id);
-- A plate belongs to one vehicle on the road, and a driver drives one truck at a time;
-- a decommissioned truck frees both.
CREATE UNIQUE INDEX devices_plate ON registry.devices (plate) WHERE status <> 'decommissioned';
CREATE UNIQUE INDEX devices_driver ON registry.devices (driver_id) WHERE status <> 'decommissioned';

-- Parameters of the alert rules of processors/alerts/rules.ts, per scope. The most
-- specific enabled row wins: device, then site, then model, then kind, then the rule's
-- built-in defaults. `params` is the rule's complete parameter object, validated per
-- rule by the service (registry/rules.ts).
CREATE TABLE registry.alert_rules (
  id text PRIMARY KEY,
  rule_id text NOT NULL,
  scope text NOT NULL CHECK (scope IN ('kind', 'model', 'site', 'device')),
  scope_id text NOT NULL,
  -- Set for site and device scopes, so the database refuses rules about unknown sites and
  -- devices and keeps a site or device with rules from being deleted.
  site_id text REFERENCES registry.sites (id),
  device_id text REFERENCES registry.devices (id),
  params jsonb NOT NULL CHECK (jsonb_typeof(params) = 'object'),
  enabled boolean NOT NULL,
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL,
  CHECK (id = rule_id || ':' || scope || ':' || scope_id),
  CHECK ((scope = 'site') = (site_id IS NOT NULL) AND (site_id IS NULL OR site_id = scope_id)),
  CHECK ((scope = 'device') = (device_id IS NOT NULL) AND (device_id IS NULL OR device_id = scope_id)),
  CHECK (scope <> 'kind' OR scope_id IN ('truck', 'turbine', 'solar'))
);
CREATE INDEX alert_rules_site ON registry.alert_rules (site_id);
CREATE INDEX alert_rules_device ON registry.alert_rules (device_id);

CREATE TRIGGER stamp_version BEFORE INSERT OR UPDATE ON registry.sites
  FOR EACH ROW EXECUTE FUNCTION registry.stamp_version();
CREATE TRIGGER stamp_version BEFORE INSERT OR UPDATE ON registry.drivers
  FOR EACH ROW EXECUTE FUNCTION registry.stamp_version();
CREATE TRIGGER stamp_version BEFORE INSERT OR UPDATE ON registry.devices
  FOR EACH ROW EXECUTE FUNCTION registry.stamp_version();
CREATE TRIGGER stamp_version BEFORE INSERT OR UPDATE ON registry.alert_rules
  FOR EACH ROW EXECUTE FUNCTION registry.stamp_version();

-- What Debezium streams (docs/registry.md "CDC"): exactly these four tables. Debezium is
-- configured with publication.autocreate.mode=disabled and uses this one, so its role
-- needs no ownership of the tables, only REPLICATION and SELECT.
CREATE PUBLICATION fleetgrid_registry
  FOR TABLE registry.sites, registry.drivers, registry.devices, registry.alert_rules;
