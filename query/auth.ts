/**
 * The API's credentials: the read token (API_TOKEN, every /api request when set) and the
 * write token (API_WRITE_TOKEN, every request that changes data — registry writes, and
 * later alert commands). They differ, so a dashboard or report script holding the read
 * token cannot change anything; the write token also reads. Writes are refused outright
 * when the server has no write token: an unauthenticated write path is never the default.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { secretMatches } from '../lib/secrets.ts';

/**
 * Constant-time comparison of `Authorization: Bearer <token>` with the configured token:
 * the one comparison of every secret (lib/secrets.ts), also the sink query endpoint's.
 */
export const bearerMatches = secretMatches;

/** A preHandler for write routes: 403 when writes are disabled or the read token is presented, 401 otherwise. */
export function requireWriteToken(tokens: { read: string | undefined; write: string | undefined }) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    if (tokens.write === undefined) {
      return reply.code(403).send({
        error: 'forbidden',
        message:
          'writes are disabled: the server was started without API_WRITE_TOKEN (or API_WRITE_TOKEN_FILE)',
      });
    }
    if (bearerMatches(header, tokens.write)) return;
    if (tokens.read !== undefined && bearerMatches(header, tokens.read)) {
      return reply
        .code(403)
        .send({ error: 'forbidden', message: 'the read token cannot write; use the write token' });
    }
    return reply.code(401).header('www-authenticate', 'Bearer realm="fleetgrid-write"').send({
      error: 'unauthorized',
      message: 'missing or wrong write token (Authorization: Bearer <API_WRITE_TOKEN>)',
    });
  };
}
