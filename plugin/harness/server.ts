// The harness's HTTP side: serves the shell and the built plugin at Grafana's paths, keeps the app's
// settings like Grafana's plugin settings API, and proxies the app's `weft` route to the correlator
// with the token from the settings (what Grafana's plugin proxy does with plugin.json `routes`).
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
/** Grafana serves @grafana/ui's icons at public/build/img/icons; the Icon component fetches them there. */
const ICONS = path.join(path.dirname(require.resolve('@grafana/ui/package.json')), 'dist/public/img/icons');
const PLUGIN_ID = 'weft-sessions-app';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.html': 'text/html', '.map': 'application/json', '.md': 'text/markdown' };

export interface HarnessOptions {
  readonly correlatorUrl: string;
  readonly token?: string;
  readonly distDir?: string;
  readonly bundleDir?: string;
  readonly port?: number;
}

export async function startHarnessServer(options: HarnessOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const distDir = options.distDir ?? path.join(here, '..', 'dist');
  const bundleDir = options.bundleDir ?? path.join(here, 'dist');
  const settings = { enabled: true, pinned: true, jsonData: { url: options.correlatorUrl }, secureJsonFields: { token: Boolean(options.token) } };
  let token = options.token ?? '';
  const proxyPrefix = `/api/plugin-proxy/${PLUGIN_ID}/weft`;

  const sendFile = (res: http.ServerResponse, file: string | undefined) => {
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  };
  const inside = (dir: string, rel: string) => {
    const file = path.join(dir, path.normalize(decodeURIComponent(rel)).replace(/^(\.\.[/\\])+/, ''));
    return file.startsWith(dir) ? file : undefined;
  };
  const readBody = (req: http.IncomingMessage) =>
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
    });

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://harness');
    try {
      if (url.pathname.startsWith('/harness/')) return sendFile(res, inside(bundleDir, url.pathname.slice('/harness/'.length)));
      if (url.pathname.startsWith('/public/build/img/icons/')) return sendFile(res, inside(ICONS, url.pathname.slice('/public/build/img/icons/'.length)));
      if (url.pathname.startsWith(`/public/plugins/${PLUGIN_ID}/`)) return sendFile(res, inside(distDir, url.pathname.slice(`/public/plugins/${PLUGIN_ID}/`.length)));
      if (url.pathname === `/api/plugins/${PLUGIN_ID}/settings`) {
        if (req.method === 'POST') {
          const body = JSON.parse((await readBody(req)).toString() || '{}') as { jsonData?: { url: string }; secureJsonData?: { token?: unknown } };
          if (body.jsonData) settings.jsonData = body.jsonData;
          if (body.secureJsonData && typeof body.secureJsonData.token === 'string') {
            token = body.secureJsonData.token;
            settings.secureJsonFields = { token: token !== '' };
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(settings));
        return;
      }
      if (url.pathname.startsWith(proxyPrefix)) {
        const target = `${settings.jsonData.url}${url.pathname.slice(proxyPrefix.length)}${url.search}`;
        const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
        let upstream: Response;
        try {
          upstream = await fetch(target, {
            method: req.method,
            headers: { authorization: `Bearer ${token}`, ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}), accept: req.headers.accept ?? '*/*' },
            ...(body ? { body: new Uint8Array(body) } : {}),
          });
        } catch (error) {
          // Grafana's proxy answers 502 when the upstream cannot be reached.
          const e = error as Error & { cause?: { code?: string } };
          res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `Bad Gateway: ${e.cause?.code ?? e.message}` }));
          return;
        }
        const buffer = Buffer.from(await upstream.arrayBuffer());
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' }).end(buffer);
        return;
      }
      if (url.pathname.startsWith('/public/') || url.pathname.startsWith('/api/')) return sendFile(res, undefined);
      return sendFile(res, path.join(here, 'index.html'));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
