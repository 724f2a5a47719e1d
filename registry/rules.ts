/**
 * Alert rule parameters as registry data, pure. For each rule of processors/alerts/rules.ts
 * the parameters an operator may set per scope, their bounds, and their defaults — read
 * from the rule definitions themselves, so the built-in thresholds live in one place.
 * A stored `params` object is always complete: omitted fields take the built-in default
 * when written, so the most specific enabled row alone says how the rule behaves
 * (precedence: device, site, model, kind, built-in; see registry/table.ts).
 */
import { z } from 'zod';
import type { DeviceKind } from '../lib/topics.ts';
import { ALERT_RULES, type AlertRule, type Predicate } from '../processors/alerts/rules.ts';

/** The registry's device kind of a telemetry kind symbol. */
export const KIND_OF_SYMBOL: Record<AlertRule['kind'], DeviceKind> = {
  TRUCK: 'truck',
  TURBINE: 'turbine',
  SOLAR: 'solar',
};

function ruleById(id: string): AlertRule {
  const rule = ALERT_RULES.find((candidate) => candidate.id === id);
  if (!rule)
    throw new Error(`registry/rules.ts names ${id}, which processors/alerts/rules.ts does not define`);
  return rule;
}

/** The value of the predicate on `field` in the rule's `when` or `resolveWhen` list (a built-in default). */
function threshold(id: string, list: 'when' | 'resolveWhen', field: string): number {
  const rule = ruleById(id);
  const predicates = (rule as { [key in typeof list]?: Predicate[] })[list] ?? [];
  const predicate = predicates.find((candidate) => candidate.field === field);
  if (!predicate) throw new Error(`rule ${id} has no ${list} predicate on ${field}`);
  return predicate.value;
}

function property<K extends string>(id: string, key: K): number {
  const value = (ruleById(id) as unknown as Record<string, unknown>)[key];
  if (typeof value !== 'number') throw new Error(`rule ${id} has no numeric ${key}`);
  return value;
}

const HOUR_MS = 3_600_000;

const number = (what: string) =>
  z.number({ error: `${what} must be a number` }).refine(Number.isFinite, `${what} must be finite`);
const positive = (what: string, max: number, unit: string) =>
  number(what).gt(0, `${what} must be positive`).max(max, `${what} must be at most ${max} ${unit}`);
const nonNegative = (what: string, max: number, unit: string) =>
  number(what).min(0, `${what} must not be negative`).max(max, `${what} must be at most ${max} ${unit}`);
const duration = (what: string, min = 0) =>
  z
    .number({ error: `${what} must be a number of milliseconds` })
    .int(`${what} must be a whole number of milliseconds`)
    .min(min, min === 0 ? `${what} must not be negative` : `${what} must be at least ${min} ms`)
    .max(24 * HOUR_MS, `${what} must be at most 24 h (86400000 ms)`);
const ratio = (what: string) =>
  number(what).gt(0, `${what} must be above 0`).max(1, `${what} must be at most 1`);

/** Raise above `limit`, resolve at or below `resolve`: the resolve threshold may not exceed the limit. */
function hysteresis<T extends Record<string, unknown>>(limit: keyof T & string, resolve: keyof T & string) {
  return (params: T, ctx: z.RefinementCtx) => {
    const limitValue = params[limit] as number;
    // A limit that failed its own check (negative, say) has already been reported.
    if (limitValue > 0 && (params[resolve] as number) > limitValue)
      ctx.addIssue({
        code: 'custom',
        path: [resolve],
        message: `${resolve} (${params[resolve]}) must be at most ${limit} (${params[limit]})`,
      });
  };
}

const OVERSPEED = 'truck.overspeed';
const OVERHEAT = 'truck.engine_overheat';
const BRAKING = 'truck.harsh_braking';
const CARGO = 'truck.cargo_temp_breach';
const HEARTBEAT = 'truck.heartbeat_lost';
const VIBRATION = 'turbine.high_vibration';
const UNDERPERFORMANCE = 'turbine.underperformance';
const INVERTER = 'solar.inverter_fault';
const PANEL = 'solar.panel_overheat';

/** One strict schema per rule; every field has the built-in value as its default. */
export const RULE_PARAM_SCHEMAS = {
  [OVERSPEED]: z
    .strictObject({
      limitKmh: positive('limitKmh', 300, 'km/h').default(threshold(OVERSPEED, 'when', 'speedKmh')),
      resolveAtOrBelowKmh: positive('resolveAtOrBelowKmh', 300, 'km/h').default(
        threshold(OVERSPEED, 'resolveWhen', 'speedKmh'),
      ),
      forMs: duration('forMs').default(property(OVERSPEED, 'forMs')),
    })
    .superRefine(hysteresis('limitKmh', 'resolveAtOrBelowKmh')),
  [OVERHEAT]: z
    .strictObject({
      limitC: positive('limitC', 200, '°C').default(threshold(OVERHEAT, 'when', 'engineTempC')),
      resolveAtOrBelowC: positive('resolveAtOrBelowC', 200, '°C').default(
        threshold(OVERHEAT, 'resolveWhen', 'engineTempC'),
      ),
      samples: z
        .number({ error: 'samples must be a number' })
        .int('samples must be a whole number')
        .min(1, 'samples must be at least 1')
        .max(100, 'samples must be at most 100')
        .default(property(OVERHEAT, 'minSamples')),
    })
    .superRefine(hysteresis('limitC', 'resolveAtOrBelowC')),
  [BRAKING]: z.strictObject({
    minDropKmh: positive('minDropKmh', 200, 'km/h').default(property(BRAKING, 'minDrop')),
    maxGapMs: duration('maxGapMs', 1).default(property(BRAKING, 'maxGapMs')),
  }),
  [CARGO]: z.strictObject({
    /** Breach above this cargo temperature, unless useDeviceBand and the truck has a band… */
    maxC: number('maxC')
      .min(-60, 'maxC must be at least -60 °C')
      .max(60, 'maxC must be at most 60 °C')
      .default(threshold(CARGO, 'when', 'cargoTempC')),
    /** …then above the band's cargoMaxC (the registry's setpoint band of that truck). */
    useDeviceBand: z.boolean({ error: 'useDeviceBand must be true or false' }).default(true),
    forMs: duration('forMs').default(property(CARGO, 'forMs')),
  }),
  [HEARTBEAT]: z.strictObject({
    silenceMs: duration('silenceMs', 1_000).default(property(HEARTBEAT, 'silenceMs')),
  }),
  [VIBRATION]: z
    .strictObject({
      limitMmS: positive('limitMmS', 100, 'mm/s').default(threshold(VIBRATION, 'when', 'vibrationMmS')),
      resolveAtOrBelowMmS: positive('resolveAtOrBelowMmS', 100, 'mm/s').default(
        threshold(VIBRATION, 'resolveWhen', 'vibrationMmS'),
      ),
      forMs: duration('forMs').default(property(VIBRATION, 'forMs')),
    })
    .superRefine(hysteresis('limitMmS', 'resolveAtOrBelowMmS')),
  [UNDERPERFORMANCE]: z
    .strictObject({
      raiseBelowRatio: ratio('raiseBelowRatio').default(property(UNDERPERFORMANCE, 'raiseBelowRatio')),
      resolveAtOrAboveRatio: ratio('resolveAtOrAboveRatio').default(
        property(UNDERPERFORMANCE, 'resolveAtOrAboveRatio'),
      ),
      minSamples: z
        .number({ error: 'minSamples must be a number' })
        .int('minSamples must be a whole number')
        .min(1, 'minSamples must be at least 1')
        .max(100_000, 'minSamples must be at most 100000')
        .default(property(UNDERPERFORMANCE, 'minSamples')),
      minExpectedKw: nonNegative('minExpectedKw', 30_000, 'kW').default(
        property(UNDERPERFORMANCE, 'minExpectedKw'),
      ),
    })
    .superRefine((params, ctx) => {
      if (params.resolveAtOrAboveRatio < params.raiseBelowRatio)
        ctx.addIssue({
          code: 'custom',
          path: ['resolveAtOrAboveRatio'],
          message: `resolveAtOrAboveRatio (${params.resolveAtOrAboveRatio}) must be at least raiseBelowRatio (${params.raiseBelowRatio})`,
        });
    }),
  [INVERTER]: z.strictObject({
    minIrradianceWm2: nonNegative('minIrradianceWm2', 1_500, 'W/m²').default(
      threshold(INVERTER, 'when', 'irradianceWm2'),
    ),
    maxAcPowerW: nonNegative('maxAcPowerW', 1_000_000, 'W').default(threshold(INVERTER, 'when', 'acPowerW')),
    forMs: duration('forMs').default(property(INVERTER, 'forMs')),
  }),
  [PANEL]: z
    .strictObject({
      limitC: positive('limitC', 150, '°C').default(threshold(PANEL, 'when', 'panelTempC')),
      resolveAtOrBelowC: positive('resolveAtOrBelowC', 150, '°C').default(
        threshold(PANEL, 'resolveWhen', 'panelTempC'),
      ),
      forMs: duration('forMs').default(property(PANEL, 'forMs')),
    })
    .superRefine(hysteresis('limitC', 'resolveAtOrBelowC')),
} as const;

export type RuleId = keyof typeof RULE_PARAM_SCHEMAS;
export type RuleParamsOf<R extends RuleId> = z.output<(typeof RULE_PARAM_SCHEMAS)[R]>;
export type RuleParams = RuleParamsOf<RuleId>;

export const RULE_IDS: readonly RuleId[] = Object.keys(RULE_PARAM_SCHEMAS) as RuleId[];

/** Whether `id` names a rule with registry parameters. */
export function isRuleId(id: string): id is RuleId {
  return Object.hasOwn(RULE_PARAM_SCHEMAS, id);
}

/** The device kind a rule watches. */
export function ruleKind(id: string): DeviceKind {
  return KIND_OF_SYMBOL[ruleById(id).kind];
}

const DEFAULTS = Object.fromEntries(
  RULE_IDS.map((id) => [id, Object.freeze(RULE_PARAM_SCHEMAS[id].parse({}))]),
) as { [R in RuleId]: Readonly<RuleParamsOf<R>> };

/** The built-in parameters of a rule: what applies when no registry row does. */
export function defaultRuleParams<R extends RuleId>(id: R): Readonly<RuleParamsOf<R>> {
  return DEFAULTS[id];
}

/** Validates (and completes with defaults) a rule's parameters; problems are readable sentences. */
export function parseRuleParams(
  id: string,
  input: unknown,
): { success: true; params: RuleParams } | { success: false; problems: string[] } {
  if (!isRuleId(id)) return { success: false, problems: [`unknown rule ${JSON.stringify(id.slice(0, 80))}`] };
  const parsed = RULE_PARAM_SCHEMAS[id].safeParse(input ?? {});
  if (parsed.success) return { success: true, params: parsed.data };
  return {
    success: false,
    problems: parsed.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown parameter(s) of ${id}: ${issue.keys.join(', ')} (known: ${Object.keys(RULE_PARAM_SCHEMAS[id].shape ?? {}).join(', ')})`
        : issue.message,
    ),
  };
}
