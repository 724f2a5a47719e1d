/**
 * The registry's entities, pure: what a write must satisfy (zod schemas with clear
 * messages), what a stored row is, and the one mapping between the two spellings a row
 * has — camelCase fields in the API, the CLI and the processors; snake_case columns in
 * PostgreSQL and therefore in the CDC topics, which carry the table's columns. The service
 * (PostgreSQL rows from `pg`) and the registry table (Debezium's JSON) both read rows
 * through `rowToEntity`, so a row means the same thing on either side of the stream.
 */
import { z } from 'zod';
import { FleetgridError } from '../lib/errors.ts';
import type { DeviceKind } from '../lib/topics.ts';
import { RAW_TOPIC_KEYS } from '../lib/topics.ts';
import { TURBINE_MODEL } from '../domain/index.ts';
import { ID_PATTERN, ID_RULE_TEXT } from '../schemas/ids.ts';
import { parseRuleParams, RULE_IDS, type RuleParams, ruleKind } from './rules.ts';

export const ENTITY_NAMES = ['sites', 'devices', 'drivers', 'rules'] as const;
export type EntityName = (typeof ENTITY_NAMES)[number];

export const SITE_KINDS = ['depot', 'wind_farm', 'solar_park'] as const;
export type SiteKind = (typeof SITE_KINDS)[number];
export const DEVICE_KINDS: readonly DeviceKind[] = RAW_TOPIC_KEYS;
export const DEVICE_STATUSES = ['active', 'maintenance', 'decommissioned'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];
export const RULE_SCOPES = ['kind', 'model', 'site', 'device'] as const;
export type RuleScope = (typeof RULE_SCOPES)[number];

/** A device sits at a site of the matching kind (the database enforces it too). */
export const SITE_KIND_OF: Record<DeviceKind, SiteKind> = {
  truck: 'depot',
  turbine: 'wind_farm',
  solar: 'solar_park',
};

/** Power curves the processors know (producers/models/power-curve.ts is the one documented curve). */
export const POWER_CURVES = [TURBINE_MODEL] as const;

// ---------------------------------------------------------------------------------------
// Field rules

/** A string field: "x is required" when missing, "x must be a string" when of another type. */
const string = (what: string) =>
  z.string({
    error: (issue) => (issue.input === undefined ? `${what} is required` : `${what} must be a string`),
  });

const id = (what: string) => string(what).regex(ID_PATTERN, `${what} must be ${ID_RULE_TEXT}`);

/** Model codes name a machine type (v112-3.0, tractor-40t-reefer): id-safe, since rules can be scoped by model. */
const modelCode = string('model')
  .max(64, 'model must be at most 64 characters')
  .regex(ID_PATTERN, `model must be a model code: ${ID_RULE_TEXT}`);

const text = (what: string, max: number) =>
  string(what)
    .trim()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    // Control characters have no business in master data and would garble terminals and logs.
    .regex(/^[^\p{Cc}]*$/u, `${what} must not contain control characters`);

const finite = (what: string) =>
  z.number({ error: `${what} must be a number` }).refine(Number.isFinite, `${what} must be finite`);

const nonNegative = (what: string) => finite(what).min(0, `${what} must not be negative`);
const positive = (what: string) => finite(what).gt(0, `${what} must be positive`);

const TIME_ZONES = new Set(Intl.supportedValuesOf('timeZone'));

/** An IANA time zone name the runtime knows (Europe/Amsterdam, UTC, America/Los_Angeles). */
export function isTimeZone(name: string): boolean {
  if (name === 'UTC' || TIME_ZONES.has(name)) return true;
  // Links (Asia/Calcutta, US/Pacific) are valid IANA names too, though not in the canonical list;
  // offsets such as "+01:00" are not zones and are refused.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){1,2}$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const timeZone = string('timeZone').refine(isTimeZone, {
  error: (issue) =>
    `timeZone must be an IANA time zone such as Europe/Amsterdam, not ${JSON.stringify(String(issue.input).slice(0, 60))}`,
});

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD')
  .refine((value) => {
    const date = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
  }, 'must be a real calendar date');

// ---------------------------------------------------------------------------------------
// Entities as written (input) and as stored

export const siteInput = z
  .strictObject({
    id: id('id'),
    kind: z.enum(SITE_KINDS, { error: `kind must be one of ${SITE_KINDS.join(', ')}` }),
    name: text('name', 200),
    lat: finite('lat').min(-90, 'lat must be in -90..90').max(90, 'lat must be in -90..90'),
    lon: finite('lon').min(-180, 'lon must be in -180..180').max(180, 'lon must be in -180..180'),
    timeZone,
    capacityKw: nonNegative('capacityKw').nullable().default(null),
    vehicleCapacity: z
      .number()
      .int('vehicleCapacity must be a whole number')
      .min(0, 'vehicleCapacity must not be negative')
      .nullable()
      .default(null),
  })
  .superRefine((site, ctx) => {
    if (site.kind === 'depot' && site.capacityKw !== null)
      ctx.addIssue({
        code: 'custom',
        path: ['capacityKw'],
        message: 'a depot has no capacityKw (use vehicleCapacity)',
      });
    if (site.kind !== 'depot' && site.vehicleCapacity !== null)
      ctx.addIssue({
        code: 'custom',
        path: ['vehicleCapacity'],
        message: `a ${site.kind} has no vehicleCapacity (use capacityKw)`,
      });
  });
export type SiteInput = z.output<typeof siteInput>;

export const driverInput = z.strictObject({
  id: id('id'),
  name: text('name', 200),
  licenceNumber: text('licenceNumber', 40),
  licenceClass: text('licenceClass', 16),
  licenceExpires: isoDate.nullable().default(null),
});
export type DriverInput = z.output<typeof driverInput>;

const deviceCommon = {
  id: id('id'),
  siteId: id('siteId'),
  model: modelCode,
  status: z
    .enum(DEVICE_STATUSES, { error: `status must be one of ${DEVICE_STATUSES.join(', ')}` })
    .default('active'),
};

const temperature = (what: string) =>
  finite(what).min(-60, `${what} must be at least -60 °C`).max(60, `${what} must be at most 60 °C`);

const truckInput = z
  .strictObject({
    ...deviceCommon,
    kind: z.literal('truck'),
    plate: text('plate', 20),
    refrigerated: z.boolean({ error: 'refrigerated must be true or false' }),
    cargoMinC: temperature('cargoMinC').nullable().default(null),
    cargoMaxC: temperature('cargoMaxC').nullable().default(null),
    driverId: id('driverId').nullable().default(null),
  })
  .superRefine((truck, ctx) => {
    if (truck.refrigerated) {
      if (truck.cargoMinC === null || truck.cargoMaxC === null)
        ctx.addIssue({
          code: 'custom',
          path: ['cargoMaxC'],
          message: 'a refrigerated truck needs its cargo setpoint band: cargoMinC and cargoMaxC',
        });
      else if (truck.cargoMinC >= truck.cargoMaxC)
        ctx.addIssue({
          code: 'custom',
          path: ['cargoMaxC'],
          message: `cargoMaxC (${truck.cargoMaxC}) must be above cargoMinC (${truck.cargoMinC})`,
        });
    } else if (truck.cargoMinC !== null || truck.cargoMaxC !== null) {
      ctx.addIssue({
        code: 'custom',
        path: ['refrigerated'],
        message: 'only a refrigerated truck has a cargo setpoint band',
      });
    }
  });

const turbineInput = z.strictObject({
  ...deviceCommon,
  kind: z.literal('turbine'),
  ratedKw: positive('ratedKw').max(30_000, 'ratedKw must be at most 30,000 kW'),
  powerCurve: z.enum(POWER_CURVES, { error: `powerCurve must be one of ${POWER_CURVES.join(', ')}` }),
});

const solarInput = z.strictObject({
  ...deviceCommon,
  kind: z.literal('solar'),
  kwp: positive('kwp').max(1_000_000, 'kwp must be at most 1,000,000'),
});

/** The attributes only one kind of device has. */
export const KIND_ATTRIBUTES: Record<DeviceKind, readonly string[]> = {
  truck: ['plate', 'refrigerated', 'cargoMinC', 'cargoMaxC', 'driverId'],
  turbine: ['ratedKw', 'powerCurve'],
  solar: ['kwp'],
};

export const deviceInput = z.preprocess(
  (body) => {
    // A device reads back with every attribute, null where its kind has none; writing that
    // document back must work, so null attributes of the other kinds are dropped here.
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
    const record = body as Record<string, unknown>;
    const own = KIND_ATTRIBUTES[record.kind as DeviceKind] ?? [];
    return Object.fromEntries(
      Object.entries(record).filter(
        ([key, value]) =>
          !(
            value === null &&
            !own.includes(key) &&
            Object.values(KIND_ATTRIBUTES).some((list) => list.includes(key))
          ),
      ),
    );
  },
  z.discriminatedUnion('kind', [truckInput, turbineInput, solarInput], {
    error: `kind must be one of ${RAW_TOPIC_KEYS.join(', ')}`,
  }),
);
export type DeviceInput = z.output<typeof deviceInput>;

/** A rule row's id: the rule, the scope and the scope's id, e.g. `truck.overspeed:site:depot-lyon`. */
export function ruleRowId(ruleId: string, scope: RuleScope, scopeId: string): string {
  return `${ruleId}:${scope}:${scopeId}`;
}

/** The parts of a rule row id; undefined when it is not one. */
export function parseRuleRowId(
  rowId: string,
): { ruleId: string; scope: RuleScope; scopeId: string } | undefined {
  for (const ruleId of RULE_IDS) {
    if (!rowId.startsWith(`${ruleId}:`)) continue;
    const rest = rowId.slice(ruleId.length + 1);
    const at = rest.indexOf(':');
    const scope = rest.slice(0, at) as RuleScope;
    if (at < 0 || !RULE_SCOPES.includes(scope)) return undefined;
    return { ruleId, scope, scopeId: rest.slice(at + 1) };
  }
  return undefined;
}

export const ruleInput = z
  .strictObject({
    /** Optional in a write: derived from ruleId, scope and scopeId; if given it must agree. */
    id: z.string().optional(),
    ruleId: z.enum(RULE_IDS as [string, ...string[]], {
      error: `ruleId must be one of ${RULE_IDS.join(', ')}`,
    }),
    scope: z.enum(RULE_SCOPES, { error: `scope must be one of ${RULE_SCOPES.join(', ')}` }),
    scopeId: string('scopeId').max(200, 'scopeId must be at most 200 characters'),
    params: z.record(z.string(), z.unknown(), { error: 'params must be an object' }).default({}),
    enabled: z.boolean({ error: 'enabled must be true or false' }).default(true),
  })
  .transform((rule, ctx) => {
    const kind = ruleKind(rule.ruleId);
    if (rule.scope === 'kind' && rule.scopeId !== kind) {
      ctx.addIssue({
        code: 'custom',
        path: ['scopeId'],
        message: `rule ${rule.ruleId} applies to ${kind}s: a kind scope must be "${kind}", not ${JSON.stringify(rule.scopeId)}`,
      });
      return z.NEVER;
    }
    if (rule.scope === 'model' && !modelCode.safeParse(rule.scopeId).success) {
      ctx.addIssue({
        code: 'custom',
        path: ['scopeId'],
        message: `scopeId must be a model code: ${ID_RULE_TEXT}`,
      });
      return z.NEVER;
    }
    if ((rule.scope === 'site' || rule.scope === 'device') && !ID_PATTERN.test(rule.scopeId)) {
      ctx.addIssue({ code: 'custom', path: ['scopeId'], message: `scopeId must be ${ID_RULE_TEXT}` });
      return z.NEVER;
    }
    const rowId = ruleRowId(rule.ruleId, rule.scope, rule.scopeId);
    if (rule.id !== undefined && rule.id !== rowId) {
      ctx.addIssue({
        code: 'custom',
        path: ['id'],
        message: `id must be ${rowId} (rule:scope:scopeId), not ${JSON.stringify(rule.id.slice(0, 200))}`,
      });
      return z.NEVER;
    }
    const params = parseRuleParams(rule.ruleId, rule.params);
    if (!params.success) {
      for (const problem of params.problems)
        ctx.addIssue({ code: 'custom', path: ['params'], message: problem });
      return z.NEVER;
    }
    return {
      id: rowId,
      ruleId: rule.ruleId,
      scope: rule.scope,
      scopeId: rule.scopeId,
      params: params.params,
      enabled: rule.enabled,
    };
  });
export type RuleInput = z.output<typeof ruleInput>;

export interface Stamp {
  /** Grows on every write of the row; unique across the registry (registry.change_version). */
  version: number;
  /** ISO 8601, UTC. */
  updatedAt: string;
}

export type Site = SiteInput & Stamp;
export type Driver = DriverInput & Stamp;
/** Every device field is present; those of other kinds are null (the flat row, as stored). */
export interface Device extends Stamp {
  id: string;
  kind: DeviceKind;
  siteId: string;
  model: string;
  status: DeviceStatus;
  plate: string | null;
  refrigerated: boolean | null;
  cargoMinC: number | null;
  cargoMaxC: number | null;
  driverId: string | null;
  ratedKw: number | null;
  powerCurve: string | null;
  kwp: number | null;
}
export interface Rule extends Stamp {
  id: string;
  ruleId: string;
  scope: RuleScope;
  scopeId: string;
  params: RuleParams;
  enabled: boolean;
}

export interface EntityTypes {
  sites: Site;
  devices: Device;
  drivers: Driver;
  rules: Rule;
}
export interface InputTypes {
  sites: SiteInput;
  devices: DeviceInput;
  drivers: DriverInput;
  rules: RuleInput;
}
export type Entity = EntityTypes[EntityName];

export const INPUT_SCHEMAS = {
  sites: siteInput,
  devices: deviceInput,
  drivers: driverInput,
  rules: ruleInput,
} as const;

/** Singular nouns for messages. */
export const NOUN: Record<EntityName, string> = {
  sites: 'site',
  devices: 'device',
  drivers: 'driver',
  rules: 'rule',
};

// ---------------------------------------------------------------------------------------
// Columns: the table layout (registry/migrations), shared by SQL and the CDC topics

/** Table of each entity and its data columns (besides id, version, updated_at), field → column. */
export const TABLES = {
  sites: {
    table: 'sites',
    columns: {
      kind: 'kind',
      name: 'name',
      lat: 'lat',
      lon: 'lon',
      timeZone: 'time_zone',
      capacityKw: 'capacity_kw',
      vehicleCapacity: 'vehicle_capacity',
    },
  },
  drivers: {
    table: 'drivers',
    columns: {
      name: 'name',
      licenceNumber: 'licence_number',
      licenceClass: 'licence_class',
      licenceExpires: 'licence_expires',
    },
  },
  devices: {
    table: 'devices',
    columns: {
      kind: 'kind',
      siteId: 'site_id',
      model: 'model',
      status: 'status',
      plate: 'plate',
      refrigerated: 'refrigerated',
      cargoMinC: 'cargo_min_c',
      cargoMaxC: 'cargo_max_c',
      driverId: 'driver_id',
      ratedKw: 'rated_kw',
      powerCurve: 'power_curve',
      kwp: 'kwp',
    },
  },
  rules: {
    table: 'alert_rules',
    columns: {
      ruleId: 'rule_id',
      scope: 'scope',
      scopeId: 'scope_id',
      params: 'params',
      enabled: 'enabled',
    },
  },
} as const satisfies Record<EntityName, { table: string; columns: Record<string, string> }>;

/** The columns an input writes, in a fixed order, with the derived ones (site_kind, rule references). */
export function inputToColumns<N extends EntityName>(
  entity: N,
  input: InputTypes[N],
): Record<string, unknown> {
  const spec = TABLES[entity];
  const record = input as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { id: record.id };
  for (const [field, column] of Object.entries(spec.columns)) out[column] = record[field] ?? null;
  if (entity === 'devices') out.site_kind = SITE_KIND_OF[record.kind as DeviceKind];
  if (entity === 'rules') {
    const rule = input as RuleInput;
    out.params = JSON.stringify(rule.params);
    out.site_id = rule.scope === 'site' ? rule.scopeId : null;
    out.device_id = rule.scope === 'device' ? rule.scopeId : null;
  }
  return out;
}

const DAY_MS = 86_400_000;

// Rows arrive in two encodings: `pg` (bigint as text, timestamptz as Date, date as text,
// jsonb parsed) and Debezium's JSON (int64 numbers, timestamptz as ISO text, date as days
// since the epoch, jsonb as text). These accept both and give one shape.
const version = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d{1,15}$/)
    .transform(Number),
]);
const timestamp = z.union([
  z.date().transform((date) => date.toISOString()),
  z.string().transform((value, ctx) => {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'not a timestamp' });
      return z.NEVER;
    }
    return new Date(ms).toISOString();
  }),
]);
const date = z.union([
  z.null(),
  isoDate,
  z
    .number()
    .int()
    .transform((days) => new Date(days * DAY_MS).toISOString().slice(0, 10)),
  z.date().transform((value) => value.toISOString().slice(0, 10)),
]);
const jsonObject = z.union([
  z.record(z.string(), z.unknown()),
  z.string().transform((value, ctx) => {
    try {
      return z.record(z.string(), z.unknown()).parse(JSON.parse(value));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a JSON object' });
      return z.NEVER;
    }
  }),
]);
const stamp = { version, updated_at: timestamp };

/** Stored rows, column by column; strict about what the tables hold, lenient about encodings. */
const ROW_SCHEMAS = {
  sites: z.object({
    id: z.string(),
    kind: z.enum(SITE_KINDS),
    name: z.string(),
    lat: z.number(),
    lon: z.number(),
    time_zone: z.string(),
    capacity_kw: z.number().nullable(),
    vehicle_capacity: z.number().int().nullable(),
    ...stamp,
  }),
  drivers: z.object({
    id: z.string(),
    name: z.string(),
    licence_number: z.string(),
    licence_class: z.string(),
    licence_expires: date,
    ...stamp,
  }),
  devices: z.object({
    id: z.string(),
    kind: z.enum(RAW_TOPIC_KEYS),
    site_id: z.string(),
    model: z.string(),
    status: z.enum(DEVICE_STATUSES),
    plate: z.string().nullable(),
    refrigerated: z.boolean().nullable(),
    cargo_min_c: z.number().nullable(),
    cargo_max_c: z.number().nullable(),
    driver_id: z.string().nullable(),
    rated_kw: z.number().nullable(),
    power_curve: z.string().nullable(),
    kwp: z.number().nullable(),
    ...stamp,
  }),
  rules: z.object({
    id: z.string(),
    rule_id: z.string(),
    scope: z.enum(RULE_SCOPES),
    scope_id: z.string(),
    params: jsonObject,
    enabled: z.boolean(),
    ...stamp,
  }),
} as const;

export type RowResult<N extends EntityName> =
  | { ok: true; entity: EntityTypes[N] }
  | { ok: false; problem: string };

/**
 * A stored row (columns) as the entity. Rows are checked, not trusted: a row written
 * around the service (by hand in psql) that breaks a rule the service enforces — an id
 * outside the id rule, invalid rule parameters — is reported as a problem instead.
 */
export function rowToEntity<N extends EntityName>(entity: N, row: Record<string, unknown>): RowResult<N> {
  const parsed = ROW_SCHEMAS[entity].safeParse(row);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, problem: `${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}` };
  }
  const columns = parsed.data as Record<string, unknown>;
  if (!ID_PATTERN.test(String(columns.id)) && entity !== 'rules')
    return { ok: false, problem: `id: must be ${ID_RULE_TEXT}` };
  const out: Record<string, unknown> = { id: columns.id };
  for (const [field, column] of Object.entries(TABLES[entity].columns)) out[field] = columns[column];
  out.version = columns.version;
  out.updatedAt = columns.updated_at;
  if (entity === 'rules') {
    const params = parseRuleParams(String(columns.rule_id), columns.params);
    if (!params.success) return { ok: false, problem: `params: ${params.problems.join('; ')}` };
    out.params = params.params;
  }
  return { ok: true, entity: out as unknown as EntityTypes[N] };
}

/** The input fields of a stored entity: what a write would have to send to leave it unchanged. */
export function entityToInput<N extends EntityName>(entity: N, stored: EntityTypes[N]): InputTypes[N] {
  const { version: _version, updatedAt: _updatedAt, ...rest } = stored as unknown as Record<string, unknown>;
  if (entity === 'devices') {
    // A device's input carries only its kind's attributes.
    const device = stored as Device;
    const common = {
      id: device.id,
      kind: device.kind,
      siteId: device.siteId,
      model: device.model,
      status: device.status,
    };
    if (device.kind === 'truck')
      return {
        ...common,
        plate: device.plate,
        refrigerated: device.refrigerated,
        cargoMinC: device.cargoMinC,
        cargoMaxC: device.cargoMaxC,
        driverId: device.driverId,
      } as unknown as InputTypes[N];
    if (device.kind === 'turbine')
      return {
        ...common,
        ratedKw: device.ratedKw,
        powerCurve: device.powerCurve,
      } as unknown as InputTypes[N];
    return { ...common, kwp: device.kwp } as unknown as InputTypes[N];
  }
  return rest as unknown as InputTypes[N];
}

// ---------------------------------------------------------------------------------------
// Validation of a write

/** "field: message", unless the message already starts with the field's name. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
  const field = issue.path.map(String).join('.');
  const last = String(issue.path.at(-1) ?? '');
  return field === '' || issue.message.startsWith(last) ? issue.message : `${field}: ${issue.message}`;
}

/**
 * Validates a write of `entity`. `pathId` is the id the request addresses (PUT /devices/x):
 * the body may leave its id out, but may not name another one. A rule row's id also gives
 * its rule, scope and scope id. Throws INVALID_ARGUMENT listing every problem.
 */
export function parseInput<N extends EntityName>(entity: N, body: unknown, pathId?: string): InputTypes[N] {
  const noun = NOUN[entity];
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new FleetgridError('INVALID_ARGUMENT', `a ${noun} must be a JSON object`);
  // version and updatedAt are the server's (a read-modify-write sends them back): If-Match carries the version.
  const { version: _version, updatedAt: _updatedAt, ...fields } = body as Record<string, unknown>;
  let input = fields;
  if (pathId !== undefined) {
    if (entity === 'rules') {
      const parts = parseRuleRowId(pathId);
      if (!parts)
        throw new FleetgridError(
          'INVALID_ARGUMENT',
          `rule id ${JSON.stringify(pathId.slice(0, 200))} is not <rule>:<scope>:<scopeId> (e.g. truck.overspeed:site:depot-lyon)`,
        );
      for (const [field, value] of Object.entries(parts)) {
        if (input[field] !== undefined && input[field] !== value)
          throw new FleetgridError(
            'INVALID_ARGUMENT',
            `${field} ${JSON.stringify(input[field])} differs from the id's ${JSON.stringify(value)}`,
          );
      }
      input = { ...parts, ...input };
    } else if (input.id === undefined) {
      input = { ...input, id: pathId };
    } else if (input.id !== pathId) {
      throw new FleetgridError(
        'INVALID_ARGUMENT',
        `the body's id ${JSON.stringify(String(input.id).slice(0, 200))} differs from the addressed ${noun} ${pathId}`,
      );
    }
  }
  const parsed = INPUT_SCHEMAS[entity].safeParse(input);
  if (parsed.success) return parsed.data as InputTypes[N];
  const named =
    entity === 'rules' && typeof input.ruleId === 'string' && typeof input.scope === 'string'
      ? `${input.ruleId}:${input.scope}:${String(input.scopeId)}`.slice(0, 300)
      : typeof input.id === 'string' && ID_PATTERN.test(input.id)
        ? input.id
        : undefined;
  const subject = named === undefined ? noun : `${noun} ${named}`;
  throw new FleetgridError(
    'INVALID_ARGUMENT',
    `invalid ${subject}: ${parsed.error.issues.map(describeIssue).join('; ')}`,
  );
}
