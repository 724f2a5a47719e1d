// Unit tests of bench/run.ts (the `make bench` driver), kept here because the unit project
// collects tests from the component folders only.
import { describe, expect, it } from 'vitest';
import { flatten, parseBenchJson, renderSection, spliceSection } from '../bench/run.ts';

describe('make bench driver', () => {
  it('keeps the last BENCH_JSON line of a bench and ignores broken ones', () => {
    expect(parseBenchJson('table\nBENCH_JSON {"a":1}\nBENCH_JSON {"a":2}\n')).toEqual({ a: 2 });
    expect(parseBenchJson('BENCH_JSON {oops')).toBeUndefined();
    expect(parseBenchJson('no figures')).toBeUndefined();
  });

  it('flattens nested figures into dotted rows', () => {
    expect(flatten({ eventsPerS: 123_456.789, stages: { encodeUs: 1.5 }, kinds: ['a', 'b'] })).toEqual([
      ['eventsPerS', '123,456.789'],
      ['stages.encodeUs', '1.5'],
      ['kinds', 'a, b'],
    ]);
  });

  it('rewrites only its own section of docs/BENCHMARKS.md', () => {
    const section = renderSection({
      date: '2026-01-01T00:00:00Z',
      machine: '2 × cpu',
      benches: [
        {
          name: 'producers',
          command: 'node producers/bench.ts',
          seconds: 30,
          figures: { eventsPerS: 1 },
          error: undefined,
        },
      ],
      e2e: {
        command: 'node bin/fleetgrid.mjs loadtest …',
        summary: ['reconciliation: OK'],
        reportDir: 'reports/x',
        error: undefined,
      },
      totalSeconds: 100,
    });
    expect(section).toContain('| eventsPerS | 1 |');
    expect(section).toContain('- reconciliation: OK');
    const first = spliceSection('# Benchmarks\n\nhand-written notes\n', section);
    expect(first).toContain('hand-written notes');
    const second = spliceSection(`${first}\nmore notes\n`, section.replace('2026-01-01', '2026-02-02'));
    expect(second).toContain('2026-02-02');
    expect(second).not.toContain('2026-01-01');
    expect(second).toContain('hand-written notes');
    expect(second).toContain('more notes');
    expect(spliceSection(undefined, section)).toMatch(/^# Benchmarks/);
  });
});
