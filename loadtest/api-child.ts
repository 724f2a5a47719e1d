/**
 * The query API as a child of `fleetgrid loadtest --start-pipeline --probe-api`: the same
 * service as `fleetgrid serve` (query/main.ts), reading through the started sink's query
 * endpoint, plus one machine-readable line on stdout once it answers, so the load test
 * knows its port (like loadtest/sink-child.ts). Its /metrics is on the same port.
 *
 * Usage: node loadtest/api-child.ts --ch-query-url URL [--port N]
 * (the port: a restart keeps the child's URL).
 */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' }, 'ch-query-url': { type: 'string' } } });
const chQueryUrl = values['ch-query-url'];
if (!chQueryUrl) throw new Error('--ch-query-url: the sink query endpoint to read through');

/** A port free right now: the API's own listen takes it a moment later. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const port = Number(values.port ?? 0) || (await freePort());
const { runServeCommand } = await import('../query/main.ts');
const serving = runServeCommand({ host: '127.0.0.1', port: String(port), chQueryUrl });
// Ready when it answers: runServeCommand returns only when the service stops.
for (;;) {
  const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) })
    .then((r) => r.ok)
    .catch(() => false);
  if (ok) break;
  await sleep(200);
}
process.stdout.write(`${JSON.stringify({ ready: true, groupId: 'query-api', metricsPort: port })}\n`);
await serving;
