import { describe, expect, it } from 'vitest';
import { ALERT_RULES } from '../processors/alerts/rules.ts';
import { defaultRuleParams, parseRuleParams, RULE_IDS, ruleKind } from './rules.ts';

describe('rule parameters', () => {
  it('covers every alert rule of the processors, no more', () => {
    expect([...RULE_IDS].sort()).toEqual(ALERT_RULES.map((rule) => rule.id).sort());
  });

  it('takes its defaults from the rule definitions themselves', () => {
    expect(defaultRuleParams('truck.overspeed')).toEqual({
      limitKmh: 90,
      resolveAtOrBelowKmh: 85,
      forMs: 30_000,
    });
    expect(defaultRuleParams('truck.engine_overheat')).toEqual({
      limitC: 105,
      resolveAtOrBelowC: 100,
      samples: 3,
    });
    expect(defaultRuleParams('truck.cargo_temp_breach')).toEqual({
      maxC: 8,
      useDeviceBand: true,
      forMs: 300_000,
    });
    expect(defaultRuleParams('turbine.underperformance')).toEqual({
      raiseBelowRatio: 0.7,
      resolveAtOrAboveRatio: 0.8,
      minSamples: 10,
      minExpectedKw: 100,
    });
    expect(defaultRuleParams('solar.inverter_fault')).toEqual({
      minIrradianceWm2: 300,
      maxAcPowerW: 10,
      forMs: 300_000,
    });
    expect(ruleKind('solar.panel_overheat')).toBe('solar');
  });

  it('completes a partial object with the built-in values', () => {
    const parsed = parseRuleParams('truck.overspeed', { limitKmh: 95 });
    expect(parsed).toEqual({
      success: true,
      params: { limitKmh: 95, resolveAtOrBelowKmh: 85, forMs: 30_000 },
    });
  });

  it('refuses negative limits, durations and out-of-range ratios with the field named', () => {
    expect(parseRuleParams('truck.overspeed', { limitKmh: -5 })).toEqual({
      success: false,
      problems: ['limitKmh must be positive'],
    });
    expect(parseRuleParams('turbine.high_vibration', { forMs: -1 })).toMatchObject({
      success: false,
      problems: ['forMs must not be negative'],
    });
    expect(parseRuleParams('turbine.underperformance', { raiseBelowRatio: 1.5 })).toMatchObject({
      success: false,
      problems: expect.arrayContaining(['raiseBelowRatio must be at most 1']),
    });
    expect(parseRuleParams('solar.inverter_fault', { maxAcPowerW: Number.NaN })).toMatchObject({
      success: false,
    });
  });

  it('refuses a resolve threshold beyond the raise threshold (no hysteresis the wrong way round)', () => {
    expect(parseRuleParams('solar.panel_overheat', { limitC: 70 })).toEqual({
      success: false,
      problems: ['resolveAtOrBelowC (80) must be at most limitC (70)'],
    });
    expect(
      parseRuleParams('turbine.underperformance', { raiseBelowRatio: 0.9, resolveAtOrAboveRatio: 0.8 }),
    ).toMatchObject({ success: false, problems: [expect.stringContaining('resolveAtOrAboveRatio (0.8)')] });
  });

  it('names unknown parameters and unknown rules', () => {
    expect(parseRuleParams('truck.overspeed', { speed: 80 })).toEqual({
      success: false,
      problems: [
        'unknown parameter(s) of truck.overspeed: speed (known: limitKmh, resolveAtOrBelowKmh, forMs)',
      ],
    });
    expect(parseRuleParams('truck.teleport', {})).toEqual({
      success: false,
      problems: ['unknown rule "truck.teleport"'],
    });
  });
});
