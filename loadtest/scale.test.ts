import { describe, expect, it } from 'vitest';
import { memberChanges, scaleSteps } from './scale.ts';

const base = { atS: 20, forS: 120, everyS: 10, from: 1, max: 3, killRemoval: 3, sinkHandover: false };

describe('scaleSteps', () => {
  it('grows 1 → 3 and back to 1, one change every 10 s for 2 minutes', () => {
    const steps = scaleSteps(base);
    expect(steps.map((s) => s.atS)).toEqual([20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130]);
    expect(steps.map((s) => s.processors)).toEqual([2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1]);
    expect(memberChanges(steps)).toBe(12);
  });

  it('makes the chosen removal a kill -9 and every other one a clean stop', () => {
    const actions = scaleSteps(base).map((s) => s.action);
    expect(actions.filter((a) => a === 'kill')).toHaveLength(1);
    // Removals: steps 3, 4, 7, 8, 11, 12; the third is step 7.
    expect(actions[6]).toBe('kill');
    expect(actions.filter((a) => a === 'stop')).toHaveLength(5);
    expect(scaleSteps({ ...base, killRemoval: 0 }).some((s) => s.action === 'kill')).toBe(false);
  });

  it('puts the sink handover halfway, between two member changes', () => {
    const steps = scaleSteps({ ...base, sinkHandover: true });
    const handover = steps.filter((s) => s.action === 'sink-handover');
    expect(handover).toEqual([{ atS: 75, action: 'sink-handover', processors: 3 }]);
    expect(steps.map((s) => s.atS)).toEqual([...steps.map((s) => s.atS)].sort((a, b) => a - b));
    expect(memberChanges(steps)).toBe(12);
  });

  it('starts from the processors the run began with', () => {
    const steps = scaleSteps({ ...base, from: 2, max: 4, forS: 40 });
    expect(steps.map((s) => s.processors)).toEqual([3, 4, 3, 2]);
  });

  it('refuses a schedule without room for a change or without growth', () => {
    expect(() => scaleSteps({ ...base, forS: 0 })).toThrow(/no room/);
    expect(() => scaleSteps({ ...base, max: 1 })).toThrow(/--scale-max/);
    expect(() => scaleSteps({ ...base, everyS: 0 })).toThrow(/--scale-every/);
  });
});
