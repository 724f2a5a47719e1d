import { describe, expect, it } from 'vitest';
import { RAW_TABLES } from './catalog.ts';
import {
  backpressureOf,
  computeFreshness,
  computeLag,
  metricsTarget,
  parsePrometheusText,
} from './health.ts';

describe('computeLag', () => {
  it('sums end minus committed per partition, counting uncommitted partitions from their start', () => {
    const lag = computeLag(
      'g',
      [
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '90' },
            { partition: 1, offset: '-1' },
          ],
        },
      ],
      new Map([
        [
          't',
          [
            { partition: 1, high: '50', low: '20' },
            { partition: 0, high: '100', low: '0' },
          ],
        ],
      ]),
    );
    expect(lag).toEqual({
      groupId: 'g',
      lag: 40,
      partitions: [
        { topic: 't', partition: 0, committed: 90, end: 100, lag: 10 },
        { topic: 't', partition: 1, committed: null, end: 50, lag: 30 },
      ],
    });
  });

  it('reports no lag for a group without committed topics', () => {
    expect(computeLag('g', [], new Map()).lag).toBe(0);
  });
});

describe('computeFreshness', () => {
  const now = Date.UTC(2026, 0, 1, 12);
  it('takes the newest raw event time and ignores empty tables', () => {
    const f = computeFreshness(
      [
        { source: 'truck_telemetry', newest_ms: String(now - 5_000), rows: '10' },
        { source: 'solar_telemetry', newest_ms: '0', rows: '0' },
        { source: 'turbine_telemetry', newest_ms: String(now - 2_000), rows: '3' },
        { source: 'device_state', newest_ms: String(now - 1_000), rows: '2' },
      ],
      now,
      RAW_TABLES,
    );
    expect(f.seconds).toBe(2);
    expect(f.newestEvent).toBe(new Date(now - 2_000).toISOString());
    expect(f.sources.find((s) => s.source === 'solar_telemetry')).toEqual({
      source: 'solar_telemetry',
      newest: null,
      seconds: null,
      rows: 0,
    });
  });

  it('says null, not decades, when nothing is stored', () => {
    expect(
      computeFreshness([{ source: 'truck_telemetry', newest_ms: '0', rows: '0' }], now, RAW_TABLES),
    ).toMatchObject({
      newestEvent: null,
      seconds: null,
    });
  });
});

const SINK_METRICS = `# HELP fleetgrid_sink_partition_pauses_total Pauses
# TYPE fleetgrid_sink_partition_pauses_total counter
fleetgrid_sink_partition_pauses_total{topic="telemetry.truck",service="sink"} 3
fleetgrid_sink_partition_pauses_total{topic="telemetry.solar",service="sink"} 1
fleetgrid_sink_partition_resumes_total{topic="telemetry.truck",service="sink"} 3
fleetgrid_sink_buffered_rows_added_total{service="sink"} 1000
fleetgrid_sink_buffered_rows_removed_total{service="sink"} 750
fleetgrid_sink_insert_duration_seconds_bucket{le="+Inf",table="x \\"quoted\\""} 5
`;

describe('service metrics', () => {
  it('parses the Prometheus text format with labels and escapes', () => {
    const samples = parsePrometheusText(SINK_METRICS);
    expect(samples).toHaveLength(6);
    expect(samples[0]).toEqual({
      name: 'fleetgrid_sink_partition_pauses_total',
      labels: { topic: 'telemetry.truck', service: 'sink' },
      value: 3,
    });
    expect(samples[5]?.labels.table).toBe('x "quoted"');
  });

  it('derives the sink backpressure from its counter pairs', () => {
    expect(backpressureOf('sink', parsePrometheusText(SINK_METRICS))).toEqual({
      service: 'sink',
      pausedPartitions: 1,
      bufferedRows: 250,
      pauses: 4,
      state: 'paused',
    });
  });

  it('reads the processors’ paused-partitions gauge', () => {
    const text = `fleetgrid_processor_paused_partitions 0
fleetgrid_processor_pauses_total{reason="buffer"} 2
fleetgrid_processor_output_buffered_rows_total 10
fleetgrid_processor_output_acked_rows_total 10`;
    expect(backpressureOf('processors', parsePrometheusText(text))).toEqual({
      service: 'processors',
      pausedPartitions: 0,
      bufferedRows: 0,
      pauses: 2,
      state: 'flowing',
    });
  });

  it('says unknown when a service exports none of the known metrics', () => {
    expect(backpressureOf('x', parsePrometheusText('up 1')).state).toBe('unknown');
  });
});

describe('metricsTarget', () => {
  it('moves credentials into a header and shows the URL without them or its query', () => {
    const target = metricsTarget('https://scraper:p%40ss@metrics.example:9464/metrics?token=abc');
    expect(target.url).toBe('https://metrics.example:9464/metrics?token=abc');
    expect(target.headers).toEqual({
      authorization: `Basic ${Buffer.from('scraper:p@ss').toString('base64')}`,
    });
    expect(target.shown).toBe('https://metrics.example:9464/metrics');
    expect(metricsTarget('http://127.0.0.1:9464/metrics')).toEqual({
      url: 'http://127.0.0.1:9464/metrics',
      headers: {},
      shown: 'http://127.0.0.1:9464/metrics',
    });
  });
});
