/**
 * Terminal rendering of API answers, pure: aligned tables for people (`fleetgrid query …`),
 * while `--json` prints the answer untouched for scripts. Numbers are right-aligned and
 * rounded for reading only; the JSON keeps full precision.
 */

export interface Column {
  header: string;
  value: (row: Record<string, unknown>) => unknown;
  align?: 'left' | 'right';
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    return value.toFixed(abs >= 100 ? 1 : abs >= 1 ? 2 : 4);
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(formatValue).join(',');
  return String(value);
}

export function table(rows: readonly Record<string, unknown>[], columns: readonly Column[]): string {
  const cells = rows.map((row) => columns.map((c) => formatValue(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => (r[i] as string).length)),
  );
  const numeric = columns.map(
    (c, i) =>
      c.align ??
      (rows.length > 0 &&
      rows.every((row) => typeof c.value(row) === 'number' || c.value(row) === null) &&
      cells.some((r) => r[i] !== '-')
        ? 'right'
        : 'left'),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) =>
        numeric[i] === 'right' ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number),
      )
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.header)),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
  ].join('\n');
}

const get = (key: string) => (row: Record<string, unknown>) => row[key];

type Json = Record<string, unknown>;
const obj = (v: unknown) => (v ?? {}) as Json;
const arr = (v: unknown) => (Array.isArray(v) ? (v as Json[]) : []);

const percent = (v: unknown) => (v === null || v === undefined ? '-' : `${formatValue(Number(v) * 100)} %`);

/** `summary --group-by`: one line per group with the figures of its kind. */
function renderGroups(s: Json): string {
  const rows = arr(s.groups);
  const bySite = s.groupBy === 'site';
  // Devices the registry does not know are one bucket of their own, said in words.
  const unregistered = (r: Json, value: unknown) =>
    r.registered === false ? '(unregistered)' : (value ?? '-');
  return [
    `Fleet summary by ${String(s.groupBy)}${s.siteId ? ` at ${String(s.siteId)}` : ''} ${s.from} → ${s.to}`,
    '',
    table(rows, [
      ...(bySite ? [{ header: 'site', value: get('siteId') }] : []),
      ...(s.groupBy === 'model' ? [{ header: 'model', value: (r: Json) => unregistered(r, r.model) }] : []),
      ...(s.groupBy === 'driver'
        ? [
            { header: 'driver', value: (r: Json) => unregistered(r, r.driverId ?? '(none)') },
            { header: 'name', value: (r: Json) => r.driverName ?? '-' },
          ]
        : []),
      { header: 'kind', value: get('kind') },
      { header: 'devices', value: get('devices') },
      { header: 'active', value: get('activeDevices') },
      { header: 'events', value: get('events') },
      { header: 'distance km', value: get('distanceKm') },
      { header: 'energy kWh', value: get('energyKwh') },
      { header: 'availability', value: (r: Json) => percent(r.availability) },
      { header: 'capacity factor', value: (r: Json) => percent(r.capacityFactor) },
      { header: 'open alerts', value: get('alertsOpen') },
    ]),
  ].join('\n');
}

export function renderSummary(s: Json): string {
  if (Array.isArray(s.groups)) return renderGroups(s);
  const truck = obj(s.truck);
  const turbine = obj(s.turbine);
  const solar = obj(s.solar);
  const alerts = obj(s.alerts);
  const kinds = [
    { kind: 'truck', ...truck },
    { kind: 'turbine', ...turbine },
    { kind: 'solar', ...solar },
  ];
  return [
    `Fleet summary${s.siteId ? ` of site ${String(s.siteId)}` : ''} ${s.from} → ${s.to}`,
    '',
    table(kinds, [
      { header: 'kind', value: get('kind') },
      { header: 'devices', value: get('devices') },
      { header: 'active', value: get('activeDevices') },
      { header: 'events', value: get('events') },
    ]),
    '',
    `trucks:   avg speed ${formatValue(truck.avgSpeedKmh)} km/h, distance ${formatValue(truck.distanceKm)} km, engine on ${formatValue(truck.engineOnHours)} h, idle ${formatValue(truck.idleHours)} h`,
    `turbines: energy ${formatValue(turbine.energyKwh)} kWh, availability ${percent(turbine.availability)}, capacity factor ${percent(turbine.capacityFactor)}`,
    `solar:    energy ${formatValue(solar.energyKwh)} kWh, capacity factor ${percent(solar.capacityFactor)}`,
    `alerts:   ${formatValue(alerts.raised)} raised in range, ${formatValue(alerts.open)} open now`,
  ].join('\n');
}

export function renderDevices(d: Json): string {
  const rows = arr(d.devices);
  const out = table(rows, [
    { header: 'device', value: get('deviceId') },
    { header: 'kind', value: get('kind') },
    { header: 'site', value: get('siteId') },
    { header: 'model', value: get('model') },
    { header: 'driver', value: get('driverId') },
    { header: 'last seen', value: get('lastSeen') },
    { header: 'events', value: get('eventCount') },
    {
      header: 'status',
      value: (r) => r.status ?? (r.engineOn === null ? null : r.engineOn ? 'engine on' : 'engine off'),
    },
    { header: 'speed km/h', value: get('speedKmh') },
    {
      header: 'power kW',
      value: (r) =>
        r.powerKw ?? (r.acPowerW === null || r.acPowerW === undefined ? null : Number(r.acPowerW) / 1000),
    },
    { header: 'open alerts', value: get('openAlerts') },
  ]);
  return d.nextCursor ? `${out}\n\nmore: --cursor ${d.nextCursor}` : out;
}

export function renderState(s: Json): string {
  const state = obj(s.state);
  const title = s.asOf
    ? `${s.deviceId} as of ${s.asOf} (folded from its events)`
    : `${s.deviceId} (latest state)`;
  const rows = Object.entries(state)
    .filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([field, value]) => ({ field, value }));
  return `${title}\n\n${table(rows, [
    { header: 'field', value: get('field') },
    { header: 'value', value: get('value'), align: 'left' },
  ])}`;
}

export function renderSeries(s: Json): string {
  const points = arr(s.points);
  const head = `${s.deviceId} ${s.metric} step ${s.step} ${s.from} → ${s.to} (${points.length} points${s.truncated ? ', truncated' : ''})`;
  if (s.step === 'raw')
    return `${head}\n\n${table(points, [
      { header: 't', value: get('t') },
      { header: 'value', value: get('value') },
    ])}`;
  return `${head}\n\n${table(points, [
    { header: 't', value: get('t') },
    { header: 'count', value: get('count') },
    { header: 'min', value: get('min') },
    { header: 'max', value: get('max') },
    { header: 'avg', value: get('avg') },
    { header: 'sum', value: get('sum') },
    { header: 'final', value: get('final') },
    { header: 'rev', value: get('revision') },
  ])}`;
}

export function renderEnergy(e: Json): string {
  const totals = obj(e.totals);
  return `${e.siteId} energy step ${e.step} ${e.from} → ${e.to}\n\n${table(arr(e.points), [
    { header: 't', value: get('t') },
    { header: 'turbine kWh', value: get('turbineKwh') },
    { header: 'solar kWh', value: get('solarKwh') },
    { header: 'total kWh', value: get('totalKwh') },
  ])}\n\ntotal: ${formatValue(totals.totalKwh)} kWh (turbines ${formatValue(totals.turbineKwh)}, solar ${formatValue(totals.solarKwh)})`;
}

/** A truck's trips: one line each (durations in minutes, for reading). */
export function renderTrips(t: Json): string {
  const minutes = (key: string) => (row: Json) => (row[key] === undefined ? null : Number(row[key]) / 60);
  const lines = table(arr(t.trips), [
    { header: 'trip', value: get('tripId') },
    { header: 'start', value: get('startedAt') },
    { header: 'end', value: get('endedAt') },
    { header: 'ended by', value: get('endedBy') },
    { header: 'km', value: get('distanceKm') },
    { header: 'min', value: minutes('durationS') },
    { header: 'driving min', value: minutes('drivingS') },
    { header: 'idle min', value: minutes('idleS') },
    { header: 'max km/h', value: get('maxSpeedKmh') },
    { header: 'avg km/h', value: get('avgSpeedKmh') },
    { header: 'harsh brakings', value: get('harshBrakings') },
    { header: 'overspeed s', value: get('overspeedS') },
    { header: 'fuel %', value: get('fuelUsedPct') },
    { header: 'cargo excursions', value: get('cargoExcursions') },
    { header: 'cargo s', value: get('cargoExcursionS') },
  ]);
  const more = t.truncated === true ? '\n(more trips than shown: narrow the range)' : '';
  return `${t.deviceId} trips ${t.from} → ${t.to}\n\n${lines}${more}`;
}

export function renderAlerts(a: Json): string {
  return table(arr(a.alerts), [
    { header: 'raised', value: get('raisedAt') },
    { header: 'rule', value: get('rule') },
    { header: 'device', value: get('deviceId') },
    { header: 'model', value: get('model') },
    { header: 'driver', value: get('driverId') },
    { header: 'rule version', value: get('ruleVersion') },
    { header: 'severity', value: get('severity') },
    { header: 'state', value: get('state') },
    { header: 'resolved', value: get('resolvedAt') },
    {
      header: 'acknowledged',
      value: (r) => (r.acknowledged ? `${obj(r.acknowledged).by} ${obj(r.acknowledged).at}` : null),
    },
    { header: 'shelved until', value: (r) => (r.shelved ? obj(r.shelved).until : null) },
    { header: 'value', value: get('value') },
    { header: 'message', value: get('message') },
  ]);
}

/** One command's answer (`fleetgrid alerts ack|shelve|unshelve|comment`). */
export function renderCommand(c: Json): string {
  const parts = [`${c.action} of alert ${c.alertId} by ${c.by} at ${c.at} (command ${c.commandId})`];
  if (c.shelvedUntil) parts.push(`shelved until ${c.shelvedUntil}`);
  if (c.silenceId) parts.push(`Alertmanager silence ${c.silenceId}`);
  if (c.comment) parts.push(`comment: ${c.comment}`);
  return parts.join('\n');
}

/** One live event (`fleetgrid alerts watch`): a line per event. */
export function renderLiveEvent(type: string, d: Json): string {
  if (type.startsWith('alert.raised') || type.startsWith('alert.resolved'))
    return `${type} ${d.alertId} ${d.rule} ${d.deviceId} ${d.severity} ${d.message}`;
  if (type.startsWith('alert.'))
    return `${type} ${d.alertId} by ${d.by}${d.shelvedUntil ? ` until ${d.shelvedUntil}` : ''}${d.comment ? `: ${d.comment}` : ''}`;
  if (type === 'device.state')
    return `${type} ${d.deviceId} ${d.status ?? ''} ${d.lat ?? ''} ${d.lon ?? ''}`.trimEnd();
  return type;
}

export function renderHealth(h: Json): string {
  const freshness = obj(h.freshness);
  const lag = obj(h.consumerLag);
  const dead = obj(h.deadLetters);
  const pressure = obj(h.backpressure);
  const parts = [
    `Pipeline health at ${h.at}`,
    '',
    `freshness: ${freshness.seconds === null ? 'no events stored' : `${formatValue(freshness.seconds)} s (newest event ${freshness.newestEvent})`}`,
    '',
    lag.available
      ? table(arr(lag.groups), [
          { header: 'consumer group', value: get('groupId') },
          { header: 'lag', value: get('lag') },
          { header: 'partitions', value: (r) => arr(r.partitions).length },
          { header: 'error', value: get('error') },
        ])
      : `consumer lag: unavailable (${lag.reason})`,
    '',
    `dead letters: ${formatValue(dead.total)} records${
      arr(dead.byStage).length > 0
        ? ` (${arr(dead.byStage)
            .map((s) => `${s.stage}: ${formatValue(s.records)}`)
            .join(', ')})`
        : ''
    }`,
  ];
  if (arr(dead.byCode).length > 0)
    parts.push(
      table(arr(dead.byCode), [
        { header: 'code', value: get('code') },
        { header: 'stage', value: get('stage') },
        { header: 'records', value: get('records') },
        { header: 'last', value: get('last') },
      ]),
    );
  parts.push('');
  parts.push(
    pressure.available
      ? table(arr(pressure.services), [
          { header: 'service', value: get('service') },
          { header: 'state', value: (r) => r.state ?? 'error' },
          { header: 'paused partitions', value: get('pausedPartitions') },
          { header: 'buffered rows', value: get('bufferedRows') },
          { header: 'error', value: get('error') },
        ])
      : `backpressure: unavailable (${pressure.reason})`,
  );
  return parts.join('\n');
}
