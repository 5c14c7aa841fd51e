// A real Redis server (Debian's redis-server) on a free loopback port with no persistence, for the
// results cache's shared backend; stopped by PID.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, terminate, trackChild, waitFor } from '../../dev/prometheus-process.js';
import { connect } from 'node:net';

export const REDIS_MISSING = 'redis-server not found: install it with `apt-get install -y redis-server` (Debian)';

export interface RedisProcess {
  address: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.setTimeout(500);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      resolve(d.toString().startsWith('+PONG'));
      sock.destroy();
    });
    sock.on('error', () => resolve(false));
    sock.on('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

export async function startRedis(port?: number): Promise<RedisProcess> {
  if (spawnSync('redis-server', ['--version']).error) throw new Error(REDIS_MISSING);
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'promfront-redis-'));
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(p), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  trackChild(child, [dir]);
  await waitFor(() => pings(p), 15_000, `redis-server on 127.0.0.1:${p}`);
  return { address: `127.0.0.1:${p}`, port: p, child, stop: () => terminate(child) };
}
