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

  it('joins the registry by default: unknown devices quarantined, a 10 s change lead', () => {
    const config = parseProcessorConfig({});
    expect(config.registryJoin).toBe(true);
    expect(config.unknownDevice).toBe('quarantine');
    expect(config.changeLeadMs).toBe(10_000);
    expect(config.registryRestoreTimeoutMs).toBeGreaterThan(0);
    expect(parseProcessorConfig({ unknownDevice: 'accept' }).unknownDevice).toBe('accept');
    expect(() => parseProcessorConfig({ unknownDevice: 'drop' })).toThrow(/unknownDevice/);
  });

  it('maps the registry join options of the command line', () => {
    const input = optionsToConfig({
      unknownDevice: 'accept',
      changeLead: '2s',
      registryRestoreTimeout: '1m',
      registryJoin: false,
    });
    expect(input).toMatchObject({
      unknownDevice: 'accept',
      changeLeadMs: 2_000,
      registryRestoreTimeoutMs: 60_000,
      registryJoin: false,
    });
    expect(parseProcessorConfig(input).registryJoin).toBe(false);
    // Commander's default for --no-registry-join is true: only a given option changes the config.
    expect(optionsToConfig({ registryJoin: true })).not.toHaveProperty('registryJoin');
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
