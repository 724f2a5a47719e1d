import { describe, expect, it } from 'vitest';
import { registryGroupOf, rowRegistryFields } from './registry-grouping.ts';

const current = { model: 'Actros', driverId: 'drv-now' };

describe('registryGroupOf', () => {
  it("groups an enriched row by its own model and driver, not the device's current ones", () => {
    const row = { model: 'Atego', driverId: 'drv-then' };
    expect(registryGroupOf('model', row, current)).toBe('Atego');
    expect(registryGroupOf('driver', row, current)).toBe('drv-then');
  });

  it('counts an enriched row without a driver under "no driver", even if the device has one now', () => {
    expect(registryGroupOf('driver', { model: 'Atego', driverId: null }, current)).toBe('');
  });

  it('falls back to the dimension tables for a row without the fields', () => {
    const old = { model: null, driverId: null };
    expect(registryGroupOf('model', old, current)).toBe('Actros');
    expect(registryGroupOf('driver', old, current)).toBe('drv-now');
    expect(registryGroupOf('driver', old, { model: 'Actros', driverId: null })).toBe('');
  });

  it('puts a row without the fields of a device the registry does not know in the unregistered bucket', () => {
    expect(registryGroupOf('model', { model: null, driverId: null }, undefined)).toBeNull();
    expect(registryGroupOf('driver', { model: null, driverId: null }, undefined)).toBeNull();
    // An enriched row of a device deleted from the registry since keeps its own group.
    expect(registryGroupOf('driver', { model: 'Atego', driverId: 'drv-then' }, undefined)).toBe('drv-then');
  });
});

describe('rowRegistryFields', () => {
  it('reads the nullable columns of a row', () => {
    expect(rowRegistryFields({ model: 'Atego', driver_id: null })).toEqual({
      model: 'Atego',
      driverId: null,
    });
    expect(rowRegistryFields({})).toEqual({ model: null, driverId: null });
  });
});
