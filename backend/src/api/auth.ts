import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * A fastify onRequest hook that admits only `Authorization: Bearer <token>`. Digests are compared so
 * the comparison takes the same time whatever the length or content of the presented token.
 */
export function bearerAuth(token: string) {
  const expected = digest(token);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const presented = typeof header === 'string' && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined;
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return;
    await reply
      .status(401)
      .header('www-authenticate', 'Bearer realm="weft"')
      .send({ error: 'unauthorized', message: presented === undefined ? 'missing bearer token' : 'wrong bearer token' });
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
