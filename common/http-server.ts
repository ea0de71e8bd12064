import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';

/** Answers one request; `url` is the parsed request URL. A throw becomes a 500. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

/**
 * The HTTP side of a master or chunkserver (metrics, dashboard, health):
 * GET and HEAD routes by exact path, or by prefix for paths ending in '/'.
 * Anything else is 404 or 405; nothing here reads a request body.
 */
export class HttpServer {
  private readonly exact = new Map<string, HttpHandler>();
  private readonly prefixes: [string, HttpHandler][] = [];

  private constructor(
    private readonly server: Server,
    private readonly logger: Logger,
  ) {}

  /** Listens on host:port (0 picks a free port). */
  static async start(host: string, port: number, logger: Logger): Promise<HttpServer> {
    let self: HttpServer | undefined;
    const server = createServer((req, res) => void self!.handle(req, res));
    // Keep-alive sockets of an idle browser must not hold up stop().
    server.keepAliveTimeout = 5_000;
    self = new HttpServer(server, logger);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Routes GET (and HEAD) of `path`; a path ending in '/' routes everything under it. */
  get(path: string, handler: HttpHandler): void {
    if (path.endsWith('/') && path !== '/') {
      this.prefixes.push([path, handler]);
      this.prefixes.sort((a, b) => b[0].length - a[0].length);
    } else {
      this.exact.set(path, handler);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handler = this.exact.get(url.pathname) ?? this.prefixes.find(([p]) => url.pathname.startsWith(p))?.[1];
    if (handler === undefined) return sendText(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'method not allowed\n');
    }
    try {
      await handler(req, res, url);
    } catch (err) {
      this.logger.warn({ err, path: url.pathname }, 'http handler failed');
      if (!res.headersSent) sendText(res, 500, `${(err as Error).message}\n`);
      else res.destroy();
    }
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function sendText(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json');
}
