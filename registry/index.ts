/**
 * The fleet registry (docs/registry.md): PostgreSQL as the system of record for master
 * data and alert rule parameters, written through one validated service (CLI and API),
 * streamed by Debezium into compacted topics, and folded back into an in-memory table by
 * its readers.
 *
 * Pure parts: the entities and their validation (model.ts), rule parameters (rules.ts), the
 * seed plan of a simulated fleet (seed.ts), the registry table that folds the CDC topics
 * (table.ts), topic names (topics.ts). With I/O: the pool (db.ts), migrations (migrate.ts),
 * the service (service.ts).
 */
export {
  cdcNames,
  type ConnectClient,
  createConnectClient,
  type RegistryHealth,
  registryHealth,
} from './cdc.ts';
export { followRegistry, type RegistryChangeSeen, type RegistryFollower } from './follower.ts';
export { parseRegistryConfig, type RegistryConfig, type RegistryConfigInput } from './config.ts';
export { createPool, describeUrl, type Pool, toPostgresError } from './db.ts';
export { migrateRegistry, type RegistryMigrationReport, REGISTRY_SCHEMA } from './migrate.ts';
export {
  type Device,
  DEVICE_KINDS,
  DEVICE_STATUSES,
  type Driver,
  type Entity,
  ENTITY_NAMES,
  type EntityName,
  type EntityTypes,
  INPUT_SCHEMAS,
  type InputTypes,
  NOUN,
  parseInput,
  parseRuleRowId,
  type Rule,
  RULE_SCOPES,
  type RuleScope,
  ruleRowId,
  rowToEntity,
  type Site,
  SITE_KIND_OF,
  SITE_KINDS,
} from './model.ts';
export {
  defaultRuleParams,
  isRuleId,
  parseRuleParams,
  RULE_IDS,
  RULE_PARAM_SCHEMAS,
  type RuleId,
  type RuleParams,
  ruleKind,
} from './rules.ts';
export { type SeedOptions, type SeedPlan, seedPlan } from './seed.ts';
export {
  createRegistryService,
  openRegistryService,
  type ListFilter,
  type Page,
  type RegistryService,
  type SeedReport,
  type WriteResult,
} from './service.ts';
export {
  type ApplyResult,
  createRegistryTable,
  DEFAULT_CHANGE_LEAD_MS,
  decodeRegistryRecord,
  type RegistryChange,
  type RegistryRecord,
  type RegistryTable,
  type RegistryTableCounts,
  type RegistryTableOptions,
  type ResolvedRule,
  type ValiditySpan,
} from './table.ts';
export { entityOfTopic, registryTopicNames, registryTopicSpecs } from './topics.ts';
