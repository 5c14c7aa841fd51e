// A fake exporter on loopback whose answer can be switched to failures (500, garbage, truncation, hang, huge).

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type UpstreamMode = 'good' | '500' | 'garbage' | 'truncated' | 'hang' | 'huge';

/** An upstream exporter whose behaviour a test switches between scrapes. */
export interface Upstream {
  url: string;
  mode: UpstreamMode;
  body: string;
  contentType: string;
  /** How long a 'good' answer waits before it is sent (a slow exporter). */
  delayMs: number;
  requests: number;
  lastHeaders: Record<string, string | string[] | undefined>;
  close(): Promise<void>;
}

export async function startUpstream(body: string, contentType = 'text/plain; version=0.0.4'): Promise<Upstream> {
  const open = new Set<ServerResponse>();
  const state: Upstream = {
    url: '',
    mode: 'good',
    body,
    contentType,
    delayMs: 0,
    requests: 0,
    lastHeaders: {},
    close: async () => {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server: Server = createServer((req, res) => {
    state.requests++;
    state.lastHeaders = req.headers;
    open.add(res);
    res.on('close', () => open.delete(res));
    switch (state.mode) {
      case 'good': {
        const answer = () => {
          res.writeHead(200, { 'Content-Type': state.contentType });
          res.end(state.body);
        };
        if (state.delayMs > 0) setTimeout(answer, state.delayMs);
        else answer();
        return;
      }
      case '500':
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('boom');
        return;
      case 'garbage':
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
        res.end('this is { not an exposition\n');
        return;
      case 'truncated': {
        const full = Buffer.from(state.body);
        res.writeHead(200, { 'Content-Type': state.contentType, 'Content-Length': full.length });
        res.write(full.subarray(0, Math.floor(full.length / 2)));
        setTimeout(() => res.destroy(), 20);
        return;
      }
      case 'hang':
        return; // never answers
      case 'huge': {
        // 1 GB, produced only as fast as the client reads it.
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
        const chunk = Buffer.from(`${'x_total{a="b"} 1\n'.repeat(4096)}`);
        let sent = 0;
        const pump = () => {
          while (sent < 1024 ** 3) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  return state;
}
