/**
 * The live push of GET /api/v1/stream (Server-Sent Events): a hub that numbers events,
 * keeps the newest in a bounded ring for `Last-Event-ID` resumption, and writes each to
 * every connected client. Fed by live-feed.ts (alerts, device states and alert commands
 * from Kafka). No I/O of its own: clients are `{ write, close }`, time is injected.
 *
 * - Ids increase monotonically, also across restarts of the API: they start at the start
 *   time in microseconds, so an id from before a restart is older than every new one and
 *   the client is told to reload (`reset`) instead of silently missing events.
 * - Device states are rate-limited per device: at most one per `deviceIntervalMs`, the
 *   newest state winning (a truck reporting every second does not flood 200 browsers).
 * - A client that does not read (its socket buffer over `maxBufferedBytes`) is dropped;
 *   it reconnects with its Last-Event-ID and is served from the ring.
 */

export interface LiveEvent {
  id: number;
  type: string;
  /** The JSON payload, serialised once for every client. */
  data: string;
}

export interface LiveClient {
  /** Writes a chunk; returns the bytes now buffered for the client (its socket's writableLength). */
  write(chunk: string): number;
  close(): void;
}

export interface LiveHubOptions {
  now: () => number;
  /** Events kept for resumption. */
  capacity?: number;
  deviceIntervalMs?: number;
  maxClients?: number;
  maxBufferedBytes?: number;
  /** The first id; default: now() in microseconds. */
  firstId?: number;
}

export interface LiveHub {
  publish(type: string, payload: unknown): LiveEvent;
  /** A device's new state: published now, or when its interval has passed (newest wins). */
  deviceState(deviceId: string, payload: unknown): void;
  /** Publishes device states whose interval has passed; call on a timer. */
  flush(): void;
  /** Events after `lastId`, or 'reset' when some of them are no longer kept. */
  since(lastId: number): LiveEvent[] | 'reset';
  /** Adds a client after replaying what it missed since `lastId` (or `reset`); false when full. */
  attach(client: LiveClient, lastId?: number): boolean;
  /** Whether a new client would be refused. */
  readonly full: boolean;
  detach(client: LiveClient): void;
  /** A comment line to every client, so proxies and clients see the connection alive. */
  heartbeat(): void;
  readonly clients: number;
  readonly lastId: number;
  close(): void;
}

/** One event in the wire format of Server-Sent Events. */
export function formatEvent(event: LiveEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`;
}

/** The Last-Event-ID header (or `lastEventId` query) as a number; undefined when absent or not a number. */
export function parseLastEventId(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return undefined;
  return Number(value);
}

export function createLiveHub(options: LiveHubOptions): LiveHub {
  const capacity = options.capacity ?? 1_000;
  const deviceIntervalMs = options.deviceIntervalMs ?? 1_000;
  const maxClients = options.maxClients ?? 500;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1 << 20;
  const ring: LiveEvent[] = [];
  let nextId = options.firstId ?? options.now() * 1_000;
  const clients = new Set<LiveClient>();
  const lastSent = new Map<string, number>();
  const pending = new Map<string, unknown>();

  function send(client: LiveClient, chunk: string) {
    if (client.write(chunk) > maxBufferedBytes) {
      clients.delete(client);
      client.close();
    }
  }

  function publish(type: string, payload: unknown): LiveEvent {
    const event = { id: nextId++, type, data: JSON.stringify(payload) };
    ring.push(event);
    if (ring.length > capacity) ring.shift();
    const chunk = formatEvent(event);
    for (const client of clients) send(client, chunk);
    return event;
  }

  function since(lastId: number): LiveEvent[] | 'reset' {
    if (lastId >= nextId - 1) return [];
    const oldest = ring[0];
    // Events after lastId that are no longer kept (or never were: an id from another run).
    if (!oldest || lastId < oldest.id - 1) return 'reset';
    return ring.filter((event) => event.id > lastId);
  }

  return {
    publish,
    deviceState(deviceId, payload) {
      const at = options.now();
      const last = lastSent.get(deviceId);
      if (last === undefined || at - last >= deviceIntervalMs) {
        lastSent.set(deviceId, at);
        pending.delete(deviceId);
        publish('device.state', payload);
      } else pending.set(deviceId, payload);
    },
    flush() {
      const at = options.now();
      for (const [deviceId, payload] of pending) {
        if (at - (lastSent.get(deviceId) ?? 0) < deviceIntervalMs) continue;
        pending.delete(deviceId);
        lastSent.set(deviceId, at);
        publish('device.state', payload);
      }
    },
    since,
    attach(client, lastId) {
      if (clients.size >= maxClients) return false;
      if (lastId !== undefined) {
        const missed = since(lastId);
        if (missed === 'reset') send(client, formatEvent({ id: nextId - 1, type: 'reset', data: '{}' }));
        else for (const event of missed) send(client, formatEvent(event));
      }
      clients.add(client);
      return true;
    },
    detach(client) {
      clients.delete(client);
    },
    heartbeat() {
      for (const client of clients) send(client, ': keep-alive\n\n');
    },
    get clients() {
      return clients.size;
    },
    get full() {
      return clients.size >= maxClients;
    },
    get lastId() {
      return nextId - 1;
    },
    close() {
      for (const client of clients) client.close();
      clients.clear();
    },
  };
}
