/**
 * What `make demo` relies on: `registry seed` registers exactly the fleet `fleetgrid simulate`
 * runs, so a processor with the default policy (quarantine) processes all of it and
 * quarantines nothing. The seed plan is written through the registry service (the code
 * `fleetgrid registry seed` runs) into a scratch database, streamed by Debezium into the
 * test's topics, and the real simulator (a child process, `--speed max --count`) produces
 * the same fleet's telemetry under the test's prefix.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { DLQ_HEADERS } from '../../lib/dlq.ts';
import { seedPlan } from '../../registry/index.ts';
import {
  createTestSerde,
  processorDeviceStates,
  readTopic,
  type RunningProcessor,
  startProcessor,
  waitCaughtUp,
} from '../processors/helpers.ts';
import { type CdcHarness, createCdcHarness } from './cdc-harness.ts';

const FLEET = { trucks: 4, turbines: 2, solar: 2, seed: 42 };

let h: CdcHarness;
let processor: RunningProcessor | undefined;

beforeAll(async () => {
  h = await createCdcHarness('seeded-fleet');
  await h.service.seed(seedPlan(FLEET));
  await h.up();
  await h.follower.until((t) => t.devices.size === 8, 60_000, 'the seeded fleet');
  processor = await startProcessor(h.stack, await createTestSerde(h.stack), {
    groupId: 'seeded',
    partitions: 1,
    unknownDevice: 'quarantine',
  });
}, 120_000);

afterAll(async () => {
  await processor?.stop().catch(() => {});
  await h?.teardown();
});

function simulate(): Promise<{ code: number | null; output: string }> {
  const args = [
    'simulate',
    '--trucks',
    String(FLEET.trucks),
    '--turbines',
    String(FLEET.turbines),
    '--solar',
    String(FLEET.solar),
    '--seed',
    String(FLEET.seed),
    '--count',
    '400',
    '--speed',
    'max',
    '--json',
  ];
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/fleetgrid.mjs'), ...args], {
      env: { ...process.env, TOPIC_PREFIX: h.stack.prefix, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8_000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

describe('the seeded fleet (make demo) under the default quarantine', () => {
  it('processes every simulated device with its registry fields and quarantines none', async () => {
    const { code, output } = await simulate();
    expect(code, output).toBe(0);
    const running = processor!;
    await waitCaughtUp(h.stack, running.processor.groupId, 30_000);
    await running.processor.checkpointNow();

    const letters = await readTopic(h.stack, h.stack.topics.dlq);
    expect(letters.map((l) => `${l.key?.toString()}: ${l.headers[DLQ_HEADERS.code]}`)).toEqual([]);
    const registered = h.follower.table.devices;
    const states = await processorDeviceStates(h.stack, await createTestSerde(h.stack));
    expect([...states.keys()].sort()).toEqual([...registered.keys()].sort());
    for (const [id, state] of states) {
      const device = registered.get(id)!;
      expect(state, id).toMatchObject({
        siteId: device.siteId,
        model: device.model,
        driverId: device.kind === 'truck' ? (device as { driverId: string | null }).driverId : null,
      });
    }
    expect(running.processor.registry().events.unknownDevices).toBe(0);
  }, 120_000);
});
