/**
 * The simulator against the real broker and registry: produce a fixed number of events,
 * read every topic back, and reconcile with the manifest — counts, keys, per-device seq
 * sequences, per-window summaries, and (in the faulty run) every injected fault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFleetgridError } from '../../lib/errors.ts';
import { partitionForKey } from '../../lib/kafka/index.ts';
import { RAW_TOPIC_KEYS } from '../../lib/topics.ts';
import { parseSimulatorConfig } from '../../producers/config.ts';
import { parseFaultSpec } from '../../producers/faults.ts';
import { type Manifest, manifestOfEvents } from '../../producers/manifest.ts';
import { produceEvents } from '../../producers/runner.ts';
import { createSerde, type Decoded, type Serde } from '../../schemas/serde.ts';
import type { RawEvent } from '../../schemas/types.ts';
import { validateRawEvent } from '../../schemas/validate.ts';
import { consumeAll, createTestStack, type TestStack } from '../helpers.ts';

interface Record_ {
  topic: string;
  partition: number;
  key: string;
  value: Buffer | null;
}

async function readBack(stack: TestStack, manifest: Manifest): Promise<Record_[]> {
  const all: Record_[] = [];
  for (const kind of RAW_TOPIC_KEYS) {
    const expected = manifest.totals.byKind[kind].messages;
    if (expected === 0) continue;
    const topic = stack.topics[kind];
    const records = await consumeAll(stack, topic, expected, 30_000);
    for (const r of records)
      all.push({ topic, partition: r.partition, key: r.key?.toString('utf8') ?? '', value: r.value });
  }
  return all;
}

describe('fleetgrid simulate against the real broker', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createTestStack('producers-simulate', { partitions: 3 });
    serde = createSerde(stack.config.registry, { topics: stack.topics });
  });
  afterAll(async () => {
    await stack?.cleanup();
  });

  it('delivers exactly the manifest: counts, keys, per-device seq order and window summaries', async () => {
    const config = parseSimulatorConfig({
      trucks: 8,
      turbines: 4,
      solar: 4,
      seed: 7,
      partitions: 3,
      batchSize: 500,
      maxInFlight: 4,
    });
    const { manifest, status } = await produceEvents(
      config,
      { kafka: stack.kafka, serde, topics: stack.topics, log: stack.log },
      6_000,
    );
    expect(status.acked).toBe(6_000);
    expect(manifest.totals).toMatchObject({ events: 6_000, messages: 6_000, duplicates: 0, poison: 0 });

    const records = await readBack(stack, manifest);
    expect(records.length).toBe(6_000);
    const perDevice = new Map<string, RawEvent['value'][]>();
    const partitionOf = new Map<string, number>();
    for (const record of records) {
      const decoded = await serde.decode(record.value);
      const value = decoded.value as RawEvent['value'];
      expect(record.key).toBe(value.deviceId);
      expect(record.topic).toBe(stack.topics[manifest.devices[value.deviceId]?.kind ?? 'truck']);
      // A device always lands on one partition (keyed by deviceId).
      expect(partitionOf.get(value.deviceId) ?? record.partition).toBe(record.partition);
      partitionOf.set(value.deviceId, record.partition);
      // The simulator's ordered lanes rely on computing the producer's partition itself.
      expect(partitionForKey(value.deviceId, 3)).toBe(record.partition);
      const list = perDevice.get(value.deviceId) ?? [];
      list.push(value);
      perDevice.set(value.deviceId, list);
    }
    expect(new Set(perDevice.keys())).toEqual(new Set(Object.keys(manifest.devices)));
    for (const [deviceId, values] of perDevice) {
      const device = manifest.devices[deviceId];
      expect(values.length).toBe(device?.events);
      // Without faults, each device's events arrive in seq order, 0, 1, 2, … with no gap,
      // although four produce requests were in flight at a time.
      expect(values.map((v) => v.seq)).toEqual(values.map((_, i) => (device?.firstSeq ?? 0) + i));
      expect(values.at(-1)?.seq).toBe(device?.lastSeq);
    }

    // Window summaries recomputed from what came back equal the manifest's, to the bit:
    // same values, added in the same per-device order.
    const fromKafka = manifestOfEvents(
      await Promise.all(
        records.map(async (record) => {
          const decoded = await serde.decode(record.value);
          return { type: decoded.record, value: decoded.value } as RawEvent;
        }),
      ),
      { seed: 7, faults: manifest.faults },
    );
    expect(fromKafka.windows).toEqual(manifest.windows);
    expect(fromKafka.devices).toEqual(manifest.devices);
    expect(fromKafka.totals.events).toBe(manifest.totals.events);
  });
});

describe('fleetgrid simulate with faults against the real broker', () => {
  let stack: TestStack;
  let serde: Serde;

  beforeAll(async () => {
    stack = await createTestStack('producers-faults', { partitions: 3 });
    serde = createSerde(stack.config.registry, { topics: stack.topics });
  });
  afterAll(async () => {
    await stack?.cleanup();
  });

  it('sends every injected fault as counted: duplicates, poison of each flavor, late, v1 writers', async () => {
    const faults = parseFaultSpec('late=0.01,ooo=0.02,dup=0.02,poison=0.01,skew=0.2,v1=0.5');
    const config = parseSimulatorConfig({
      trucks: 10,
      turbines: 3,
      solar: 3,
      seed: 11,
      partitions: 3,
      faults,
    });
    const { manifest } = await produceEvents(
      config,
      { kafka: stack.kafka, serde, topics: stack.topics, log: stack.log },
      5_000,
    );
    const f = manifest.totals.faults;
    expect(manifest.totals.events).toBe(5_000);
    expect(manifest.totals.messages).toBe(
      5_000 +
        f.duplicates +
        f.poison.garbage +
        f.poison['unknown-schema'] +
        f.poison.truncated +
        f.poison['out-of-range'],
    );

    const records = await readBack(stack, manifest);
    expect(records.length).toBe(manifest.totals.messages);

    const errors: Record<string, number> = {};
    const ids = new Map<string, number>();
    const seqs = new Map<string, Set<number>>();
    let outOfRange = 0;
    let legacy = 0;
    const legacyId = await serde.registerSchema(
      'TruckTelemetry',
      (await import('../../schemas/catalog.ts')).LEGACY_SCHEMAS.TruckTelemetryV1,
    );
    for (const record of records) {
      let decoded: Decoded;
      try {
        decoded = await serde.decode(record.value);
      } catch (error) {
        expect(isFleetgridError(error)).toBe(true);
        const code = (error as { code: string }).code;
        errors[code] = (errors[code] ?? 0) + 1;
        continue;
      }
      const event = { type: decoded.record, value: decoded.value } as RawEvent;
      try {
        validateRawEvent(event, Date.now());
      } catch {
        outOfRange++;
        continue;
      }
      if (decoded.schemaId === legacyId) {
        legacy++;
        expect((event.value as { cargoTempC: unknown }).cargoTempC).toBeNull();
      }
      ids.set(event.value.eventId, (ids.get(event.value.eventId) ?? 0) + 1);
      const set = seqs.get(event.value.deviceId) ?? new Set<number>();
      set.add(event.value.seq);
      seqs.set(event.value.deviceId, set);
    }
    expect(errors.DECODE_BAD_MAGIC ?? 0).toBe(f.poison.garbage);
    expect(errors.DECODE_UNKNOWN_SCHEMA ?? 0).toBe(f.poison['unknown-schema']);
    expect(errors.DECODE_TRUNCATED ?? 0).toBe(f.poison.truncated);
    expect(outOfRange).toBe(f.poison['out-of-range']);
    // Every distinct event arrived; duplicates repeat ids; legacy writers used the v1 schema.
    expect(ids.size).toBe(5_000);
    expect([...ids.values()].filter((n) => n === 2).length).toBe(f.duplicates);
    expect(legacy).toBeGreaterThanOrEqual(f.legacyEvents);
    expect(f.legacyEvents).toBeGreaterThan(0);
    for (const [deviceId, set] of seqs) {
      const device = manifest.devices[deviceId];
      expect(set.size).toBe(device?.events);
      expect(Math.min(...set)).toBe(device?.firstSeq);
      expect(Math.max(...set)).toBe(device?.lastSeq);
      expect((device?.lastSeq ?? 0) - (device?.firstSeq ?? 0) + 1).toBe(set.size);
    }
  });
});
