import { describe, expect, it } from 'vitest';
import type { Clock } from '../lib/clock.ts';
import { silentLogger } from '../lib/log.ts';
import {
  type ConnectClient,
  type ConnectorState,
  cdcNames,
  cdcSettingsFromEnv,
  connectorConfig,
  databaseOf,
  isHealthy,
  waitUntilRunning,
} from './cdc.ts';

const options = {
  topicPrefix: 't-cdc-1a2b.',
  database: { host: '127.0.0.1', port: 5433, name: 'fleetgrid' },
  user: 'debezium',
  passwordRef: `\${file:/data/secrets/connect-secrets.properties:postgres.debezium.password}`,
  heartbeatIntervalMs: 10_000,
};

/** Connect's RegexRouter and TopicNameMatches match the whole topic name. */
const matches = (pattern: string | undefined, topic: string) => new RegExp(`^(?:${pattern})$`).test(topic);
const route = (config: Record<string, string>, name: string, topic: string) =>
  matches(config[`transforms.${name}.regex`], topic)
    ? topic.replace(
        new RegExp(`^(?:${config[`transforms.${name}.regex`]})$`),
        (config[`transforms.${name}.replacement`] ?? '').replace(/\$(\d)/g, '$$$1'),
      )
    : topic;

describe('the registry connector configuration', () => {
  it('names the connector, slot and topics after TOPIC_PREFIX, with a valid slot name', () => {
    expect(cdcNames('')).toEqual({
      connector: 'fleetgrid-registry-cdc',
      slot: 'fleetgrid_registry',
      serverName: 'registry',
      heartbeatTopic: 'registry.heartbeat',
    });
    const names = cdcNames('t-some.Long-prefix_with.dots.');
    expect(names.slot).toMatch(/^[a-z0-9_]{1,63}$/);
    expect(names.slot).not.toBe(cdcNames('t-other.').slot);
  });

  it('routes each table to its compacted topic and the heartbeat to its own', () => {
    const config = connectorConfig(options);
    const through = (topic: string) =>
      ['route', 'routeRules', 'routeHeartbeat'].reduce((t, name) => route(config, name, t), topic);
    expect(through('t-cdc-1a2b.registry.registry.sites')).toBe('t-cdc-1a2b.registry.sites');
    expect(through('t-cdc-1a2b.registry.registry.devices')).toBe('t-cdc-1a2b.registry.devices');
    expect(through('t-cdc-1a2b.registry.registry.drivers')).toBe('t-cdc-1a2b.registry.drivers');
    expect(through('t-cdc-1a2b.registry.registry.alert_rules')).toBe('t-cdc-1a2b.registry.rules');
    expect(through('__debezium-heartbeat.t-cdc-1a2b.registry')).toBe('t-cdc-1a2b.registry.heartbeat');
    // Keys are extracted on the routed registry topics only.
    const registryTable = config['predicates.registryTable.pattern'];
    expect(matches(registryTable, 't-cdc-1a2b.registry.rules')).toBe(true);
    expect(matches(registryTable, 't-cdc-1a2b.registry.heartbeat')).toBe(false);
    // The dots of the prefix are literal: another prefix that differs only there does not match.
    expect(matches(registryTable, 't-cdc-1a2bXregistry.rules')).toBe(false);
  });

  it('captures exactly the registry tables through the migration-owned publication and a kept slot', () => {
    const config = connectorConfig(options);
    expect(config).toMatchObject({
      'plugin.name': 'pgoutput',
      'publication.name': 'fleetgrid_registry',
      'publication.autocreate.mode': 'disabled',
      'slot.name': cdcNames(options.topicPrefix).slot,
      'slot.drop.on.stop': 'false',
      'table.include.list': 'registry.sites,registry.devices,registry.drivers,registry.alert_rules',
      'transforms.unwrap.delete.tombstone.handling.mode': 'rewrite-with-tombstone',
      'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
      'value.converter.schemas.enable': 'true',
      'database.password': options.passwordRef,
    });
  });

  it('refuses a literal password: it would be stored in Connect and shown by its REST API', () => {
    expect(() => connectorConfig({ ...options, passwordRef: 'hunter2' })).toThrow(
      /config provider reference/,
    );
  });

  it('calls a connector healthy only when it and every task run', () => {
    expect(isHealthy({ connector: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] })).toBe(true);
    expect(isHealthy({ connector: 'RUNNING', tasks: [] })).toBe(false);
    expect(isHealthy({ connector: 'RUNNING', tasks: [{ id: 0, state: 'FAILED' }] })).toBe(false);
    expect(isHealthy(undefined)).toBe(false);
  });

  it('reads the database from POSTGRES_URL and the CDC role from the environment', () => {
    expect(databaseOf('postgres://fleetgrid@127.0.0.1:5433/fleetgrid')).toEqual({
      host: '127.0.0.1',
      port: 5433,
      name: 'fleetgrid',
      user: 'fleetgrid',
    });
    const settings = cdcSettingsFromEnv(
      {
        postgres: { url: 'postgres://fleetgrid@127.0.0.1:5433/fleetgrid', password: 'p' },
        dataDir: '/nowhere',
      },
      { POSTGRES_CDC_PASSWORD: 'cdc' },
    );
    expect(settings).toMatchObject({
      user: 'debezium',
      passwordRef: `\${file:/nowhere/secrets/connect-secrets.properties:postgres.debezium.password}`,
      replication: { url: 'postgres://debezium@127.0.0.1:5433/fleetgrid', password: 'cdc' },
    });
  });
});

describe('waiting for the connector to run', () => {
  const failedTask = {
    connector: 'RUNNING',
    tasks: [{ id: 0, state: 'FAILED', trace: 'DebeziumException: old offset\nat …' }],
  };
  const running = { connector: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] };
  /** A Connect worker answering the given states in turn (the last one for ever), counting restarts. */
  function worker(states: ConnectorState[]) {
    let restarts = 0;
    let at = 0;
    const client = {
      putConfig: async () => ({ created: false }),
      status: async () => {
        const state = states[Math.min(at, states.length - 1)];
        at += 1;
        return state;
      },
      config: async () => undefined,
      committedLsn: async () => undefined,
      remove: async () => false,
      restartFailed: async () => {
        restarts += 1;
      },
    } satisfies ConnectClient;
    return { client, restarts: () => restarts };
  }
  const options = () => {
    let now = 0;
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    };
    return { timeoutMs: 10_000, clock, log: silentLogger };
  };

  it('restarts a task that failed under the previous configuration, once, and waits for it', async () => {
    const w = worker([failedTask, failedTask, running]);
    expect(await waitUntilRunning(w.client, 'c', options())).toEqual(running);
    expect(w.restarts()).toBe(1);
  });

  it('fails for good when the task fails again after the restart, with the first lines of its trace', async () => {
    const w = worker([
      failedTask,
      {
        connector: 'RUNNING',
        tasks: [
          { id: 0, state: 'RUNNING' },
          { id: 1, state: 'UNASSIGNED' },
        ],
      },
      failedTask,
    ]);
    const error = await waitUntilRunning(w.client, 'c', options()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', retriable: false });
    expect(String((error as Error).message)).toContain('DebeziumException: old offset');
    expect(w.restarts()).toBe(1);
  });

  it('gives up at the deadline when the connector never runs', async () => {
    const w = worker([{ connector: 'UNASSIGNED', tasks: [] }]);
    await expect(waitUntilRunning(w.client, 'c', options())).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(w.restarts()).toBe(0);
  });

  it('gives up at the deadline, with the trace, when the task never leaves FAILED after the restart', async () => {
    const w = worker([failedTask]);
    const error = await waitUntilRunning(w.client, 'c', options()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TIMEOUT' });
    expect(String((error as Error).message)).toContain('DebeziumException: old offset');
    expect(w.restarts()).toBe(1);
  });
});
