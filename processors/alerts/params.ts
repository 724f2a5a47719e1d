/**
 * Rules as data (issue 13): a built-in rule of rules.ts with the parameters the registry
 * resolved for one device at one event time (registry/rules.ts RULE_PARAM_SCHEMAS, kind →
 * model → site → device precedence in registry/table.ts). Pure; the partition core caches
 * the result per device while the registry answer holds, so this runs on registry changes,
 * not per event.
 *
 * Parameters equal to the built-in ones give the built-in rule object itself, so a device
 * judged by the defaults raises exactly what the core raises without a registry.
 */
import { RATED_POWER_KW } from '../../domain/power-curve.ts';
import type { Device } from '../../registry/model.ts';
import type { RuleParams, RuleParamsOf } from '../../registry/rules.ts';
import type { AlertRule, Predicate, SustainedRule } from './rules.ts';

/** A rule as one device is judged by at some event time, with the registry row that decided. */
export interface ActiveRule {
  readonly rule: AlertRule;
  /** The deciding rule row's version; 0 for the built-in parameters. Becomes Alert.ruleVersion. */
  readonly version: number;
}

/** The device attributes some rules read: the truck's cargo band, the turbine's rated power. */
export type RuleDevice = Pick<Device, 'refrigerated' | 'cargoMaxC' | 'ratedKw'>;

/** The predicates with new values by field; the same array when nothing changes. */
function setValues(predicates: readonly Predicate[], values: Record<string, number>): Predicate[] {
  let changed = false;
  const next = predicates.map((p) => {
    const value = values[p.field];
    if (value === undefined || value === p.value) return p;
    changed = true;
    return { ...p, value };
  });
  return changed ? next : (predicates as Predicate[]);
}

const seconds = (ms: number) => `${ms / 1000} s`;

function sustained(
  base: SustainedRule,
  when: Record<string, number>,
  resolveWhen: Record<string, number>,
  timing: { forMs?: number; minSamples?: number },
  describe: () => string,
): SustainedRule {
  const nextWhen = setValues(base.when, when);
  const nextResolve = setValues(base.resolveWhen, resolveWhen);
  const forMs = timing.forMs ?? base.forMs;
  const minSamples = timing.minSamples ?? base.minSamples;
  if (
    nextWhen === base.when &&
    nextResolve === base.resolveWhen &&
    forMs === base.forMs &&
    minSamples === base.minSamples
  )
    return base;
  return { ...base, when: nextWhen, resolveWhen: nextResolve, forMs, minSamples, description: describe() };
}

/**
 * The rule `base` with `params` (complete, as the registry stores them) and the device's
 * own attributes. `device` is undefined for a device the registry does not know (the
 * `accept` policy): then the kind's, site's or built-in parameters apply without the
 * device's attributes.
 */
export function ruleWithParams(
  base: AlertRule,
  params: RuleParams,
  device: RuleDevice | undefined,
): AlertRule {
  switch (base.id) {
    case 'truck.overspeed': {
      const p = params as RuleParamsOf<'truck.overspeed'>;
      return sustained(
        base as SustainedRule,
        { speedKmh: p.limitKmh },
        { speedKmh: p.resolveAtOrBelowKmh },
        { forMs: p.forMs },
        () => `speed above ${p.limitKmh} km/h for ${seconds(p.forMs)}`,
      );
    }
    case 'truck.engine_overheat': {
      const p = params as RuleParamsOf<'truck.engine_overheat'>;
      return sustained(
        base as SustainedRule,
        { engineTempC: p.limitC },
        { engineTempC: p.resolveAtOrBelowC },
        { minSamples: p.samples },
        () => `engine temperature above ${p.limitC} °C on ${p.samples} consecutive samples`,
      );
    }
    case 'truck.cargo_temp_breach': {
      const p = params as RuleParamsOf<'truck.cargo_temp_breach'>;
      // The truck's own setpoint band decides when asked to and when it has one.
      const band = p.useDeviceBand && device?.refrigerated === true ? device.cargoMaxC : null;
      const maxC = band ?? p.maxC;
      return sustained(
        base as SustainedRule,
        { cargoTempC: maxC },
        { cargoTempC: maxC },
        { forMs: p.forMs },
        () => `cargo temperature above ${maxC} °C for ${seconds(p.forMs)}`,
      );
    }
    case 'turbine.high_vibration': {
      const p = params as RuleParamsOf<'turbine.high_vibration'>;
      return sustained(
        base as SustainedRule,
        { vibrationMmS: p.limitMmS },
        { vibrationMmS: p.resolveAtOrBelowMmS },
        { forMs: p.forMs },
        () => `vibration above ${p.limitMmS} mm/s for ${seconds(p.forMs)}`,
      );
    }
    case 'solar.inverter_fault': {
      const p = params as RuleParamsOf<'solar.inverter_fault'>;
      return sustained(
        base as SustainedRule,
        { acPowerW: p.maxAcPowerW, irradianceWm2: p.minIrradianceWm2 },
        { acPowerW: p.maxAcPowerW },
        { forMs: p.forMs },
        () =>
          `irradiance above ${p.minIrradianceWm2} W/m² and AC power at most ${p.maxAcPowerW} W for ${seconds(p.forMs)}`,
      );
    }
    case 'solar.panel_overheat': {
      const p = params as RuleParamsOf<'solar.panel_overheat'>;
      return sustained(
        base as SustainedRule,
        { panelTempC: p.limitC },
        { panelTempC: p.resolveAtOrBelowC },
        { forMs: p.forMs },
        () => `panel temperature above ${p.limitC} °C for ${seconds(p.forMs)}`,
      );
    }
  }
  if (base.type === 'drop') {
    const p = params as RuleParamsOf<'truck.harsh_braking'>;
    if (p.minDropKmh === base.minDrop && p.maxGapMs === base.maxGapMs) return base;
    return {
      ...base,
      minDrop: p.minDropKmh,
      maxGapMs: p.maxGapMs,
      description: `speed dropped by ${p.minDropKmh} km/h or more within ${seconds(p.maxGapMs)}`,
    };
  }
  if (base.type === 'heartbeat') {
    const p = params as RuleParamsOf<'truck.heartbeat_lost'>;
    if (p.silenceMs === base.silenceMs) return base;
    return {
      ...base,
      silenceMs: p.silenceMs,
      description: `engine on and no event for ${seconds(p.silenceMs)}`,
    };
  }
  if (base.type === 'powerCurve') {
    const p = params as RuleParamsOf<'turbine.underperformance'>;
    // Expected power scales with the turbine's rated power (the curve is that of a RATED_POWER_KW machine).
    const ratedKw = device?.ratedKw ?? undefined;
    const rated = ratedKw === undefined || ratedKw === RATED_POWER_KW ? undefined : ratedKw;
    if (
      p.raiseBelowRatio === base.raiseBelowRatio &&
      p.resolveAtOrAboveRatio === base.resolveAtOrAboveRatio &&
      p.minSamples === base.minSamples &&
      p.minExpectedKw === base.minExpectedKw &&
      rated === undefined
    )
      return base;
    return {
      ...base,
      raiseBelowRatio: p.raiseBelowRatio,
      resolveAtOrAboveRatio: p.resolveAtOrAboveRatio,
      minSamples: p.minSamples,
      minExpectedKw: p.minExpectedKw,
      ...(rated === undefined ? {} : { ratedKw: rated }),
      description: `10-min mean power below ${Math.round(p.raiseBelowRatio * 100)} % of the power curve${rated === undefined ? '' : ` (rated ${rated} kW)`}`,
    };
  }
  return base;
}
