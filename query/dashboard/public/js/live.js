/**
 * The live push (GET /api/v1/stream, Server-Sent Events): one connection for the page,
 * read with fetch so the API token goes in the Authorization header (EventSource cannot
 * send headers, and a token in the URL would reach logs). After a drop it reconnects with
 * Last-Event-ID and gets what it missed from the server's ring; a `reset` event (too much
 * missed) tells the subscribers to reload their data. `document.body.dataset.live` says
 * whether the stream is open (the pages stop polling what it delivers; the tests wait on it).
 */
import { captureToken } from './api.js';

const listeners = new Set();
let lastId;
let started = false;

export function isLive() {
  return document.body.dataset.live === 'open';
}

/** Calls `listener(type, data)` for every event; returns the removal. */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(type, data) {
  for (const listener of listeners) {
    try {
      listener(type, data);
    } catch (error) {
      console.error('live listener failed', error);
    }
  }
}

/** Splits SSE text into complete events and the unfinished rest (query/client.ts reads it the same way). */
function parse(text) {
  const blocks = text.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  const events = [];
  for (const block of blocks) {
    const event = { id: undefined, type: 'message', data: [] };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const at = line.indexOf(':');
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
      if (field === 'id') event.id = value;
      else if (field === 'event') event.type = value;
      else if (field === 'data') event.data.push(value);
    }
    if (event.data.length > 0) events.push({ ...event, data: event.data.join('\n') });
  }
  return { events, rest };
}

async function connect() {
  const headers = { accept: 'text/event-stream' };
  const bearer = captureToken();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (lastId) headers['last-event-id'] = lastId;
  const response = await fetch('/api/v1/stream', { headers });
  if (!response.ok || !response.body) throw new Error(`stream: ${response.status}`);
  document.body.dataset.live = 'open';
  emit('open', {});
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const parsed = parse(buffer + value);
    buffer = parsed.rest;
    for (const event of parsed.events) {
      if (event.id) lastId = event.id;
      emit(event.type, JSON.parse(event.data));
    }
  }
}

/** Opens the stream once for the page and keeps it open (a reconnect every 2 s while it fails). */
export function startLive() {
  if (started) return;
  started = true;
  (async () => {
    for (;;) {
      try {
        await connect();
      } catch {
        // A stopped server or no Kafka behind it: the pages keep polling meanwhile.
      }
      document.body.dataset.live = 'closed';
      emit('closed', {});
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  })();
}
