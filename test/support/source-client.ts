// Fixtures for the source client's tests: loopback servers closed after each test, source configs,
// clients closed after each test, and the check that an error carries no secret. Importing this
// module registers the afterEach that closes them.

import http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, expect } from 'vitest';
import { sourceSchema, type SourceConfig } from '../../src/config/schema.js';
import { ScrapeError } from '../../src/errors.js';
import { createSourceClient, type SourceClient } from '../../src/shard/source-client.js';

export const MiB = 1024 * 1024;
export const BODY = '# TYPE up gauge\nup 1\nfoo_total{a="b"} 42\n';

type Closer = () => Promise<void>;
const cleanups: Closer[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});

export function trackServer(server: http.Server | https.Server | net.Server): void {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
}

export async function listen(server: http.Server | https.Server | net.Server): Promise<number> {
  trackServer(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

export async function httpServer(handler: http.RequestListener): Promise<string> {
  const port = await listen(http.createServer(handler));
  return `http://127.0.0.1:${port}/metrics`;
}

/** A raw TCP server, for responses node:http would not produce (short bodies, stalls). */
export async function rawServer(onSocket: (s: net.Socket) => void): Promise<string> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => onSocket(s));
  });
  const port = await listen(server);
  return `http://127.0.0.1:${port}/metrics`;
}

export function source(url: string, extra: Record<string, unknown> = {}): SourceConfig {
  return sourceSchema.parse({ url, ...extra });
}

export function client(src: SourceConfig, timeoutMs = 5000, maxBodySize = 64 * MiB): SourceClient {
  const c = createSourceClient(src, { timeoutMs, maxBodySize });
  cleanups.push(() => c.close());
  return c;
}

export async function scrapeError(c: SourceClient, signal?: AbortSignal): Promise<ScrapeError> {
  try {
    await c.scrape(signal);
  } catch (err) {
    expect(err).toBeInstanceOf(ScrapeError);
    return err as ScrapeError;
  }
  throw new Error('expected the scrape to fail');
}

export function expectNoSecrets(err: Error, ...secrets: string[]): void {
  const text = `${err.message}\n${err.stack ?? ''}`;
  for (const s of secrets) expect(text).not.toContain(s);
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Lazily generated body of `total` bytes; records how much was actually produced. */
export function lazyBody(total: number, chunk: Buffer, produced: { bytes: number }): Readable {
  return new Readable({
    read() {
      if (produced.bytes >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk.length, total - produced.bytes);
      produced.bytes += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}
