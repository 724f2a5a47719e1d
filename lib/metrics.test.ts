import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, startMetricsServer } from './metrics.ts';

describe('startMetricsServer', () => {
  it('serves the health callback as JSON on /health, and /readyz from ready', async () => {
    let ready = false;
    let rows = 3;
    const server = await startMetricsServer(createMetricsRegistry('test', { defaultMetrics: false }), {
      port: 0,
      ready: () => ready,
      health: () => ({ ready, registry: { rows } }),
    });
    try {
      const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
      expect((await fetch(url('/readyz'))).status).toBe(503);
      const first = await fetch(url('/health'));
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toBe('application/json');
      expect(await first.json()).toEqual({ ready: false, registry: { rows: 3 } });
      ready = true;
      rows = 4;
      expect((await fetch(url('/readyz'))).status).toBe(200);
      expect(await (await fetch(url('/health'))).json()).toEqual({ ready: true, registry: { rows: 4 } });
    } finally {
      await server.close();
    }
  });

  it('has no /health without a health callback', async () => {
    const server = await startMetricsServer(createMetricsRegistry('test', { defaultMetrics: false }), {
      port: 0,
    });
    try {
      expect((await fetch(`http://127.0.0.1:${server.port}/health`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
