import { describe, expect, it } from 'vitest';
import { toClickHouseError, toJsonEachRow } from './backend.ts';
import { loadMigrations, renderSql, splitStatements } from './migrate.ts';

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
    expect(migrations.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const m of migrations) {
      const sql = renderSql(m.sql, { RAW_TTL_DAYS: '30', AGG_TTL_DAYS: '400' });
      expect(sql).not.toMatch(/\{\{/);
      for (const statement of splitStatements(sql)) {
        if (statement.startsWith('ALTER TABLE')) {
          // A repeated run must be a no-op: every clause of an ALTER is conditional.
          const clauses = statement.split(/,\s*\n/).map((c) => c.replace(/^ALTER TABLE \w+\s+/, '').trim());
          for (const clause of clauses) expect(clause).toMatch(/^ADD COLUMN IF NOT EXISTS /);
        } else expect(statement).toMatch(/^CREATE (TABLE|VIEW) IF NOT EXISTS/);
      }
    }
  });

  it('adds the registry fields as nullable columns (old rows read NULL) and rule_version defaulting to 0', () => {
    const sql = loadMigrations().find((m) => m.version === 6)?.sql ?? '';
    for (const table of ['aggregates_1m', 'alerts', 'device_state']) {
      const statement = splitStatements(sql).find((s) => s.startsWith(`ALTER TABLE ${table}\n`)) ?? '';
      expect(statement).toContain('ADD COLUMN IF NOT EXISTS model LowCardinality(Nullable(String))');
      expect(statement).toContain('ADD COLUMN IF NOT EXISTS driver_id LowCardinality(Nullable(String))');
      expect(statement.includes('rule_version')).toBe(table === 'alerts');
    }
    expect(sql).toContain('ADD COLUMN IF NOT EXISTS rule_version UInt64 DEFAULT 0');
  });

  it('refuses a placeholder without a value', () => {
    expect(() => renderSql('TTL ts + INTERVAL {{NOPE}} DAY', {})).toThrow(/NOPE/);
  });
});
