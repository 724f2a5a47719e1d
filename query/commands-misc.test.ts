import { describe, expect, it } from 'vitest';
import { FleetgridError } from '../lib/errors.ts';
import type { AlertCommand } from '../schemas/types.ts';
import { alert as alertOf, deviceState } from '../test/sinks/fixtures.ts';
import { untilTime } from './alerts-cli.ts';
import { parseEventStream } from './client.ts';
import { commandErrorStatus } from './command-routes.ts';
import { renderCommand, renderLiveEvent } from './format.ts';
import { alertEvent, commandEvent, deviceEvent } from './live-feed.ts';
import { createRecentCommands } from './recent-commands.ts';

const command = (commandId: string, alertId = 'a-1'): AlertCommand => ({
  commandId,
  alertId,
  action: 'ACK',
  rule: 'truck.overspeed',
  deviceId: 'truck-1',
  by: 'ops',
  comment: '',
  shelvedUntil: null,
  silenceId: null,
  ts: 0,
});

describe('recent commands', () => {
  it('finds commands by id and by alert, forgetting them by age and by count', () => {
    let now = 0;
    const recent = createRecentCommands({ now: () => now, ttlMs: 1_000, max: 2 });
    recent.add(command('c-1'));
    recent.add(command('c-1'));
    recent.add(command('c-2', 'a-2'));
    expect(recent.size).toBe(2);
    expect(recent.byId('c-1')?.alertId).toBe('a-1');
    expect(recent.forAlert('a-2').map((c) => c.commandId)).toEqual(['c-2']);
    recent.add(command('c-3'));
    expect(recent.byId('c-1')).toBeUndefined();
    now = 2_000;
    expect(recent.byId('c-3')).toBeUndefined();
    expect(recent.size).toBe(0);
  });
});

describe('event streams on the client', () => {
  it('splits complete events from the unfinished rest, skipping comments', () => {
    const { events, rest } = parseEventStream(
      'retry: 2000\n\n: keep-alive\n\nid: 7\nevent: alert.raised\ndata: {"a":1}\n\nid: 8\nevent: x\nda',
    );
    expect(events).toEqual([{ id: '7', type: 'alert.raised', data: '{"a":1}' }]);
    expect(rest).toBe('id: 8\nevent: x\nda');
    expect(parseEventStream('data: a\r\ndata: b\r\n\r\n').events).toEqual([
      { id: undefined, type: 'message', data: 'a\nb' },
    ]);
  });

  it('reads --until as a time from now or passes it on', () => {
    const now = Date.UTC(2026, 11, 1, 8);
    expect(untilTime('+4h', now)).toBe('2026-12-01T12:00:00.000Z');
    expect(untilTime('+30m', now)).toBe('2026-12-01T08:30:00.000Z');
    expect(untilTime('2026-12-02T00:00:00Z', now)).toBe('2026-12-02T00:00:00Z');
  });

  it('prints commands and events as lines', () => {
    expect(
      renderCommand({
        action: 'SHELVE',
        alertId: 'a-1',
        by: 'ops',
        at: 't',
        commandId: 'c',
        shelvedUntil: 'u',
        silenceId: 's',
      }),
    ).toBe('SHELVE of alert a-1 by ops at t (command c)\nshelved until u\nAlertmanager silence s');
    expect(renderLiveEvent('alert.acknowledged', { alertId: 'a-1', by: 'ops', comment: 'x' })).toBe(
      'alert.acknowledged a-1 by ops: x',
    );
  });
});

describe('command failures', () => {
  it('answer 404, 409 and 503 for what the client or a dependency caused', () => {
    expect(commandErrorStatus(new FleetgridError('NOT_FOUND', 'x'))?.status).toBe(404);
    expect(commandErrorStatus(new FleetgridError('CONFLICT', 'x'))?.status).toBe(409);
    expect(commandErrorStatus(new FleetgridError('ALERTMANAGER_UNAVAILABLE', 'x'))?.status).toBe(503);
    expect(commandErrorStatus(new FleetgridError('KAFKA_UNAVAILABLE', 'x'))?.message).toMatch(
      /same commandId/,
    );
    expect(commandErrorStatus(new FleetgridError('INVALID_ARGUMENT', 'x'))).toBeUndefined();
    expect(commandErrorStatus(new Error('x'))).toBeUndefined();
  });
});

describe('stream events from records', () => {
  it('map alerts, device states and commands', () => {
    const raised = alertEvent(alertOf('truck-1', 1_000, 'RAISED'));
    expect(raised.type).toBe('alert.raised');
    expect(raised.payload).toMatchObject({
      kind: 'truck',
      raisedAt: '1970-01-01T00:00:01.000Z',
      resolvedAt: null,
    });
    expect(alertEvent(alertOf('truck-1', 1_000, 'RESOLVED')).type).toBe('alert.resolved');
    expect(deviceEvent(deviceState('truck-1', 1, 0))).toMatchObject({
      deviceId: 'truck-1',
      kind: 'truck',
      lat: 52.1,
    });
    const shelve = commandEvent({
      ...command('c-9'),
      action: 'SHELVE',
      shelvedUntil: 60_000,
      silenceId: 's',
    });
    expect(shelve).toEqual({
      type: 'alert.shelved',
      payload: expect.objectContaining({
        alertId: 'a-1',
        shelvedUntil: '1970-01-01T00:01:00.000Z',
        rule: 'truck.overspeed',
      }),
    });
  });
});
