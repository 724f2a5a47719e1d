/**
 * Options of `fleetgrid notify` (strict, defaults filled in), and where Alertmanager is (read by
 * lib/config.ts, the one rule the API's silences use too) and
 * how to log in to it: ALERTMANAGER_URL, ALERTMANAGER_USERNAME and the password of
 * ALERTMANAGER_PASSWORD or ALERTMANAGER_PASSWORD_FILE (never argv, never logged). Without
 * ALERTMANAGER_URL the local stack's Alertmanager is meant, with the password file `make up`
 * generates (`<data dir>/secrets/alertmanager.password`).
 */
import { z } from 'zod';
import { type AppConfig, parseComponentConfig } from '../lib/config.ts';
import { FleetgridError } from '../lib/errors.ts';
import { GROUPS } from '../lib/stream/index.ts';
import { maxResendIntervalMs } from './core.ts';

const positive = (fallback: number) => z.number().int().positive().default(fallback);

const schema = z
  .strictObject({
    /** The full consumer group id; the service passes consumerGroupId(TOPIC_PREFIX, GROUPS.notify). */
    groupId: z.string().min(1).default(GROUPS.notify),
    /** Alertmanager's `global.resolve_timeout` (infra/alertmanager/alertmanager.yml: 5m). */
    resolveTimeoutMs: positive(300_000),
    /** How often an open alert is posted again; at most a third of resolveTimeoutMs. */
    resendIntervalMs: positive(60_000),
    /** How often the resend schedule is looked at. */
    tickMs: positive(1_000),
    /** Most alerts in one POST. */
    maxAlertsPerRequest: positive(500),
    /** One POST may take this long before it counts as failed (and is retried). */
    requestTimeoutMs: positive(10_000),
    /** Capped full-jitter backoff of deliveries while Alertmanager is unreachable. */
    retryBaseMs: positive(250),
    retryCapMs: positive(10_000),
    /** At start, how long to wait for the registry topics to be read before notifying without them. */
    registryCatchUpMs: z.number().int().nonnegative().default(30_000),
    /** Read the registry topics for labels (site name, model, plate); off: the alert's own fields only. */
    registry: z.boolean().default(true),
    /** On stop, how long the batch in hand may take to be delivered and committed. */
    drainTimeoutMs: positive(15_000),
    sessionTimeoutMs: z.number().int().min(6_000).default(30_000),
    /** Port of /metrics and /readyz; 0 picks a free one, undefined serves none. */
    metricsPort: z.number().int().min(0).max(65_535).optional(),
    /** Most bytes of one dead-letter produce request: below the broker's message.max.bytes. */
    maxRequestBytes: positive(900 * 1024),
  })
  .refine((c) => c.resendIntervalMs <= maxResendIntervalMs(c.resolveTimeoutMs), {
    message: 'resendIntervalMs must be at most a third of resolveTimeoutMs (open alerts would expire)',
    path: ['resendIntervalMs'],
  });

export type NotifyConfig = z.output<typeof schema>;
export type NotifyConfigInput = z.input<typeof schema>;

export function parseNotifyConfig(input: unknown = {}): NotifyConfig {
  return parseComponentConfig('notify', schema, input);
}

export interface AlertmanagerTarget {
  /** Base URL without credentials, e.g. http://127.0.0.1:9095 (what may be logged). */
  url: string;
  auth: { username: string; password: string } | undefined;
  /** The API's public URL: links in annotations point at its device pages. */
  publicUrl: string;
}

const urlSchema = z.url({ protocol: /^https?$/ });

/**
 * Alertmanager's address and credentials (the one rule in lib/config.ts, shared with the
 * API's silences), and the public URL of the API from API_PUBLIC_URL.
 */
export function alertmanagerTarget(
  app: Pick<AppConfig, 'alertmanager'>,
  env: NodeJS.ProcessEnv,
): AlertmanagerTarget {
  const publicUrl = urlSchema.safeParse(env.API_PUBLIC_URL?.trim() || 'http://127.0.0.1:8080');
  if (!publicUrl.success) throw new FleetgridError('CONFIG_INVALID', 'API_PUBLIC_URL must be an http(s) URL');
  return { ...app.alertmanager, publicUrl: publicUrl.data.replace(/\/+$/, '') };
}
