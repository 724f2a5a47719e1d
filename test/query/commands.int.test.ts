/**
 * Alert commands end to end on the real stack: the API (in process) writes AlertCommand
 * records to Kafka and silences to the stack's Alertmanager (127.0.0.1:9095, basic auth
 * from the generated password file); the sink (in process, embedded chDB) projects the
 * commands into alert_actions; the live stream is fed by the API's own Kafka consumer.
 * Every command must show in the projection, in Alertmanager and on the stream; repeated
 * command ids and refused commands must write nothing (counted on the commands topic).
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { request as httpRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { createCommandLog } from '../../query/command-log.ts';
import { parseQueryConfig } from '../../query/config.ts';
import { createLiveHub, type LiveHub } from '../../query/live.ts';
import { createLiveFeed, type LiveFeed } from '../../query/live-feed.ts';
import { createRecentCommands } from '../../query/recent-commands.ts';
import * as bodies from '../../query/responses.ts';
import { createQueryApi } from '../../query/server.ts';
import { createSilenceClient } from '../../query/silences.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import type { Alert } from '../../schemas/types.ts';
import { localQueryBackend } from '../../clickhouse/index.ts';
import type { TestStack } from '../helpers.ts';
import { alert as alertOf, message, waitFor } from '../sinks/fixtures.ts';
import {
  createSinkTestStack,
  embeddedConfig,
  type RunningSink,
  startSink,
  tempDataDir,
} from '../sinks/harness.ts';

const READ = 'read-token-0123456789abcdef';
const WRITE = 'write-token-0123456789abcdef';
const AM = { user: 'fleetgrid', password: '' };

let stack: TestStack;
let serde: Serde;
let running: RunningSink;
let app: FastifyInstance;
let url: string;
let hub: LiveHub;
let feed: LiveFeed;
const data = tempDataDir('commands-int');
const run = randomUUID().slice(0, 8);
/** Devices of this run only: the stack's Alertmanager is shared, silences must not meet another run's. */
const device = (n: number) => `truck-cmd-${run}-${n}`;

async function post(path: string, body: unknown, token: string | undefined = WRITE) {
  const response = await app.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.statusCode,
    // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field.
    body: response.json() as Record<string, any>,
    headers: response.headers,
  };
}

async function get(path: string) {
  const response = await app.inject({
    method: 'GET',
    url: path,
    headers: { authorization: `Bearer ${READ}` },
  });
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field.
  return { status: response.statusCode, body: response.json() as Record<string, any> };
}

/** Records on the commands topic: what was written, whatever the API answered. */
async function commandRecords(): Promise<number> {
  const offsets = await stack.admin.fetchTopicOffsets(stack.topics.commands);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

async function silence(id: string) {
  const response = await fetch(`http://127.0.0.1:9095/api/v2/silence/${id}`, {
    headers: { authorization: `Basic ${Buffer.from(`${AM.user}:${AM.password}`).toString('base64')}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as {
    status: { state: string };
    matchers: { name: string; value: string }[];
  };
}

/** An SSE connection that collects events until closed. */
function openStream(headers: Record<string, string> = {}) {
  const events: { id: number; type: string; data: Record<string, unknown> }[] = [];
  const status = Promise.withResolvers<number>();
  const req = httpRequest(`${url}/api/v1/stream`, {
    headers: { authorization: `Bearer ${READ}`, ...headers },
  });
  req.on('response', (res) => {
    status.resolve(res.statusCode ?? 0);
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(block)?.[1];
        const id = field('id');
        if (id !== undefined)
          events.push({
            id: Number(id),
            type: field('event') ?? '',
            data: JSON.parse(field('data') ?? '{}'),
          });
        end = buffer.indexOf('\n\n');
      }
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { events, status: status.promise, close: () => req.destroy() };
}

async function raise(alert: Alert) {
  const producer = stack.kafka.producer();
  await producer.connect();
  await producer.send(stack.topics.alerts, [message(alert.deviceId, serde.encode('Alert', alert))]);
  await producer.disconnect();
  expect(
    await waitFor(async () => (await get(`/api/v1/alerts/${alert.alertId}`)).status === 200, 30_000),
  ).toBe(true);
}

const raisedAlert = (n: number): Alert => ({
  ...alertOf(device(n), Date.now() - 60_000, 'RAISED'),
  alertId: randomUUID(),
});

beforeAll(async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  AM.password = readFileSync(
    join(process.env.FLEETGRID_DATA_DIR ?? '.data', 'secrets', 'alertmanager.password'),
    'utf8',
  ).trim();
  stack = await createSinkTestStack('commands', { partitions: 2 });
  serde = createSerde(stack.config.registry, { topics: stack.topics });
  await serde.registerAll();
  running = await startSink(stack, embeddedConfig(stack, data.dir));
  const recent = createRecentCommands({ now: Date.now });
  hub = createLiveHub({ now: Date.now, deviceIntervalMs: 1_000 });
  feed = createLiveFeed({
    kafka: stack.kafka,
    serde,
    topics: stack.topics,
    prefix: stack.prefix,
    hub,
    recent,
    log: stack.log,
  });
  await feed.start();
  app = await createQueryApi(
    parseQueryConfig({ port: 0, apiToken: READ, apiWriteToken: WRITE, metricsRefreshMs: 600_000 }),
    {
      backend: localQueryBackend(running.sink.backend()),
      log: stack.log,
      registry: createMetricsRegistry('commands-test', { defaultMetrics: false }),
      commands: {
        log: createCommandLog({ kafka: stack.kafka, serde, topic: stack.topics.commands }),
        silences: createSilenceClient({ url: 'http://127.0.0.1:9095', user: AM.user, password: AM.password }),
      },
      live: hub,
      recentCommands: recent,
    },
  );
  url = await app.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await feed?.stop();
  await running?.stop();
  await stack?.cleanup();
  data.remove();
});

describe('alert commands through the API', () => {
  it('refuses missing or wrong tokens, bad bodies and unknown alerts, writing nothing', async () => {
    const alert = raisedAlert(1);
    await raise(alert);
    const path = `/api/v1/alerts/${alert.alertId}/ack`;
    expect((await post(path, { by: 'ops' }, '')).status).toBe(401);
    expect((await post(path, { by: 'ops' }, 'wrong-token-0123456789abcdef')).status).toBe(401);
    const readOnly = await post(path, { by: 'ops' }, READ);
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.message).toMatch(/read token cannot write/);
    const long = await post(`/api/v1/alerts/${alert.alertId}/comment`, {
      by: 'ops',
      comment: 'x'.repeat(2_001),
    });
    expect(long.status).toBe(400);
    expect(long.body.message).toMatch(/at most 2000 characters/);
    const huge = await post(`/api/v1/alerts/${alert.alertId}/comment`, {
      by: 'ops',
      comment: 'x'.repeat(40_000),
    });
    expect(huge.status).toBe(413);
    expect((await post(path, '{"by":')).status).toBe(400);
    expect((await post(path, {})).body.message).toMatch(/by/);
    const unknown = await post(`/api/v1/alerts/${randomUUID()}/ack`, { by: 'ops' });
    expect(unknown.status).toBe(404);
    const resolved = { ...alertOf(device(9), Date.now() - 120_000, 'RESOLVED'), alertId: randomUUID() };
    await raise(resolved);
    const stale = await post(`/api/v1/alerts/${resolved.alertId}/ack`, { by: 'ops' });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toMatch(/resolved/);
    expect((await post(`/api/v1/alerts/${alert.alertId}/unshelve`, { by: 'ops' })).status).toBe(409);
    expect(await commandRecords()).toBe(0);
  });

  it('acknowledges once: projected, pushed, and a repeated command id writes nothing', async () => {
    const alert = raisedAlert(2);
    await raise(alert);
    const stream = openStream();
    expect(await stream.status).toBe(200);
    const before = await commandRecords();
    const commandId = `ack-${randomUUID()}`;
    const first = await post(`/api/v1/alerts/${alert.alertId}/ack`, {
      commandId,
      by: 'ops@example.org',
      comment: 'on it',
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      alertId: alert.alertId,
      commandId,
      action: 'ACK',
      by: 'ops@example.org',
    });
    const again = await post(`/api/v1/alerts/${alert.alertId}/ack`, {
      commandId,
      by: 'ops@example.org',
      comment: 'on it',
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await commandRecords()).toBe(before + 1);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/fleetgrid_query_alert_commands_total\{verb="ack",outcome="200"[^}]*\} 1\n/);
    expect(metrics).toMatch(/fleetgrid_query_alert_commands_total\{verb="ack",outcome="replayed"[^}]*\} 1\n/);
    expect(metrics).toMatch(/fleetgrid_query_stream_clients\{[^}]*\} 1\n/);
    // A second acknowledgement (a new id) is stale.
    const second = await post(`/api/v1/alerts/${alert.alertId}/ack`, { by: 'someone-else' });
    expect(second.status).toBe(409);
    expect(second.body.message).toMatch(/already acknowledged by ops@example.org/);
    // The id of the ack used for another command is refused.
    expect(
      (await post(`/api/v1/alerts/${alert.alertId}/comment`, { commandId, by: 'ops', comment: 'x' })).status,
    ).toBe(409);
    expect(await commandRecords()).toBe(before + 1);

    expect(
      await waitFor(async () => {
        const rows = await running.sink
          .backend()
          .query<{ n: string }>('SELECT count() AS n FROM alert_actions FINAL WHERE alert_id = {id:String}', {
            id: alert.alertId,
          });
        return Number(rows[0]?.n) === 1;
      }, 30_000),
    ).toBe(true);
    const one = await get(`/api/v1/alerts/${alert.alertId}`);
    // The answers have the documented shapes (query/responses.ts, the OpenAPI document).
    expect(() => bodies.commandBody.parse(first.body)).not.toThrow();
    expect(() => bodies.alertBody.parse(one.body)).not.toThrow();
    expect(one.body.acknowledged).toEqual({ by: 'ops@example.org', at: first.body.at, comment: 'on it' });
    expect(one.body.history).toEqual([first.body].map(({ alertId: _, ...rest }) => rest));
    const list = await get(`/api/v1/alerts?deviceId=${alert.deviceId}`);
    expect(() => bodies.alertsBody.parse(list.body)).not.toThrow();
    expect(list.body.alerts[0].acknowledged.by).toBe('ops@example.org');

    expect(
      await waitFor(async () => stream.events.some((e) => e.type === 'alert.acknowledged'), 15_000),
    ).toBe(true);
    const pushed = stream.events.filter((e) => e.type === 'alert.acknowledged');
    expect(pushed).toHaveLength(1);
    expect(pushed[0]?.data).toMatchObject({ alertId: alert.alertId, commandId, by: 'ops@example.org' });
    stream.close();
  });

  it('shelves with an Alertmanager silence on the alert labels, unshelves by expiring it', async () => {
    const alert = raisedAlert(3);
    await raise(alert);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const shelved = await post(`/api/v1/alerts/${alert.alertId}/shelve`, {
      by: 'ops',
      until,
      reason: 'planned works',
    });
    expect(shelved.status).toBe(200);
    expect(shelved.body.shelvedUntil).toBe(until);
    const silenceId = shelved.body.silenceId as string;
    expect(silenceId).toMatch(/^[0-9a-f-]{36}$/);
    const active = await silence(silenceId);
    expect(active.status.state).toBe('active');
    expect(Object.fromEntries(active.matchers.map((m) => [m.name, m.value]))).toEqual({
      alertname: alert.rule,
      deviceId: alert.deviceId,
    });
    // Shelved again before the projection caught up: still refused (the process remembers).
    expect(
      (await post(`/api/v1/alerts/${alert.alertId}/shelve`, { by: 'ops', until, reason: 'again' })).status,
    ).toBe(409);
    expect(
      await waitFor(
        async () => (await get(`/api/v1/alerts/${alert.alertId}`)).body.shelved?.until === until,
        30_000,
      ),
    ).toBe(true);
    const unshelved = await post(`/api/v1/alerts/${alert.alertId}/unshelve`, { by: 'ops' });
    expect(unshelved.status).toBe(200);
    expect(unshelved.body.silenceId).toBe(silenceId);
    expect((await silence(silenceId)).status.state).toBe('expired');
    expect((await post(`/api/v1/alerts/${alert.alertId}/unshelve`, { by: 'ops' })).status).toBe(409);
    expect(
      await waitFor(
        async () => (await get(`/api/v1/alerts/${alert.alertId}`)).body.history?.length === 2,
        30_000,
      ),
    ).toBe(true);
    expect((await get(`/api/v1/alerts/${alert.alertId}`)).body.shelved).toBeNull();
  });

  it('keeps a comment with markup as the exact text', async () => {
    const alert = raisedAlert(4);
    await raise(alert);
    const comment = '<img src=x onerror="alert(1)"> & <b>bold</b>';
    expect((await post(`/api/v1/alerts/${alert.alertId}/comment`, { by: 'ops', comment })).status).toBe(200);
    expect(
      await waitFor(
        async () => (await get(`/api/v1/alerts/${alert.alertId}`)).body.history?.[0]?.comment === comment,
        30_000,
      ),
    ).toBe(true);
  });

  it('answers 503 and writes nothing when Alertmanager cannot be reached', async () => {
    const alert = raisedAlert(5);
    await raise(alert);
    const down = await createQueryApi(
      parseQueryConfig({ port: 0, apiWriteToken: WRITE, metricsRefreshMs: 600_000 }),
      {
        backend: localQueryBackend(running.sink.backend()),
        log: stack.log,
        registry: createMetricsRegistry('commands-test-down', { defaultMetrics: false }),
        commands: {
          log: createCommandLog({ kafka: stack.kafka, serde, topic: stack.topics.commands }),
          silences: createSilenceClient({ url: 'http://127.0.0.1:9', timeoutMs: 1_000 }),
        },
      },
    );
    const before = await commandRecords();
    const response = await down.inject({
      method: 'POST',
      url: `/api/v1/alerts/${alert.alertId}/shelve`,
      headers: { authorization: `Bearer ${WRITE}`, 'content-type': 'application/json' },
      payload: { by: 'ops', until: new Date(Date.now() + 3_600_000).toISOString(), reason: 'works' },
    });
    expect(response.statusCode).toBe(503);
    expect(response.json().message).toMatch(/Alertmanager unavailable/);
    expect(await commandRecords()).toBe(before);
    await down.close();
  });
});

describe('the CLI', () => {
  const ROOT = resolve(import.meta.dirname, '../..');
  const env = (tokens: Record<string, string>) => {
    const {
      API_TOKEN: _r,
      API_WRITE_TOKEN: _w,
      API_TOKEN_FILE: _rf,
      API_WRITE_TOKEN_FILE: _wf,
      ...rest
    } = process.env;
    return { ...rest, ...tokens };
  };
  const cli = (tokens: Record<string, string>, ...args: string[]) =>
    promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/fleetgrid.mjs'), 'alerts', '--url', url, ...args],
      {
        cwd: ROOT,
        env: env(tokens),
        timeout: 60_000,
      },
    );

  it('acknowledges, shelves and lists with tokens from the environment, and watches the stream', async () => {
    const alert = raisedAlert(7);
    await raise(alert);
    const watcher = spawn(
      process.execPath,
      [join(ROOT, 'bin/fleetgrid.mjs'), 'alerts', '--url', url, '--json', 'watch'],
      {
        cwd: ROOT,
        env: env({ API_TOKEN: READ }),
      },
    );
    let watched = '';
    watcher.stdout.on('data', (chunk: Buffer) => {
      watched += chunk.toString('utf8');
    });
    try {
      // Without the write token the CLI refuses before any request.
      const refused = await cli({ API_TOKEN: READ }, 'ack', alert.alertId).catch((e) => e);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/API_WRITE_TOKEN/);
      const ack = JSON.parse(
        (
          await cli(
            { API_WRITE_TOKEN: WRITE },
            '--json',
            'ack',
            alert.alertId,
            '--by',
            'cli-user',
            '--comment',
            'seen',
          )
        ).stdout,
      );
      expect(ack).toMatchObject({ alertId: alert.alertId, action: 'ACK', by: 'cli-user', comment: 'seen' });
      const shelve = (
        await cli({ API_WRITE_TOKEN: WRITE }, 'shelve', alert.alertId, '--until', '+2h', '--reason', 'r')
      ).stdout;
      expect(shelve).toMatch(/^SHELVE of alert .* by /);
      expect(shelve).toMatch(/Alertmanager silence [0-9a-f-]{36}/);
      expect(
        await waitFor(async () => {
          const list = JSON.parse(
            (await cli({ API_TOKEN: READ }, '--json', 'list', '--device', alert.deviceId)).stdout,
          );
          return list.alerts[0]?.acknowledged?.by === 'cli-user' && list.alerts[0]?.shelved !== null;
        }, 30_000),
      ).toBe(true);
      const table = (await cli({ API_TOKEN: READ }, 'list', '--device', alert.deviceId)).stdout;
      expect(table).toMatch(/acknowledged\s+shelved until/);
      expect(table).toContain('cli-user');
      expect(
        await waitFor(
          async () =>
            watched.includes('"type":"alert.shelved"') && watched.includes('"type":"alert.acknowledged"'),
          15_000,
        ),
      ).toBe(true);
      const lines = watched
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines.find((l) => l.type === 'alert.acknowledged')?.data).toMatchObject({
        alertId: alert.alertId,
        by: 'cli-user',
      });
      // Unshelve and comment from the CLI: the silence expires, both land in the history.
      const silenceId = /Alertmanager silence ([0-9a-f-]{36})/.exec(shelve)?.[1] ?? '';
      const unshelve = (await cli({ API_WRITE_TOKEN: WRITE }, 'unshelve', alert.alertId, '--by', 'cli-user'))
        .stdout;
      expect(unshelve).toMatch(/^UNSHELVE of alert .* by cli-user /);
      expect(unshelve).toContain(`Alertmanager silence ${silenceId}`);
      expect((await silence(silenceId)).status.state).toBe('expired');
      const note = '<b>left</b> at the depot & checked';
      const commented = JSON.parse(
        (
          await cli(
            { API_WRITE_TOKEN: WRITE },
            '--json',
            'comment',
            alert.alertId,
            '--by',
            'cli-user',
            '--comment',
            note,
          )
        ).stdout,
      );
      expect(commented).toMatchObject({ alertId: alert.alertId, action: 'COMMENT', comment: note });
      expect(
        await waitFor(async () => {
          const shown = (await get(`/api/v1/alerts/${alert.alertId}`)).body;
          const actions = (shown.history ?? []).map((h: { action: string }) => h.action);
          return (
            shown.shelved === null &&
            ['ACK', 'SHELVE', 'UNSHELVE', 'COMMENT'].every((a) => actions.includes(a)) &&
            shown.history.some((h: { comment?: string }) => h.comment === note)
          );
        }, 30_000),
      ).toBe(true);
    } finally {
      watcher.kill('SIGINT');
    }
    const code = await new Promise<number | null>((done) =>
      watcher.once('exit', (exitCode) => done(exitCode)),
    );
    expect(code).toBe(0);
  }, 90_000);
});

describe('the live stream', () => {
  it('pushes a raised alert and resumes after Last-Event-ID', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/stream' })).statusCode).toBe(401);
    const stream = openStream();
    expect(await stream.status).toBe(200);
    const alert = raisedAlert(6);
    await raise(alert);
    expect(
      await waitFor(
        async () => stream.events.some((e) => e.type === 'alert.raised' && e.data.alertId === alert.alertId),
        15_000,
      ),
    ).toBe(true);
    const ids = stream.events.map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    stream.close();
    // Reconnecting after an earlier event replays what came after it, in order.
    const raisedId = stream.events.find((e) => e.data.alertId === alert.alertId)?.id as number;
    const resumed = openStream({ 'last-event-id': String(raisedId - 1) });
    expect(await waitFor(async () => resumed.events.length > 0, 5_000)).toBe(true);
    expect(resumed.events[0]).toMatchObject({ id: raisedId, type: 'alert.raised' });
    resumed.close();
    // An id older than the ring (or from another run) is told to reload.
    const stale = openStream({ 'last-event-id': '1' });
    expect(await waitFor(async () => stale.events.length > 0, 5_000)).toBe(true);
    expect(stale.events[0]?.type).toBe('reset');
    stale.close();
  });
});
