import { describe, expect, it } from 'vitest';
import { ERROR_CODES, FleetgridError, isFleetgridError, isRetriable, toFleetgridError } from './errors.ts';

describe('FleetgridError', () => {
  it('takes retriable from its code unless told otherwise', () => {
    expect(new FleetgridError('KAFKA_UNAVAILABLE', 'x').retriable).toBe(true);
    expect(new FleetgridError('DECODE_TRUNCATED', 'x').retriable).toBe(false);
    expect(new FleetgridError('TIMEOUT', 'x', { retriable: false }).retriable).toBe(false);
  });

  it('keeps the cause and serialises code, message and details', () => {
    const cause = new Error('root');
    const error = new FleetgridError('REGISTRY_UNAVAILABLE', 'no registry', {
      cause,
      details: { status: 503 },
    });
    expect(error.cause).toBe(cause);
    expect(error.toJSON()).toMatchObject({
      code: 'REGISTRY_UNAVAILABLE',
      retriable: true,
      details: { status: 503 },
    });
  });

  it('marks exactly the transport and timeout codes as retriable', () => {
    const retriable = Object.entries(ERROR_CODES)
      .filter(([, value]) => value)
      .map(([code]) => code)
      .sort();
    expect(retriable).toEqual(
      [
        'ALERTMANAGER_UNAVAILABLE',
        'CLICKHOUSE_UNAVAILABLE',
        'CONNECT_UNAVAILABLE',
        'KAFKA_UNAVAILABLE',
        'POSTGRES_UNAVAILABLE',
        'REDIS_UNAVAILABLE',
        'REGISTRY_UNAVAILABLE',
        'TIMEOUT',
      ].sort(),
    );
  });

  it('wraps foreign errors once and leaves its own untouched', () => {
    const own = new FleetgridError('TOO_LATE', 'late');
    expect(toFleetgridError(own, 'INTERNAL')).toBe(own);
    const wrapped = toFleetgridError(new RangeError('boom'), 'INTERNAL', 'while testing');
    expect(wrapped).toMatchObject({ code: 'INTERNAL', message: 'while testing: boom', retriable: false });
    expect(isFleetgridError(wrapped, 'INTERNAL')).toBe(true);
    expect(isRetriable(new Error('plain'))).toBe(false);
  });
});
