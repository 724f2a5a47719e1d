/**
 * The record catalogue: which .avsc file holds each record, which topic carries it, and
 * the registry subject it is registered under (TopicRecordNameStrategy:
 * `<topic>-<full record name>`, docs/design.md §3). Schemas are parsed once, at import.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import avro from 'avsc';
import { RAW_TOPIC_KEYS, type TopicKey, type TopicNames } from '../lib/topics.ts';
import type { RecordName } from './types.ts';

export const NAMESPACE = 'fleetgrid.telemetry';

export interface RecordSpec {
  name: RecordName;
  fullName: string;
  topic: TopicKey;
  /** The current (newest) schema: every writer version decodes into it. */
  schema: avro.Schema;
  type: avro.Type;
}

export const RECORD_TOPICS: Record<RecordName, TopicKey> = {
  TruckTelemetry: 'truck',
  EngineStateChanged: 'truck',
  DiagnosticReported: 'truck',
  TurbineTelemetry: 'turbine',
  SolarTelemetry: 'solar',
  WindowAggregate: 'aggregates',
  Alert: 'alerts',
  DeviceState: 'deviceState',
  AlertCommand: 'commands',
};

export const RECORD_NAMES = Object.keys(RECORD_TOPICS) as RecordName[];

/** The raw device events (docs/design.md §3): what devices send and the processors accept. */
export const RAW_RECORDS: readonly RecordName[] = RECORD_NAMES.filter((name) =>
  (RAW_TOPIC_KEYS as readonly TopicKey[]).includes(RECORD_TOPICS[name]),
);

const RAW_RECORD_SET = new Set<string>(RAW_RECORDS);

export function isRawRecord(name: string): boolean {
  return RAW_RECORD_SET.has(name);
}

export function readSchemaFile(file: string): avro.Schema {
  return JSON.parse(readFileSync(resolve(import.meta.dirname, file), 'utf8')) as avro.Schema;
}

/** Parses an Avro schema; unions stay plain (null | T) as the Confluent serializers write them. */
export function parseSchema(schema: avro.Schema): avro.Type {
  return avro.Type.forSchema(schema, { wrapUnions: false });
}

export const RECORDS: Record<RecordName, RecordSpec> = Object.fromEntries(
  RECORD_NAMES.map((name) => {
    const schema = readSchemaFile(`${name}.avsc`);
    return [
      name,
      {
        name,
        fullName: `${NAMESPACE}.${name}`,
        topic: RECORD_TOPICS[name],
        schema,
        type: parseSchema(schema),
      },
    ];
  }),
) as Record<RecordName, RecordSpec>;

/** Older writer schemas kept for compatibility tests and for simulating mixed fleets. */
export const LEGACY_SCHEMAS = {
  TruckTelemetryV1: readSchemaFile('TruckTelemetry.v1.avsc'),
} as const;

export function subjectFor(topic: string, fullName: string): string {
  return `${topic}-${fullName}`;
}

export function subjectOf(record: RecordName, topics: TopicNames): string {
  const spec = RECORDS[record];
  return subjectFor(topics[spec.topic], spec.fullName);
}
