import { describe, expect, it } from 'vitest';
import {
  backpressureOf,
  meanInsertMs,
  parseProcStat,
  parseProcStatusRss,
  parseProducerPerformance,
  parsePrometheusText,
  sumMetric,
} from './probes.ts';

describe('probes', () => {
  it('parses Prometheus text with labels, escapes and comments', () => {
    const samples = parsePrometheusText(
      [
        '# HELP fleetgrid_processor_pauses_total Pause decisions',
        '# TYPE fleetgrid_processor_pauses_total counter',
        'fleetgrid_processor_pauses_total{reason="buffer",service="processor"} 3',
        'fleetgrid_processor_pauses_total{reason="registry \\"down\\""} 2',
        'fleetgrid_processor_paused_partitions 1',
        'fleetgrid_sink_partition_pauses_total{topic="t"} 4',
        'fleetgrid_sink_partition_resumes_total{topic="t"} 3',
        'some_histogram_bucket{le="+Inf"} 7',
        '',
      ].join('\n'),
    );
    expect(samples[1]?.labels.reason).toBe('registry "down"');
    expect(sumMetric(samples, 'fleetgrid_processor_pauses_total')).toBe(5);
    // paused now: the processors' gauge (1) plus the sink's pauses − resumes (4 − 3).
    expect(backpressureOf(samples)).toEqual({ pauses: 9, paused: 2 });
  });

  it('derives the mean insert time of the sink from its histogram', () => {
    const samples = parsePrometheusText(
      [
        'fleetgrid_sink_insert_duration_seconds_sum{table="a"} 1.5',
        'fleetgrid_sink_insert_duration_seconds_sum{table="b"} 0.5',
        'fleetgrid_sink_insert_duration_seconds_count{table="a"} 10',
        'fleetgrid_sink_insert_duration_seconds_count{table="b"} 10',
      ].join('\n'),
    );
    expect(meanInsertMs(samples)).toBeCloseTo(100);
    expect(meanInsertMs([])).toBeUndefined();
  });

  it('reads CPU seconds from /proc/<pid>/stat even when the name holds spaces and parentheses', () => {
    const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0 100 1000 200';
    expect(parseProcStat(stat, 100)).toEqual({ cpuS: 3 });
    expect(parseProcStat('garbage')).toBeUndefined();
  });

  it('reads the resident set size from /proc/<pid>/status', () => {
    expect(parseProcStatusRss('Name:\tnode\nVmRSS:\t  204800 kB\nThreads: 11\n')).toBe(204_800 * 1024);
    expect(parseProcStatusRss('Name: x\n')).toBeUndefined();
  });

  it('takes the final ProducerPerformance summary, not an interim line', () => {
    const output = [
      '223681 records sent, 44727.2 records/sec (43.68 MB/sec), 486.4 ms avg latency, 722.0 ms max latency.',
      '1000000 records sent, 45045.045045 records/sec (43.99 MB/sec), 423.56 ms avg latency, 812.00 ms max latency, 420 ms 50th, 700 ms 95th, 780 ms 99th, 810 ms 99.9th.',
    ].join('\n');
    expect(parseProducerPerformance(output)).toEqual({
      records: 1_000_000,
      recordsPerS: 45045.045045,
      mbPerS: 43.99,
      avgLatencyMs: 423.56,
      maxLatencyMs: 812,
      p50Ms: 420,
      p95Ms: 700,
      p99Ms: 780,
    });
    expect(parseProducerPerformance(output.split('\n')[0] as string)).toBeUndefined();
  });
});
