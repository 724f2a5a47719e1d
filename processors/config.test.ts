import { describe, expect, it } from 'vitest';
import { parseDuration, parseProcessorConfig } from './config.ts';
import { optionsToConfig } from './runner/main.ts';

describe('processor config', () => {
  it('fills defaults: the docs/design.md group, 5 s checkpoints, no metrics server', () => {
    const config = parseProcessorConfig({});
    expect(config.groupId).toBe('fleetgrid-processors');
    expect(config.checkpointIntervalMs).toBe(1_000);
    expect(config.metricsPort).toBeNull();
  });

  it('rejects unknown keys so a typo never falls back to a default', () => {
    expect(() => parseProcessorConfig({ checkpointIntervalMS: 10 })).toThrow(/CONFIG|checkpointIntervalMS/);
  });

  it('parses durations with units', () => {
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('250')).toBe(250);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });

  it('maps command-line options onto core and runner options', () => {
    const input = optionsToConfig({
      windowSize: '60s',
      grace: '30s',
      maxLateness: '1h',
      metricsPort: '0',
      checkpointInterval: '2s',
    });
    expect(input).toEqual({
      core: { windowSizeMs: 60_000, graceMs: 30_000, maxLatenessMs: 3_600_000 },
      metricsPort: 0,
      checkpointIntervalMs: 2_000,
    });
    expect(parseProcessorConfig(input).metricsPort).toBe(0);
  });
});
