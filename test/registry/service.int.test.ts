/**
 * The registry's write path against a real PostgreSQL (a scratch database per file):
 * migrations, validation that leaves nothing written, optimistic concurrency under
 * concurrent writers, the seed, and the CLI on top of it.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFleetgridError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import {
  createRegistryService,
  migrateRegistry,
  parseRegistryConfig,
  type RegistryService,
  seedPlan,
} from '../../registry/index.ts';
import { loadRegistryMigrations, REGISTRY_MIGRATIONS_DIR } from '../../registry/migrate.ts';
import { createScratchDatabase, type ScratchDatabase } from './postgres.ts';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../../bin/fleetgrid.mjs');

let db: ScratchDatabase;
let service: RegistryService;

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (isFleetgridError(error)) return error;
    throw error;
  }
  throw new Error('expected the write to be refused');
}

/**
 * Every row of every registry table with its version: what "nothing written" compares.
 * (Not the sequence: a write refused by a unique index has drawn a version number already;
 * versions may have gaps, never repeats.)
 */
async function snapshot() {
  return db.sql(
    `SELECT 'sites' AS t, id, version FROM registry.sites UNION ALL SELECT 'devices', id, version FROM registry.devices
     UNION ALL SELECT 'drivers', id, version FROM registry.drivers UNION ALL SELECT 'rules', id, version FROM registry.alert_rules
     ORDER BY 1, 2`,
  );
}

const depot = {
  id: 'depot-lyon',
  kind: 'depot',
  name: 'Lyon depot',
  lat: 45.76,
  lon: 4.84,
  timeZone: 'Europe/Paris',
  vehicleCapacity: 40,
};
const truck = {
  id: 'truck-00001',
  kind: 'truck',
  siteId: 'depot-lyon',
  model: 'tractor-40t-reefer',
  plate: 'FG-00001',
  refrigerated: true,
  cargoMinC: 2,
  cargoMaxC: 8,
};

beforeAll(async () => {
  db = await createScratchDatabase('registry-service');
  service = createRegistryService(parseRegistryConfig(), { pool: db.pool(), log: silentLogger });
  await service.ready();
});

afterAll(async () => {
  await service?.close();
  await db?.drop();
});

describe('registry migrations', () => {
  it('apply once, are recorded with their checksums, and are skipped afterwards', async () => {
    const recorded = await db.sql<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM registry.schema_migrations ORDER BY version',
    );
    expect(recorded.map((r) => [r.version, r.checksum])).toEqual(
      loadRegistryMigrations().map((m) => [m.version, m.checksum]),
    );
    const again = await migrateRegistry(db.pool(1));
    expect(again.applied).toEqual([]);
    expect(again.skipped).toEqual(recorded.map((r) => r.version));
  });

  it('take turns when several processes start at once (one applies, the others find it done)', async () => {
    const fresh = await createScratchDatabase('registry-migrate-race');
    try {
      const reports = await Promise.all([1, 2, 3].map(() => migrateRegistry(fresh.pool(1))));
      expect(reports.map((r) => r.applied.length).sort()).toEqual([0, 0, loadRegistryMigrations().length]);
      expect(await fresh.sql('SELECT version FROM registry.schema_migrations')).toHaveLength(
        loadRegistryMigrations().length,
      );
    } finally {
      await fresh.drop();
    }
  });

  it('refuse to run when an applied migration was edited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetgrid-registry-migrations-'));
    try {
      cpSync(REGISTRY_MIGRATIONS_DIR, dir, { recursive: true });
      const first = loadRegistryMigrations(dir)[0];
      if (!first) throw new Error('no migration');
      writeFileSync(
        join(dir, `${String(first.version).padStart(3, '0')}_${first.name}.sql`),
        `${first.sql}\n-- edited\n`,
      );
      const error = await failure(migrateRegistry(db.pool(1), loadRegistryMigrations(dir)));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(/changed after it was applied/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registry writes', () => {
  it('create rows with a version from the one sequence, and refuse an existing id', async () => {
    const site = await service.create('sites', depot);
    const device = await service.create('devices', truck);
    expect(device).toMatchObject({ id: 'truck-00001', status: 'active', siteId: 'depot-lyon' });
    expect(device.version).toBeGreaterThan(site.version);
    const error = await failure(service.create('sites', depot));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toContain(`site depot-lyon already exists (version ${site.version})`);
  });

  it('refuse bad writes with clear errors and write nothing', async () => {
    const before = await snapshot();
    const cases: [() => Promise<unknown>, string, RegExp][] = [
      [
        () =>
          service.create('devices', { ...truck, id: 'truck-00002', plate: 'FG-2', siteId: 'depot-nowhere' }),
        'INVALID_ARGUMENT',
        /unknown site depot-nowhere/,
      ],
      [
        () =>
          service.create('devices', {
            id: 'turbine-1',
            kind: 'turbine',
            siteId: 'depot-lyon',
            model: 'generic-3mw-112',
            ratedKw: 3000,
            powerCurve: 'generic-3mw-112',
          }),
        'INVALID_ARGUMENT',
        /site depot-lyon is a depot; a turbine belongs to a wind_farm/,
      ],
      [
        () =>
          service.create('sites', {
            ...depot,
            id: 'wf-x',
            kind: 'wind_farm',
            vehicleCapacity: null,
            capacityKw: -5,
          }),
        'INVALID_ARGUMENT',
        /capacityKw must not be negative/,
      ],
      [
        () => service.create('sites', { ...depot, id: 'depot x' }),
        'INVALID_ARGUMENT',
        /id must be 1-128 letters/,
      ],
      [
        () => service.create('sites', { ...depot, id: 'depot-y', timeZone: 'Europe/Lyon' }),
        'INVALID_ARGUMENT',
        /timeZone must be an IANA time zone/,
      ],
      [
        () =>
          service.create('rules', {
            ruleId: 'truck.overspeed',
            scope: 'device',
            scopeId: 'truck-00001',
            params: { limitKmh: -90 },
          }),
        'INVALID_ARGUMENT',
        /params: limitKmh must be positive/,
      ],
      [
        () => service.create('rules', { ruleId: 'truck.overspeed', scope: 'site', scopeId: 'depot-nowhere' }),
        'INVALID_ARGUMENT',
        /unknown site depot-nowhere/,
      ],
      [
        () => service.create('devices', { ...truck, id: 'truck-00003', driverId: 'driver-404' }),
        'INVALID_ARGUMENT',
        /unknown driver driver-404/,
      ],
      [
        () => service.create('devices', { ...truck, id: 'truck-00004' }),
        'CONFLICT',
        /plate is registered to another truck in service/,
      ],
      [
        () => service.put('sites', 'depot-lyon', { ...depot, name: 'Stale' }, 0),
        'CONFLICT',
        /expected version 0, the current version is \d+/,
      ],
      [
        () => service.put('sites', 'depot-lyon', { ...depot, name: 'Blind' }, undefined),
        'INVALID_ARGUMENT',
        /exists \(version \d+\): to change it, send the version you read/,
      ],
      [
        () => service.remove('sites', 'depot-lyon', undefined),
        'INVALID_ARGUMENT',
        /to delete it, send the version/,
      ],
      [() => service.get('devices', 'truck-404'), 'NOT_FOUND', /no device truck-404/],
    ];
    for (const [index, [write, code, message]] of cases.entries()) {
      const error = await failure(write()).catch((e: Error) => ({
        code: 'none',
        message: `case ${index}: ${e.message}`,
      }));
      expect({ code: error.code, message: error.message }).toEqual({
        code,
        message: expect.stringMatching(message),
      });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('change a row only at the version the writer read, and not at all when nothing changed', async () => {
    const held = await service.get('devices', 'truck-00001');
    const unchanged = await service.put('devices', 'truck-00001', held, held.version);
    expect(unchanged).toMatchObject({ changed: false, entity: { version: held.version } });
    const changed = await service.put(
      'devices',
      'truck-00001',
      { ...held, status: 'maintenance' },
      held.version,
    );
    expect(changed).toMatchObject({ changed: true, created: false, entity: { status: 'maintenance' } });
    expect(changed.entity.version).toBeGreaterThan(held.version);
    const error = await failure(
      service.put('devices', 'truck-00001', { ...held, status: 'active' }, held.version),
    );
    expect(error.code).toBe('CONFLICT');
    expect(error.details).toMatchObject({ currentVersion: changed.entity.version });
  });

  it('let exactly one of several concurrent writers at the same version win', async () => {
    const held = await service.get('sites', 'depot-lyon');
    const writers = createRegistryService(parseRegistryConfig({ poolMax: 8 }), {
      pool: db.pool(8),
      log: silentLogger,
    });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          writers.put('sites', 'depot-lyon', { ...depot, name: `Lyon ${i}` }, held.version),
        ),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost.map((r) => isFleetgridError(r.reason, 'CONFLICT'))).toEqual(Array(7).fill(true));
      const after = await service.get('sites', 'depot-lyon');
      expect((won[0] as PromiseFulfilledResult<{ entity: { name: string } }>).value.entity.name).toBe(
        after.name,
      );
    } finally {
      await writers.close();
    }
  });

  it('refuse to delete a row others refer to, and delete it at its version once free', async () => {
    const site = await service.get('sites', 'depot-lyon');
    const error = await failure(service.remove('sites', 'depot-lyon', site.version));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toBe(
      'cannot delete site depot-lyon: devices still refer to it; delete or move them first',
    );
    const device = await service.get('devices', 'truck-00001');
    await service.remove('devices', 'truck-00001', device.version);
    await service.remove('sites', 'depot-lyon', site.version);
    expect((await failure(service.get('sites', 'depot-lyon'))).code).toBe('NOT_FOUND');
  });
});

describe('seeding a simulated fleet', () => {
  it('registers it once, keeps what operators changed, and decommissions idempotently', async () => {
    const plan = seedPlan({ trucks: 6, turbines: 3, solar: 3, seed: 42 });
    const first = await service.seed(plan);
    expect(first.created).toEqual({
      sites: plan.sites.length,
      devices: 12,
      drivers: 6,
      rules: plan.rules.length,
    });
    const turbine = await service.get('devices', 'turbine-00002');
    await service.put('devices', 'turbine-00002', { ...turbine, status: 'maintenance' }, turbine.version);
    const second = await service.seed(plan);
    expect(second.created).toEqual({ sites: 0, devices: 0, drivers: 0, rules: 0 });
    expect(second.existing.devices).toBe(12);
    expect((await service.get('devices', 'turbine-00002')).status).toBe('maintenance');

    const gone = await service.decommission('truck-00003');
    expect(gone).toMatchObject({ changed: true, entity: { status: 'decommissioned' } });
    expect(await service.decommission('truck-00003')).toMatchObject({
      changed: false,
      entity: { version: gone.entity.version },
    });
    const page = await service.list('devices', { status: 'decommissioned' });
    expect(page.items.map((d) => d.id)).toEqual(['truck-00003']);
  });

  it('pages through a list by id', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await service.list('devices', { limit: 5, ...(after ? { after } : {}) });
      seen.push(...page.items.map((d) => d.id));
      if (page.nextCursor === null) break;
      after = page.nextCursor;
    }
    expect(seen).toEqual([...seen].sort());
    expect(seen).toHaveLength(12);
  });
});

describe('the registry CLI', () => {
  const cli = (...args: string[]) =>
    run(process.execPath, [CLI, 'registry', ...args], {
      env: {
        ...process.env,
        POSTGRES_URL: db.url,
        ...(db.config.password !== undefined ? { POSTGRES_PASSWORD: db.config.password } : {}),
        LOG_LEVEL: 'warn',
      },
    }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );

  it('lists, shows and changes rows through the same service, JSON for scripts', async () => {
    const list = await cli('list', 'devices', '--kind', 'turbine', '--json');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).items.map((d: { id: string }) => d.id)).toEqual([
      'turbine-00001',
      'turbine-00002',
      'turbine-00003',
    ]);

    const rule = await cli(
      'set-rule',
      'truck.overspeed',
      '--scope',
      'site:depot-rotterdam',
      '--param',
      'limitKmh=80',
      '--param',
      'resolveAtOrBelowKmh=75',
      '--json',
    );
    expect(rule.code).toBe(0);
    expect(JSON.parse(rule.stdout)).toMatchObject({
      created: true,
      entity: {
        id: 'truck.overspeed:site:depot-rotterdam',
        params: { limitKmh: 80, resolveAtOrBelowKmh: 75, forMs: 30_000 },
      },
    });
    const again = await cli(
      'set-rule',
      'truck.overspeed',
      '--scope',
      'site:depot-rotterdam',
      '--param',
      'limitKmh=70',
      '--param',
      'resolveAtOrBelowKmh=65',
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('to change it, send the version you read');

    const show = await cli('show', 'rule', 'truck.overspeed:site:depot-rotterdam');
    expect(show.stdout).toContain('"limitKmh":80');
  });

  it('refuses bad input with exit code 2 and a clear message', async () => {
    const bad = await cli(
      'upsert',
      'site',
      'depot-x',
      '--data',
      JSON.stringify({ ...depot, id: undefined, lat: 123 }),
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('fleetgrid: INVALID_ARGUMENT: invalid site depot-x: lat must be in -90..90');
    const unknown = await cli('list', 'trucks');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown entity "trucks"');
  });
});
