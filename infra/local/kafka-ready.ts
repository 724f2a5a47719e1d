/**
 * `node kafka-ready.ts BROKERS [COUNT]`: exit 0 when the brokers (a comma-separated list)
 * answer a metadata request with a controller and at least COUNT (default 1) live brokers,
 * 1 otherwise. stack.sh polls it: an open port alone does not mean the KRaft controller has
 * a leader, nor that every node of a cluster has joined.
 */
import { createKafkaClient } from '../../lib/kafka/index.ts';
import { silentLogger } from '../../lib/log.ts';

const brokers = (process.argv[2] ?? '127.0.0.1:9092').split(',').filter(Boolean);
const expected = Number(process.argv[3] ?? '1');
const admin = createKafkaClient(
  { brokers, clientId: 'fleetgrid-stack-check', ssl: false, sasl: undefined },
  { log: silentLogger },
).admin();
try {
  await admin.connect();
  const cluster = await admin.describeCluster();
  await admin.disconnect();
  process.exit(cluster.brokers.length >= expected && cluster.controller !== null ? 0 : 1);
} catch {
  process.exit(1);
}
