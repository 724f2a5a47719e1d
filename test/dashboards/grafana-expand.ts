/**
 * Turns a Grafana ClickHouse panel query into the SQL the ClickHouse server receives, in
 * the plugin's order (grafana-clickhouse-datasource v4):
 *   1. frontend `applyConditionalAll`: `$__conditionalAll(cond, $var)` becomes `1=1` when
 *      the variable is All (or empty), else `cond`;
 *   2. frontend `templateSrv.replace` with the plugin's formatter: a multi-value without
 *      an explicit format becomes `'a','b'`, a single value is inserted as is;
 *      `${var:singlequote}` quotes each value (escaping `'` as `\'`), `${var:sqlstring}`
 *      doubles quotes; Grafana's global variables ($__from, $__to, $__interval, …);
 *   3. backend macros (pkg/macros/macros.go of the plugin): $__timeFilter(col) →
 *      `col >= toDateTime(<from s>) AND col <= toDateTime(<to s>)`, $__fromTime /
 *      $__toTime → `toDateTime(<s>)`, the `_ms` forms → `fromUnixTimestamp64Milli(<ms>)`,
 *      $__timeInterval(col) → `toStartOfInterval(toDateTime(col), INTERVAL <s> second)`,
 *      $__interval_s → the interval in whole seconds (at least 1).
 * Unknown macros and unknown variables are errors here (Grafana would send them to
 * ClickHouse, which would fail later and less clearly).
 */

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export interface VariableValue {
  /** The selected values; for All, every option's value. */
  values: string[];
  /** True when the selection is All ($__all): $__conditionalAll drops its condition. */
  all: boolean;
  multi: boolean;
}

export type Variables = Record<string, VariableValue>;

/** Grafana's interval for a range: range / maxDataPoints rounded up to a "nice" step. */
export function intervalMsFor(range: TimeRange, maxDataPoints = 1000): number {
  const raw = (range.toMs - range.fromMs) / maxDataPoints;
  const nice = [
    1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_200_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 604_800_000,
  ];
  return nice.find((step) => step >= raw) ?? 604_800_000;
}

/** Splits `(a, f(b, c), d)` starting at the `(` into its top-level arguments. */
function macroArgs(sql: string, open: number): { args: string[]; end: number } {
  let depth = 0;
  let start = open + 1;
  const args: string[] = [];
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) {
        args.push(sql.slice(start, i));
        return { args, end: i + 1 };
      }
    } else if (c === ',' && depth === 1) {
      args.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  throw new Error(`unbalanced parentheses in macro call at ${open}: ${sql.slice(open, open + 60)}`);
}

/** Step 1: the plugin's applyConditionalAll (innermost last, as the plugin scans from the end). */
export function applyConditionalAll(sql: string, variables: Variables): string {
  const macro = '$__conditionalAll(';
  let out = sql;
  let at = out.lastIndexOf(macro);
  while (at !== -1) {
    const { args, end } = macroArgs(out, at + macro.length - 1);
    if (args.length !== 2) throw new Error(`$__conditionalAll takes 2 arguments, got ${args.length}`);
    const name = /(?<=\$\{)\w+(?=\})|(?<=\$)\w+/.exec((args[1] as string).trim())?.[0];
    const variable = name ? variables[name] : undefined;
    if (!variable) throw new Error(`$__conditionalAll names an unknown variable: ${args[1]}`);
    const phrase = variable.all || variable.values.length === 0 ? '1=1' : (args[0] as string);
    out = out.slice(0, at) + phrase + out.slice(end);
    at = out.lastIndexOf(macro);
  }
  return out;
}

function formatValue(variable: VariableValue, format: string | undefined): string {
  const values = variable.values;
  switch (format) {
    case undefined:
      // The plugin's formatter: arrays quoted and comma-joined, a single value as is.
      return variable.multi ? `'${values.join("','")}'` : (values[0] ?? '');
    case 'singlequote':
      return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'sqlstring':
      return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'raw':
      return values.join(',');
    default:
      throw new Error(`variable format :${format} is not supported by this expander`);
  }
}

/** Step 2: templateSrv.replace with the dashboard's and Grafana's global variables. */
export function interpolateVariables(sql: string, variables: Variables, range: TimeRange): string {
  const intervalMs = intervalMsFor(range);
  const globals: Record<string, string> = {
    __from: String(range.fromMs),
    __to: String(range.toMs),
    __interval_ms: String(intervalMs),
    __interval: intervalMs % 60_000 === 0 ? `${intervalMs / 60_000}m` : `${intervalMs / 1000}s`,
    __range_s: String(Math.round((range.toMs - range.fromMs) / 1000)),
    __range_ms: String(range.toMs - range.fromMs),
  };
  // Grafana's variable regex: $name, [[name:format]], ${name:format}.
  const pattern = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;
  return sql.replace(pattern, (match, plain, bracket, bracketFormat, braced, _path, bracedFormat) => {
    const name: string = plain ?? bracket ?? braced;
    const format: string | undefined = bracketFormat ?? bracedFormat;
    const variable = variables[name];
    if (variable) return formatValue(variable, format);
    const global = globals[name];
    if (global !== undefined) return global;
    // Not a variable: Grafana leaves it alone; backend macros start with __.
    if (name.startsWith('__')) return match;
    throw new Error(`query uses an undefined variable: ${match}`);
  });
}

const toDateTime = (ms: number) => `toDateTime(${Math.floor(ms / 1000)})`;
const toDateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${ms})`;

/** Step 3: the plugin's backend macros. */
export function expandMacros(sql: string, range: TimeRange, intervalMs = intervalMsFor(range)): string {
  const seconds = Math.max(Math.floor(intervalMs / 1000), 1);
  const withArgs: Record<string, (args: string[]) => string> = {
    timeFilter: ([c]) => `${c} >= ${toDateTime(range.fromMs)} AND ${c} <= ${toDateTime(range.toMs)}`,
    timeFilter_ms: ([c]) => `${c} >= ${toDateTime64(range.fromMs)} AND ${c} <= ${toDateTime64(range.toMs)}`,
    timeInterval: ([c]) => `toStartOfInterval(toDateTime(${c}), INTERVAL ${seconds} second)`,
    timeInterval_ms: ([c]) =>
      `toStartOfInterval(toDateTime64(${c}, 3), INTERVAL ${Math.max(intervalMs, 1)} millisecond)`,
  };
  const noArgs: Record<string, string> = {
    fromTime: toDateTime(range.fromMs),
    toTime: toDateTime(range.toMs),
    fromTime_ms: toDateTime64(range.fromMs),
    toTime_ms: toDateTime64(range.toMs),
    interval_s: String(seconds),
  };
  let out = '';
  let i = 0;
  for (;;) {
    const at = sql.indexOf('$__', i);
    if (at === -1) return out + sql.slice(i);
    out += sql.slice(i, at);
    const name = /^\$__(\w+)/.exec(sql.slice(at))?.[1] ?? '';
    const after = at + 3 + name.length;
    const fn = withArgs[name];
    if (fn) {
      if (sql[after] !== '(') throw new Error(`$__${name} needs an argument`);
      const { args, end } = macroArgs(sql, after);
      if (args.length !== 1) throw new Error(`$__${name} takes 1 argument, got ${args.length}`);
      out += fn(args.map((a) => a.trim()));
      i = end;
      continue;
    }
    const fixed = noArgs[name];
    if (fixed === undefined) throw new Error(`unknown macro $__${name}`);
    // The plugin also accepts an empty argument list: $__fromTime().
    const empty = sql.startsWith('()', after);
    out += fixed;
    i = after + (empty ? 2 : 0);
  }
}

/** The whole chain, as a panel's query reaches ClickHouse. */
export function expandQuery(sql: string, variables: Variables, range: TimeRange): string {
  return expandMacros(interpolateVariables(applyConditionalAll(sql, variables), variables, range), range);
}
