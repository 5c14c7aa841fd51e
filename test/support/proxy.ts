// Runs the built ./proxy for tests: CLI invocations and a long-running proxy on a free port.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answers200, freePort, waitFor } from '../../dev/prometheus-process.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const PROXY = join(REPO, 'proxy');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `./proxy ARGS` to completion. */
export function runCli(args: string[], input?: string): CliResult {
  const r = spawnSync(PROXY, args, { cwd: REPO, encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function writeTemp(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'promfront-test-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

export interface ProxyProcess {
  url: string;
  port: number;
  configFile: string;
  child: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

export interface StartProxyOptions {
  /** More command-line arguments, e.g. --web.enable-lifecycle or --web.config.file=... */
  args?: string[];
  /** https: for a proxy serving TLS (--web.config.file with tls_server_config). */
  scheme?: 'http' | 'https';
  /**
   * Whether the proxy answers: by default a plain GET of /-/healthy with status 200. A proxy
   * behind TLS or basic auth needs its own probe (given the proxy's base URL).
   */
  healthy?: (url: string) => Promise<boolean>;
  /** More environment variables for the process (e.g. PROMFRONT_FAST_PATH=0). */
  env?: Record<string, string>;
}

/** Starts `./proxy --config=...` with `listen` set to a free loopback port; waits for /-/healthy. */
export async function startProxy(configBody: (listen: string) => string, opts: StartProxyOptions = {}): Promise<ProxyProcess> {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'promfront-proxy-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, configBody(listen));
  // JSON log lines unless a test asks for another format: the tests read fields out of them.
  const args = opts.args ?? [];
  const format = args.some((a) => a.startsWith('--log.format')) ? [] : ['--log.format=json'];
  const child = spawn(PROXY, [`--config=${configFile}`, ...format, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = `${opts.scheme ?? 'http'}://${listen}`;
  const healthy = opts.healthy ?? ((u: string) => answers200(`${u}/-/healthy`));
  let exited = false;
  child.on('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`proxy exited early:\n${out}`);
      return healthy(url);
    },
    30_000,
    'proxy /-/healthy',
  );
  return {
    url,
    port,
    configFile,
    child,
    logs: () => out,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
