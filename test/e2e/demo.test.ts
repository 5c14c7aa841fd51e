// The README's `npm run demo`, run as `--check`: every part of the local demo (sharding, the query
// layer, the web UI, the results cache, Pushgateways behind push:, NATS fed by an edge promfront,
// etcd behind fleet:, rules with Alertmanager) must answer as the demo says it does, and once the
// demo exits nothing it started may be left running or on disk.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every peer the demo can start, with the Debian package that installs it. */
const PEERS: [string, string][] = [
  ['prometheus', 'prometheus'],
  ['prometheus-pushgateway', 'prometheus-pushgateway'],
  ['nats-server', 'nats-server'],
  ['etcd', 'etcd-server'],
  ['prometheus-alertmanager', 'prometheus-alertmanager'],
  ['prometheus-node-exporter', 'prometheus-node-exporter'],
];

const PARTS = ['sharding', 'web UI', 'query layer', 'results cache', 'push', 'stream (NATS)', 'fleet (etcd)', 'rules'];

function installed(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0 || existsSync(`/usr/bin/${bin}`);
}

/** pids of every process below `pid`, from one ps listing. */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of rows) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo -- --check', () => {
  let buildDir: string;

  beforeAll(() => {
    const missing = PEERS.filter(([bin]) => !installed(bin)).map(([bin, pkg]) => `${bin} (Debian package ${pkg})`);
    if (missing.length > 0) throw new Error(`the demo test checks every part; not installed: ${missing.join(', ')}: apt-get install -y the packages named`);
    // Only the demo and what it imports (dev/ never imports src/): far quicker than `npm run build:tools`.
    buildDir = mkdtempSync(join(tmpdir(), 'promfront-demo-build-'));
    writeFileSync(
      join(buildDir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.json'),
        compilerOptions: { outDir: join(ROOT, 'dist-tools'), rootDir: ROOT, typeRoots: [join(ROOT, 'node_modules/@types')] },
        files: [join(ROOT, 'dev/demo.ts')],
        include: [],
      }),
    );
    execFileSync('npx', ['--no-install', 'tsc', '-p', join(buildDir, 'tsconfig.json')], { cwd: ROOT, stdio: 'inherit' });
  }, 120_000);

  afterAll(() => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  it('starts every part, finds each one working, and leaves nothing behind', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist-tools/dev/demo.js'), '--check'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = new Set<number>();
    let sampling = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Once everything is up, note every process the demo started (Prometheus, Pushgateways,
      // nats-server, etcd, Alertmanager, the node exporter, both promfronts and their workers).
      if (!sampling && out.includes('checking every part')) {
        sampling = true;
        for (const p of descendants(child.pid!)) seen.add(p);
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));

    expect(out, out).toContain('demo check passed');
    expect(code).toBe(0);
    for (const part of PARTS) expect(out, `part ${part}:\n${out}`).toMatch(new RegExp(`^ {2}ok {4}${part.replace(/[()]/g, '\\$&')} `, 'm'));
    expect(out).not.toMatch(/^ {2}(skip|FAIL) /m);
    // Each check's detail carries the numbers behind it: all the exporter's series, every pushed group.
    expect(out).toMatch(/ok {4}sharding +3000 of 3000 exporter series/);
    expect(out).toMatch(/demo_batch_records_processed in Prometheus: 6 of 6/);

    // Stopped by PID: nothing it started still runs, and its temporary directory is gone.
    expect(seen.size).toBeGreaterThanOrEqual(12);
    await new Promise((r) => setTimeout(r, 500));
    expect([...seen].filter(alive)).toEqual([]);
    const config = /config +(\S+promfront\.yml)/.exec(out)?.[1];
    expect(config).toBeDefined();
    expect(existsSync(config!)).toBe(false);
  }, 150_000);
});
