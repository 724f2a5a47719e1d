/**
 * The query benchmarks' data (query/bench.ts, query/dashboard/bench.ts): 1,000 devices
 * (600 trucks at 10 depots, 300 turbines and 100 solar arrays at 10 plants) and 7 days of
 * 1-minute aggregates (10,080,000 rows), 15 minutes of 1 Hz raw samples per device, the
 * device states and 5,000 alerts, generated with INSERT … SELECT FROM numbers() into
 * `.data/bench/query-v2` once and reused by later runs (`fresh` regenerates). `days`
 * makes a longer history (90 days: 129,600,000 windows, issue 16) in a directory of its own.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/config.ts';
import type { ClickHouseBackend } from '../clickhouse/index.ts';
import { createEmbeddedBackend } from '../clickhouse/index.ts';
import { migrationVariables, parseSinkConfig } from '../sinks/config.ts';
import { migrate } from '../clickhouse/index.ts';

const VERSION = 'query-v2';
export const DEVICES = 1_000;
export const DAYS = 7;
const RAW_MINUTES = 15;
export const MINUTE = 60_000;
export const DAY = 86_400_000;

// Device d: truck-0000..0599, turbine-0600..0899, solar-0900..0999 (ids keep the device number).
const KINDS = [
  { kind: 'TRUCK', prefix: 'truck-', site: 'depot-', from: 0, to: 600 },
  { kind: 'TURBINE', prefix: 'turbine-', site: 'plant-', from: 600, to: 900 },
  { kind: 'SOLAR', prefix: 'solar-', site: 'plant-', from: 900, to: 1000 },
] as const;

const FIELDS: Record<string, [string, number][]> = {
  TRUCK: [
    ['lat', 52],
    ['lon', 4],
    ['speedKmh', 0],
    ['headingDeg', 180],
    ['engineTempC', 88],
    ['fuelPct', 50],
    ['odometerKm', 1000],
  ],
  TURBINE: [
    ['windSpeedMs', 9],
    ['rotorRpm', 14],
    ['powerKw', 0],
    ['pitchDeg', 2],
    ['nacelleTempC', 40],
    ['vibrationMmS', 2],
  ],
  SOLAR: [
    ['irradianceWm2', 700],
    ['panelTempC', 40],
    ['dcVoltageV', 600],
    ['dcCurrentA', 7],
    ['acPowerW', 0],
  ],
};
const DERIVED: Record<string, string> = {
  TRUCK: "'coveredSeconds', 60., 'distanceKm', v / 60, 'engineOnSeconds', 60., 'idleSeconds', 0.",
  TURBINE: "'coveredSeconds', 60., 'energyKwh', v / 60, 'availableSeconds', 60.",
  SOLAR: "'coveredSeconds', 60., 'energyKwh', v / 60000",
};

interface TimeSlice {
  from: number;
  minutes: number;
}

async function generate(backend: ClickHouseBackend, end: number, days: number): Promise<number> {
  const started = performance.now();
  await migrate(backend, migrationVariables(parseSinkConfig()));
  const start = end - days * DAY;
  // Inserted the way the sink writes (time slices, newest last), so parts stay ordered in
  // time and the minmax index prunes old parts for recent ranges: one insert per kind and
  // day for the older days, one per kind and hour for the last day.
  const slices: TimeSlice[] = [];
  for (let t = start; t < end - DAY; t += DAY) slices.push({ from: t, minutes: DAY / MINUTE });
  for (let t = end - DAY; t < end; t += 3_600_000) slices.push({ from: t, minutes: 60 });
  for (const slice of slices) {
    for (const k of KINDS) {
      const n = k.to - k.from;
      // v: the "main" value of the kind (speed, kW, W), varying by device and minute.
      const map = (f: (base: number, name: string) => string) =>
        `map(${FIELDS[k.kind]?.map(([name, base]) => `'${name}', ${f(base, name)}`).join(', ')})`;
      const main = (base: number, name: string) =>
        ['speedKmh', 'powerKw', 'acPowerW'].includes(name) ? 'v' : `${base}.`;
      await backend.exec(`INSERT INTO aggregates_1m (device_id, site_id, kind, window_start, window_end, revision, event_count, first_event_ts, last_event_ts, field_count, field_min, field_max, field_sum, derived, kafka_partition, kafka_offset)
SELECT device_id, site_id, '${k.kind}', ws, ws + INTERVAL 60 SECOND, 0, 60, ws, ws + INTERVAL 59 SECOND,
  ${map(() => 'toUInt64(60)')}, ${map((b, name) => `${main(b, name)} - 1`)}, ${map((b, name) => `${main(b, name)} + 1`)},
  ${map((b, name) => `${main(b, name)} * 60`)}, map(${DERIVED[k.kind]}), 0, number
FROM (
  SELECT number, ${k.from} + number % ${n} AS d,
    concat('${k.prefix}', leftPad(toString(d), 4, '0')) AS device_id, concat('${k.site}', toString(d % 10)) AS site_id,
    fromUnixTimestamp64Milli(toInt64(${slice.from} + intDiv(number, ${n}) * ${MINUTE}), 'UTC') AS ws,
    toFloat64(${k.kind === 'SOLAR' ? 1000 : 10} + cityHash64(${slice.from}, number) % 100 * ${k.kind === 'SOLAR' ? 30 : 1}) AS v
  FROM numbers(${n * slice.minutes})
) SETTINGS max_insert_threads = 2`);
    }
  }
  // 15 minutes of 1 Hz raw samples per device (raw series, asOf), and the state projection.
  const rawStart = end - RAW_MINUTES * MINUTE;
  const raw = RAW_MINUTES * 60;
  const rawSelect = (
    k: (typeof KINDS)[number],
    columns: string,
  ) => `SELECT toString(generateUUIDv4()), device_id, site_id, ts, seq, ${columns}, 1, 0, number
FROM (SELECT number, ${k.from} + number % ${k.to - k.from} AS d, concat('${k.prefix}', leftPad(toString(d), 4, '0')) AS device_id,
  concat('${k.site}', toString(d % 10)) AS site_id, intDiv(number, ${k.to - k.from}) AS seq,
  fromUnixTimestamp64Milli(toInt64(${rawStart} + seq * 1000), 'UTC') AS ts, toFloat32(cityHash64(number) % 100) AS v
  FROM numbers(${(k.to - k.from) * raw}))`;
  const [truck, turbine, solar] = KINDS;
  await backend.exec(
    `INSERT INTO truck_telemetry (event_id, device_id, site_id, ts, seq, lat, lon, speed_kmh, heading_deg, engine_temp_c, fuel_pct, odometer_km, engine_on, cargo_temp_c, schema_id, kafka_partition, kafka_offset) ${rawSelect(truck, '52.1, 4.3, v, 90, 88, 50, 1000 + seq / 100, true, NULL')}`,
  );
  await backend.exec(
    `INSERT INTO turbine_telemetry (event_id, device_id, site_id, ts, seq, wind_speed_ms, rotor_rpm, power_kw, pitch_deg, nacelle_temp_c, vibration_mm_s, status, schema_id, kafka_partition, kafka_offset) ${rawSelect(turbine, "9, 14, v * 20, 2, 40, 2, 'RUNNING'")}`,
  );
  await backend.exec(
    `INSERT INTO solar_telemetry (event_id, device_id, site_id, ts, seq, irradiance_wm2, panel_temp_c, dc_voltage_v, dc_current_a, ac_power_w, status, schema_id, kafka_partition, kafka_offset) ${rawSelect(solar, "700, 40, 600, 7, v * 40, 'PRODUCING'")}`,
  );
  await backend.exec(`INSERT INTO device_state (device_id, site_id, kind, last_seen, last_event_id, seq, event_count, active_diagnostic_codes, open_alerts, kafka_partition, kafka_offset)
SELECT device_id, site_id, kind, fromUnixTimestamp64Milli(toInt64(${end - 1000}), 'UTC'), '', 899, 900, [], [], 0, number
FROM (SELECT number, multiIf(number < 600, 'truck-', number < 900, 'turbine-', 'solar-') AS p,
  concat(p, leftPad(toString(number), 4, '0')) AS device_id, concat(if(number < 600, 'depot-', 'plant-'), toString(number % 10)) AS site_id,
  multiIf(number < 600, 'TRUCK', number < 900, 'TURBINE', 'SOLAR') AS kind FROM numbers(${DEVICES}))`);
  // A few thousand alerts over the week, a tenth of them still open.
  await backend.exec(`INSERT INTO alerts (alert_id, rule, device_id, site_id, kind, state, severity, raised_at, resolved_at, ts, value, threshold, message, kafka_partition, kafka_offset)
SELECT toString(generateUUIDv4()), 'truck.overspeed', concat('truck-', leftPad(toString(number % 600), 4, '0')), 'depot-0', 'TRUCK',
  if(number % 10 = 0, 'RAISED', 'RESOLVED'), 'WARNING', fromUnixTimestamp64Milli(toInt64(${start} + number * 120000), 'UTC') AS r,
  if(number % 10 = 0, NULL, r + INTERVAL 60 SECOND), r, 95, 90, 'overspeed', 0, number FROM numbers(5000)`);
  return (performance.now() - started) / 1000;
}

export interface BenchData {
  engine: ClickHouseBackend;
  /** The end of the generated data (epoch ms, a whole minute). */
  end: number;
  /** Rows of aggregates_1m. */
  rows: number;
  /** Seconds the generation took in this run; null when the data was reused. */
  generationSeconds: number | null;
  /** The data directory (the engine's is `<dir>/ch`). */
  dir: string;
}

/** Opens the benchmark data, generating it first when it is missing (or `fresh`). */
export async function openBenchData(options: { fresh?: boolean; days?: number } = {}): Promise<BenchData> {
  const days = options.days ?? DAYS;
  const dir = join(PROJECT_ROOT, '.data', 'bench', days === DAYS ? VERSION : `${VERSION}-${days}d`);
  const marker = join(dir, 'generated.json');
  if (options.fresh) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const engine = await createEmbeddedBackend({
    mode: 'embedded',
    dataDir: join(dir, 'ch'),
    database: 'fleetgrid',
  });
  let generationSeconds: number | null = null;
  if (!existsSync(marker)) {
    // Data ends at the current minute so "the last 24 h" (the API's default) is full of it.
    const end = Math.floor(Date.now() / MINUTE) * MINUTE;
    process.stderr.write(`generating ${DEVICES} devices × ${days} days of 1-minute aggregates in ${dir} …\n`);
    generationSeconds = await generate(engine, end, days);
    writeFileSync(
      marker,
      JSON.stringify({ end, generatedAt: new Date().toISOString(), seconds: generationSeconds }),
    );
  }
  // Data generated by an older revision gets the newer migrations (the rollup tables).
  else await migrate(engine, migrationVariables(parseSinkConfig()));
  const { end } = JSON.parse(readFileSync(marker, 'utf8')) as { end: number };
  const [{ rows } = { rows: 0 }] = await engine.query<{ rows: string }>(
    'SELECT count() AS rows FROM aggregates_1m',
  );
  return { engine, end, rows: Number(rows), generationSeconds, dir };
}
