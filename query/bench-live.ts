/**
 * Benchmark of the live stream's fan-out (GET /api/v1/stream, query/live.ts): one API
 * process (a child, so its CPU is its own) with `--clients` SSE connections from this
 * process; the child publishes `--events` alert-sized events at `--rate` per second
 * straight into the hub (the Kafka consumer in front of it is the stream runtime's, measured
 * elsewhere). Reports the server's CPU per event (and per delivery) while publishing and
 * the delivery delay from publish to a client's parse, p50/p99/max over every delivery.
 * Client and server share the machine: the delay includes the clients' own parsing.
 *
 *   node query/bench-live.ts [--clients 200] [--events 2000] [--rate 200]
 *
 * Prints a table and finally one line `BENCH_JSON {...}`. Bounded: it stops itself after
 * the events plus 30 s, whatever happens.
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { silentLogger } from '../lib/log.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { parseQueryConfig } from './config.ts';
import { createLiveHub } from './live.ts';
import { createQueryApi } from './server.ts';
import { percentile } from '../loadtest/index.ts';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    events: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '200' },
    server: { type: 'boolean', default: false },
  },
});

const nowMs = () => performance.timeOrigin + performance.now();

/** An alert event's size: the payload clients really get (about 400 bytes of JSON). */
function payload(seq: number) {
  return {
    alertId: '3f0c9a52-4be1-4d7e-9a1c-0d5e6f7a8b9c',
    rule: 'truck.overspeed',
    deviceId: `truck-${String(seq % 600).padStart(3, '0')}`,
    siteId: 'depot-rotterdam',
    kind: 'truck',
    state: 'RAISED',
    severity: 'WARNING',
    raisedAt: new Date().toISOString(),
    resolvedAt: null,
    updatedAt: new Date().toISOString(),
    value: 97.5,
    threshold: 90,
    message: 'speed above 90 km/h for 30 s',
    seq,
    sentAt: nowMs(),
  };
}

async function server() {
  const hub = createLiveHub({ now: Date.now, maxClients: 10_000, capacity: 1_000 });
  const app = await createQueryApi(parseQueryConfig({ port: 0 }), {
    backend: { mode: 'embedded', run: async () => [], close: async () => {} },
    log: silentLogger,
    registry: createMetricsRegistry('live-bench', { defaultMetrics: false }),
    live: hub,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const send = (message: unknown) => process.send?.(message);
  process.on('message', async (message: { cmd: string; events?: number; rate?: number }) => {
    if (message.cmd === 'clients') send({ clients: hub.clients });
    if (message.cmd === 'publish') {
      const events = message.events ?? 0;
      const intervalMs = 1_000 / (message.rate ?? 1);
      const cpu = process.cpuUsage();
      const elu = performance.eventLoopUtilization();
      const started = performance.now();
      for (let seq = 0; seq < events; seq++) {
        const due = started + seq * intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        hub.publish('alert.raised', payload(seq));
      }
      // Let the sockets drain before reading the CPU: writing is part of the cost.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const used = process.cpuUsage(cpu);
      send({
        published: events,
        seconds: (performance.now() - started) / 1000,
        cpuMicros: used.user + used.system,
        eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
      });
    }
    if (message.cmd === 'stop') {
      hub.close();
      await app.close();
      process.exit(0);
    }
  });
  send({ url });
}

async function main() {
  const clients = Number(args.clients);
  const events = Number(args.events);
  const rate = Number(args.rate);
  const child = fork(import.meta.filename, ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const guard = setTimeout(
    () => {
      console.error('bench-live: did not finish in time; stopping');
      child.kill('SIGKILL');
      process.exit(1);
    },
    (events / rate) * 1000 + 30_000,
  );
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { url } = await next<{ url: string }>();

  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const delays: number[] = [];
  let received = 0;
  const requests = [];
  for (let i = 0; i < clients; i++) {
    const req = request(`${url}/api/v1/stream`, { agent });
    req.on('response', (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) {
            delays.push(nowMs() - (JSON.parse(data) as { sentAt: number }).sentAt);
            received++;
          }
          end = buffer.indexOf('\n\n');
        }
      });
    });
    req.on('error', () => undefined);
    req.end();
    requests.push(req);
  }
  for (;;) {
    child.send({ cmd: 'clients' });
    if ((await next<{ clients: number }>()).clients >= clients) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.send({ cmd: 'publish', events, rate });
  const result = await next<{
    published: number;
    seconds: number;
    cpuMicros: number;
    eventLoopUtilization: number;
  }>();
  // The last deliveries may still be in flight.
  const deadline = Date.now() + 5_000;
  while (received < clients * events && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  child.send({ cmd: 'stop' });
  for (const req of requests) req.destroy();
  agent.destroy();
  clearTimeout(guard);

  delays.sort((a, b) => a - b);
  const summary = {
    clients,
    events,
    ratePerSecond: rate,
    deliveries: received,
    expectedDeliveries: clients * events,
    serverCpuMsPerEvent: result.cpuMicros / 1000 / events,
    serverCpuMicrosPerDelivery: result.cpuMicros / (events * clients),
    serverCpuShare: result.cpuMicros / 1e6 / result.seconds,
    serverEventLoopUtilization: result.eventLoopUtilization,
    delayMsP50: percentile(delays, 0.5) ?? Number.NaN,
    delayMsP99: percentile(delays, 0.99) ?? Number.NaN,
    delayMsMax: delays.at(-1) ?? Number.NaN,
  };
  const f = (n: number, d = 2) => n.toFixed(d);
  console.log(`SSE fan-out: ${clients} clients, ${events} events at ${rate}/s`);
  console.log(`deliveries              ${summary.deliveries} of ${summary.expectedDeliveries}`);
  console.log(
    `server CPU per event    ${f(summary.serverCpuMsPerEvent, 3)} ms (${f(summary.serverCpuMicrosPerDelivery)} µs per delivery)`,
  );
  console.log(
    `server CPU while sending ${f(summary.serverCpuShare * 100, 1)} % of a core, event loop ${f(summary.serverEventLoopUtilization * 100, 1)} % busy`,
  );
  console.log(
    `delivery delay          p50 ${f(summary.delayMsP50)} ms, p99 ${f(summary.delayMsP99)} ms, max ${f(summary.delayMsMax)} ms`,
  );
  console.log(`BENCH_JSON ${JSON.stringify(summary)}`);
}

if (args.server) await server();
else await main();
