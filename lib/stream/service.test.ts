import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { createMetricsRegistry, metricValue } from '../metrics.ts';
import { retry } from '../retry.ts';
import { createLifetime, createReadiness } from './service.ts';

describe('service lifetime', () => {
  it('lets dozens of concurrent retries wait on one signal without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const lifetime = createLifetime();
      const retries = Array.from({ length: 40 }, () =>
        retry(
          async () => {
            throw new FleetgridError('KAFKA_UNAVAILABLE', 'broker down');
          },
          { policy: { baseMs: 1_000, capMs: 1_000 }, random: () => 0.9, signal: lifetime.signal },
        ).catch((error: unknown) => error),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      lifetime.abort();
      const outcomes = await Promise.all(retries);
      expect(outcomes.every((e) => e instanceof FleetgridError && e.code === 'TIMEOUT')).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('readiness', () => {
  it('waits for a dependency with backoff, not ready meanwhile, counting each failed attempt', async () => {
    const registry = createMetricsRegistry('t', { defaultMetrics: false });
    const lifetime = createLifetime();
    const readiness = createReadiness({
      prefix: 'fleetgrid_t',
      registry,
      log: silentLogger,
      signal: lifetime.signal,
      policy: { baseMs: 1, capMs: 2 },
    });
    let calls = 0;
    const value = await readiness.waitFor('registry', async () => {
      calls++;
      expect(readiness.ready).toBe(false);
      if (calls < 4) throw new FleetgridError('REGISTRY_UNAVAILABLE', 'connect ECONNREFUSED');
      return 'schemas';
    });
    expect(value).toBe('schemas');
    expect(
      await metricValue(registry, 'fleetgrid_t_dependency_wait_attempts_total', { dependency: 'registry' }),
    ).toBe(3);
    expect(await metricValue(registry, 'fleetgrid_t_ready')).toBe(0);
    readiness.setReady(true);
    expect(await metricValue(registry, 'fleetgrid_t_ready')).toBe(1);
  });

  it('gives up at once on a non-retriable failure, and with TIMEOUT when the service stops', async () => {
    const lifetime = createLifetime();
    const readiness = createReadiness({
      prefix: 'fleetgrid_u',
      registry: createMetricsRegistry('u', { defaultMetrics: false }),
      log: silentLogger,
      signal: lifetime.signal,
      policy: { baseMs: 5, capMs: 5 },
    });
    await expect(
      readiness.waitFor('kafka', async () => {
        throw new FleetgridError('CONFIG_INVALID', 'bad credentials');
      }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const waiting = readiness.waitFor('clickhouse', async () => {
      throw new FleetgridError('CLICKHOUSE_UNAVAILABLE', 'down');
    });
    setTimeout(() => lifetime.abort(), 20);
    await expect(waiting).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});
