/**
 * Issue 13: `make up` runs the project's own PostgreSQL 15 cluster: loopback only, logical
 * decoding for Debezium, SCRAM passwords on TCP from generated 0600 files, the `fleetgrid`
 * database owned by the `fleetgrid` role, a `debezium` role with REPLICATION; or, with
 * POSTGRES_URL set, none at all. stack.sh runs here against a scratch data dir and a free
 * port, and `down` stops what it started.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { freePorts } from '../support/index.ts';
import { removeDir } from '../support/index.ts';
import { psql, runStack, statusLine } from './stack.ts';

describe('the stack PostgreSQL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fg-stack-pg-'));
  let port = 0;
  let env: Record<string, string> = {};
  let password = '';

  beforeAll(async () => {
    [port] = (await freePorts(1)) as [number];
    env = { FLEETGRID_DATA_DIR: dataDir, STACK_POSTGRES_PORT: String(port) };
    const up = await runStack(['up', 'postgres'], env);
    expect(up.code, up.stderr).toBe(0);
    password = readFileSync(join(dataDir, 'secrets', 'postgres.password'), 'utf8').trim();
  });
  afterAll(async () => {
    await runStack(['down', 'postgres'], env);
    removeDir(dataDir);
  });

  it('serves the fleetgrid database to the fleetgrid role with a generated 0600 password, as lib/config finds it', async () => {
    for (const name of ['postgres.password', 'postgres-debezium.password']) {
      expect(statSync(join(dataDir, 'secrets', name)).mode & 0o777, name).toBe(0o600);
    }
    // The services' config reads the generated file by default.
    expect(loadConfig({ FLEETGRID_DATA_DIR: dataDir }).postgres.password).toBe(password);
    const who = await psql(
      port,
      'fleetgrid',
      password,
      'fleetgrid',
      'SELECT current_user, current_database()',
    );
    expect(who.out).toBe('fleetgrid|fleetgrid');
    const owner = await psql(
      port,
      'fleetgrid',
      password,
      'fleetgrid',
      "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'fleetgrid'",
    );
    expect(owner.out).toBe('fleetgrid');
  });

  it('is set up for Debezium: logical WAL, slots and senders, a REPLICATION role that reads every table', async () => {
    const settings = await psql(
      port,
      'fleetgrid',
      password,
      'fleetgrid',
      "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE name IN ('wal_level','max_replication_slots','max_wal_senders','listen_addresses','password_encryption')",
    );
    expect(settings.out).toBe(
      'listen_addresses=127.0.0.1,max_replication_slots=10,max_wal_senders=10,password_encryption=scram-sha-256,wal_level=logical',
    );
    const debezium = readFileSync(join(dataDir, 'secrets', 'postgres-debezium.password'), 'utf8').trim();
    const role = await psql(
      port,
      'debezium',
      debezium,
      'fleetgrid',
      "SELECT rolreplication, rolsuper, pg_has_role('debezium', 'pg_read_all_data', 'member') FROM pg_roles WHERE rolname = 'debezium'",
    );
    expect(role.out).toBe('t|f|t');
  });

  it('refuses a wrong password, the superuser over TCP, and any address but loopback', async () => {
    const wrong = await psql(port, 'fleetgrid', 'not-the-password', 'fleetgrid', 'SELECT 1');
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toMatch(/password authentication failed/);
    const superuser = await psql(port, 'postgres', '', 'postgres', 'SELECT 1');
    expect(superuser.code).not.toBe(0);
    const listening = await new Promise<string>((resolve) =>
      execFile('ss', ['-ltnH', `sport = :${port}`], (_error, stdout) => resolve(stdout)),
    );
    const addresses = listening
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[3]);
    expect(addresses).toEqual([`127.0.0.1:${port}`]);
  });

  it('shows in status as started by make up, and keeps its data and passwords across down and up', async () => {
    const status = await runStack(['status', 'postgres'], env);
    expect(statusLine(status.stdout, 'postgres')).toMatch(/healthy\s+make up/);
    await psql(
      port,
      'fleetgrid',
      password,
      'fleetgrid',
      'CREATE TABLE IF NOT EXISTS kept (id int); INSERT INTO kept VALUES (7)',
    );
    expect((await runStack(['down', 'postgres'], env)).code).toBe(0);
    expect(statusLine((await runStack(['status', 'postgres'], env)).stdout, 'postgres')).toMatch(/down/);
    const again = await runStack(['up', 'postgres'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/first start/);
    expect((await psql(port, 'fleetgrid', password, 'fleetgrid', 'SELECT id FROM kept')).out).toBe('7');
  });

  it('starts nothing when POSTGRES_URL names a server', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'fg-stack-pg-url-'));
    try {
      const [unused] = (await freePorts(1)) as [number];
      const external = {
        FLEETGRID_DATA_DIR: scratch,
        STACK_POSTGRES_PORT: String(unused),
        POSTGRES_URL: `postgres://fleetgrid@127.0.0.1:${port}/fleetgrid`,
      };
      const up = await runStack(['up', 'postgres'], external);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toMatch(/POSTGRES_URL is set/);
      expect(statusLine((await runStack(['status', 'postgres'], external)).stdout, 'postgres')).toMatch(
        /external/,
      );
      const probe = await psql(unused, 'fleetgrid', password, 'fleetgrid', 'SELECT 1');
      expect(probe.code).not.toBe(0);
    } finally {
      removeDir(scratch);
    }
  });
});
