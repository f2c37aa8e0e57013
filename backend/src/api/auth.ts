import * as crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { digestBytes } from '../engine/hash.js';

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

const digest = (text: string): Buffer => digestBytes('sha256', text);
