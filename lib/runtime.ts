/**
 * The process settings of fleetgrid's long-running services (issue 16 item 4: resident
 * memory), applied in one place: bin/fleetgrid.mjs asks `serviceRelaunch` and, when it
 * answers, replaces itself (process.execve: same PID, so supervisors, signals and the
 * demo's and tests' kill-by-PID are unchanged) with the same command under these settings.
 * Every spawner (the demo, the load test, the benchmarks, the Docker image) starts the
 * services through that launcher, so none repeats them. Pure: no I/O here.
 *
 * - MALLOC_ARENA_MAX=2: glibc gives each thread that allocates (libuv's pool, V8's GC
 *   and compiler threads, kafkajs' zlib work) an arena of its own, up to 8 × cores, and
 *   hands little of it back; 2 arenas keep that memory shared at no measured cost.
 *   glibc reads it at start-up only: hence the relaunch, not a setting in the process.
 * - MALLOC_MMAP_THRESHOLD_=131072, MALLOC_TRIM_THRESHOLD_=131072: glibc raises its mmap
 *   threshold after each large block freed (up to 32 MiB), so the sink's 15–32 MiB JSON
 *   batches and kafkajs' fetch responses end up in the brk heap, which only shrinks from
 *   its top: freed, they stay resident. A fixed threshold keeps every block of 128 KiB and
 *   more in a mapping of its own, returned to the system when freed.
 *   (chDB in the sink allocates with its own jemalloc and is not affected.)
 *
 * An operator's own MALLOC_* setting, or the same flag in NODE_OPTIONS or on node's command
 * line, wins; FLEETGRID_RUNTIME_TUNING=off turns all of it off (docs/sizing.md "Memory").
 */
import { z } from 'zod';
import { FleetgridError } from './errors.ts';

/** The commands that run as services: a short command is not worth a relaunch. */
export const SERVICE_COMMANDS: ReadonlySet<string> = new Set([
  'process',
  'sink',
  'simulate',
  'serve',
  'notify',
]);

/** Set in the relaunched process: it never relaunches again. */
export const RELAUNCHED_MARK = 'FLEETGRID_RUNTIME_APPLIED';

/** glibc malloc settings of a service (see above), each kept unless the operator set it. */
export const SERVICE_MALLOC_ENV: Readonly<Record<MallocSetting, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};
type MallocSetting = 'MALLOC_ARENA_MAX' | 'MALLOC_MMAP_THRESHOLD_' | 'MALLOC_TRIM_THRESHOLD_';
const MALLOC_SETTINGS = [
  'MALLOC_ARENA_MAX',
  'MALLOC_MMAP_THRESHOLD_',
  'MALLOC_TRIM_THRESHOLD_',
] as const satisfies readonly MallocSetting[];
/** V8 flags of a service, each kept unless the operator gave the same flag. */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

// Empty counts as unset, as in lib/config.ts.
const positiveText = z
  .string()
  .regex(/^([1-9][0-9]*)?$/, 'a positive integer')
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const envSchema = z.object({
  FLEETGRID_RUNTIME_TUNING: z.enum(['on', 'off']).default('on'),
  ...Object.fromEntries(MALLOC_SETTINGS.map((name) => [name, positiveText])),
});

export interface Relaunch {
  /** node's own flags, before the script. */
  nodeFlags: string[];
  env: Record<string, string>;
}

/** The flag's name (`--max-semi-space-size` of `--max-semi-space-size=8`). */
function flagName(flag: string): string {
  return flag.split('=')[0] as string;
}

/**
 * Whether and how the launcher relaunches `command`: undefined when it need not (not a
 * service, already relaunched, tuning off, nothing left to set, or not Linux/glibc).
 */
export function serviceRelaunch(
  command: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  execArgv: readonly string[],
  platform: NodeJS.Platform,
): Relaunch | undefined {
  if (command === undefined || !SERVICE_COMMANDS.has(command) || env[RELAUNCHED_MARK] === '1')
    return undefined;
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new FleetgridError('CONFIG_INVALID', `invalid runtime settings: ${problems.join('; ')}`);
  }
  if (parsed.data.FLEETGRID_RUNTIME_TUNING === 'off' || platform !== 'linux') return undefined;
  const flagsGiven = new Set(
    [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].filter(Boolean).map(flagName),
  );
  const nodeFlags = SERVICE_NODE_FLAGS.filter((flag) => !flagsGiven.has(flagName(flag)));
  const given = parsed.data as Record<string, string | undefined>;
  const malloc = MALLOC_SETTINGS.filter((name) => given[name] === undefined);
  if (nodeFlags.length === 0 && malloc.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  out[RELAUNCHED_MARK] = '1';
  for (const name of malloc) out[name] = SERVICE_MALLOC_ENV[name];
  return { nodeFlags, env: out };
}
