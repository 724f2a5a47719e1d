/**
 * The registry entries of a simulated fleet, pure: `fleetgrid registry seed` (and `make
 * demo`) registers exactly the devices `fleetgrid simulate` runs with the same options —
 * the same ids, sites, models and rated powers, read from the simulator's own fleet
 * (producers/fleet.ts), never re-derived — plus what the simulator does not model:
 * site names and time zones, drivers and plates, cargo setpoint bands, and one rule row
 * per rule at kind scope holding the built-in parameters, so operators see and edit them.
 */
import type { DeviceKind } from '../lib/topics.ts';
import { createFleet, type FaultSpec, fleetSites, NO_FAULTS } from '../producers/index.ts';
import type { DeviceInput, DriverInput, RuleInput, SiteInput } from './model.ts';
import { type POWER_CURVES, SITE_KIND_OF } from './model.ts';
import { defaultRuleParams, RULE_IDS, ruleKind } from './rules.ts';

export interface SeedOptions {
  trucks: number;
  turbines: number;
  solar: number;
  /** The simulator's --seed: it decides which trucks are refrigerated. */
  seed: number;
  /** The simulator's refrigerated share (its config default is 0.3). */
  refrigeratedShare?: number;
  /** The simulator's --faults: clock-skew faults draw from the same generator as the refrigerated choice. */
  faults?: FaultSpec;
}

/** Rows to register, as write bodies (validated again by the service like any write). */
export interface SeedPlan {
  sites: SiteInput[];
  drivers: DriverInput[];
  devices: DeviceInput[];
  rules: Omit<RuleInput, 'id'>[];
}

/** What the simulator does not know about its sites: their names and local time zones. */
export const SITE_DETAILS: Record<string, { name: string; timeZone: string }> = {
  'depot-rotterdam': { name: 'Rotterdam depot', timeZone: 'Europe/Amsterdam' },
  'depot-lyon': { name: 'Lyon depot', timeZone: 'Europe/Paris' },
  'depot-sacramento': { name: 'Sacramento depot', timeZone: 'America/Los_Angeles' },
  'wf-horns-rev': { name: 'Horns Rev wind farm', timeZone: 'Europe/Copenhagen' },
  'wf-roscoe': { name: 'Roscoe wind farm', timeZone: 'America/Chicago' },
  'wf-altamont': { name: 'Altamont Pass wind farm', timeZone: 'America/Los_Angeles' },
  'pv-almeria': { name: 'Almería solar park', timeZone: 'Europe/Madrid' },
  'pv-bavaria': { name: 'Bavaria solar park', timeZone: 'Europe/Berlin' },
  'pv-arizona': { name: 'Arizona solar park', timeZone: 'America/Phoenix' },
  'pv-queensland': { name: 'Queensland solar park', timeZone: 'Australia/Brisbane' },
};

/** Chilled goods (2-8 °C): the band the simulated reefers hold, and today's cargo rule threshold. */
export const SEED_CARGO_BAND = { minC: 2, maxC: 8 } as const;

const FIRST_NAMES = [
  'Anna',
  'Bram',
  'Chloé',
  'Daan',
  'Elena',
  'Finn',
  'Grace',
  'Hugo',
  'Ines',
  'Jonas',
  'Karin',
  'Luis',
];
const LAST_NAMES = [
  'de Vries',
  'Martin',
  'García',
  'Jansen',
  'Bernard',
  'Smith',
  'Müller',
  'Dubois',
  'Lopez',
  'Visser',
  'Moreau',
];

const number = (index: number) => String(index + 1).padStart(5, '0');

export function seedPlan(options: SeedOptions): SeedPlan {
  const fleet = createFleet({
    seed: options.seed,
    trucks: options.trucks,
    turbines: options.turbines,
    solar: options.solar,
    // Neither the start nor the intervals change which devices exist or what they are.
    intervalMs: { truck: 1_000, turbine: 1_000, solar: 1_000 },
    startMs: 0,
    faults: options.faults ?? NO_FAULTS,
    ...(options.refrigeratedShare !== undefined ? { refrigeratedShare: options.refrigeratedShare } : {}),
  });
  const devices: DeviceInput[] = [];
  const drivers: DriverInput[] = [];
  const perSite = new Map<string, { count: number; kw: number }>();
  let truckIndex = 0;
  for (const device of fleet.devices) {
    const site = perSite.get(device.siteId) ?? { count: 0, kw: 0 };
    site.count++;
    site.kw += device.ratedKw ?? device.kwp ?? 0;
    perSite.set(device.siteId, site);
    const common = {
      id: device.deviceId,
      siteId: device.siteId,
      model: device.model,
      status: 'active' as const,
    };
    if (device.kind === 'truck') {
      const n = number(truckIndex);
      const driverId = `driver-${n}`;
      drivers.push({
        id: driverId,
        name: `${FIRST_NAMES[truckIndex % FIRST_NAMES.length]} ${LAST_NAMES[Math.floor(truckIndex / FIRST_NAMES.length) % LAST_NAMES.length]}`,
        licenceNumber: `FG-DL-${n}`,
        licenceClass: 'CE',
        licenceExpires: '2031-12-31',
      });
      devices.push({
        ...common,
        kind: 'truck',
        plate: `FG-${n}`,
        refrigerated: device.refrigerated,
        cargoMinC: device.refrigerated ? SEED_CARGO_BAND.minC : null,
        cargoMaxC: device.refrigerated ? SEED_CARGO_BAND.maxC : null,
        driverId,
      });
      truckIndex++;
    } else if (device.kind === 'turbine') {
      devices.push({
        ...common,
        kind: 'turbine',
        ratedKw: device.ratedKw ?? 0,
        powerCurve: device.model as (typeof POWER_CURVES)[number],
      });
    } else {
      devices.push({ ...common, kind: 'solar', kwp: device.kwp ?? 0 });
    }
  }

  const sites: SiteInput[] = fleetSites()
    .filter((site) => perSite.has(site.siteId))
    .map((site) => {
      const details = SITE_DETAILS[site.siteId] ?? { name: site.siteId, timeZone: 'UTC' };
      const used = perSite.get(site.siteId) ?? { count: 0, kw: 0 };
      const depot = site.kind === 'truck';
      return {
        id: site.siteId,
        kind: SITE_KIND_OF[site.kind],
        name: details.name,
        lat: site.lat,
        lon: site.lon,
        timeZone: details.timeZone,
        capacityKw: depot ? null : used.kw,
        // Bays for the trucks based there, with room to grow.
        vehicleCapacity: depot ? Math.max(10, Math.ceil((used.count * 1.2) / 10) * 10) : null,
      };
    });

  const kinds = new Set<DeviceKind>(devices.map((device) => device.kind));
  const rules = RULE_IDS.filter((id) => kinds.has(ruleKind(id))).map((ruleId) => ({
    ruleId,
    scope: 'kind' as const,
    scopeId: ruleKind(ruleId),
    params: { ...defaultRuleParams(ruleId) },
    enabled: true,
  }));
  return { sites, drivers, devices, rules };
}
