import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { StoreQueryError } from '../store/index.js';
import { issueMessage, TemplateError } from '../template/index.js';

/** A problem with the request, answered with its status and a message saying what is wrong. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly issues?: readonly unknown[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, issues?: readonly unknown[]) => new ApiError(400, message, issues);
export const notFound = (message: string) => new ApiError(404, message);

/** Parses `value` with `schema` or throws a 400 naming each bad parameter. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: repeatedParameter(i, value, where) ?? issueMessage(i, value) }));
  throw badRequest(issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues);
}

/**
 * A query parameter given more than once (`?from=1&from=2`) arrives as an array; where one value is
 * expected zod said "Invalid input" (a union) or "expected string, received array", which does not
 * tell the caller what they did.
 */
function repeatedParameter(issue: z.core.$ZodIssue, input: unknown, where: string): string | undefined {
  if (where !== 'query' || issue.path.length !== 1 || (issue.code !== 'invalid_type' && issue.code !== 'invalid_union')) return undefined;
  const given = input !== null && typeof input === 'object' ? (input as Record<string, unknown>)[String(issue.path[0])] : undefined;
  return Array.isArray(given) ? `given ${given.length} times: give it once` : undefined;
}

interface ErrorBody {
  readonly error: string;
  readonly message: string;
  readonly issues?: readonly unknown[];
}

/** One error shape for every route: `{ error, message, issues? }`. Internal errors are logged, not echoed. */
export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  let status = 500;
  let body: ErrorBody;
  if (error instanceof ApiError) {
    status = error.statusCode;
    body = { error: reasonOf(status), message: error.message, ...(error.issues ? { issues: error.issues } : {}) };
  } else if (error instanceof TemplateError) {
    status = 400;
    body = { error: 'invalid_template', message: error.message, issues: error.issues };
  } else if (error instanceof StoreQueryError) {
    status = 400;
    body = { error: 'bad_request', message: error.message };
  } else if (typeof (error as FastifyError).statusCode === 'number' && (error as FastifyError).statusCode! < 500) {
    // fastify's own: body too large (413), malformed JSON (400), unsupported media type (415) …
    status = (error as FastifyError).statusCode!;
    body = { error: reasonOf(status), message: error.message };
  } else {
    request.log.error({ err: error }, 'request failed');
    body = { error: 'internal', message: 'internal error' };
  }
  void reply.status(status).send(body);
}

function reasonOf(status: number): string {
  switch (status) {
    case 400: return 'bad_request';
    case 401: return 'unauthorized';
    case 404: return 'not_found';
    case 406: return 'not_acceptable';
    case 409: return 'conflict';
    case 413: return 'payload_too_large';
    case 414: return 'uri_too_long';
    case 415: return 'unsupported_media_type';
    default: return status < 500 ? 'client_error' : 'internal';
  }
}
