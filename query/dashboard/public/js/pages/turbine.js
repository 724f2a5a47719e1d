/**
 * A wind turbine's page: power against wind beside the documented power curve
 * (domain/power-curve.ts, served by /api/v1/reference), vibration and nacelle temperature
 * with the alert thresholds, availability and capacity factor per step, the status timeline.
 */
import { interpolator } from '../charts.js';
import { powerPage } from './power.js';

export function turbinePage(ctx, state) {
  return powerPage(ctx, state, {
    kind: 'turbine',
    title: 'Turbine',
    noun: 'turbine',
    capacityLabel: 'rated',
    capacityUnit: 'kW',
    stateFigures: (s, p) => [
      { key: 'powerKw', label: 'power', value: s.powerKw, digits: 0, unit: 'kW' },
      { key: 'windSpeedMs', label: 'wind', value: s.windSpeedMs, digits: 1, unit: 'm/s' },
      { key: 'energyTodayKwh', label: 'energy today', value: s.energyTodayKwh, digits: 1, unit: 'kWh' },
      {
        key: 'availability',
        label: 'availability',
        value: p.totals.availability,
        digits: 1,
        unit: '%',
        scale: 100,
      },
    ],
    scatter: {
      title: 'Power against wind, and the power curve',
      x: { metric: 'windSpeedMs', label: 'wind', unit: 'm/s' },
      y: { metric: 'powerKw', label: 'power', unit: 'kW' },
      curve: (reference) => ({
        label: 'power curve',
        at: interpolator(
          reference.powerCurve.points.map((p) => ({ x: p.windMs, y: p.powerKw })),
          reference.powerCurve.cutOutMs,
        ),
      }),
    },
    conditions: [
      { metric: 'vibrationMmS', title: 'Vibration', label: 'vibration', unit: 'mm/s' },
      { metric: 'nacelleTempC', title: 'Nacelle temperature', label: 'nacelle', unit: '°C' },
    ],
    performance: {
      title: 'Availability and capacity factor',
      series: [
        { field: 'availability', label: 'availability', unit: '%', scale: 100 },
        { field: 'capacityFactor', label: 'capacity factor', unit: '%', scale: 100 },
      ],
    },
  });
}
