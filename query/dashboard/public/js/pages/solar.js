/**
 * A solar array's page: AC power against plane-of-array irradiance, panel temperature with
 * the alert thresholds, the performance ratio per step (AC energy / (irradiation × kWp);
 * kWp from the fleet registry, docs/query.md), the status timeline.
 */
import { powerPage } from './power.js';

export function solarPage(ctx, state) {
  return powerPage(ctx, state, {
    kind: 'solar',
    title: 'Solar array',
    noun: 'array',
    capacityLabel: 'size',
    capacityUnit: 'kWp',
    stateFigures: (s, p) => [
      {
        key: 'acPowerKw',
        label: 'AC power',
        value: s.acPowerW === null ? null : s.acPowerW / 1000,
        digits: 1,
        unit: 'kW',
      },
      { key: 'irradianceWm2', label: 'irradiance', value: s.irradianceWm2, digits: 0, unit: 'W/m²' },
      { key: 'energyTodayKwh', label: 'energy today', value: s.energyTodayKwh, digits: 1, unit: 'kWh' },
      {
        key: 'performanceRatio',
        label: 'performance ratio',
        value: p.totals.performanceRatio,
        digits: 1,
        unit: '%',
        scale: 100,
      },
    ],
    scatter: {
      title: 'AC power against irradiance',
      x: { metric: 'irradianceWm2', label: 'irradiance', unit: 'W/m²' },
      y: { metric: 'acPowerW', label: 'AC power', unit: 'kW', scale: 0.001 },
    },
    conditions: [{ metric: 'panelTempC', title: 'Panel temperature', label: 'panel', unit: '°C' }],
    performance: {
      title: 'Performance ratio',
      series: [{ field: 'performanceRatio', label: 'performance ratio', unit: '%', scale: 100 }],
    },
  });
}
