import { describe, expect, it } from 'vitest';
import { PROBE_PATH, probeQueryApi, queryApiReport, queryLatency, type QuerySample } from './query-probe.ts';

describe('query probe', () => {
  it('gives percentiles of the answered requests and counts the failed ones apart', () => {
    const samples: QuerySample[] = [
      ...Array.from({ length: 99 }, (_, i) => ({ t: i / 10, ms: 10 + i, ok: true, status: 200 })),
      { t: 9.9, ms: 900, ok: true, status: 200 },
      { t: 10, ms: 10_000, ok: false, status: 0 },
    ];
    expect(queryLatency(samples)).toEqual({
      requests: 101,
      errors: 1,
      errorStatuses: { 0: 1 },
      p50Ms: 59,
      p95Ms: 104,
      p99Ms: 108,
      maxMs: 900,
    });
    expect(queryLatency([]).p99Ms).toBeUndefined();
  });

  it('reports each phase by the time its requests were sent', () => {
    const samples: QuerySample[] = [
      { t: 1, ms: 20, ok: true, status: 200 },
      { t: 31, ms: 400, ok: true, status: 200 },
      { t: 45, ms: 0, ok: false, status: 503 },
      { t: 61, ms: 30, ok: true, status: 200 },
    ];
    const report = queryApiReport('http://127.0.0.1:1', samples, [
      { label: 'before spike', startS: 0, endS: 30 },
      { label: 'spike', startS: 30, endS: 60 },
      { label: 'after spike', startS: 60, endS: 90 },
    ]);
    expect(report.requests).toBe(4);
    expect(report.phases.map((p) => [p.label, p.requests, p.errors, p.p99Ms])).toEqual([
      ['before spike', 1, 0, 20],
      ['spike', 2, 1, 400],
      ['after spike', 1, 0, 30],
    ]);
  });

  it('asks the fleet summary with the given headers and marks a refused answer as an error', async () => {
    const asked: { url: string; auth: string | null }[] = [];
    const fake = (status: number) =>
      (async (url: string | URL | Request, init?: RequestInit) => {
        asked.push({ url: String(url), auth: new Headers(init?.headers).get('authorization') });
        return new Response('{}', { status });
      }) as typeof fetch;
    const now = Date.UTC(2026, 11, 2, 1, 0);
    const ok = await probeQueryApi(
      'http://127.0.0.1:8080',
      1.234,
      { authorization: 'Bearer x' },
      fake(200),
      now,
    );
    const refused = await probeQueryApi('http://127.0.0.1:8080', 2, {}, fake(503), now);
    expect(ok).toMatchObject({ t: 1.23, ok: true, status: 200 });
    expect(ok.ms).toBeGreaterThanOrEqual(0);
    expect(refused).toMatchObject({ ok: false, status: 503 });
    // The API takes ISO times only: the last 15 minutes before `now`.
    expect(asked[0]).toEqual({
      url: `http://127.0.0.1:8080${PROBE_PATH}?from=2026-12-02T00%3A45%3A00.000Z`,
      auth: 'Bearer x',
    });
  });
});
