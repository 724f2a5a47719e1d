/**
 * Domain models shared by several components, with no I/O: what a device is expected to do,
 * independent of who simulates it (producers/) or judges it (processors/).
 *
 * - power-curve.ts: the documented wind-turbine power curve (the simulator produces from
 *   it; the underperformance rule compares against it).
 */
export * from './power-curve.ts';
