import { describe, expect, it } from 'vitest';
import { rawRetentionMs, topicSpecs } from '../lib/topics.ts';
import { registryHistoryShortfalls, registryTopicNames, registryTopicSpecs } from './topics.ts';

describe('registryTopicSpecs', () => {
  it('keeps every version of a row at least as long as the raw topics keep events (development)', () => {
    const policy = { retention: 'development' as const };
    const raw = topicSpecs('p.', 6, policy).find((s) => s.name === 'p.telemetry.truck')!;
    for (const spec of registryTopicSpecs('p.', policy)) {
      expect(spec.config['cleanup.policy']).toBe('compact');
      expect(spec.config['min.compaction.lag.ms'], spec.name).toBe(raw.config['retention.ms']);
      expect(Number(spec.config['min.compaction.lag.ms'])).toBe(rawRetentionMs(policy));
    }
  });

  it('never compacts when the raw topics keep events for ever (production), and follows replication', () => {
    const policy = { retention: 'production' as const, replicationFactor: 3, minInsyncReplicas: 2 };
    const raw = topicSpecs('', 6, policy).find((s) => s.name === 'telemetry.truck')!;
    expect(raw.config['retention.ms']).toBe('-1');
    const specs = registryTopicSpecs('', policy);
    expect(specs.map((s) => s.name).sort()).toEqual(Object.values(registryTopicNames('')).sort());
    for (const spec of specs) {
      expect(spec.config['min.compaction.lag.ms']).toBe('9223372036854775807');
      expect(spec.replicationFactor).toBe(3);
      expect(spec.config['min.insync.replicas']).toBe('2');
      expect(spec.partitions).toBe(1);
    }
  });
});

describe('registryHistoryShortfalls', () => {
  it('names the existing registry topics that keep less history than the rule asks', () => {
    const specs = registryTopicSpecs('p.', { retention: 'development' });
    const week = String(7 * 86_400_000);
    const existing = new Map<string, string | null>([
      ['p.registry.sites', week],
      ['p.registry.devices', '60000'],
      ['p.registry.drivers', null],
      ['p.registry.rules', '9223372036854775807'],
    ]);
    expect(registryHistoryShortfalls(specs, existing)).toEqual([
      { topic: 'p.registry.devices', minCompactionLagMs: '60000', wanted: week },
      { topic: 'p.registry.drivers', minCompactionLagMs: null, wanted: week },
    ]);
    expect(registryHistoryShortfalls(specs, new Map())).toEqual([]);
  });
});
