import { describe, expect, it } from 'vitest';
import { parseLoadTestConfig } from './config.ts';

describe('loadtest config', () => {
  it('takes --max-lateness for a started processor, at least a window and its grace', () => {
    expect(
      parseLoadTestConfig({ startPipeline: true, windowSizeS: 10, graceS: 5, maxLatenessS: 60 }).maxLatenessS,
    ).toBe(60);
    expect(parseLoadTestConfig({ startPipeline: true }).maxLatenessS).toBeUndefined();
    expect(() =>
      parseLoadTestConfig({ startPipeline: true, windowSizeS: 60, graceS: 30, maxLatenessS: 60 }),
    ).toThrow(/at least --window-size \+ --grace/);
    expect(() => parseLoadTestConfig({ maxLatenessS: 600 })).toThrow(/needs --start-pipeline/);
  });

  it('probes the query API only where there is one: a started one or --api-url', () => {
    expect(parseLoadTestConfig({ startPipeline: true, probeApi: true }).probeApi).toBe(true);
    expect(parseLoadTestConfig({ apiUrl: 'http://127.0.0.1:8080' }).apiUrl).toBe('http://127.0.0.1:8080');
    expect(() => parseLoadTestConfig({ probeApi: true })).toThrow(/--probe-api needs/);
  });

  it('starts several processors for a started pipeline, and one sink only (chDB opens in one process)', () => {
    expect(parseLoadTestConfig({ startPipeline: true, processors: 2 }).processors).toBe(2);
    expect(() => parseLoadTestConfig({ processors: 2 })).toThrow(/--processors .*needs --start-pipeline/);
    expect(parseLoadTestConfig({ startPipeline: true, sinks: 1 }).sinks).toBe(1);
    expect(() => parseLoadTestConfig({ startPipeline: true, sinks: 2 })).toThrow(/one sink only/);
  });

  it('scales out from --processors to more than that, and runs on its own Kafka without a fault', () => {
    const c = parseLoadTestConfig({ startPipeline: true, fault: 'scale-out', faultKafkaNodes: 3 });
    expect(c).toMatchObject({ scaleEveryS: 10, scaleMax: 3, scaleKill: 3, scaleSinkHandover: true });
    expect(() =>
      parseLoadTestConfig({ startPipeline: true, fault: 'scale-out', processors: 3, scaleMax: 3 }),
    ).toThrow(/--scale-max must be more than --processors/);
    expect(parseLoadTestConfig({ startPipeline: true, kafkaNodes: 3 }).kafkaNodes).toBe(3);
    expect(() => parseLoadTestConfig({ kafkaNodes: 3 })).toThrow(/--kafka-nodes needs/);
    expect(() => parseLoadTestConfig({ startPipeline: true, kafkaNodes: 3, fault: 'broker-kill' })).toThrow(
      /--kafka-nodes needs/,
    );
  });
});
