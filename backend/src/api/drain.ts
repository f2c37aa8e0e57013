import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Lets `close()` wait for the handlers of requests whose client went away. Node's server closes as
 * soon as no connection is open, and a client that disconnects mid-request (a load generator
 * stopping, a browser tab closed) leaves no connection behind while its handler still runs: the
 * caller would then close the store under it ("Pool is closed" errors on every shutdown under
 * load). Requests that are not abandoned finish before their connection closes, so only abandoned
 * ones are tracked, and the per-request cost is one check in `onSend` (which runs once a handler
 * has produced its answer, sent or not).
 */
export function drainAbandonedOnClose(app: FastifyInstance, graceMs = 5_000): void {
  const abandoned = new Set<FastifyRequest>();
  let settled: (() => void) | undefined;
  app.addHook('onRequestAbort', (request, done) => {
    abandoned.add(request);
    done();
  });
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (abandoned.size !== 0 && abandoned.delete(request) && abandoned.size === 0) settled?.();
    done(null, payload);
  });
  app.addHook('onClose', async () => {
    if (abandoned.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      settled = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  });
}
