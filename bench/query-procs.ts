// The processes the query-layer benchmark measures: Prometheus 2.42 on prebuilt blocks, and the
// real proxy (dist/src/server/cli.js, what ./proxy runs) with a query section over server groups.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { answers200, freePort, startPrometheus, terminate, trackChild, waitFor, type PrometheusProcess } from '../dev/prometheus-process.js';

/** The repository root (this file runs as dist-tools/bench/query-procs.js). */
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO, 'dist', 'src', 'server', 'cli.js');

/** Prometheus serving a copy of the blocks in `blocksDir` (no scraping, nothing deleted by retention). */
export function prometheusFromBlocks(blocksDir: string): Promise<PrometheusProcess> {
  return startPrometheus({
    configYaml: 'global:\n  evaluation_interval: 1m\n',
    extraArgs: ['--storage.tsdb.retention.time=100y', '--query.lookback-delta=5m', '--log.level=warn'],
    prepareDataDir: (dir) => fs.cpSync(blocksDir, dir, { recursive: true }),
  });
}

export interface ProxyProcess {
  url: string;
  pid: number;
  logs(): string;
  /** SIGTERM and wait: the proxy exits through process.exit, so a --cpu-prof profile gets written. */
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** One list of host:port per server group. */
  groups: string[][];
  remoteRead: boolean;
  /** `pushdown: true` on every group (the servers evaluate PromQL as the proxy does). */
  pushdown?: boolean;
  /** `pushdown: false` on every group: the raw path only (unset means whole queries where exact). */
  pushdownOff?: boolean;
  /** Where the config file goes. */
  dir: string;
  nodeArgs?: string[];
  /** Appended to the config (e.g. a shard section). */
  extraYaml?: string;
  /** Another build's dist/src/server/cli.js (an A/B against this one); default: this repository's. */
  cli?: string;
}

export function proxyConfig(listen: string, groups: string[][], remoteRead: boolean, pushdown: boolean | 'off' = false): string {
  const lines = [`listen: ${listen}`, 'log_level: warn', 'query:', '  semantics: prometheus-2', '  server_groups:'];
  groups.forEach((targets, i) => {
    lines.push(`    - name: shard-${i}`, '      static_configs:', `        - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`);
    // Explicit both ways: unset would mean "remote read where served", i.e. remote read here.
    lines.push(`      remote_read: ${remoteRead}`);
    if (pushdown === true) lines.push('      pushdown: true');
    if (pushdown === 'off') lines.push('      pushdown: false');
  });
  return `${lines.join('\n')}\n`;
}

export async function startProxyProcess(opts: ProxyOptions): Promise<ProxyProcess> {
  const cli = opts.cli ?? CLI;
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  fs.mkdirSync(opts.dir, { recursive: true });
  const configFile = path.join(opts.dir, `proxy-${port}.yaml`);
  fs.writeFileSync(
    configFile,
    proxyConfig(listen, opts.groups, opts.remoteRead, opts.pushdownOff ? 'off' : opts.pushdown) + (opts.extraYaml ? `${opts.extraYaml}\n` : ''),
  );
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), cli, `--config=${configFile}`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = `http://${listen}`;
  // 'close' comes after the output streams end, so the message below has all the proxy wrote.
  const exited = new Promise<never>((_, reject) => {
    child.once('close', (codeOrNull) => reject(new Error(`proxy exited early (code ${codeOrNull}):\n${out.trim()}`)));
  });
  exited.catch(() => {});
  try {
    await Promise.race([exited, waitFor(() => answers200(`${url}/-/healthy`), 30_000, 'proxy /-/healthy')]);
  } catch (err) {
    await terminate(child, 2000);
    const msg = (err as Error).message;
    if (opts.remoteRead) {
      throw new Error(
        `--remote-read: the proxy did not start with \`remote_read: true\` on its server groups; this build may not have the remote-read client yet (it lands with the remote-read branch). Proxy said: ${msg}`,
        { cause: err },
      );
    }
    throw err;
  }
  return { url, pid: child.pid!, logs: () => out, stop: () => terminate(child, 10_000) };
}

export interface MemoryStatus {
  /** Peak resident set size so far (VmHWM), MB. */
  hwmMb: number;
  /** Resident set size now (VmRSS), MB. */
  rssMb: number;
}

/** VmHWM and VmRSS of a process from /proc/<pid>/status. */
export function memoryStatus(pid: number): MemoryStatus {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]);
  };
  return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

/** host:port of a Prometheus process. */
export const addr = (p: PrometheusProcess): string => `127.0.0.1:${p.port}`;

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU milliseconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After the command name (which may hold spaces and parentheses): fields 14 and 15 of stat(5).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}
