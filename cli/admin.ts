/**
 * `fleetgrid setup-topics`: creates the docs/design.md §3 topics and registers every schema.
 * Services also do this at start; the command exists for operators and scripts.
 */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('setup-topics')
    .description('create the topics and register the Avro schemas (idempotent)')
    .option('--partitions <n>', 'partitions per topic for new topics', '6')
    .action(async (options: { partitions: string }) => {
      const { loadConfig } = await import('../lib/config.ts');
      const { createLogger } = await import('../lib/log.ts');
      const { createKafkaClient } = await import('../lib/kafka/index.ts');
      const { ensureTopics, topicNames, topicSpecs } = await import('../lib/topics.ts');
      const { createSerde } = await import('../schemas/serde.ts');
      const config = loadConfig();
      const log = createLogger('admin', config.logLevel);
      const admin = createKafkaClient(config.kafka, { log }).admin();
      await admin.connect();
      try {
        const created = await ensureTopics(
          admin,
          topicSpecs(config.topicPrefix, Number(options.partitions), config.topics),
        );
        console.log(created.length ? `created topics: ${created.join(', ')}` : 'all topics exist');
      } finally {
        await admin.disconnect();
      }
      const ids = await createSerde(config.registry, {
        topics: topicNames(config.topicPrefix),
      }).registerAll();
      console.log(
        `registered schemas: ${Object.entries(ids)
          .map(([name, id]) => `${name}=${id}`)
          .join(', ')}`,
      );
    });
}
