import { describe, expect, it } from 'vitest';
import { topicNames, topicSpecs } from './topics.ts';

describe('topics', () => {
  it('names the DESIGN topics, with an optional prefix', () => {
    expect(topicNames()).toEqual({
      truck: 'telemetry.truck',
      turbine: 'telemetry.turbine',
      solar: 'telemetry.solar',
      aggregates: 'telemetry.aggregates',
      alerts: 'telemetry.alerts',
      deviceState: 'telemetry.device-state',
      dlq: 'telemetry.dlq',
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
});
