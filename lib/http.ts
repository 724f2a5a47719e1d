/**
 * What every HTTP server of fleetgrid answers to a request Node's HTTP parser refuses
 * before any handler sees it (malformed request line, headers too large, timeouts): the
 * `{error, message}` shape of docs/query.md, with a fixed message that repeats nothing of
 * the request. Written to the socket, since no response object exists yet.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const [status, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'request header fields too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request timeout']
        : [400, 'malformed HTTP request'];
  const body = JSON.stringify({ error: 'bad_request', message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n${body}`,
  );
}
