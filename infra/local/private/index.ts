/**
 * Private servers (the one way to get them): a Kafka node or cluster, a Redis, an Apicurio
 * Registry, an Alertmanager and a Kafka Connect worker that the caller alone owns, on free
 * loopback ports, killed by PID and removed after. Fault tests (test/support re-exports this) and `fleetgrid loadtest --fault` use them;
 * the shared stack of `make up` is never touched.
 *
 *   const kafka = await startPrivateKafka({ nodes: 3 });
 *   afterAll(() => kafka.stop());
 *   await kafka.node(2).kill();        // kill -9
 *   kafka.node(3).pause();             // SIGSTOP ... resume() for SIGCONT
 *   await kafka.node(2).restart();     // same ports and data, waits until it is back
 */
export {
  type PrivateAlertmanager,
  type PrivateAlertmanagerOptions,
  startPrivateAlertmanager,
} from './alertmanager.ts';
export {
  type PrivateConnect,
  type PrivateConnectOptions,
  startPrivateConnect,
} from './connect.ts';
export {
  type PrivateKafka,
  type PrivateKafkaNode,
  type PrivateKafkaOptions,
  startPrivateKafka,
} from './kafka.ts';
export {
  destroyInstance,
  destroyInstanceNow,
  eventually,
  freePorts,
  isAlive,
  managedProcess,
  onProcessExit,
  type PrivateProcess,
  type ProcessSpec,
  privateDir,
  removeDir,
  startInstance,
  type StopSignal,
} from './process.ts';
export { type PrivateRedis, type PrivateRedisOptions, startPrivateRedis } from './redis.ts';
export {
  type PrivateRegistry,
  type PrivateRegistryOptions,
  registryJava,
  startPrivateRegistry,
} from './registry.ts';
