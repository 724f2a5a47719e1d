/**
 * /api/v1/registry/{sites|devices|drivers|rules}[/{id}]: the fleet registry over HTTP, a
 * Fastify plugin registered by server.ts. Reads follow the API's read token like every
 * /api route; writes need the write token (query/auth.ts). Every write goes through the
 * registry service, the same as the CLI's: validation (400), optimistic concurrency with
 * the row version as ETag (If-Match required to change or delete: 428 without it, 409 when
 * stale), 404 for unknown rows, 409 for rows still referenced. PostgreSQL being down is a
 * 503: the rest of the API does not depend on it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { FleetgridError, isFleetgridError, toFleetgridError } from '../lib/errors.ts';
import {
  DEVICE_KINDS,
  DEVICE_STATUSES,
  ENTITY_NAMES,
  type EntityName,
  INPUT_SCHEMAS,
  NOUN,
  type RegistryService,
  RULE_IDS,
  SITE_KINDS,
} from '../registry/index.ts';
import { ID_PATTERN, ID_RULE_TEXT } from '../schemas/ids.ts';
import { requireWriteToken } from './auth.ts';
import { parseParams } from './params.ts';

export interface RegistryRoutesOptions {
  service: RegistryService;
  tokens: { read: string | undefined; write: string | undefined };
}

export const REGISTRY_BASE = '/api/v1/registry';

/** A write body is small; the API's default 1 KiB limit is for the read routes. */
const BODY_LIMIT = 64 * 1024;

const id = (what: string) => z.string().regex(ID_PATTERN, `${what} must be ${ID_RULE_TEXT}`);
const limit = z
  .string()
  .regex(/^\d{1,6}$/, 'a whole number')
  .transform(Number)
  .pipe(z.number().int().min(1, 'limit must be 1-1000').max(1000, 'limit must be 1-1000'));
/** Rule row ids are `<rule>:<scope>:<scopeId>`: longer than device ids, still URL-safe. */
const rowId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,299}$/, 'not a registry id');

export const LIST_QUERIES: Record<EntityName, z.ZodObject> = {
  sites: z.strictObject({
    kind: z.enum(SITE_KINDS).optional(),
    limit: limit.optional(),
    cursor: id('cursor').optional(),
  }),
  devices: z.strictObject({
    kind: z.enum(DEVICE_KINDS as ['truck', 'turbine', 'solar']).optional(),
    siteId: id('siteId').optional(),
    status: z.enum(DEVICE_STATUSES).optional(),
    limit: limit.optional(),
    cursor: id('cursor').optional(),
  }),
  drivers: z.strictObject({ limit: limit.optional(), cursor: id('cursor').optional() }),
  rules: z.strictObject({
    ruleId: z.enum(RULE_IDS as [string, ...string[]]).optional(),
    limit: limit.optional(),
    cursor: rowId.optional(),
  }),
};
const ROW_PATH = z.strictObject({ id: rowId });

/** The version in `If-Match: "12"` (or W/"12", or 12); undefined when absent. */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(',') : header).trim();
  const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(value);
  if (!m)
    throw new FleetgridError(
      'INVALID_ARGUMENT',
      `If-Match must be the ETag of the version you read, e.g. "12" (not ${JSON.stringify(value.slice(0, 40))})`,
    );
  return Number(m[1]);
}

const etag = (version: number) => `"${version}"`;

/** The answer to a registry failure; other errors go on to the server's own handler. */
export function registryErrorStatus(error: unknown): { status: number; error: string } | undefined {
  if (!isFleetgridError(error)) return undefined;
  if (error.code === 'NOT_FOUND') return { status: 404, error: 'not_found' };
  if (error.code === 'CONFLICT') return { status: 409, error: 'conflict' };
  if (error.code === 'INVALID_ARGUMENT' && error.details?.status === 428)
    return { status: 428, error: 'precondition_required' };
  if (error.code === 'POSTGRES_UNAVAILABLE') return { status: 503, error: 'unavailable' };
  return undefined;
}

export async function registryRoutes(app: FastifyInstance, options: RegistryRoutesOptions): Promise<void> {
  const { service } = options;
  const write = { preHandler: requireWriteToken(options.tokens), bodyLimit: BODY_LIMIT };

  app.setErrorHandler((error, request, reply) => {
    const mapped = registryErrorStatus(error);
    // Anything else (bad input, internal errors) is answered by the server's handler.
    if (!mapped) throw error;
    const e = toFleetgridError(error, 'INTERNAL');
    if (mapped.status === 503) request.log.warn({ err: error }, 'registry unavailable');
    const current = e.details?.currentVersion;
    if (typeof current === 'number') reply.header('etag', etag(current));
    reply.code(mapped.status).send({
      error: mapped.error,
      message: mapped.status === 503 ? `registry database unavailable: ${e.code}` : e.message,
    });
  });

  const body = (request: FastifyRequest) => request.body ?? {};
  const send = (reply: FastifyReply, status: number, entity: { version: number }) =>
    reply.code(status).header('etag', etag(entity.version)).send(entity);

  for (const entity of ENTITY_NAMES) {
    const collection = `${REGISTRY_BASE}/${entity}`;
    const item = `${collection}/:id`;

    app.get(collection, async (request) => {
      const query = parseParams(LIST_QUERIES[entity], request.query) as Record<
        string,
        string | number | undefined
      >;
      const { cursor, limit: pageSize, ...filter } = query;
      return service.list(entity, {
        ...(filter as Record<string, string>),
        ...(cursor !== undefined ? { after: String(cursor) } : {}),
        ...(pageSize !== undefined ? { limit: Number(pageSize) } : {}),
      });
    });

    app.get(item, async (request, reply) => {
      const { id: rowKey } = parseParams(ROW_PATH, request.params);
      return send(reply, 200, await service.get(entity, rowKey));
    });

    app.post(collection, write, async (request, reply) => {
      const created = await service.create(entity, body(request));
      reply.header('location', `${collection}/${encodeURIComponent(created.id)}`);
      return send(reply, 201, created);
    });

    app.put(item, write, async (request, reply) => {
      const { id: rowKey } = parseParams(ROW_PATH, request.params);
      const result = await service.put(
        entity,
        rowKey,
        body(request),
        parseIfMatch(request.headers['if-match']),
      );
      return send(reply, result.created ? 201 : 200, result.entity);
    });

    app.delete(item, write, async (request, reply) => {
      const { id: rowKey } = parseParams(ROW_PATH, request.params);
      const version = parseIfMatch(request.headers['if-match']);
      await service.remove(entity, rowKey, version);
      return reply.code(204).send();
    });
  }
}

// ---------------------------------------------------------------------------------------
// OpenAPI

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
};

function queryParameters(schema: z.ZodObject) {
  return Object.entries(schema.shape).map(([name, field]) => ({
    name,
    in: 'query',
    required: false,
    schema: jsonSchema(field as z.ZodType, 'input'),
  }));
}

/** The registry's paths for the OpenAPI document (query/openapi.ts merges them). */
export function registryOpenApiPaths(errorResponse: unknown): Record<string, Record<string, unknown>> {
  const error = (description: string) => ({ ...(errorResponse as object), description });
  const writeErrors = {
    400: error('Invalid row: every problem named'),
    401: error('Missing or wrong write token'),
    403: error('Read token used, or writes disabled (no API_WRITE_TOKEN)'),
    409: error('Stale version (If-Match), id taken, or still referenced'),
    503: error('Registry database unavailable'),
  };
  const writeSecurity = [{ writeToken: [] }];
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const ifMatch = (required: boolean) => ({
    name: 'If-Match',
    in: 'header',
    required,
    description: 'The ETag (version) you read. Required to change or delete an existing row.',
    schema: { type: 'string' },
  });
  const paths: Record<string, Record<string, unknown>> = {};
  for (const entity of ENTITY_NAMES) {
    const noun = NOUN[entity];
    const schema = INPUT_SCHEMAS[entity] as z.ZodType;
    const row = {
      allOf: [
        jsonSchema(schema, 'output'),
        {
          type: 'object',
          properties: { version: { type: 'integer' }, updatedAt: { type: 'string', format: 'date-time' } },
        },
      ],
    };
    const ok = (description: string) => ({ description, content: { 'application/json': { schema: row } } });
    const requestBody = {
      required: true,
      content: { 'application/json': { schema: jsonSchema(schema, 'input') } },
    };
    paths[`${REGISTRY_BASE}/${entity}`] = {
      get: {
        summary: `List ${entity} by id`,
        parameters: queryParameters(LIST_QUERIES[entity]),
        responses: {
          200: {
            description: 'A page; pass nextCursor as cursor for the next',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    items: { type: 'array', items: row },
                    nextCursor: { type: ['string', 'null'] },
                  },
                },
              },
            },
          },
          400: error('Invalid parameters'),
          401: error('Missing or wrong read token'),
          503: error('Registry database unavailable'),
        },
      },
      post: {
        summary: `Create a ${noun}`,
        security: writeSecurity,
        requestBody,
        responses: { 201: ok('Created; ETag is its version'), ...writeErrors },
      },
    };
    paths[`${REGISTRY_BASE}/${entity}/{id}`] = {
      get: {
        summary: `One ${noun}; ETag is its version`,
        parameters: [idParam],
        responses: {
          200: ok('The row'),
          401: error('Missing or wrong read token'),
          404: error('No such row'),
          503: error('Registry database unavailable'),
        },
      },
      put: {
        summary: `Create the ${noun} (no If-Match) or replace it at the version you read (If-Match)`,
        security: writeSecurity,
        parameters: [idParam, ifMatch(false)],
        requestBody,
        responses: {
          200: ok('Replaced (or unchanged)'),
          201: ok('Created'),
          ...writeErrors,
          428: error('The row exists: If-Match required'),
        },
      },
      delete: {
        summary: `Delete the ${noun} at the version you read`,
        security: writeSecurity,
        parameters: [idParam, ifMatch(true)],
        responses: {
          204: { description: 'Deleted' },
          ...writeErrors,
          404: error('No such row'),
          428: error('If-Match required'),
        },
      },
    };
  }
  return paths;
}
