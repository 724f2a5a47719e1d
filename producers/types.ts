/**
 * What the pure fleet hands to the producing runner: one OutboundMessage per Kafka
 * record to send. The runner only encodes and sends; every decision about what to send
 * (including which faults to inject) is made, and counted, in the pure part.
 */
import type { DeviceKind } from '../lib/topics.ts';
import type { RawEvent } from '../schemas/types.ts';

export type PoisonFlavor = 'garbage' | 'unknown-schema' | 'truncated' | 'out-of-range';

/**
 * clean: a device event, sent for the first time (possibly late or out of order);
 * duplicate: a resend of a clean event (same eventId and seq);
 * poison: a message no consumer can accept; it carries no seq of the device.
 */
export type MessageClass = 'clean' | 'duplicate' | 'poison';

/** How a clean event's delivery was disturbed, if it was. */
export type DeliveryFault = 'late' | 'out-of-order';

export interface OutboundMessage {
  kind: DeviceKind;
  /** The Kafka key: the deviceId. */
  key: string;
  class: MessageClass;
  /**
   * The event. For a poison message: the corrupted event (out-of-range), the event
   * whose body is framed with an unknown schema id (unknown-schema), or the event the
   * garbage stands next to (garbage: not encoded at all).
   */
  event: RawEvent;
  poison: PoisonFlavor | null;
  /** The bytes of a garbage poison message. */
  garbage: Uint8Array | null;
  delivery: DeliveryFault | null;
  /** Encode with the legacy TruckTelemetry v1 writer schema. */
  legacy: boolean;
}
