import { describe, expect, it } from 'vitest';
import { FleetgridError } from './errors.ts';
import { RELAUNCHED_MARK, SERVICE_MALLOC_ENV, SERVICE_NODE_FLAGS, serviceRelaunch } from './runtime.ts';

describe('serviceRelaunch', () => {
  it('relaunches a service with the malloc arena bound and the node flags, keeping the environment', () => {
    const relaunch = serviceRelaunch('process', { TOPIC_PREFIX: 'x.' }, [], 'linux');
    expect(relaunch?.env).toEqual({
      TOPIC_PREFIX: 'x.',
      ...SERVICE_MALLOC_ENV,
      [RELAUNCHED_MARK]: '1',
    });
    expect(relaunch?.nodeFlags).toEqual(SERVICE_NODE_FLAGS);
    // An empty setting counts as unset (ours applies); other empty variables pass through.
    const empty = serviceRelaunch('sink', { MALLOC_ARENA_MAX: '', KAFKA_SASL_USERNAME: '' }, [], 'linux');
    expect(empty?.env).toMatchObject({
      MALLOC_ARENA_MAX: SERVICE_MALLOC_ENV.MALLOC_ARENA_MAX,
      KAFKA_SASL_USERNAME: '',
    });
  });

  it('leaves short commands, a relaunched process, other platforms and tuning=off alone', () => {
    expect(serviceRelaunch('setup-topics', {}, [], 'linux')).toBeUndefined();
    expect(serviceRelaunch(undefined, {}, [], 'linux')).toBeUndefined();
    expect(serviceRelaunch('sink', { [RELAUNCHED_MARK]: '1' }, [], 'linux')).toBeUndefined();
    expect(serviceRelaunch('sink', {}, [], 'darwin')).toBeUndefined();
    expect(serviceRelaunch('sink', { FLEETGRID_RUNTIME_TUNING: 'off' }, [], 'linux')).toBeUndefined();
  });

  it("keeps the operator's own arena bound and node flags", () => {
    const given = [...SERVICE_NODE_FLAGS.map((flag) => `${flag.split('=')[0]}=99`)];
    const malloc = {
      MALLOC_ARENA_MAX: '4',
      MALLOC_MMAP_THRESHOLD_: '65536',
      MALLOC_TRIM_THRESHOLD_: '65536',
    };
    expect(
      serviceRelaunch('sink', { ...malloc, NODE_OPTIONS: given.join(' ') }, [], 'linux'),
    ).toBeUndefined();
    expect(serviceRelaunch('sink', malloc, given, 'linux')).toBeUndefined();
    const relaunch = serviceRelaunch('serve', { MALLOC_ARENA_MAX: '4' }, [], 'linux');
    expect(relaunch?.env.MALLOC_ARENA_MAX).toBe('4');
    expect(relaunch?.env.MALLOC_MMAP_THRESHOLD_).toBe(SERVICE_MALLOC_ENV.MALLOC_MMAP_THRESHOLD_);
    expect(relaunch?.nodeFlags).toEqual(SERVICE_NODE_FLAGS);
    expect(serviceRelaunch('serve', { NODE_OPTIONS: given.join(' ') }, [], 'linux')?.nodeFlags).toEqual([]);
  });

  it('rejects a malformed setting instead of ignoring it', () => {
    expect(() => serviceRelaunch('process', { MALLOC_ARENA_MAX: 'two' }, [], 'linux')).toThrow(
      FleetgridError,
    );
    expect(() => serviceRelaunch('process', { FLEETGRID_RUNTIME_TUNING: 'maybe' }, [], 'linux')).toThrow(
      /FLEETGRID_RUNTIME_TUNING/,
    );
  });
});
