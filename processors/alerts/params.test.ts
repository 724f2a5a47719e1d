import { describe, expect, it } from 'vitest';
import { defaultRuleParams, RULE_IDS } from '../../registry/rules.ts';
import { ruleWithParams } from './params.ts';
import { ALERT_RULES } from './rules.ts';

describe('rules with registry parameters', () => {
  it('are the built-in rule objects themselves under the built-in parameters (outputs stay as without a registry)', () => {
    const seededTruck = { refrigerated: true, cargoMaxC: 8, ratedKw: null };
    const seededTurbine = { refrigerated: null, cargoMaxC: null, ratedKw: 3000 };
    for (const rule of ALERT_RULES) {
      const params = defaultRuleParams(rule.id as (typeof RULE_IDS)[number]);
      expect(ruleWithParams(rule, params, undefined)).toBe(rule);
      expect(ruleWithParams(rule, params, rule.kind === 'TRUCK' ? seededTruck : seededTurbine)).toBe(rule);
    }
    expect(RULE_IDS).toEqual(ALERT_RULES.map((r) => r.id));
  });

  it('carry every parameter into the machine definition', () => {
    const rule = (id: string) => ALERT_RULES.find((r) => r.id === id) as (typeof ALERT_RULES)[number];
    expect(
      ruleWithParams(
        rule('solar.inverter_fault'),
        { minIrradianceWm2: 200, maxAcPowerW: 5, forMs: 1_000 },
        undefined,
      ),
    ).toMatchObject({
      when: [
        { field: 'acPowerW', op: '<=', value: 5 },
        { field: 'irradianceWm2', op: '>', value: 200 },
      ],
      resolveWhen: [{ field: 'acPowerW', op: '>', value: 5 }],
      forMs: 1_000,
      description: 'irradiance above 200 W/m² and AC power at most 5 W for 1 s',
    });
    expect(
      ruleWithParams(
        rule('truck.cargo_temp_breach'),
        { maxC: 8, useDeviceBand: false, forMs: 300_000 },
        {
          refrigerated: true,
          cargoMaxC: 4,
          ratedKw: null,
        },
      ),
    ).toBe(rule('truck.cargo_temp_breach'));
    expect(
      ruleWithParams(
        rule('truck.cargo_temp_breach'),
        { maxC: 8, useDeviceBand: true, forMs: 300_000 },
        {
          refrigerated: true,
          cargoMaxC: 4,
          ratedKw: null,
        },
      ),
    ).toMatchObject({ when: [{ value: 4 }], resolveWhen: [{ value: 4 }] });
    expect(
      ruleWithParams(rule('truck.harsh_braking'), { minDropKmh: 30, maxGapMs: 3_000 }, undefined),
    ).toMatchObject({
      minDrop: 30,
      maxGapMs: 3_000,
    });
    expect(ruleWithParams(rule('truck.heartbeat_lost'), { silenceMs: 120_000 }, undefined)).toMatchObject({
      silenceMs: 120_000,
    });
    expect(
      ruleWithParams(
        rule('truck.engine_overheat'),
        { limitC: 110, resolveAtOrBelowC: 100, samples: 5 },
        undefined,
      ),
    ).toMatchObject({
      minSamples: 5,
      when: [{ value: 110 }],
    });
  });
});
