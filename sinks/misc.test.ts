import { describe, expect, it } from 'vitest';
import { toClickHouseError, toJsonEachRow } from './backend.ts';
import { loadMigrations, renderSql, splitStatements } from './migrate.ts';
import { checkReadOnlySql } from './query-server.ts';
import { parseFrom, topicOfProjection } from './replay.ts';

describe('toClickHouseError', () => {
  it('retries overload, memory, timeouts and lost connections', () => {
    for (const code of [252, 241, 159, 209, 210, 319]) {
      expect(
        toClickHouseError('insert', Object.assign(new Error('x'), { clickhouseCode: code })).retriable,
      ).toBe(true);
    }
    expect(
      toClickHouseError('insert', Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).code,
    ).toBe('CLICKHOUSE_UNAVAILABLE');
    expect(
      toClickHouseError('insert', Object.assign(new Error('bad gateway'), { status: 502 })).retriable,
    ).toBe(true);
  });

  it('does not retry bad data or bad SQL', () => {
    const parse = toClickHouseError(
      'insert',
      Object.assign(new Error('Cannot parse'), { clickhouseCode: 27 }),
    );
    expect(parse).toMatchObject({
      code: 'CLICKHOUSE_REJECTED',
      retriable: false,
      details: { clickhouseCode: 27 },
    });
    const server = toClickHouseError('insert', Object.assign(new Error('type mismatch'), { code: '53' }));
    expect(server.code).toBe('CLICKHOUSE_REJECTED');
  });
});

describe('toJsonEachRow', () => {
  it('counts the lines of a buffer, with or without a final newline', () => {
    expect(toJsonEachRow(Buffer.from('{"a":1}\n{"a":2}\n')).rows).toBe(2);
    expect(toJsonEachRow(Buffer.from('{"a":1}\n{"a":2}')).rows).toBe(2);
    expect(toJsonEachRow([{ a: 1 }]).payload.toString()).toBe('{"a":1}\n');
  });
});

describe('migrations', () => {
  it('are numbered, unique and fill every placeholder', () => {
    const migrations = loadMigrations();
    expect(migrations.map((m) => m.version)).toEqual([1, 2, 3]);
    for (const m of migrations) {
      const sql = renderSql(m.sql, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' });
      expect(sql).not.toMatch(/\{\{/);
      for (const statement of splitStatements(sql))
        expect(statement).toMatch(/^CREATE (TABLE|VIEW) IF NOT EXISTS/);
    }
  });

  it('refuses a placeholder without a value', () => {
    expect(() => renderSql('TTL ts + INTERVAL {{NOPE}} DAY', {})).toThrow(/NOPE/);
  });
});

describe('checkReadOnlySql', () => {
  it('accepts one read statement', () => {
    expect(checkReadOnlySql(' SELECT 1; ')).toBe('SELECT 1');
    expect(checkReadOnlySql("WITH 'a;b' AS s SELECT s")).toBe("WITH 'a;b' AS s SELECT s");
  });

  it('refuses writes and stacked statements', () => {
    expect(() => checkReadOnlySql('INSERT INTO t VALUES (1)')).toThrow(/read statements/);
    expect(() => checkReadOnlySql('DROP TABLE t')).toThrow(/read statements/);
    expect(() => checkReadOnlySql('SELECT 1; DROP TABLE t')).toThrow(/one statement/);
  });
});

describe('replay arguments', () => {
  it('parses --from as the beginning, a time or an offset', () => {
    expect(parseFrom(undefined)).toEqual({ kind: 'beginning' });
    expect(parseFrom('offset:42')).toEqual({ kind: 'offset', offset: 42n });
    expect(parseFrom('2026-11-22T10:00:00Z')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 22, 10) });
    expect(parseFrom('1763800000000')).toEqual({ kind: 'time', ms: 1763800000000 });
    expect(() => parseFrom('yesterday')).toThrow(/--from/);
  });

  it('finds the topic of a projection and refuses views and unknown names', () => {
    expect(topicOfProjection('truck_diagnostics')).toBe('truck');
    expect(topicOfProjection('dead_letters')).toBe('dlq');
    expect(() => topicOfProjection('aggregates_1h')).toThrow(/unknown projection/);
  });
});
