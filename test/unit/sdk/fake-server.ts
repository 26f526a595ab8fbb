import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the fake server saw it. */
export interface Hit {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
  /** performance.now() when it arrived. */
  at: number;
}

export type Handler = (hit: Hit, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

export interface FakeServer {
  url: string;
  port: number;
  hits: Hit[];
  /** Hits on `METHOD /path` (path without query). */
  on(route: string): Hit[];
  close(): Promise<void>;
}

/** A local HTTP server whose every answer the test writes: 503s, cut connections, silence. */
export async function fakeServer(handler: Handler): Promise<FakeServer> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://x');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the text
      }
      const hit: Hit = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, at: performance.now() };
      hits.push(hit);
      Promise.resolve(handler(hit, res, req)).catch((error: unknown) => {
        if (!res.headersSent) json(res, 599, { detail: String(error) });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hits,
    on: (route) => hits.filter((h) => `${h.method} ${h.path}` === route),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers });
  res.end(text);
}

export function problem(res: ServerResponse, status: number, code = 'error', headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): void {
  json(res, status, { type: `https://agentmesh.dev/problems/${code}`, title: 'x', status, detail: `${code} (${status})`, ...extra }, headers);
}

/** The connection is cut without an answer: a reset, as when a proxy or the server dies mid-request. */
export function drop(res: ServerResponse): void {
  res.socket?.destroy();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on (a server opened and closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}
