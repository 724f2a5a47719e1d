import { describe, expect, it } from 'vitest';
import { isFleetgridError } from '../lib/errors.ts';
import { parseDuration, parseSimulatorConfig, parseSpeed, parseTime } from './config.ts';
import { simulateOptionsToConfig } from './main.ts';
import { defaultFromMs } from './runner.ts';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('simulate options', () => {
  it('parses durations, times and speeds as the CLI writes them', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250')).toBe(250);
    expect(parseTime('2026-03-01T00:00:00Z', NOW)).toBe(Date.UTC(2026, 2, 1));
    expect(parseTime('now-2h', NOW)).toBe(NOW - 7_200_000);
    expect(parseTime('now', NOW)).toBe(NOW);
    expect(parseTime('1772323200000', NOW)).toBe(1_772_323_200_000);
    expect(parseSpeed('max')).toBe('max');
    expect(parseSpeed('60')).toBe(60);
    for (const bad of [
      () => parseDuration('soon'),
      () => parseTime('yesterday', NOW),
      () => parseSpeed('-1'),
    ]) {
      expect(bad).toThrow(/not a|must be/);
    }
  });

  it('rejects unknown keys, empty fleets and ranges that end before they start', () => {
    for (const input of [
      { truks: 3 },
      { trucks: 0, turbines: 0, solar: 0 },
      { fromMs: NOW, toMs: NOW - 1 },
    ]) {
      try {
        parseSimulatorConfig(input);
        expect.unreachable();
      } catch (error) {
        expect(isFleetgridError(error, 'CONFIG_INVALID')).toBe(true);
      }
    }
  });

  it('turns command-line options into a config, with per-kind intervals and faults', () => {
    const config = parseSimulatorConfig(
      simulateOptionsToConfig(
        {
          trucks: '200',
          turbines: '50',
          solar: '100',
          interval: '2s',
          solarInterval: '10s',
          seed: '7',
          speed: '60',
          duration: '10m',
          faults: 'dup=1%,poison=0.001',
          manifest: 'out.json',
          manifestWindows: true,
          batchSize: '2000',
          maxInFlight: '4',
          partitions: '6',
        },
        NOW,
      ),
    );
    expect(config).toMatchObject({
      trucks: 200,
      turbines: 50,
      solar: 100,
      intervalMs: { truck: 2_000, turbine: 2_000, solar: 10_000 },
      seed: 7,
      speed: 60,
      durationMs: 600_000,
      manifest: true,
    });
    expect(config.faults).toMatchObject({ dup: 0.01, poison: 0.001, late: 0 });
  });

  it('starts in the past when it must catch up, and now when it runs live', () => {
    const live = parseSimulatorConfig({});
    expect(defaultFromMs(live, NOW)).toBe(NOW);
    expect(defaultFromMs(parseSimulatorConfig({ speed: 60, durationMs: 600_000 }), NOW)).toBe(
      NOW - 36_000_000,
    );
    expect(defaultFromMs(parseSimulatorConfig({ toMs: NOW }), NOW)).toBe(NOW - 86_400_000);
    // 40 devices, 40 000 events: 1 000 s of simulated time, with a 25 % margin.
    expect(defaultFromMs(parseSimulatorConfig({ count: 40_000 }), NOW)).toBe(NOW - 1_250_000 - 2_000);
  });
});
