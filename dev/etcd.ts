// Runs real etcd servers (Debian package etcd-server, /usr/bin/etcd) for the fleet tests and the local demo: one node
// or a cluster on free loopback ports with temporary data dirs, each node stoppable, killable and
// restartable on its ports and data, and every process killed by PID when the test ends.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, trackChild, waitFor, waitForExit } from './prometheus-process.js';

export const ETCD_MISSING = 'etcd not found: install it with `apt-get install -y etcd-server etcd-client` (Debian)';

function etcdBinary(): string {
  for (const p of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  throw new Error(ETCD_MISSING);
}

export interface EtcdNode {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | undefined;
  output(): string;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data. */
  restart(): Promise<void>;
}

export interface EtcdCluster {
  nodes: EtcdNode[];
  endpoints: string[];
  /** The node that is leader now. */
  leader(): Promise<EtcdNode>;
  stop(): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await r.json()) as { health?: string };
    return r.ok && body.health === 'true';
  } catch {
    return false;
  }
}

export async function startEtcdCluster(size = 1): Promise<EtcdCluster> {
  const bin = etcdBinary();
  const root = mkdtempSync(join(tmpdir(), 'promfront-etcd-'));
  const specs: { name: string; client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++) specs.push({ name: `n${i}`, client: await freePort(), peer: await freePort() });
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const launchers: (() => void)[] = [];
  const nodes: EtcdNode[] = specs.map((s) => {
    let out = '';
    const node: EtcdNode = {
      name: s.name,
      clientUrl: `http://127.0.0.1:${s.client}`,
      peerUrl: `http://127.0.0.1:${s.peer}`,
      dataDir: join(root, s.name),
      child: undefined,
      output: () => out,
      async kill() {
        const c = node.child;
        if (c && c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
          await waitForExit(c);
        }
        node.child = undefined;
      },
      async restart() {
        await node.kill();
        launch();
      },
    };
    const launch = (): void => {
      const child = spawn(
        bin,
        [
          `--name=${s.name}`,
          `--data-dir=${node.dataDir}`,
          `--listen-client-urls=${node.clientUrl}`,
          `--advertise-client-urls=${node.clientUrl}`,
          `--listen-peer-urls=${node.peerUrl}`,
          `--initial-advertise-peer-urls=${node.peerUrl}`,
          `--initial-cluster=${initialCluster}`,
          '--initial-cluster-state=new',
          '--initial-cluster-token=promfront-test',
          // Quick elections so a killed leader is replaced within a second or two.
          '--heartbeat-interval=50',
          '--election-timeout=500',
          '--log-level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const keep = (d: Buffer): void => {
        out += d.toString();
        if (out.length > 100_000) out = out.slice(-50_000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      trackChild(child);
      node.child = child;
    };
    launchers.push(launch);
    return node;
  });
  for (const launch of launchers) launch();
  try {
    await waitFor(async () => (await Promise.all(nodes.map((n) => healthy(n.clientUrl)))).every(Boolean), 30_000, 'etcd /health');
  } catch (e) {
    await Promise.all(nodes.map((n) => n.kill()));
    throw new Error(`${(e as Error).message}\n${nodes.map((n) => n.output()).join('\n')}`, { cause: e });
  }
  return {
    nodes,
    endpoints: nodes.map((n) => n.clientUrl),
    async leader() {
      for (const n of nodes) {
        if (!n.child) continue;
        try {
          const r = await fetch(`${n.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}' });
          const s = (await r.json()) as { leader?: string; header?: { member_id?: string } };
          if (s.leader !== undefined && s.leader === s.header?.member_id) return n;
        } catch {
          // down or not answering: try the next
        }
      }
      throw new Error('no etcd leader');
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Waits until every node answers /health (after restarts). */
export async function waitHealthy(nodes: readonly EtcdNode[]): Promise<void> {
  await waitFor(async () => (await Promise.all(nodes.map((n) => healthy(n.clientUrl)))).every(Boolean), 30_000, 'etcd /health');
}

/**
 * Writes a key through the gateway (as a registry would), optionally with a lease; retried for a
 * while when etcd answers 503 (no leader yet, as during an election).
 */
export async function etcdPut(endpoint: string, key: string, value = '', lease?: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await fetch(`${endpoint}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64'), ...(lease ? { lease } : {}) }),
    });
    if (r.ok) return;
    const text = await r.text();
    if (r.status !== 503 || Date.now() > deadline) throw new Error(`etcd put ${key}: HTTP ${r.status} ${text}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

export async function etcdDelete(endpoint: string, key: string): Promise<void> {
  const r = await fetch(`${endpoint}/v3/kv/deleterange`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(key).toString('base64') }) });
  if (!r.ok) throw new Error(`etcd delete ${key}: HTTP ${r.status}`);
}
