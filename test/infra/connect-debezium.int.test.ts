/**
 * Issue 13: the stack's Kafka Connect worker (distributed mode, REST behind basic auth) runs
 * the Debezium PostgreSQL connector against the stack's PostgreSQL. A smoke test of the
 * worker, not of the registry's connector: a scratch table in a scratch database, a
 * connector whose password comes through FileConfigProvider, a row change seen in Kafka,
 * and afterwards the connector, its slot, its publication and the database all gone.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { consumeAll, createTestStack, type TestStack } from '../helpers.ts';
import { eventually } from '../support/index.ts';
import { psql } from './stack.ts';

const dataRoot = process.env.FLEETGRID_DATA_DIR ?? join(PROJECT_ROOT, '.data');
const secrets = join(dataRoot, 'secrets');
const CONNECT_URL = `http://127.0.0.1:${process.env.STACK_CONNECT_PORT ?? '8083'}`;
const PG_PORT = Number(process.env.STACK_POSTGRES_PORT ?? '5433');
const secret = (name: string) => readFileSync(join(secrets, name), 'utf8').trim();

async function connect(method: string, path: string, body?: unknown, password = secret('connect.password')) {
  const response = await fetch(`${CONNECT_URL}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`fleetgrid:${password}`).toString('base64')}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: Record<string, unknown> = { text };
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // Connect answers 401 with a plain-text body.
  }
  return { status: response.status, json };
}

describe('Kafka Connect with Debezium (the stack worker)', () => {
  const id = randomUUID().slice(0, 8);
  const database = `fg_smoke_${id}`;
  const slot = `fg_smoke_${id}`;
  const publication = `fg_smoke_${id}`;
  const name = `fg-smoke-${id}`;
  let stack: TestStack;
  const app = () => secret('postgres.password');
  const cdc = () => secret('postgres-debezium.password');

  beforeAll(async () => {
    stack = await createTestStack('connect-debezium');
  });

  afterAll(async () => {
    await connect('DELETE', `/connectors/${name}`).catch(() => {});
    // The slot is released once the connector's task has stopped; dropping it needs REPLICATION.
    await eventually(
      'the replication slot to be dropped',
      async () => {
        const left = await psql(
          PG_PORT,
          'debezium',
          cdc(),
          'postgres',
          `SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name = '${slot}' AND NOT active`,
        );
        const still = await psql(
          PG_PORT,
          'fleetgrid',
          app(),
          'postgres',
          `SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slot}'`,
        );
        return left.code === 0 && still.out === '0' ? true : undefined;
      },
      30_000,
    ).catch(() => {});
    await psql(PG_PORT, 'fleetgrid', app(), database, `DROP PUBLICATION IF EXISTS ${publication}`);
    await psql(PG_PORT, 'fleetgrid', app(), 'postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    // Debezium's topics; the test stack deletes its own.
    const topics = (await stack.admin.listTopics()).filter((topic) =>
      topic.startsWith(`${stack.prefix}smoke`),
    );
    await stack.admin.deleteTopics(topics, 10_000).catch(() => {});
    await stack.cleanup();
  });

  it('refuses REST requests without the right credentials and offers the Debezium PostgreSQL plugin', async () => {
    expect((await fetch(`${CONNECT_URL}/connectors`)).status).toBe(401);
    expect((await connect('GET', '/connectors', undefined, 'not-the-password')).status).toBe(401);
    const plugins = await fetch(`${CONNECT_URL}/connector-plugins`, {
      headers: {
        authorization: `Basic ${Buffer.from(`fleetgrid:${secret('connect.password')}`).toString('base64')}`,
      },
    }).then((response) => response.json() as Promise<{ class: string; version: string }[]>);
    expect(plugins).toContainEqual(
      expect.objectContaining({
        class: 'io.debezium.connector.postgresql.PostgresConnector',
        version: '3.6.1.Final',
      }),
    );
  });

  it('streams a row change of a scratch table into Kafka, with the password from FileConfigProvider', async () => {
    expect((await psql(PG_PORT, 'fleetgrid', app(), 'postgres', `CREATE DATABASE ${database}`)).code).toBe(0);
    const setup = await psql(
      PG_PORT,
      'fleetgrid',
      app(),
      database,
      `CREATE TABLE scratch (id int PRIMARY KEY, note text);
       INSERT INTO scratch VALUES (1, 'before the connector');
       CREATE PUBLICATION ${publication} FOR TABLE scratch;`,
    );
    expect(setup.code, setup.err).toBe(0);

    const topicPrefix = `${stack.prefix}smoke`;
    const config = {
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'tasks.max': '1',
      'plugin.name': 'pgoutput',
      'database.hostname': '127.0.0.1',
      'database.port': String(PG_PORT),
      'database.user': 'debezium',
      'database.password': `\${file:${join(secrets, 'connect-secrets.properties')}:postgres.debezium.password}`,
      'database.dbname': database,
      'topic.prefix': topicPrefix,
      'table.include.list': 'public.scratch',
      // The table owner made the publication; Debezium's role only reads and replicates.
      'publication.name': publication,
      'publication.autocreate.mode': 'disabled',
      'slot.name': slot,
      'snapshot.mode': 'initial',
      // Topics: the broker's default replication factor (1 on one broker, 3 on the cluster).
      'topic.creation.default.replication.factor': '-1',
      'topic.creation.default.partitions': '1',
    };
    const created = await connect('PUT', `/connectors/${name}/config`, config);
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    // What Connect stores and shows is the reference, never the password.
    const shown = await connect('GET', `/connectors/${name}/config`);
    expect(JSON.stringify(shown.json)).not.toContain(cdc());
    expect(shown.json['database.password']).toMatch(/^\$\{file:/);

    await eventually('the connector and its task to run', async () => {
      const status = await connect('GET', `/connectors/${name}/status`);
      const tasks = (status.json.tasks ?? []) as { state: string; trace?: string }[];
      if (tasks.some((task) => task.state === 'FAILED')) throw new Error(`task failed: ${tasks[0]?.trace}`);
      return tasks[0]?.state === 'RUNNING' ? true : undefined;
    });
    const change = await psql(
      PG_PORT,
      'fleetgrid',
      app(),
      database,
      `INSERT INTO scratch VALUES (2, 'a change')`,
    );
    expect(change.code, change.err).toBe(0);

    const topic = `${topicPrefix}.public.scratch`;
    const records = await eventually(
      'both rows in Kafka',
      async () => {
        const topics = await stack.admin.listTopics();
        if (!topics.includes(topic)) return undefined;
        const read = await consumeAll(stack, topic, 2, 20_000);
        return read.length >= 2 ? read : undefined;
      },
      90_000,
    );
    const events = records.map(
      (record) =>
        (
          JSON.parse(record.value?.toString() ?? '{}') as {
            payload: { op: string; after: { id: number; note: string } };
          }
        ).payload,
    );
    expect(events).toContainEqual(
      expect.objectContaining({ op: 'r', after: { id: 1, note: 'before the connector' } }),
    );
    expect(events).toContainEqual(expect.objectContaining({ op: 'c', after: { id: 2, note: 'a change' } }));

    // Deleting the connector leaves the slot to drop; afterAll drops it and checks below.
    expect((await connect('DELETE', `/connectors/${name}`)).status).toBe(204);
    const slots = await eventually(
      'the slot to be released and dropped',
      async () => {
        await psql(
          PG_PORT,
          'debezium',
          cdc(),
          'postgres',
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${slot}' AND NOT active`,
        );
        const left = await psql(
          PG_PORT,
          'fleetgrid',
          app(),
          'postgres',
          `SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slot}'`,
        );
        return left.out === '0' ? left.out : undefined;
      },
      30_000,
    );
    expect(slots).toBe('0');
    expect((await psql(PG_PORT, 'fleetgrid', app(), database, `DROP PUBLICATION ${publication}`)).code).toBe(
      0,
    );
    expect(
      (await psql(PG_PORT, 'fleetgrid', app(), 'postgres', `DROP DATABASE ${database} WITH (FORCE)`)).code,
    ).toBe(0);
    expect((await connect('GET', '/connectors')).json).not.toContain(name);
  });
});
