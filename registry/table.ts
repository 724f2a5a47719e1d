/**
 * The registry as an in-memory table, pure: folds the records of the compacted CDC topics
 * (registry.sites|devices|drivers|rules, docs/registry.md "CDC format") into maps by id.
 * This is what each processor holds as its global table (issue 13, part 2); it has no I/O,
 * no clock and no Kafka types, so replaying the same records always gives the same table.
 *
 * A record is the row after the change (Debezium's ExtractNewRecordState, JSON with
 * schemas, key = the id as a string), a delete marker (`__deleted: "true"`), or a tombstone
 * (null value). Folding is idempotent and order-tolerant the way at-least-once delivery
 * needs: a row whose version is not newer than the one held is ignored (the connector
 * re-sends changes after a crash), and deletes apply at once.
 *
 * Two views of one fold. The maps (`devices`, `rules`…) hold the newest state: what the
 * sink's dimension tables and the followers read. The event-time history of devices and
 * rules is what the processors' join reads (`deviceAt`, `resolveRuleAt`): each change is in
 * force from its change point E = its commit time (`__source_ts_ms`) + changeLeadMs, so an
 * event is judged by the registry as it was at the event's time, whenever the change record
 * reached the processor — as long as it arrived before the partition's stream time reached E
 * (docs/registry.md "Stream–table join").
 */
import {
  type Device,
  type EntityName,
  type EntityTypes,
  type Rule,
  type RuleScope,
  rowToEntity,
  ruleRowId,
} from './model.ts';
import { defaultRuleParams, type RuleId, type RuleParams } from './rules.ts';

/** One record of a registry topic, as bytes or text. */
export interface RegistryRecord {
  entity: EntityName;
  key: Buffer | string | null;
  value: Buffer | string | null;
}

export type ApplyResult =
  | { outcome: 'upserted' | 'deleted'; id: string }
  /** Not newer than what the table holds (a re-delivery), or a delete of an unknown id. */
  | { outcome: 'unchanged'; id: string }
  /** Not a registry record; the table is unchanged. `problem` says why, for the log and a counter. */
  | { outcome: 'invalid'; id: string | null; problem: string };

export interface RegistryTableCounts {
  upserted: number;
  deleted: number;
  unchanged: number;
  invalid: number;
}

/** How a rule applies to one device: from the most specific registry row, or built in. */
export interface ResolvedRule {
  enabled: boolean;
  params: RuleParams;
  /** The rule row that decided (its id and version), or undefined for the built-in defaults. */
  source: { id: string; version: number } | undefined;
}

/**
 * The event-time interval [from, until) over which a lookup's answer holds, narrowed by
 * each lookup it is passed to: a core can cache a device's answers while the table's
 * epoch is unchanged and its events fall inside the interval.
 */
export interface ValiditySpan {
  from: number;
  until: number;
}

export interface RegistryTable {
  readonly sites: ReadonlyMap<string, EntityTypes['sites']>;
  readonly devices: ReadonlyMap<string, EntityTypes['devices']>;
  readonly drivers: ReadonlyMap<string, EntityTypes['drivers']>;
  readonly rules: ReadonlyMap<string, EntityTypes['rules']>;
  /** Event-time lead of every change: change point = commit time + changeLeadMs. */
  readonly changeLeadMs: number;
  apply(record: RegistryRecord): ApplyResult;
  counts(): RegistryTableCounts;
  /** The highest row version applied so far: the registry's position, e.g. for a checkpoint. */
  maxVersion(): number;
  /**
   * Rule parameters for a device: the device's row, else its site's, its model's, its
   * kind's, else the built-in ones. The most specific row decides even when disabled: a
   * disabled device row switches the rule off for that device alone.
   */
  resolveRule(ruleId: RuleId, device: Pick<Device, 'id' | 'kind' | 'siteId' | 'model'>): ResolvedRule;
  /**
   * Bumped on every device or rule change applied (not on re-deliveries, nor on sites and
   * drivers, which lookups do not read): a cached lookup is valid while it is unchanged.
   */
  epoch(): number;
  /** The device version in force at event time `ts` (undefined: unknown then); narrows `span` if given. */
  deviceAt(id: string, ts: number, span?: ValiditySpan): Device | undefined;
  /** resolveRule with the rule rows in force at event time `ts`; narrows `span` if given. */
  resolveRuleAt(
    ruleId: RuleId,
    device: Pick<Device, 'id' | 'kind' | 'siteId' | 'model'>,
    ts: number,
    span?: ValiditySpan,
  ): ResolvedRule;
  /**
   * The nominal change points (commit time + lead; 0 without a commit time) of the device
   * and rule changes applied after `epoch` (as epoch() returned it before), in apply order.
   */
  changePointsSince(epoch: number): readonly number[];
  /**
   * Forgets device and rule versions no lookup at or after `ts` can see (each superseded by a
   * later version in force at `ts`), so a long-running process's history stays bounded: call
   * it with the oldest event time any core can still accept (min stream time − max lateness).
   * Lookups before `ts` are undefined afterwards. Returns how many versions were dropped.
   */
  pruneBefore(ts: number): number;
}

const SCOPE_ORDER: readonly RuleScope[] = ['device', 'site', 'model', 'kind'];

function text(bytes: Buffer | string): string {
  return typeof bytes === 'string' ? bytes : bytes.toString('utf8');
}

/** Kafka Connect's JsonConverter with schemas wraps the data as {schema, payload}; without, it is bare. */
function unwrap(json: unknown): unknown {
  if (json !== null && typeof json === 'object' && 'payload' in json && 'schema' in json)
    return (json as { payload: unknown }).payload;
  return json;
}

/** The id of a record key: the id itself (StringConverter), or a {id} struct (JsonConverter). */
export function decodeKey(key: Buffer | string | null): string | null {
  if (key === null) return null;
  const raw = text(key);
  if (!raw.startsWith('{')) return raw;
  try {
    const payload = unwrap(JSON.parse(raw));
    if (
      payload !== null &&
      typeof payload === 'object' &&
      typeof (payload as { id?: unknown }).id === 'string'
    )
      return (payload as { id: string }).id;
  } catch {
    // An id that happens to start with "{" is not a valid id anyway (schemas/ids.ts); fall through.
  }
  return raw;
}

/** What one record of a registry topic says, before any table is consulted. */
export type RegistryChange =
  | {
      [N in EntityName]: {
        kind: 'upsert';
        id: string;
        entity: EntityTypes[N];
        /** The commit time in PostgreSQL (Debezium's `__source_ts_ms`), when the record carries it. */
        sourceTsMs?: number;
      };
    }[EntityName]
  /** A delete marker (`__deleted: "true"`, with its commit time) or a tombstone (without): the id is gone. */
  | { kind: 'delete'; id: string; sourceTsMs?: number }
  /** Not a registry record: `problem` says why, for the log, a counter or a dead letter. */
  | { kind: 'invalid'; id: string | null; problem: string };

/**
 * Decodes one record (key, unwrapped row or delete) into a change, pure: the one parser of
 * the CDC format, shared by the registry table below and the sink's dimension tables
 * (sinks/dims.ts), so both sides agree on what a record means.
 */
export function decodeRegistryRecord(record: RegistryRecord): RegistryChange {
  const id = decodeKey(record.key);
  if (id === null) return { kind: 'invalid', id: null, problem: `${record.entity}: a record without a key` };
  if (record.value === null) return { kind: 'delete', id };
  let row: unknown;
  try {
    row = unwrap(JSON.parse(text(record.value)));
  } catch {
    return { kind: 'invalid', id, problem: `${record.entity} ${id}: the value is not JSON` };
  }
  if (row === null) return { kind: 'delete', id };
  if (typeof row !== 'object' || Array.isArray(row))
    return { kind: 'invalid', id, problem: `${record.entity} ${id}: the value is not a row` };
  const sourceTs = (row as { __source_ts_ms?: unknown }).__source_ts_ms;
  const stamp = typeof sourceTs === 'number' && Number.isFinite(sourceTs) ? { sourceTsMs: sourceTs } : {};
  const deleted = (row as { __deleted?: unknown }).__deleted;
  if (deleted === 'true' || deleted === true) return { kind: 'delete', id, ...stamp };
  const parsed = rowToEntity(record.entity, row as Record<string, unknown>);
  if (!parsed.ok) return { kind: 'invalid', id, problem: `${record.entity} ${id}: ${parsed.problem}` };
  if (parsed.entity.id !== id)
    return {
      kind: 'invalid',
      id,
      problem: `${record.entity} ${id}: the key and the row's id ${parsed.entity.id} differ`,
    };
  return { kind: 'upsert', id, entity: parsed.entity, ...stamp } as RegistryChange;
}

export interface RegistryTableOptions {
  /**
   * How far after its commit time (`__source_ts_ms`) a change takes effect in event time:
   * the change point (docs/registry.md "Stream–table join"). Default 10 s.
   */
  changeLeadMs?: number;
}

export const DEFAULT_CHANGE_LEAD_MS = 10_000;

/** One version of a device or rule row in event time: in force from `from` until the next entry's `from`. */
interface HistoryEntry<T> {
  readonly from: number;
  /** undefined: deleted from `from` on. */
  readonly value: T | undefined;
}

type History<T> = HistoryEntry<T>[];

/** The entry in force at `ts` (the last with from <= ts), or -1; narrows `span` to its interval. */
function entryAt<T>(history: History<T>, ts: number, span: ValiditySpan | undefined): number {
  // Histories are short and lookups are mostly about the newest entry: search from the end.
  let at = history.length - 1;
  while (at >= 0 && (history[at] as HistoryEntry<T>).from > ts) at--;
  if (span) {
    if (at >= 0) span.from = Math.max(span.from, (history[at] as HistoryEntry<T>).from);
    if (at + 1 < history.length) span.until = Math.min(span.until, (history[at + 1] as HistoryEntry<T>).from);
  }
  return at;
}

function valueAt<T>(
  history: History<T> | undefined,
  ts: number,
  span: ValiditySpan | undefined,
): T | undefined {
  if (history === undefined) return undefined;
  const at = entryAt(history, ts, span);
  return at < 0 ? undefined : (history[at] as HistoryEntry<T>).value;
}

export function createRegistryTable(options: RegistryTableOptions = {}): RegistryTable {
  const changeLeadMs = options.changeLeadMs ?? DEFAULT_CHANGE_LEAD_MS;
  const maps: { [N in EntityName]: Map<string, EntityTypes[N]> } = {
    sites: new Map(),
    devices: new Map(),
    drivers: new Map(),
    rules: new Map(),
  };
  // Event-time histories of what the partition cores look up; sites and drivers only
  // matter to them through the device row, so their newest state is all there is.
  const histories = {
    devices: new Map<string, History<Device>>(),
    rules: new Map<string, History<Rule>>(),
  };
  /** Change point of every device or rule change applied, in apply order: index = epoch before it. */
  const changePoints: number[] = [];
  const counts: RegistryTableCounts = { upserted: 0, deleted: 0, unchanged: 0, invalid: 0 };
  let maxVersion = 0;

  const invalid = (id: string | null, problem: string): ApplyResult => {
    counts.invalid++;
    return { outcome: 'invalid', id, problem };
  };

  /**
   * Appends a version to the id's history. The change point is the commit time + the lead
   * (0 without a commit time), but never before the previous entry's: a newer version
   * cannot rewrite a past the cores may already have used. The first version of a device
   * applies from -Infinity, so a device registered just before it streams is known for its
   * first events too (docs/registry.md "Stream–table join").
   */
  function remember(
    entity: EntityName,
    id: string,
    value: Device | Rule | undefined,
    sourceTsMs?: number,
  ): void {
    if (entity !== 'devices' && entity !== 'rules') return;
    const map = histories[entity] as Map<string, History<Device | Rule>>;
    let history = map.get(id);
    let from = sourceTsMs === undefined ? 0 : sourceTsMs + changeLeadMs;
    if (history === undefined) {
      history = [];
      map.set(id, history);
      if (entity === 'devices') from = Number.NEGATIVE_INFINITY;
    } else {
      const last = history[history.length - 1] as HistoryEntry<Device | Rule>;
      if (from < last.from) from = last.from;
      // Two versions at one change point: the newer one alone is ever in force.
      if (from === last.from) history.pop();
    }
    history.push({ from, value });
    // The nominal change point, also for a first device version: what lateness is judged by.
    changePoints.push(sourceTsMs === undefined ? 0 : sourceTsMs + changeLeadMs);
  }

  const remove = (entity: EntityName, id: string, sourceTsMs: number | undefined): ApplyResult => {
    if (maps[entity].delete(id)) {
      remember(entity, id, undefined, sourceTsMs);
      counts.deleted++;
      return { outcome: 'deleted', id };
    }
    counts.unchanged++;
    return { outcome: 'unchanged', id };
  };

  function apply(input: RegistryRecord): ApplyResult {
    const change = decodeRegistryRecord(input);
    if (change.kind === 'invalid') return invalid(change.id, change.problem);
    if (change.kind === 'delete') return remove(input.entity, change.id, change.sourceTsMs);
    const { id, entity } = change;
    const map = maps[input.entity] as Map<string, typeof entity>;
    const held = map.get(id);
    if (held !== undefined && held.version >= entity.version) {
      counts.unchanged++;
      return { outcome: 'unchanged', id };
    }
    map.set(id, entity);
    remember(input.entity, id, entity as Device | Rule, change.sourceTsMs);
    maxVersion = Math.max(maxVersion, entity.version);
    counts.upserted++;
    return { outcome: 'upserted', id };
  }

  /** Precedence over rows found by `rowOf`: the most specific present row decides, else the built-in. */
  function resolveWith(
    ruleId: RuleId,
    device: Pick<Device, 'id' | 'kind' | 'siteId' | 'model'>,
    rowOf: (rowId: string) => Rule | undefined,
  ): ResolvedRule {
    const scopeIds: Record<RuleScope, string> = {
      device: device.id,
      site: device.siteId,
      model: device.model,
      kind: device.kind,
    };
    for (const scope of SCOPE_ORDER) {
      const row = rowOf(ruleRowId(ruleId, scope, scopeIds[scope]));
      if (row)
        return { enabled: row.enabled, params: row.params, source: { id: row.id, version: row.version } };
    }
    return { enabled: true, params: defaultRuleParams(ruleId), source: undefined };
  }

  return {
    sites: maps.sites,
    devices: maps.devices,
    drivers: maps.drivers,
    rules: maps.rules,
    changeLeadMs,
    apply,
    counts: () => ({ ...counts }),
    maxVersion: () => maxVersion,
    resolveRule: (ruleId, device) => resolveWith(ruleId, device, (rowId) => maps.rules.get(rowId)),
    epoch: () => changePoints.length,
    deviceAt: (id, ts, span) => valueAt(histories.devices.get(id), ts, span),
    resolveRuleAt: (ruleId, device, ts, span) =>
      resolveWith(ruleId, device, (rowId) => valueAt(histories.rules.get(rowId), ts, span)),
    changePointsSince: (epoch) => changePoints.slice(epoch),
    pruneBefore(ts) {
      let dropped = 0;
      for (const map of [histories.devices, histories.rules] as Map<string, History<Device | Rule>>[]) {
        for (const [id, history] of map) {
          // Entry i is invisible from ts on when entry i + 1 is already in force at ts.
          let first = 0;
          while (first + 1 < history.length && (history[first + 1] as HistoryEntry<unknown>).from <= ts)
            first++;
          if (first === 0) continue;
          history.splice(0, first);
          dropped += first;
          // A history ending in a delete, long past, is the same as none, but keeps
          // the id's "seen before" mark: a device created again is not retroactive.
          if (history.length === 1 && history[0]?.value === undefined && map === histories.rules)
            map.delete(id);
        }
      }
      return dropped;
    },
  };
}
