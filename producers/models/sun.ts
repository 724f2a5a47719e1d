/**
 * The sun's position and clear-sky irradiance, pure functions of time and place.
 *
 * Position: the low-precision solar coordinates of the US Naval Observatory / Astronomical
 * Almanac (about 0.01° from 1950 to 2050): mean anomaly and longitude → ecliptic
 * longitude → right ascension and declination; Greenwich mean sidereal time gives the
 * local hour angle; elevation and azimuth follow. Refraction is ignored.
 *
 * Clear sky: air mass by Kasten & Young (1989), direct normal irradiance by Meinel's
 * attenuation 1361·0.7^(AM^0.678), diffuse as a tenth of it. Good to ±10 % at noon on a
 * clear day, which is all a simulator needs.
 */

const RAD = Math.PI / 180;
const J2000_MS = Date.UTC(2000, 0, 1, 12);
const DAY_MS = 86_400_000;
export const SOLAR_CONSTANT_WM2 = 1361;

export interface SunPosition {
  /** Degrees above the horizon; negative at night. */
  elevationDeg: number;
  /** Degrees clockwise from true north. */
  azimuthDeg: number;
}

export function sunPosition(timeMs: number, latDeg: number, lonDeg: number): SunPosition {
  const d = (timeMs - J2000_MS) / DAY_MS;
  const g = (357.529 + 0.98560028 * d) * RAD;
  const q = 280.459 + 0.98564736 * d;
  const eclipticLon = (q + 1.915 * Math.sin(g) + 0.02 * Math.sin(2 * g)) * RAD;
  const obliquity = (23.439 - 0.00000036 * d) * RAD;
  const rightAscension = Math.atan2(Math.cos(obliquity) * Math.sin(eclipticLon), Math.cos(eclipticLon));
  const declination = Math.asin(Math.sin(obliquity) * Math.sin(eclipticLon));
  const gmstDeg = (18.697374558 + 24.06570982441908 * d) * 15;
  const hourAngle = (gmstDeg + lonDeg) * RAD - rightAscension;
  const lat = latDeg * RAD;
  const sinElevation =
    Math.sin(lat) * Math.sin(declination) + Math.cos(lat) * Math.cos(declination) * Math.cos(hourAngle);
  const elevation = Math.asin(Math.max(-1, Math.min(1, sinElevation)));
  const azimuth = Math.atan2(
    -Math.sin(hourAngle),
    Math.tan(declination) * Math.cos(lat) - Math.sin(lat) * Math.cos(hourAngle),
  );
  return { elevationDeg: elevation / RAD, azimuthDeg: (((azimuth / RAD) % 360) + 360) % 360 };
}

export interface ClearSky {
  /** Direct normal irradiance, W/m². */
  dni: number;
  /** Diffuse horizontal irradiance, W/m². */
  dhi: number;
}

export function clearSky(elevationDeg: number): ClearSky {
  if (elevationDeg <= 0) return { dni: 0, dhi: 0 };
  const airMass = 1 / (Math.sin(elevationDeg * RAD) + 0.50572 * (elevationDeg + 6.07995) ** -1.6364);
  const dni = SOLAR_CONSTANT_WM2 * 0.7 ** (airMass ** 0.678);
  return { dni, dhi: 0.1 * dni };
}

/** Cosine of the angle between the sun and the normal of a panel of given tilt and azimuth. */
export function cosIncidence(sun: SunPosition, tiltDeg: number, panelAzimuthDeg: number): number {
  const el = sun.elevationDeg * RAD;
  const tilt = tiltDeg * RAD;
  return (
    Math.sin(el) * Math.cos(tilt) +
    Math.cos(el) * Math.sin(tilt) * Math.cos((sun.azimuthDeg - panelAzimuthDeg) * RAD)
  );
}
