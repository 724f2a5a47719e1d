/**
 * The embedded engine's read caches are bounded as configured (CLICKHOUSE_EMBEDDED_CACHE_MB):
 * its own defaults are 5 GiB each. Server settings are process-wide in chDB (the first
 * session sets them), so the engine is opened in a child process of its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'fleetgrid-embedded-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded ClickHouse memory', () => {
  it('bounds the mark, primary index, skip-index mark and query condition caches', () => {
    const script = `
      import { createEmbeddedBackend } from ${JSON.stringify(resolve(PROJECT_ROOT, 'clickhouse/backends/embedded.ts'))};
      const b = await createEmbeddedBackend({ mode: 'embedded', dataDir: ${JSON.stringify(dir)}, database: 'fleetgrid', cacheBytes: 33554432 });
      const rows = await b.query("SELECT name, value FROM system.server_settings WHERE name IN ('mark_cache_size', 'primary_index_cache_size', 'index_mark_cache_size', 'query_condition_cache_size', 'uncompressed_cache_size')");
      await b.close();
      console.log(JSON.stringify(rows));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const settings = Object.fromEntries(
      (JSON.parse(out.trim().split('\n').at(-1) as string) as { name: string; value: string }[]).map((r) => [
        r.name,
        r.value,
      ]),
    );
    expect(settings).toEqual({
      mark_cache_size: '33554432',
      primary_index_cache_size: '33554432',
      index_mark_cache_size: '33554432',
      query_condition_cache_size: '33554432',
      uncompressed_cache_size: '0',
    });
  });
});
