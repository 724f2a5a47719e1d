/**
 * The key partitioner every fleetgrid producer uses: murmur2 over the key bytes, as the
 * Java client does, so any producer (ours, Kafka Connect, a Java service) puts a device on
 * the same partition. A producer that keeps several requests in flight uses it to give
 * each partition one ordered lane.
 */
import kafkajs from 'kafkajs';

const { Partitioners } = kafkajs;

let keyPartitioner: ReturnType<typeof Partitioners.DefaultPartitioner> | undefined;
const partitionTables = new Map<number, { partitionId: number; leader: number }[]>();

/** The partition our producers' partitioner picks for `key` among `partitions`. */
export function partitionForKey(key: Buffer | string, partitions: number): number {
  keyPartitioner ??= Partitioners.DefaultPartitioner();
  let table = partitionTables.get(partitions);
  if (!table) {
    table = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0 }));
    partitionTables.set(partitions, table);
  }
  return keyPartitioner({ topic: '', partitionMetadata: table as never, message: { key, value: null } });
}
