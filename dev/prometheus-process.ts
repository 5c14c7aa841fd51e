// Runs a real Prometheus server as a child process, for tests and the local demo.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const PROMETHEUS_MISSING = 'prometheus not found: install it with `apt-get install -y prometheus` (Debian)';

/**
 * Path of the `prometheus` binary: the first executable one on PATH, else in /usr/bin or /usr/local/bin.
 * `dirs` replaces that search list (for tests).
 */
export function findPrometheus(dirs?: string[]): string {
  const search = dirs ?? [...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== ''), '/usr/bin', '/usr/local/bin'];
  for (const dir of search) {
    const candidate = path.join(dir, 'prometheus');
    try {
      const st = fs.statSync(candidate);
      if (!st.isFile()) continue;
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(PROMETHEUS_MISSING);
}

/** Polls fn every 100 ms (or pollMs) until it resolves true; throws `timed out waiting for <what>` after timeoutMs. */
/** True when GET `url` answers 200 within 2 s; false on any other status or error. */
export async function answers200(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function waitFor(fn: () => Promise<boolean>, timeoutMs: number, what: string, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await fn()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(pollMs);
  }
}

/** A loopback port that was free a moment ago (bind port 0, read it, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True when host:port can be bound right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------------------------
// Children that must not outlive this process

const liveChildren = new Map<number, { child: ChildProcess; dirs: string[] }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [pid, { dirs }] of liveChildren) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      for (const d of dirs) {
        try {
          fs.rmSync(d, { recursive: true, force: true });
        } catch {
          // best effort
        }
      }
    }
    liveChildren.clear();
  });
}

/**
 * Registers a child process to be SIGKILLed (and the given directories removed) if this process exits
 * while it still runs. The registration ends by itself when the child exits.
 */
export function trackChild(child: ChildProcess, dirsToRemove: string[] = []): void {
  installExitHook();
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  liveChildren.set(pid, { child, dirs: dirsToRemove });
  child.once('exit', () => liveChildren.delete(pid));
}

/** Resolves when the child has exited (at once if it already has). */
export function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after killAfterMs; resolves when the child has exited. */
export async function terminate(child: ChildProcess, killAfterMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = waitForExit(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, killAfterMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Output capture

/** Keeps the last `limit` bytes of a stream's output for error messages. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit = 64 * 1024) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - this.chunks[0].length >= this.limit) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

function readFileTail(file: string, bytes = 16 * 1024): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, bytes);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Prometheus

export interface PrometheusProcess {
  /** Base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  port: number;
  pid: number;
  /** The temporary directory holding prometheus.yml and data/; removed by stop(). */
  dataDir: string;
  /** Instant query; returns data.result. */
  query(expr: string, timeSec?: number): Promise<any>;
  /** Range query; returns data.result. */
  queryRange(expr: string, startSec: number, endSec: number, stepSec: number): Promise<any>;
  /** Recent stdout/stderr (empty when output goes to a log file; read the file instead). */
  output(): string;
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  configYaml: string;
  /** Port on 127.0.0.1; default: a free one. */
  port?: number;
  extraArgs?: string[];
  /** Append stdout and stderr here instead of keeping them in memory. */
  logFile?: string;
  /** Deadline for /-/ready (default 30 s). */
  readyTimeoutMs?: number;
  /**
   * True once the server is ready; default: GET http://127.0.0.1:<port>/-/ready answers 200. For a
   * server behind --web.config.file (TLS, basic auth) the caller knows how to ask.
   */
  readyCheck?: (port: number) => Promise<boolean>;
  /**
   * Called with the (empty) TSDB directory before Prometheus starts, e.g. to backfill blocks into it.
   * Called again for a fresh directory if the start is retried on another port.
   */
  prepareDataDir?: (tsdbDir: string) => Promise<void> | void;
}

class PrometheusExitedError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

async function apiGet(base: string, apiPath: string, params: Record<string, string>): Promise<any> {
  const url = `${base}${apiPath}?${new URLSearchParams(params).toString()}`;
  const res = await fetch(url);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${apiPath} returned HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
  if (!res.ok || body.status !== 'success') {
    throw new Error(`${apiPath} failed (HTTP ${res.status}): ${body.errorType ?? 'error'}: ${body.error ?? text.slice(0, 500)}`);
  }
  return body.data.result;
}

async function launchOnce(bin: string, dir: string, port: number, opts: StartPrometheusOptions): Promise<PrometheusProcess> {
  const args = [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
    ...(opts.extraArgs ?? []),
  ];
  let logFd: number | undefined;
  if (opts.logFile) logFd = fs.openSync(opts.logFile, 'a');
  const tail = new TailBuffer();
  let child: ChildProcess;
  try {
    child = spawn(bin, args, {
      cwd: dir,
      stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
    });
  } finally {
    // The child holds its own copy of the descriptor.
    if (logFd !== undefined) fs.closeSync(logFd);
  }
  child.stdout?.on('data', (b: Buffer) => tail.push(b));
  child.stderr?.on('data', (b: Buffer) => tail.push(b));
  const output = (): string => (opts.logFile ? readFileTail(opts.logFile) : tail.text());

  const spawnError = new Promise<never>((_, reject) => child.once('error', (err) => reject(err)));
  spawnError.catch(() => {});
  if (child.pid === undefined) {
    await spawnError;
  }
  const pid = child.pid!;
  trackChild(child, [dir]);

  const base = `http://127.0.0.1:${port}`;
  // 'close' comes after the output streams have ended, so the tail is complete by then.
  const closed = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('close', () => resolve());
  });
  let ready = false;
  const earlyExit = closed.then(() => {
    if (ready) return;
    const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
    const out = output();
    throw new PrometheusExitedError(`prometheus exited early (${how}); last output:\n${lastLines(out, 20)}`, /address already in use/i.test(out));
  });
  earlyExit.catch(() => {});

  try {
    await Promise.race([
      spawnError,
      earlyExit,
      waitFor(
        async () => {
          if (child.exitCode !== null || child.signalCode !== null) return false;
          return opts.readyCheck ? opts.readyCheck(port) : answers200(`${base}/-/ready`);
        },
        opts.readyTimeoutMs ?? 30_000,
        `prometheus on ${base} to become ready`,
      ),
    ]);
    ready = true;
  } catch (err) {
    ready = true; // from here on an exit is ours
    const wasRunning = child.exitCode === null && child.signalCode === null;
    await terminate(child, 2000);
    if (wasRunning && !(err instanceof PrometheusExitedError)) {
      throw new Error(`${(err as Error).message}; last output:\n${lastLines(output(), 20)}`, { cause: err });
    }
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    url: base,
    port,
    pid,
    dataDir: dir,
    query: (expr, timeSec) => apiGet(base, '/api/v1/query', timeSec === undefined ? { query: expr } : { query: expr, time: String(timeSec) }),
    queryRange: (expr, startSec, endSec, stepSec) =>
      apiGet(base, '/api/v1/query_range', { query: expr, start: String(startSec), end: String(endSec), step: String(stepSec) }),
    output,
    stop: () => {
      stopped ??= (async () => {
        await terminate(child, 10_000);
        fs.rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/**
 * Starts Prometheus with the given configuration in a fresh temporary directory and waits until it is ready.
 * Without an explicit port a free loopback port is picked, and picked again if another process grabs it first.
 */
export async function startPrometheus(opts: StartPrometheusOptions): Promise<PrometheusProcess> {
  const bin = findPrometheus();
  const attempts = opts.port === undefined ? 5 : 1;
  let lastErr: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promfront-prometheus-'));
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), opts.configYaml);
    fs.mkdirSync(path.join(dir, 'data'));
    const port = opts.port ?? (await freePort());
    try {
      if (opts.prepareDataDir) await opts.prepareDataDir(path.join(dir, 'data'));
      return await launchOnce(bin, dir, port, opts);
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      lastErr = err;
      // waitFor reports an early exit as its last error; recognise "address already in use" either way.
      const inUse = err instanceof PrometheusExitedError ? err.addressInUse : /address already in use/i.test(String((err as Error)?.message));
      if (!inUse) break;
    }
  }
  throw lastErr;
}
