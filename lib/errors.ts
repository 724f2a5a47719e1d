/**
 * The one error type of fleetgrid. Every failure that crosses a component boundary is
 * a FleetgridError with a code from a closed set, so callers decide by `code` and
 * `retriable` instead of parsing messages: retriable errors are retried with backoff
 * while input is paused; the others are isolated (bad data goes to the DLQ) or, for
 * programmer errors, surface at once.
 */

/** Codes, with whether a retry can help. Adding a code is a contract change. */
export const ERROR_CODES = {
  // configuration and programmer errors: never retried
  CONFIG_INVALID: false,
  INVALID_ARGUMENT: false,
  INTERNAL: false,
  // refused credentials or an untrusted certificate: retrying cannot help
  KAFKA_AUTH_FAILED: false,
  ALERTMANAGER_AUTH_FAILED: false,
  // transport and infrastructure: retried with backoff
  KAFKA_UNAVAILABLE: true,
  REGISTRY_UNAVAILABLE: true,
  REDIS_UNAVAILABLE: true,
  CLICKHOUSE_UNAVAILABLE: true,
  TIMEOUT: true,
  POSTGRES_UNAVAILABLE: true,
  CONNECT_UNAVAILABLE: true,
  ALERTMANAGER_UNAVAILABLE: true,
  // schema contracts
  SCHEMA_INCOMPATIBLE: false,
  SCHEMA_INVALID: false,
  // a record larger than the broker accepts (message.max.bytes): no retry can send it
  KAFKA_RECORD_TOO_LARGE: false,
  // a newer producer with the same transactional id took over: this one must stop writing
  KAFKA_PRODUCER_FENCED: false,
  // bad input: dead-lettered, the partition keeps flowing
  DECODE_EMPTY: false,
  DECODE_BAD_MAGIC: false,
  DECODE_UNKNOWN_SCHEMA: false,
  DECODE_TRUNCATED: false,
  DECODE_INVALID_AVRO: false,
  DECODE_UNEXPECTED_TYPE: false,
  VALIDATION_OUT_OF_RANGE: false,
  VALIDATION_INVALID_ID: false,
  TOO_LATE: false,
  // telemetry of a device the registry does not know at the event's time (quarantine policy)
  UNKNOWN_DEVICE: false,
  // telemetry of one kind for a device the registry has as another kind
  DEVICE_KIND_MISMATCH: false,
  // a registry CDC record that is not a valid registry row (sinks/dims.ts)
  REGISTRY_RECORD_INVALID: false,
  CLICKHOUSE_REJECTED: false,
  // commands on the registry (docs/registry.md): answered 404 and 409, never retried
  NOT_FOUND: false,
  CONFLICT: false,
} as const satisfies Record<string, boolean>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FleetgridErrorOptions {
  cause?: unknown;
  /** Overrides the code's default, e.g. a timeout that is known to be final. */
  retriable?: boolean;
  /** Structured context for logs and DLQ headers; never secrets. */
  details?: Record<string, unknown>;
}

export class FleetgridError extends Error {
  override readonly name = 'FleetgridError';
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: FleetgridErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code];
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      retriable: this.retriable,
      message: this.message,
      details: this.details,
    };
  }
}

export function isFleetgridError(error: unknown, code?: ErrorCode): error is FleetgridError {
  return error instanceof FleetgridError && (code === undefined || error.code === code);
}

/** Whether a retry may help. Unknown errors are treated as programmer errors: not retried. */
export function isRetriable(error: unknown): boolean {
  return error instanceof FleetgridError && error.retriable;
}

/** Wraps anything thrown into a FleetgridError, keeping an existing one as it is. */
export function toFleetgridError(error: unknown, code: ErrorCode, message?: string): FleetgridError {
  if (error instanceof FleetgridError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new FleetgridError(code, message ? `${message}: ${text}` : text, { cause: error });
}
