/**
 * Checkpoints in Redis: per input topic-partition one hash holding the core's snapshot,
 * the next input offset to read, and an ownership epoch. Snapshot and offset are always
 * written together by one Lua script (atomic), and only by the current owner: claiming a
 * partition increments the epoch, and a save whose epoch is no longer the stored one is
 * refused. That fences a "zombie" member that lost a partition in a rebalance but still
 * holds its state: its late save cannot overwrite the newer owner's checkpoint.
 *
 * The codec is pure (unit-tested); the store is the small Redis part.
 */
import type { Redis } from 'ioredis';
import { FleetgridError } from '../../lib/errors.ts';

/** Bumped when the stored layout changes; an unknown version is refused, never guessed at. */
export const CHECKPOINT_VERSION = 1;

export interface Checkpoint {
  /** The next input offset to process: every event before it is reflected in `snapshot`. */
  offset: number;
  snapshot: unknown;
}

export interface EncodedCheckpoint {
  v: string;
  offset: string;
  state: string;
}

export function encodeCheckpoint(checkpoint: Checkpoint): EncodedCheckpoint {
  if (!Number.isSafeInteger(checkpoint.offset) || checkpoint.offset < 0) {
    throw new FleetgridError('INTERNAL', `checkpoint offset ${checkpoint.offset} is not a valid offset`);
  }
  const state = JSON.stringify(checkpoint.snapshot ?? null);
  return { v: String(CHECKPOINT_VERSION), offset: String(checkpoint.offset), state };
}

/** Fields as read back (null where absent). No offset means "never checkpointed". */
export function decodeCheckpoint(fields: {
  v: string | null;
  offset: string | null;
  state: string | null;
}): Checkpoint | undefined {
  if (fields.offset === null || fields.offset === '') return undefined;
  if (fields.v !== String(CHECKPOINT_VERSION)) {
    throw new FleetgridError(
      'INTERNAL',
      `checkpoint layout version ${fields.v} is not ${CHECKPOINT_VERSION}: refusing to guess its meaning`,
    );
  }
  const offset = Number(fields.offset);
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new FleetgridError('INTERNAL', `stored checkpoint offset "${fields.offset}" is not an offset`);
  }
  let snapshot: unknown;
  try {
    snapshot = JSON.parse(fields.state ?? 'null');
  } catch (error) {
    throw new FleetgridError('INTERNAL', 'stored checkpoint state is not JSON', { cause: error });
  }
  return { offset, snapshot };
}

/**
 * The Redis key of one partition's checkpoint. The group id (already prefixed by the topic
 * prefix) and the topic name keep test stacks and deployments apart; the braces are a
 * Redis Cluster hash tag so one group's checkpoints live on one shard.
 */
export function checkpointKey(namespace: string, groupId: string, topic: string, partition: number): string {
  return `${namespace}:ckpt:{${groupId}}:${topic}:${partition}`;
}

// Claim: take ownership (epoch + 1) and read the checkpoint in the same atomic step, so
// the state we restore is exactly the state no one else may overwrite from now on.
const CLAIM_LUA = `
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local f = redis.call('HMGET', KEYS[1], 'v', 'offset', 'state')
return {epoch, f[1], f[2], f[3]}
`;

// Save: only the owner of the current epoch may write; snapshot and offset move together.
const SAVE_LUA = `
if tonumber(redis.call('HGET', KEYS[1], 'epoch')) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'offset', ARGV[3], 'state', ARGV[4], 'savedAt', ARGV[5])
return 1
`;

// Device-state projection: a hash per device, written only forward in `seq`, so a replay
// that re-emits an older state after a newer one never moves the projection back.
const DEVICE_STATE_LUA = `
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
`;

interface ScriptedRedis {
  fgClaim(key: string): Promise<[number, string | null, string | null, string | null]>;
  fgSave(
    key: string,
    epoch: number,
    v: string,
    offset: string,
    state: string,
    savedAt: number,
  ): Promise<number>;
  fgDeviceState(key: string, seq: number, ...fieldsAndValues: string[]): Promise<number>;
}

/** A save of a checkpoint that was encoded at capture time (so later state changes cannot leak in). */
export interface SaveRequest {
  key: string;
  epoch: number;
  encoded: EncodedCheckpoint;
}

export interface CheckpointStore {
  claim(key: string): Promise<{ epoch: number; checkpoint: Checkpoint | undefined }>;
  /** Reads the stored epoch only: a cheap ownership check after a rebalance. */
  epochOf(key: string): Promise<number>;
  /** Saves many partitions in one round trip; each save is atomic on its own. Returns accepted flags. */
  saveAll(requests: SaveRequest[], nowMs: number): Promise<{ accepted: boolean[]; bytes: number }>;
  writeDeviceStates(states: { key: string; seq: number; fields: Record<string, string> }[]): Promise<void>;
}

export function createCheckpointStore(redis: Redis): CheckpointStore {
  // defineCommand sends EVALSHA and falls back to EVAL once, so scripts cost one round trip.
  if (!('fgClaim' in redis)) {
    redis.defineCommand('fgClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
    redis.defineCommand('fgSave', { numberOfKeys: 1, lua: SAVE_LUA });
    redis.defineCommand('fgDeviceState', { numberOfKeys: 1, lua: DEVICE_STATE_LUA });
  }
  const scripted = redis as unknown as ScriptedRedis & Redis;
  return {
    async claim(key) {
      const [epoch, v, offset, state] = await redisCall('claim checkpoint', () => scripted.fgClaim(key));
      return { epoch: Number(epoch), checkpoint: decodeCheckpoint({ v, offset, state }) };
    },
    async epochOf(key) {
      return Number((await redisCall('read epoch', () => redis.hget(key, 'epoch'))) ?? 0);
    },
    async saveAll(requests, nowMs) {
      if (requests.length === 0) return { accepted: [], bytes: 0 };
      const bytes = requests.reduce((sum, r) => sum + r.encoded.state.length, 0);
      const results = await redisCall('save checkpoints', async () => {
        const pipeline = redis.pipeline();
        for (const { key, epoch, encoded: e } of requests) {
          (pipeline as unknown as ScriptedRedis).fgSave(key, epoch, e.v, e.offset, e.state, nowMs);
        }
        return pipeline.exec();
      });
      const accepted = (results ?? []).map(([error, value]) => {
        if (error) throw new FleetgridError('REDIS_UNAVAILABLE', `save checkpoint: ${error.message}`);
        return value === 1;
      });
      return { accepted, bytes };
    },
    async writeDeviceStates(states) {
      if (states.length === 0) return;
      await redisCall('write device states', async () => {
        const pipeline = redis.pipeline();
        for (const s of states) {
          const flat = Object.entries(s.fields).flat();
          (pipeline as unknown as ScriptedRedis).fgDeviceState(s.key, s.seq, ...flat);
        }
        const results = await pipeline.exec();
        for (const [error] of results ?? []) if (error) throw error;
      });
    },
  };
}

/** Redis failures are transport failures: retriable, retried by the caller with backoff. */
async function redisCall<T>(action: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof FleetgridError) throw error;
    throw new FleetgridError('REDIS_UNAVAILABLE', `${action}: ${(error as Error)?.message ?? error}`, {
      cause: error,
    });
  }
}
