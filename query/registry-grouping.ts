/**
 * Which model or driver a stored row counts under in the summaries per model and per
 * driver (docs/query.md "Groupings"), pure. Rows of aggregates_1m, alerts and device_state
 * carry the registry fields the processors' join set when the event was processed
 * (clickhouse/migrations/006_registry_enrichment.sql), so a truck whose driver changed
 * counts each window under the driver of its own time. A row without them (written before
 * the join existed, or by a processor running without it) falls back to the dimension
 * tables: the device's current model and driver, which is all that is known of it.
 *
 * A row carries the fields when its model is set: the join gives every registered device a
 * model, so a null driver next to a model means "no driver then", not "unknown".
 */

export type RegistryGrouping = 'model' | 'driver';

/** The registry fields a stored row carries (null: not set by the processor). */
export interface RowRegistryFields {
  model: string | null;
  driverId: string | null;
}

/** A registered device's current dimensions (dim_devices). */
export interface CurrentDimensions {
  model: string;
  driverId: string | null;
}

/**
 * The group a row counts under: the model, or the driver id ('' for a registered device
 * without a driver); null for a device the registry does not know (the unregistered bucket).
 */
export function registryGroupOf(
  grouping: RegistryGrouping,
  row: RowRegistryFields,
  current: CurrentDimensions | undefined,
): string | null {
  const source = row.model !== null ? row : current;
  if (source === undefined) return null;
  return grouping === 'model' ? source.model : (source.driverId ?? '');
}

/** A row's registry fields as ClickHouse returns the nullable columns. */
export function rowRegistryFields(row: Record<string, unknown>): RowRegistryFields {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return { model: text(row.model), driverId: text(row.driver_id) };
}
