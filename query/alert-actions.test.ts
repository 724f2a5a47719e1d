import { describe, expect, it } from 'vitest';
import type { AlertCommand } from '../schemas/types.ts';
import { parseParams } from './params.ts';
import {
  actionsView,
  COMMAND_BODIES,
  foldCommands,
  LIMITS,
  type ParsedCommand,
  planCommand,
  sameCommand,
} from './alert-actions.ts';

const NOW = Date.UTC(2026, 11, 1, 8, 0, 0);
const alert = { alertId: 'a-1', rule: 'truck.overspeed', deviceId: 'truck-1', state: 'RAISED' as const };
const cmd = (over: Partial<AlertCommand>): AlertCommand => ({
  commandId: 'cmd-00000001',
  alertId: 'a-1',
  action: 'ACK',
  rule: 'truck.overspeed',
  deviceId: 'truck-1',
  by: 'ops',
  comment: '',
  shelvedUntil: null,
  silenceId: null,
  ts: NOW - 60_000,
  ...over,
});
const ids = { commandId: 'cmd-new-0001', now: NOW };
const parse = <V extends ParsedCommand['verb']>(verb: V, body: unknown) =>
  ({ verb, body: parseParams(COMMAND_BODIES[verb], body) }) as ParsedCommand;

describe('alert command bodies', () => {
  it('require who acts and bound what they write', () => {
    expect(() => parse('ack', {})).toThrow(/by/);
    expect(() => parse('ack', { by: '   ' })).toThrow(/by must name who acts/);
    expect(() => parse('comment', { by: 'ops', comment: 'x'.repeat(LIMITS.commentChars + 1) })).toThrow(
      /at most 2000 characters/,
    );
    expect(() => parse('ack', { by: 'ops\u0000' })).toThrow(/control characters/);
    expect(() => parse('ack', { by: 'ops', extra: 1 })).toThrow(/unknown parameter/);
    expect(() => parse('ack', { by: 'ops', commandId: 'short' })).toThrow(/commandId/);
    expect(() => parse('shelve', { by: 'ops', until: 'tomorrow', reason: 'r' })).toThrow(/until/);
    expect(() => parse('shelve', { by: 'ops', until: new Date(NOW).toISOString(), reason: ' ' })).toThrow(
      /reason/,
    );
    // A comment may hold anything printable, markup included: it is shown as text.
    expect(
      parse('comment', { by: 'ops', comment: '<img src=x onerror=alert(1)>\nline 2' }).body,
    ).toMatchObject({
      comment: '<img src=x onerror=alert(1)>\nline 2',
    });
  });
});

describe('folding recorded commands', () => {
  it('acknowledges once, shelves until the time passes or an unshelve', () => {
    const shelve = cmd({
      commandId: 'cmd-shelve-1',
      action: 'SHELVE',
      shelvedUntil: NOW + 60_000,
      silenceId: 's1',
    });
    expect(foldCommands([cmd({}), shelve], NOW).shelved?.silenceId).toBe('s1');
    expect(foldCommands([shelve], NOW + 60_000).shelved).toBeUndefined();
    const unshelve = cmd({ commandId: 'cmd-unshelve-1', action: 'UNSHELVE', ts: NOW - 1 });
    expect(foldCommands([unshelve, shelve], NOW).shelved).toBeUndefined();
    const view = actionsView([cmd({}), cmd({ commandId: 'cmd-00000002', by: 'other', ts: NOW })], NOW);
    expect(view.acknowledged).toEqual({ by: 'ops', at: new Date(NOW - 60_000).toISOString(), comment: '' });
    expect(view.history.map((h) => h.commandId)).toEqual(['cmd-00000001', 'cmd-00000002']);
  });

  it('counts a command id once (projection and recent overlap)', () => {
    expect(actionsView([cmd({}), cmd({})], NOW).history).toHaveLength(1);
  });
});

describe('planning a command', () => {
  it('refuses what the alert cannot take, writing nothing', () => {
    const resolved = { ...alert, state: 'RESOLVED' as const };
    expect(() => planCommand(parse('ack', { by: 'ops' }), resolved, [], ids)).toThrow(/resolved/);
    expect(() => planCommand(parse('ack', { by: 'ops' }), alert, [cmd({})], ids)).toThrow(
      /already acknowledged/,
    );
    expect(() => planCommand(parse('unshelve', { by: 'ops' }), alert, [], ids)).toThrow(/not shelved/);
    const until = (ms: number) => new Date(NOW + ms).toISOString();
    const shelve = (ms: number) => parse('shelve', { by: 'ops', until: until(ms), reason: 'works' });
    expect(() => planCommand(shelve(1_000), alert, [], ids)).toThrow(/at least a minute/);
    expect(() => planCommand(shelve(31 * 86_400_000), alert, [], ids)).toThrow(/30 days/);
    const shelved = cmd({ action: 'SHELVE', shelvedUntil: NOW + 600_000, silenceId: 's1' });
    expect(() => planCommand(shelve(3_600_000), alert, [shelved], ids)).toThrow(/already shelved/);
  });

  it('says which silence to create or expire and what to record', () => {
    const until = NOW + 3_600_000;
    const shelve = planCommand(
      parse('shelve', { by: 'ops', until: new Date(until).toISOString(), reason: 'works' }),
      alert,
      [],
      ids,
    );
    expect(shelve.silence).toEqual({ create: { endsAt: until } });
    expect(shelve.event).toMatchObject({ action: 'SHELVE', shelvedUntil: until, comment: 'works', ts: NOW });
    const shelved = cmd({ action: 'SHELVE', shelvedUntil: until, silenceId: 's1' });
    const unshelve = planCommand(parse('unshelve', { by: 'ops' }), alert, [shelved], ids);
    expect(unshelve.silence).toEqual({ expire: 's1' });
    expect(unshelve.event).toMatchObject({ action: 'UNSHELVE', silenceId: 's1' });
    // Comments are fine on resolved alerts.
    const resolved = { ...alert, state: 'RESOLVED' as const };
    expect(
      planCommand(parse('comment', { by: 'ops', comment: 'done' }), resolved, [], ids).silence,
    ).toBeUndefined();
  });

  it('tells a repeated command from a different one under the same id', () => {
    expect(sameCommand(cmd({}), 'a-1', 'ack')).toBe(true);
    expect(sameCommand(cmd({}), 'a-1', 'comment')).toBe(false);
    expect(sameCommand(cmd({}), 'a-2', 'ack')).toBe(false);
  });
});
