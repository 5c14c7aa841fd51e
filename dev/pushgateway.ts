// Runs real Pushgateways (Debian's prometheus-pushgateway) for the push tests, bench and the local demo: on a free
// loopback port, persistence off (Debian's build defaults to a shared file under /var/lib), stopped
// by PID, restartable on the same port to play a Pushgateway that died and came back empty.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { answers200, freePort, terminate, trackChild, waitFor } from './prometheus-process.js';

export const PUSHGATEWAY_MISSING = 'prometheus-pushgateway not found: install it with `apt-get install -y prometheus-pushgateway` (Debian)';

export function findPushgateway(): string {
  for (const bin of ['prometheus-pushgateway', 'pushgateway']) {
    const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  throw new Error(PUSHGATEWAY_MISSING);
}

export interface PushgatewayProcess {
  address: string;
  url: string;
  running(): boolean;
  /** Stops it (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  output(): string;
}

/** A group as /api/v1/metrics lists it. */
export type PgwGroup = { labels: Record<string, string> } & Record<string, any>;

export interface StartPushgatewayOptions {
  /** --web.config.file (exporter-toolkit: TLS, basic auth); `scheme` https when it serves TLS. */
  webConfigFile?: string;
  scheme?: 'http' | 'https';
  /** Whether it is ready, given its URL (a plain GET of /-/ready by default; TLS or auth needs its own). */
  ready?: (url: string) => Promise<boolean>;
}

export async function startPushgateway(opts: StartPushgatewayOptions = {}): Promise<PushgatewayProcess> {
  const bin = findPushgateway();
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const url = `${opts.scheme ?? 'http'}://${address}`;
  const ready = opts.ready ?? ((u: string) => answers200(`${u}/-/ready`));
  const web = opts.webConfigFile ? [`--web.config.file=${opts.webConfigFile}`] : [];
  let child: ChildProcess | undefined;
  let out = '';
  const launch = async () => {
    out = '';
    const c = spawn(bin, [`--web.listen-address=${address}`, '--persistence.file=', '--log.level=warn', ...web], { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(c);
    c.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    c.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child = c;
    await waitFor(
      async () => {
        if (c.exitCode !== null) throw new Error(`pushgateway on ${address} exited: ${out}`);
        return ready(url);
      },
      20_000,
      `pushgateway ${address} /-/ready`,
    );
  };
  await launch();
  return {
    address,
    url,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child) await terminate(child, 5000);
    },
    async restart() {
      if (child) await terminate(child, 5000);
      await launch();
    },
    output: () => out,
  };
}

/** Every group a Pushgateway holds. */
export async function groupsOf(pgw: { url: string }): Promise<PgwGroup[]> {
  const res = await fetch(`${pgw.url}/api/v1/metrics`);
  if (res.status !== 200) throw new Error(`${pgw.url}/api/v1/metrics answered ${res.status}`);
  return ((await res.json()) as { data: PgwGroup[] }).data;
}
