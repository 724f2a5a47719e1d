/**
 * The device-state projection (the CQRS entity view of docs/design.md §3): the latest known state
 * of one device, folded from its distinct events. "Latest" is by event time: an event
 * older than the newest one seen (out of order) is counted but does not overwrite newer
 * values, so replays and reorderings give the same state. energyTodayKwh and openAlerts
 * are maintained by the partition core from the windows and the alert machines.
 */
import type { DeviceKindSymbol, DeviceState, RawEvent } from '../../schemas/types.ts';

export function createDeviceState(deviceId: string, siteId: string, kind: DeviceKindSymbol): DeviceState {
  return {
    deviceId,
    siteId,
    kind,
    model: null,
    driverId: null,
    lastSeen: 0,
    lastEventId: '',
    seq: 0,
    eventCount: 0,
    lat: null,
    lon: null,
    speedKmh: null,
    headingDeg: null,
    engineOn: null,
    engineTempC: null,
    fuelPct: null,
    odometerKm: null,
    cargoTempC: null,
    activeDiagnosticCodes: [],
    status: null,
    powerKw: null,
    windSpeedMs: null,
    acPowerW: null,
    irradianceWm2: null,
    energyTodayKwh: kind === 'TRUCK' ? null : 0,
    openAlerts: [],
  };
}

/**
 * Folds one distinct, accepted event into the state. Returns whether the event was the
 * newest by event time (only then are the "latest" fields updated).
 */
export function foldEvent(state: DeviceState, event: RawEvent): boolean {
  const v = event.value;
  const newest = state.eventCount === 0 || v.ts >= state.lastSeen;
  state.eventCount++;
  if (!newest) return false;
  state.lastSeen = v.ts;
  state.lastEventId = v.eventId;
  state.seq = v.seq;
  state.siteId = v.siteId;
  switch (event.type) {
    case 'TruckTelemetry': {
      const t = event.value;
      state.lat = t.lat;
      state.lon = t.lon;
      state.speedKmh = t.speedKmh;
      state.headingDeg = t.headingDeg;
      state.engineOn = t.engineOn;
      state.engineTempC = t.engineTempC;
      state.fuelPct = t.fuelPct;
      state.odometerKm = t.odometerKm;
      state.cargoTempC = t.cargoTempC;
      break;
    }
    case 'EngineStateChanged':
      state.engineOn = event.value.engineOn;
      if (!event.value.engineOn) state.speedKmh = 0;
      break;
    case 'DiagnosticReported': {
      const { code, active } = event.value;
      const codes = state.activeDiagnosticCodes;
      const at = codes.indexOf(code);
      if (active && at < 0) {
        codes.push(code);
        codes.sort();
      } else if (!active && at >= 0) {
        codes.splice(at, 1);
      }
      break;
    }
    case 'TurbineTelemetry': {
      const t = event.value;
      state.status = t.status;
      state.powerKw = t.powerKw;
      state.windSpeedMs = t.windSpeedMs;
      break;
    }
    case 'SolarTelemetry': {
      const s = event.value;
      state.status = s.status;
      state.acPowerW = s.acPowerW;
      state.irradianceWm2 = s.irradianceWm2;
      break;
    }
  }
  return true;
}

/** An independent copy for output (the core keeps mutating its own). */
export function copyDeviceState(state: DeviceState): DeviceState {
  return {
    ...state,
    activeDiagnosticCodes: state.activeDiagnosticCodes.slice(),
    openAlerts: state.openAlerts.slice(),
  };
}
