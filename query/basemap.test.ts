import { describe, expect, it } from 'vitest';
import { citiesJson, MIN_POPULATION, selectCities } from './basemap.ts';

describe('basemap cities', () => {
  it('keeps the places above the population floor, largest first, and drops bad rows', () => {
    const rows = selectCities(
      [
        { city: 'Small', lat: '1', lng: '2', population: '10' },
        { city: 'Big', lat: '51.92441', lng: '4.47773', population: '1000000' },
        { city: 'Mid', lat: '45', lng: '4', population: '200000' },
        { city: 'Nowhere', lat: '95', lng: '4', population: '200000' },
        { city: '', lat: '1', lng: '1', population: '300000' },
        { city: 'NoPop', lat: '1', lng: '1', population: '' },
      ],
      100_000,
    );
    expect(rows).toEqual([
      ['Big', 51.9244, 4.4777, 1_000_000],
      ['Mid', 45, 4, 200_000],
    ]);
  });

  it('serves the cities of the routes’ region from the npm dataset', () => {
    const { cities, attribution } = JSON.parse(citiesJson()) as {
      cities: [string, number, number, number][];
      attribution: string;
    };
    expect(attribution).toContain('CC BY 4.0');
    const names = new Set(cities.map((c) => c[0]));
    for (const name of ['Rotterdam', 'Lyon', 'Marseille', 'Sacramento', 'Fresno'])
      expect(names).toContain(name);
    expect(cities.every((c) => c[3] >= MIN_POPULATION)).toBe(true);
  });
});
