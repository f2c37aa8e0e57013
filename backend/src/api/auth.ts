import * as crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * A fastify onRequest hook that admits only `Authorization: Bearer <token>`. Digests are compared so
 * the comparison takes the same time whatever the length or content of the presented token.
 * Callback style rather than async: every request of the API passes here, and an async hook costs
 * a promise and a microtask turn per request for nothing.
 */
export function bearerAuth(token: string) {
  const expected = digest(token);
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const header = request.headers.authorization;
    const presented = typeof header === 'string' && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined;
    if (presented !== undefined && crypto.timingSafeEqual(digest(presented), expected)) return done();
    // Answered here: fastify runs no further hook or handler once a callback-style hook replies.
    void reply
      .status(401)
      .header('www-authenticate', 'Bearer realm="weft"')
      .send({ error: 'unauthorized', message: presented === undefined ? 'missing bearer token' : 'wrong bearer token' });
  };
}

/** SHA-256 as bytes; `crypto.hash` (Node ≥ 20.12) is the one-shot form, faster than a Hash object. */
const digest: (text: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'buffer') as unknown as Buffer
    : (text) => crypto.createHash('sha256').update(text).digest();
