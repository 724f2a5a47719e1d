/**
 * Exit 0 when the broker at argv[2] answers a metadata request, 1 otherwise.
 * stack.sh polls it: an open port alone does not mean the KRaft controller has a leader.
 */
import { createKafkaClient } from '../../lib/kafka.ts';
import { silentLogger } from '../../lib/log.ts';

const broker = process.argv[2] ?? '127.0.0.1:9092';
const admin = createKafkaClient(
  { brokers: [broker], clientId: 'fleetgrid-stack-check', ssl: false, sasl: undefined },
  { log: silentLogger },
).admin();
try {
  await admin.connect();
  const cluster = await admin.describeCluster();
  await admin.disconnect();
  process.exit(cluster.brokers.length > 0 && cluster.controller !== null ? 0 : 1);
} catch {
  process.exit(1);
}
