import { describe, expect, it } from 'vitest';
import { createFleet, fleetSites } from '../producers/index.ts';
import { isTimeZone, parseInput } from './model.ts';
import { RULE_IDS } from './rules.ts';
import { SEED_CARGO_BAND, SITE_DETAILS, seedPlan } from './seed.ts';

const options = { trucks: 12, turbines: 5, solar: 4, seed: 42 };

describe('the seed plan', () => {
  it("registers exactly the simulator's devices: ids, kinds, sites, models, ratings", () => {
    const plan = seedPlan(options);
    const fleet = createFleet({
      ...options,
      intervalMs: { truck: 500, turbine: 2_000, solar: 5_000 },
      startMs: Date.UTC(2026, 0, 1),
    });
    expect(plan.devices.map((d) => [d.id, d.kind, d.siteId, d.model])).toEqual(
      fleet.devices.map((d) => [d.deviceId, d.kind, d.siteId, d.model]),
    );
    for (const device of fleet.devices) {
      const registered = plan.devices.find((d) => d.id === device.deviceId);
      if (registered?.kind === 'truck') expect(registered.refrigerated).toBe(device.refrigerated);
      if (registered?.kind === 'turbine') expect(registered.ratedKw).toBe(device.ratedKw);
      if (registered?.kind === 'solar') expect(registered.kwp).toBe(device.kwp);
    }
    expect(plan.devices.some((d) => d.kind === 'truck' && d.refrigerated)).toBe(true);
  });

  it('follows the simulator when clock-skew faults change which trucks are refrigerated', () => {
    const faults = { late: 0, ooo: 0, dup: 0, poison: 0, skew: 0.5, v1: 0 };
    const plan = seedPlan({ ...options, trucks: 40, faults });
    const fleet = createFleet({
      ...options,
      trucks: 40,
      faults,
      intervalMs: { truck: 1, turbine: 1, solar: 1 },
      startMs: 0,
    });
    const reefers = (list: { id: string; refrigerated: boolean }[]) =>
      list.filter((d) => d.refrigerated).map((d) => d.id);
    expect(
      reefers(
        plan.devices.flatMap((d) => (d.kind === 'truck' ? [{ id: d.id, refrigerated: d.refrigerated }] : [])),
      ),
    ).toEqual(
      reefers(
        fleet.devices
          .filter((d) => d.kind === 'truck')
          .map((d) => ({ id: d.deviceId, refrigerated: d.refrigerated })),
      ),
    );
  });

  it('gives every row a valid write: sites, drivers, devices and rules pass the service validation', () => {
    const plan = seedPlan(options);
    for (const s of plan.sites) expect(parseInput('sites', s)).toEqual(s);
    for (const d of plan.drivers) expect(parseInput('drivers', d)).toEqual(d);
    for (const d of plan.devices) expect(parseInput('devices', d)).toEqual(d);
    for (const r of plan.rules) expect(parseInput('rules', r).params).toEqual(r.params);
  });

  it('names every site the simulator knows, with a real time zone', () => {
    for (const site of fleetSites()) {
      expect(SITE_DETAILS[site.siteId], site.siteId).toBeDefined();
      expect(isTimeZone(SITE_DETAILS[site.siteId]?.timeZone ?? ''), site.siteId).toBe(true);
    }
  });

  it('gives every truck its own driver and plate, and reefers the chilled band', () => {
    const plan = seedPlan(options);
    const trucks = plan.devices.filter((d) => d.kind === 'truck');
    expect(new Set(trucks.map((t) => t.plate)).size).toBe(trucks.length);
    expect(new Set(trucks.map((t) => t.driverId)).size).toBe(trucks.length);
    expect(plan.drivers.map((d) => d.id).sort()).toEqual(trucks.map((t) => t.driverId).sort());
    for (const t of trucks)
      expect([t.cargoMinC, t.cargoMaxC]).toEqual(
        t.refrigerated ? [SEED_CARGO_BAND.minC, SEED_CARGO_BAND.maxC] : [null, null],
      );
  });

  it('sums the capacity of each plant from its devices and registers only the sites in use', () => {
    const plan = seedPlan({ ...options, trucks: 0 });
    expect(plan.sites.some((s) => s.kind === 'depot')).toBe(false);
    for (const site of plan.sites) {
      const devices = plan.devices.filter((d) => d.siteId === site.id);
      const kw = devices.reduce(
        (sum, d) => sum + (d.kind === 'turbine' ? d.ratedKw : d.kind === 'solar' ? d.kwp : 0),
        0,
      );
      expect(site.capacityKw).toBeCloseTo(kw, 6);
    }
    expect(plan.rules.map((r) => r.ruleId)).toEqual(RULE_IDS.filter((id) => !id.startsWith('truck.')));
  });
});
