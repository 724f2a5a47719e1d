import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createSilenceClient, silenceBody } from './silences.ts';

describe('Alertmanager silences', () => {
  it('match the alert by alertname (the rule) and deviceId, for the shelve period', () => {
    expect(
      silenceBody({
        rule: 'truck.overspeed',
        deviceId: 'truck-1',
        startsAt: 0,
        endsAt: 60_000,
        createdBy: 'ops',
        comment: '',
      }),
    ).toEqual({
      matchers: [
        { name: 'alertname', value: 'truck.overspeed', isRegex: false, isEqual: true },
        { name: 'deviceId', value: 'truck-1', isRegex: false, isEqual: true },
      ],
      startsAt: '1970-01-01T00:00:00.000Z',
      endsAt: '1970-01-01T00:01:00.000Z',
      createdBy: 'ops',
      comment: 'shelved in fleetgrid',
    });
  });

  it('are unavailable (retriable) when Alertmanager cannot be reached', async () => {
    // A port nothing listens on (the discard port of loopback is closed on a test machine).
    const client = createSilenceClient({ url: 'http://127.0.0.1:9', timeoutMs: 1_000 });
    await expect(client.expire('x')).rejects.toMatchObject({
      code: 'ALERTMANAGER_UNAVAILABLE',
      retriable: true,
    });
  });

  it('are refused for good (not retriable) when Alertmanager refuses the credentials', async () => {
    const server = createServer((_request, response) => {
      response.writeHead(401).end('Unauthorized');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = createSilenceClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 1_000 });
      await expect(client.expire('x')).rejects.toMatchObject({
        code: 'ALERTMANAGER_AUTH_FAILED',
        retriable: false,
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
