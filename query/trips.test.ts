import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/config.ts';
import { ALERT_RULES } from '../processors/alerts/rules.ts';
import { DEFAULT_CORE_CONFIG } from '../processors/core/config.ts';
import { requestPath } from './client.ts';
import { tripsCsv } from './export.ts';
import { renderTrips } from './format.ts';
import { grafanaTripsSql } from './sql-trips.ts';
import { TRIP_RULES } from './trip-rules.ts';
import { parseTripId, TRIP_FIELDS, tripId, tripOfRow } from './trips.ts';

const row = {
  start_ms: Date.UTC(2026, 0, 1, 8),
  end_ms: Date.UTC(2026, 0, 1, 9),
  start_lat: 52,
  start_lon: 4.5,
  end_lat: 52.5,
  end_lon: 4.75,
  samples: 3601,
  distance_km: 55.5000004,
  driving_ms: 3_000_000,
  idle_ms: 600_000,
  max_speed_kmh: 98,
  speed_time_sum: 60 * 3_600_000,
  harsh_brakings: 2,
  overspeed_ms: 45_000,
  fuel_used_pct: 3.25,
  cargo_excursions: 1,
  cargo_excursion_ms: 120_000,
  max_cargo_temp_c: 9.25,
  next_ms: Date.UTC(2026, 0, 1, 9, 0, 1),
  next_engine_on: false,
};

describe('trip rules', () => {
  it('take their thresholds from the alert rules and the window processor, not copies', () => {
    const overspeed = ALERT_RULES.find((r) => r.id === 'truck.overspeed');
    const harsh = ALERT_RULES.find((r) => r.id === 'truck.harsh_braking');
    const cargo = ALERT_RULES.find((r) => r.id === 'truck.cargo_temp_breach');
    expect(overspeed?.type === 'sustained' && overspeed.when[0]?.value).toBe(TRIP_RULES.overspeedKmh);
    expect(harsh?.type === 'drop' && [harsh.minDrop, harsh.maxGapMs]).toEqual([
      TRIP_RULES.harshDropKmh,
      TRIP_RULES.harshMaxGapMs,
    ]);
    expect(cargo?.type === 'sustained' && cargo.when[0]?.value).toBe(TRIP_RULES.cargoMaxC);
    expect(TRIP_RULES.idleSpeedKmh).toBe(DEFAULT_CORE_CONFIG.idleSpeedKmh);
  });
});

describe('trip ids', () => {
  it('round-trip a device id (with colons) and a start', () => {
    const id = tripId('fleet:truck-7', 1_764_633_600_000);
    expect(id).toBe('fleet:truck-7:1764633600000');
    expect(parseTripId(id)).toEqual({ deviceId: 'fleet:truck-7', startMs: 1_764_633_600_000 });
  });

  it('refuse what is not a trip id', () => {
    for (const bad of ['truck-7', 'truck-7:', ':123', 'truck 7:123', '-x:123', 'truck-7:12a'])
      expect(parseTripId(bad)).toBeUndefined();
  });
});

describe('a trip from its row', () => {
  it('shapes every figure, with the time-weighted mean speed and how it ended', () => {
    const trip = tripOfRow('truck-7', row);
    expect(trip).toEqual({
      tripId: `truck-7:${row.start_ms}`,
      deviceId: 'truck-7',
      startedAt: '2026-01-01T08:00:00.000Z',
      endedAt: '2026-01-01T09:00:00.000Z',
      startLat: 52,
      startLon: 4.5,
      endLat: 52.5,
      endLon: 4.75,
      endedBy: 'engine_off',
      durationS: 3600,
      drivingS: 3000,
      idleS: 600,
      distanceKm: 55.5,
      maxSpeedKmh: 98,
      avgSpeedKmh: 60,
      harshBrakings: 2,
      overspeedS: 45,
      fuelUsedPct: 3.25,
      cargoExcursions: 1,
      cargoExcursionS: 120,
      maxCargoTempC: 9.25,
      samples: 3601,
    });
    expect(Object.keys(trip)).toEqual([...TRIP_FIELDS]);
    expect(tripOfRow('t', { ...row, next_engine_on: true }).endedBy).toBe('silence');
    expect(tripOfRow('t', { ...row, next_ms: 0 }).endedBy).toBe('open');
    expect(tripOfRow('t', { ...row, max_cargo_temp_c: null }).maxCargoTempC).toBeNull();
  });
});

describe('trips in the CLI and CSV', () => {
  const answer = {
    deviceId: 'truck-7',
    from: '2026-01-01T00:00:00.000Z',
    to: '2026-01-02T00:00:00.000Z',
    truncated: false,
    trips: [tripOfRow('truck-7', row)],
  };

  it('export one line per trip with every field', () => {
    const lines = tripsCsv(answer).trimEnd().split('\r\n');
    expect(lines[0]).toBe(TRIP_FIELDS.join(','));
    expect(lines[1]).toContain(`truck-7:${row.start_ms},truck-7,2026-01-01T08:00:00.000Z,`);
    expect(lines).toHaveLength(2);
  });

  it('print a table with the trip and its figures, and ask the right path', () => {
    const text = renderTrips(answer);
    expect(text).toContain('truck-7 trips 2026-01-01T00:00:00.000Z');
    expect(text).toContain(`truck-7:${row.start_ms}`);
    expect(text).toContain('engine_off');
    expect(requestPath('trips', { id: 'truck-7', params: { from: '-7d', to: undefined } })).toBe(
      '/api/v1/devices/truck-7/trips?from=-7d',
    );
  });
});

describe('the Grafana trips table', () => {
  interface Panel {
    title: string;
    targets?: { refId: string; rawSql?: string }[];
    options?: { layers?: { name: string; filterData?: { options?: string } }[] };
    fieldConfig: {
      overrides: { matcher: { options: string }; properties: { id: string; value: unknown }[] }[];
    };
  }
  const fleet = JSON.parse(
    readFileSync(join(PROJECT_ROOT, 'infra/grafana/dashboards/fleet.json'), 'utf8'),
  ) as {
    uid: string;
    panels: Panel[];
  };
  const panel = fleet.panels.find((p) => p.title === 'Trips in the range') as Panel;

  it('runs the same statement as the API (the rules in one place)', () => {
    expect(panel.targets?.[0]?.rawSql).toBe(grafanaTripsSql());
  });

  it('links a trip to this dashboard on its truck and its exact range, its epoch ms columns hidden', () => {
    /** Grafana's `${name}` syntax, spelled out (not a template placeholder). */
    const grafanaVar = (name: string) => `\${${name}}`;
    const property = (field: string, id: string) =>
      panel.fieldConfig.overrides
        .filter((o) => o.matcher.options === field)
        .flatMap((o) => o.properties)
        .find((p) => p.id === id)?.value;
    const [link] = property('device_id', 'links') as { url: string }[];
    const url = new URL(link?.url ?? '', 'http://grafana');
    expect(url.pathname.startsWith(`/d/${fleet.uid}/`)).toBe(true);
    expect(url.searchParams.get('from')).toBe(grafanaVar('__data.fields.from_ms'));
    expect(url.searchParams.get('to')).toBe(grafanaVar('__data.fields.to_ms'));
    expect(url.searchParams.get('var-truck')).toBe(grafanaVar('__data.fields.device_id'));
    expect(link?.url).not.toContain('__url_time_range');
    expect([property('from_ms', 'custom.hidden'), property('to_ms', 'custom.hidden')]).toEqual([true, true]);
    expect(grafanaTripsSql()).toMatch(/toString\(start_ms\) AS from_ms, toString\(end_ms\) AS to_ms\nFROM/);
  });

  it("the map draws the selected trucks' raw positions in the range as a Track layer", () => {
    const map = fleet.panels.find((p) => p.title === 'Truck positions') as Panel;
    const track = map.options?.layers?.find((l) => l.name === 'Track');
    const sql = map.targets?.find((t) => t.refId === track?.filterData?.options)?.rawSql ?? '';
    // Millisecond bounds: the link's range holds the trip's first and last samples exactly.
    expect(sql).toContain('FROM truck_telemetry FINAL');
    expect(sql).toContain('$__timeFilter_ms(ts)');
    expect(sql).toContain(`$__conditionalAll(device_id IN (\${truck:singlequote}), $truck)`);
  });
});
