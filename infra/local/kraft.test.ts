import { describe, expect, it } from 'vitest';
import { kraftNodeProperties, localCluster, newClusterId, parseProperties, replicationFor } from './kraft.ts';

const base = parseProperties(
  '# shared\nnum.partitions=6\nauto.create.topics.enable = false\n\nmin.insync.replicas=9\n',
);

describe('KRaft node properties', () => {
  it('one node: a dynamic quorum on its own controller, replication 1', () => {
    const cluster = localCluster('/d/kafka', [9092], [9093]);
    const props = kraftNodeProperties(cluster, 1, base);
    expect(props.get('node.id')).toBe('1');
    expect(props.get('process.roles')).toBe('broker,controller');
    expect(props.get('listeners')).toBe('PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093');
    expect(props.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:9092');
    expect(props.get('controller.quorum.bootstrap.servers')).toBe('127.0.0.1:9093');
    expect(props.has('controller.quorum.voters')).toBe(false);
    expect(props.get('log.dirs')).toBe('/d/kafka/log');
    expect(props.get('offsets.topic.replication.factor')).toBe('1');
    expect(props.get('min.insync.replicas')).toBe('1');
    // The shared settings come through.
    expect(props.get('num.partitions')).toBe('6');
    expect(props.get('auto.create.topics.enable')).toBe('false');
  });

  it('three nodes: static voters, own dirs, internal topics replicated 3 with min ISR 2', () => {
    const cluster = localCluster('/d/cluster', [19092, 19093, 19094], [19192, 19193, 19194]);
    const props = kraftNodeProperties(cluster, 2, base);
    expect(props.get('node.id')).toBe('2');
    expect(props.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19093,CONTROLLER://127.0.0.1:19193');
    expect(props.get('controller.quorum.voters')).toBe(
      '1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194',
    );
    expect(props.has('controller.quorum.bootstrap.servers')).toBe(false);
    expect(props.get('log.dirs')).toBe('/d/cluster/node-2/log');
    for (const key of [
      'default.replication.factor',
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
    ]) {
      expect(props.get(key), key).toBe('3');
    }
    expect(props.get('transaction.state.log.min.isr')).toBe('2');
    expect(props.get('min.insync.replicas')).toBe('2');
  });

  it('a SASL_SSL listener with SCRAM-SHA-512 and a PEM keystore, advertised beside PLAINTEXT', () => {
    const cluster = localCluster('/d/kafka', [9092], [9093]);
    const props = kraftNodeProperties(cluster, 1, base, {
      saslSsl: { port: 9094, keystorePem: '/d/tls/broker.pem' },
    });
    expect(props.get('listeners')).toBe(
      'PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094',
    );
    expect(props.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094');
    expect(props.get('listener.security.protocol.map')).toContain('SASL_SSL:SASL_SSL');
    expect(props.get('listener.name.sasl_ssl.sasl.enabled.mechanisms')).toBe('SCRAM-SHA-512');
    expect(props.get('listener.name.sasl_ssl.ssl.keystore.type')).toBe('PEM');
    expect(props.get('listener.name.sasl_ssl.ssl.keystore.location')).toBe('/d/tls/broker.pem');
    // No password of any kind is rendered into the file.
    expect([...props.keys()].some((key) => key.includes('password'))).toBe(false);
  });

  it('refuses a node outside the cluster and mismatched port lists', () => {
    expect(() => kraftNodeProperties(localCluster('/d', [1], [2]), 2, base)).toThrow(/not in the cluster/);
    expect(() => localCluster('/d', [1, 2], [3])).toThrow(/one broker port and one controller port/);
  });

  it('replication follows the size; cluster ids are Kafka-style and never start with a dash', () => {
    expect(replicationFor(1)).toEqual({ factor: 1, minIsr: 1 });
    expect(replicationFor(2)).toEqual({ factor: 2, minIsr: 1 });
    expect(replicationFor(5)).toEqual({ factor: 3, minIsr: 2 });
    for (let i = 0; i < 200; i++) expect(newClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});
