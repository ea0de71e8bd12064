import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendJson, sendText, type HttpServer } from '../common/http-server.js';
import { LIMITS } from '../common/limits.js';
import { normalizeUserPath } from '../common/path.js';
import type { ChunkMapRequest } from './chunk-map.js';
import { servedClusterView } from './cluster-view-source.js';
import type { MasterContext } from './master-context.js';

/** How often an open dashboard gets a fresh view. */
const PUSH_INTERVAL_MS = 1_000;
/** Open event streams per master: each costs a view (and on a follower an RPC) per second. */
const EVENT_STREAMS_MAX = 32;

/** The page's files, copied beside this module by scripts/postbuild.mjs (master/dashboard -> dist/master/dashboard). */
const ASSET_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dashboard');
const ASSETS = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
} as const;

/**
 * The web dashboard on a master's HTTP server: the page at `/`, the cluster
 * view as JSON at `/api/cluster` and as Server-Sent Events (one view a
 * second) at `/api/events`. Both take `file` (a path; empty: the default
 * file) and `chunk` (the chunk map's first chunk index).
 */
export function registerDashboard(http: HttpServer, ctx: MasterContext): void {
  const cache = new Map<string, Promise<Buffer>>();
  for (const [route, asset] of Object.entries(ASSETS)) {
    http.get(route, async (_req, res) => {
      let body = cache.get(asset.file);
      if (body === undefined) {
        body = readFile(join(ASSET_DIR, asset.file));
        cache.set(asset.file, body);
        body.catch(() => cache.delete(asset.file));
      }
      res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': asset.type, 'Cache-Control': 'no-cache' });
      res.end(await body);
    });
  }

  http.get('/api/cluster', async (_req, res, url) => {
    const request = parseRequest(url, res);
    if (request !== undefined) sendJson(res, 200, await servedClusterView(ctx, request));
  });

  let streams = 0;
  http.get('/api/events', async (req, res, url) => {
    const request = parseRequest(url, res);
    if (request === undefined) return;
    if (streams >= EVENT_STREAMS_MAX) return sendText(res, 503, `at most ${EVENT_STREAMS_MAX} dashboards may stream from one master; use /api/cluster\n`);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    if (req.method === 'HEAD') return void res.end();
    // The browser reconnects by itself after this long if the stream drops.
    res.write('retry: 2000\n\n');
    streams++;
    let timer: NodeJS.Timeout | undefined;
    let open = true;
    res.on('close', () => {
      open = false;
      streams--;
      clearTimeout(timer);
    });
    const push = async (): Promise<void> => {
      const view = await servedClusterView(ctx, request);
      if (!open) return;
      res.write(`data: ${JSON.stringify(view)}\n\n`);
      timer = setTimeout(() => void push().catch(fail), PUSH_INTERVAL_MS);
    };
    const fail = (err: unknown) => {
      ctx.logger.warn({ err }, 'dashboard event stream failed');
      res.destroy();
    };
    await push().catch(fail);
  });
}

const SECURITY_HEADERS = {
  // Everything the page needs comes from this server; nothing from the cluster can run as script.
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
  'X-Content-Type-Options': 'nosniff',
};

/** The query's `file` and `chunk`, or undefined after answering 400. */
function parseRequest(url: URL, res: ServerResponse): ChunkMapRequest | undefined {
  const file = url.searchParams.get('file') ?? '';
  const chunk = url.searchParams.get('chunk') ?? '0';
  if (!/^\d{1,7}$/.test(chunk) || Number(chunk) >= LIMITS.chunksPerFileMax) {
    const message = `chunk must be a chunk index below ${LIMITS.chunksPerFileMax}, got ${JSON.stringify(chunk)}`;
    sendJson(res, 400, { error: 'INVALID_ARGUMENT', message });
    return undefined;
  }
  // People type these paths: "a/b/" means "/a/b", as on the command line.
  return { path: file === '' ? '' : normalizeUserPath(file), firstChunk: Number(chunk) };
}
