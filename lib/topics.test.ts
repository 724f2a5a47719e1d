import { describe, expect, it } from 'vitest';
import { topicNames, topicSpecs, withReplication } from './topics.ts';

describe('topics', () => {
  it('names the docs/design.md topics, with an optional prefix', () => {
    expect(topicNames()).toEqual({
      truck: 'telemetry.truck',
      turbine: 'telemetry.turbine',
      solar: 'telemetry.solar',
      aggregates: 'telemetry.aggregates',
      alerts: 'telemetry.alerts',
      deviceState: 'telemetry.device-state',
      dlq: 'telemetry.dlq',
      commands: 'alerts.commands',
    });
    expect(topicNames('t-x.').dlq).toBe('t-x.telemetry.dlq');
  });

  it('compacts only the device-state topic', () => {
    const specs = topicSpecs('', 6);
    const compacted = specs
      .filter((spec) => spec.config['cleanup.policy'] === 'compact')
      .map((spec) => spec.name);
    expect(compacted).toEqual(['telemetry.device-state']);
    expect(specs.every((spec) => spec.partitions >= 1)).toBe(true);
  });

  it('keeps raw events a week in development, and for ever with zstd in production', () => {
    const retentionOf = (profile: 'development' | 'production') =>
      Object.fromEntries(topicSpecs('', 6, { retention: profile }).map((spec) => [spec.name, spec.config]));
    const development = retentionOf('development');
    expect(development['telemetry.truck']).toEqual({
      'cleanup.policy': 'delete',
      'retention.ms': String(7 * 86_400_000),
    });
    expect(development['telemetry.truck']?.['compression.type']).toBeUndefined();
    const production = retentionOf('production');
    for (const raw of ['telemetry.truck', 'telemetry.turbine', 'telemetry.solar', 'telemetry.alerts']) {
      expect(production[raw]).toMatchObject({
        'retention.ms': '-1',
        'retention.bytes': '-1',
        'compression.type': 'zstd',
      });
    }
    expect(production['telemetry.aggregates']?.['retention.ms']).toBe(String(90 * 86_400_000));
    // Compaction and the dead letters do not depend on the profile.
    expect(production['telemetry.device-state']).toEqual(development['telemetry.device-state']);
    expect(production['telemetry.dlq']).toEqual(development['telemetry.dlq']);
  });

  it('leaves replication to the broker unless configured, then sets it on every topic', () => {
    const defaults = topicSpecs('', 6);
    expect(defaults.every((spec) => spec.replicationFactor === undefined)).toBe(true);
    expect(defaults.some((spec) => 'min.insync.replicas' in spec.config)).toBe(false);
    const replicated = topicSpecs('', 6, {
      replicationFactor: 3,
      minInsyncReplicas: 2,
      retention: 'development',
    });
    for (const spec of replicated) {
      expect(spec.replicationFactor, spec.name).toBe(3);
      expect(spec.config['min.insync.replicas'], spec.name).toBe('2');
    }
    const cdc = withReplication(
      [{ name: 'registry.sites', partitions: 1, config: { 'cleanup.policy': 'compact' } }],
      {
        replicationFactor: 2,
        retention: 'production',
      },
    );
    expect(cdc).toEqual([
      {
        name: 'registry.sites',
        partitions: 1,
        replicationFactor: 2,
        config: { 'cleanup.policy': 'compact' },
      },
    ]);
  });
});
