/**
 * The broker's raw limit on this machine: Apache Kafka's own producer benchmark
 * (org.apache.kafka.tools.ProducerPerformance, from the kafka-tools jar the local stack
 * already fetched) against the same broker, with records of the load test's mean size and
 * acks=all like our producers, into a topic with the same partition count. Our end-to-end
 * rate is then stated as a share of it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PROJECT_ROOT } from '../lib/config.ts';
import type { KafkaAdmin } from '../lib/kafka/index.ts';
import { ensureTopics } from '../lib/topics.ts';
import { parseProducerPerformance } from './probes.ts';
import type { BaselineReport } from './report.ts';

/** The Kafka libs directory of the local stack (infra/local/pom.xml), newest version first. */
export function kafkaLibsDir(root = PROJECT_ROOT): string | undefined {
  const stack = resolve(root, '.cache/stack');
  if (!existsSync(stack)) return undefined;
  const dirs = readdirSync(stack)
    .filter((d) => /^kafka-\d/.test(d) && existsSync(resolve(stack, d, 'libs')))
    .sort()
    .reverse();
  return dirs[0] ? resolve(stack, dirs[0], 'libs') : undefined;
}

export interface BaselineOptions {
  admin: KafkaAdmin;
  brokers: string[];
  topic: string;
  partitions: number;
  records: number;
  recordSize: number;
  timeoutMs?: number;
}

export async function runBrokerBaseline(options: BaselineOptions): Promise<BaselineReport> {
  const libs = kafkaLibsDir();
  const recordSize = Math.max(1, Math.round(options.recordSize));
  const args = [
    '-Xmx512m',
    '-cp',
    `${libs ?? '.cache/stack/kafka-*/libs'}/*`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    options.topic,
    '--num-records',
    String(options.records),
    '--record-size',
    String(recordSize),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${options.brokers.join(',')}`,
    'acks=all',
  ];
  const command = `java ${args.map((a) => (/[*\s]/.test(a) ? `'${a}'` : a)).join(' ')}`;
  const base = {
    tool: 'org.apache.kafka.tools.ProducerPerformance' as const,
    command,
    recordSize,
    acks: 'all',
  };
  if (!libs)
    return {
      ...base,
      result: undefined,
      ratio: undefined,
      error: 'Kafka jars not found: run `bash infra/local/stack.sh fetch`',
    };
  await ensureTopics(options.admin, [
    { name: options.topic, partitions: options.partitions, config: { 'retention.ms': '3600000' } },
  ]);
  try {
    const output = await new Promise<string>((resolveRun, reject) => {
      execFile(
        'java',
        args,
        { cwd: PROJECT_ROOT, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`${error.message}\n${stderr.slice(-2_000)}`));
          else resolveRun(stdout);
        },
      );
    });
    const result = parseProducerPerformance(output);
    return {
      ...base,
      result,
      ratio: undefined,
      error: result ? undefined : `unparsed output: ${output.slice(-500)}`,
    };
  } catch (error) {
    return {
      ...base,
      result: undefined,
      ratio: undefined,
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    await options.admin.deleteTopics([options.topic], 10_000).catch(() => {});
  }
}
