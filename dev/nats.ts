// Runs Debian's nats-server with JetStream on a free loopback port and a temporary store, for the
// stream capability's tests, bench and the local demo; restartable on the same port and store (an outage, not a loss).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, terminate, trackChild, waitFor } from './prometheus-process.js';

export const NATS_MISSING = 'nats-server not found: install it with `apt-get install -y nats-server` (Debian)';

export interface NatsServer {
  url: string;
  port: number;
  /** Stops the server, keeping its store (stop + start is an outage). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its store. */
  close(): Promise<void>;
  output(): string;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startNats(): Promise<NatsServer> {
  if (spawnSync('nats-server', ['--version']).error) throw new Error(NATS_MISSING);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'promfront-nats-'));
  let child: ChildProcess | undefined;
  let out = '';
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    output: () => out,
    async start() {
      child = spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
      trackChild(child, [dir]);
      const keep = (d: Buffer) => {
        out = (out + d.toString()).slice(-50_000);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      await waitFor(() => listening(port), 20_000, 'nats-server listening');
    },
    async stop() {
      if (child) await terminate(child);
      child = undefined;
    },
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
