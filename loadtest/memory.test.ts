import { describe, expect, it } from 'vitest';
import {
  createMemorySampler,
  heapOf,
  type MemoryPoint,
  type MemoryReader,
  memoryFigure,
  memorySummaryLine,
  serviceMemory,
} from './memory.ts';
import { parsePrometheusText } from './probes.ts';

const MIB = 1_048_576;

const metricsText = (usedMiB: number, totalMiB: number) =>
  [
    '# HELP fleetgrid_nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
    '# TYPE fleetgrid_nodejs_heap_size_used_bytes gauge',
    `fleetgrid_nodejs_heap_size_used_bytes ${usedMiB * MIB}`,
    `fleetgrid_nodejs_heap_size_total_bytes ${totalMiB * MIB}`,
    'fleetgrid_nodejs_heap_space_size_used_bytes{space="old"} 123',
  ].join('\n');

const status = (rssKb: number) => `Name:\tnode\nVmPeak:\t 999999 kB\nVmRSS:\t  ${rssKb} kB\nThreads:\t11\n`;

describe('memory', () => {
  it("reads the heap gauges of a service's /metrics, and nothing from a service without them", () => {
    expect(heapOf(parsePrometheusText(metricsText(76, 232)))).toEqual({
      usedBytes: 76 * MIB,
      totalBytes: 232 * MIB,
    });
    expect(heapOf(parsePrometheusText('fleetgrid_processor_pauses_total 3\n'))).toBeUndefined();
  });

  it('summarises a series as first, last, min and max, skipping gaps', () => {
    expect(memoryFigure([undefined, 406, 380, 616, undefined, 590])).toEqual({
      first: 406,
      last: 590,
      min: 380,
      max: 616,
    });
    expect(memoryFigure([undefined])).toBeUndefined();
  });

  it('lists the pids a service ran under, in order', () => {
    const series: MemoryPoint[] = [
      { t: 0, pid: 10, rssMiB: 400 },
      { t: 1, pid: 10, rssMiB: 410 },
      { t: 2, pid: 22, rssMiB: 120 },
      { t: 3, pid: 22, rssMiB: 150, heapUsedMiB: 40, heapTotalMiB: 60 },
    ];
    const s = serviceMemory(series);
    expect(s.pids).toEqual([10, 22]);
    expect(s.rssMiB).toEqual({ first: 400, last: 150, min: 120, max: 410 });
    expect(s.heapUsedMiB).toEqual({ first: 40, last: 40, min: 40, max: 40 });
    expect(s.series).toHaveLength(4);
  });

  it('follows a restarted service under its new pid and leaves a gap while it is gone', async () => {
    let pid = 100;
    const rssKb = new Map([
      [100, 400 * 1024],
      [200, 130 * 1024],
    ]);
    let alive = true;
    const reader: MemoryReader = {
      status: (p) => {
        const kb = rssKb.get(p);
        if (!alive || kb === undefined) throw new Error('ENOENT');
        return status(kb);
      },
      metrics: async () => {
        if (!alive) throw new Error('ECONNREFUSED');
        return metricsText(pid === 100 ? 80 : 30, 200);
      },
    };
    const sampler = createMemorySampler(
      [{ name: 'processor', pid: () => pid, metricsUrl: 'http://127.0.0.1:1/metrics' }],
      1_000,
      reader,
    );
    await sampler.sample(0);
    alive = false;
    await sampler.sample(1); // killed, not restarted yet: no point at all
    alive = true;
    pid = 200;
    await sampler.sample(2.004);
    const memory = sampler.report();
    const processor = memory.services.processor!;
    expect(processor.series).toEqual([
      { t: 0, pid: 100, rssMiB: 400, heapUsedMiB: 80, heapTotalMiB: 200 },
      { t: 2, pid: 200, rssMiB: 130, heapUsedMiB: 30, heapTotalMiB: 200 },
    ]);
    expect(processor.pids).toEqual([100, 200]);
    expect(memorySummaryLine(memory)).toBe(
      'memory (MiB, first→last): processor RSS 400→130 (max 400), heap used 80→30 (min 30), heap total 200→200, 1 restart',
    );
  });

  it("takes a process's heap without /metrics from its own reading, and a service's without pid from /metrics", async () => {
    const reader: MemoryReader = { status: () => status(2048), metrics: async () => metricsText(5, 10) };
    const sampler = createMemorySampler(
      [
        { name: 'loadtest', pid: () => 7, heap: () => ({ usedBytes: 3 * MIB, totalBytes: 4 * MIB }) },
        { name: 'api:9464', metricsUrl: 'http://127.0.0.1:9464/metrics' },
      ],
      1_000,
      reader,
    );
    await sampler.sample(0);
    const { services } = sampler.report();
    expect(services.loadtest?.series).toEqual([{ t: 0, pid: 7, rssMiB: 2, heapUsedMiB: 3, heapTotalMiB: 4 }]);
    expect(services['api:9464']?.series).toEqual([{ t: 0, pid: 0, heapUsedMiB: 5, heapTotalMiB: 10 }]);
    expect(services['api:9464']?.rssMiB).toBeUndefined();
  });
});
