// Starters for the local demo's smaller peers that no test shares: Alertmanager (the rules part's
// receiver) and prometheus-node-exporter (what the demo's edge promfront publishes over NATS). Each
// runs on a free loopback port with a temporary directory and is stopped by PID; a missing binary is
// reported with the Debian package to install, so the demo can skip that part and go on.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { answers200, freePort, terminate, trackChild, waitFor } from './prometheus-process.js';

export const ALERTMANAGER_MISSING = 'prometheus-alertmanager not found: install it with `apt-get install -y prometheus-alertmanager` (Debian)';
export const NODE_EXPORTER_MISSING = 'prometheus-node-exporter not found: install it with `apt-get install -y prometheus-node-exporter` (Debian)';

/** The path of the first of `names` on PATH, or undefined. */
export function which(...names: string[]): string | undefined {
  for (const name of names) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  return undefined;
}

export interface SimplePeer {
  url: string;
  /** host:port */
  address: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

async function launch(bin: string, args: string[], readyUrl: string, what: string, dirs: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});
  if (child.pid === undefined) await spawnError;
  trackChild(child, dirs);
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited: ${out.trim().split('\n').slice(-5).join('\n')}`);
        return answers200(readyUrl);
      },
      30_000,
      `${what} ${readyUrl}`,
    );
  } catch (err) {
    await terminate(child, 2000);
    throw err;
  }
  return { child, output: () => out };
}

/** Alertmanager with one receiver that sends nowhere: alerts show in its UI and API only. */
export async function startAlertmanager(dir: string): Promise<SimplePeer> {
  const bin = which('prometheus-alertmanager', 'alertmanager');
  if (!bin) throw new Error(ALERTMANAGER_MISSING);
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(configFile, 'route: {receiver: demo, group_wait: 1s}\nreceivers: [{name: demo}]\n');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const url = `http://${address}`;
  // --cluster.listen-address= turns gossip off: one instance, no port 9094 taken.
  const args = [
    `--config.file=${configFile}`,
    `--storage.path=${path.join(dir, 'data')}`,
    `--web.listen-address=${address}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ];
  const { child, output } = await launch(bin, args, `${url}/-/ready`, 'alertmanager', [dir]);
  return { url, address, pid: child.pid!, output, stop: () => terminate(child, 5000) };
}

/** prometheus-node-exporter with a few cheap, stable collectors. */
export async function startNodeExporter(): Promise<SimplePeer> {
  const bin = which('prometheus-node-exporter', 'node_exporter');
  if (!bin) throw new Error(NODE_EXPORTER_MISSING);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const url = `http://${address}`;
  const args = [
    `--web.listen-address=${address}`,
    '--collector.disable-defaults',
    '--collector.uname',
    '--collector.loadavg',
    '--collector.meminfo',
    '--log.level=warn',
  ];
  const { child, output } = await launch(bin, args, `${url}/metrics`, 'prometheus-node-exporter', []);
  return { url, address, pid: child.pid!, output, stop: () => terminate(child, 5000) };
}
