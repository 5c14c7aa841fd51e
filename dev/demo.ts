// The one-command local demo (`npm run demo`): a synthetic Ceph-like exporter, the promfront proxy
// splitting it into shards, real Prometheus servers scraping each shard (HA replicas), and the same
// proxy answering PromQL over all of them as one Prometheus.
//
//   node dist-tools/dev/demo.js [--series=30000] [--shards=3] [--replicas=2]
//
// PROMFRONT_PROXY=/path/to/launcher overrides the proxy command (default: <repo>/proxy).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import YAML from 'yaml';
import {
  answers200,
  findPrometheus,
  freePort,
  isPortFree,
  startPrometheus,
  terminate,
  trackChild,
  waitFor,
  type PrometheusProcess,
} from './prometheus-process.js';
import { startSyntheticExporter, SYNTHETIC_HISTOGRAM, type SyntheticExporter } from './synthetic.js';

const execFileAsync = promisify(execFile);

const HOST = '127.0.0.1';
const STEP_MS = 5000;

const USAGE = `Usage: npm run demo -- [--series=N] [--shards=N] [--replicas=N]

Starts a synthetic Ceph-like exporter (N series, default 30000), the promfront proxy sharding it
(default 3 shards), Prometheus servers scraping each shard (default 2 HA replicas per shard), and
then reloads the proxy with a query section so that it answers PromQL over all of them as one
Prometheus. Ctrl-C stops everything.
`;

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'promfront') return dir;
      } catch {
        // keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the promfront repository root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function positiveInt(value: string | undefined, name: string, def: number): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`error: --${name} must be a positive integer, got "${value}"\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

async function preferredPort(port: number): Promise<number> {
  return (await isPortFree(port, HOST)) ? port : freePort(HOST);
}

function logTail(file: string, lines = 20): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd();
    return text === '' ? '(empty)' : text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

function graphLink(promUrl: string, expr: string, tab: 0 | 1): string {
  return `${promUrl}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=${tab}&g0.range_input=15m`;
}

async function main(): Promise<void> {
  let values: { series?: string; shards?: string; replicas?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { series: { type: 'string' }, shards: { type: 'string' }, replicas: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const series = positiveInt(values.series, 'series', 30_000);
  const shards = positiveInt(values.shards, 'shards', 3);
  const replicas = positiveInt(values.replicas, 'replicas', 2);
  const root = repoRoot();
  const proxyCmd = process.env.PROMFRONT_PROXY || path.join(root, 'proxy');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promfront-demo-'));
  const removeTmp = (): void => fs.rmSync(tmp, { recursive: true, force: true });
  process.on('exit', removeTmp);

  let exporter: SyntheticExporter | undefined;
  let proxy: ChildProcess | undefined;
  const proms: PrometheusProcess[] = [];
  let stopping: Promise<void> | undefined;

  const stopAll = (code: number): Promise<void> => {
    stopping ??= (async () => {
      process.stdout.write('\nstopping...\n');
      await Promise.allSettled(proms.map((p) => p.stop()));
      if (proxy) await terminate(proxy, 10_000);
      await exporter?.close();
      removeTmp();
      process.exit(code);
    })();
    return stopping;
  };
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals > 1) {
      process.stdout.write('\nforced exit\n');
      process.exit(130); // the exit handlers SIGKILL the children and remove the temp dirs
    }
    void stopAll(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const fatal = async (msg: string): Promise<never> => {
    process.stderr.write(`\nerror: ${msg}\n`);
    await stopAll(1);
    throw new Error('unreachable');
  };

  // 1. The synthetic exporter.
  const exporterPort = await preferredPort(9100);
  exporter = await startSyntheticExporter({ host: HOST, port: exporterPort, series, stepMs: STEP_MS, withTimestamps: false });
  process.stdout.write(`synthetic exporter: ${exporter.url} (${series} series)\n`);

  // 2. The proxy.
  const proxyPort = await preferredPort(9099);
  const configFile = path.join(tmp, 'promfront.yml');
  const shardSection = [
    `listen: ${HOST}:${proxyPort}`,
    'log_level: info',
    'shard:',
    `  num_shards: ${shards}`,
    '  job_name: demo',
    `  scrape_interval: ${STEP_MS / 1000}s`,
    '  sources:',
    `    - url: ${exporter.url}`,
    '      labels: {cluster: demo}',
    '',
  ].join('\n');
  fs.writeFileSync(configFile, shardSection);
  const proxyLog = path.join(tmp, 'proxy.log');
  const proxyUrl = `http://${HOST}:${proxyPort}`;
  if (!fs.existsSync(proxyCmd)) await fatal(`the proxy launcher ${proxyCmd} does not exist`);
  const logFd = fs.openSync(proxyLog, 'a');
  // --web.enable-lifecycle: step 4 reloads it over /-/reload.
  proxy = spawn(proxyCmd, [`--config=${configFile}`, '--web.enable-lifecycle'], { cwd: root, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  proxy.once('error', (err) => void fatal(`cannot start ${proxyCmd}: ${err.message}`));
  trackChild(proxy);
  let proxyReady = false;
  proxy.once('exit', (code, signal) => {
    if (stopping) return;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    void fatal(`the proxy ${proxyReady ? 'stopped' : 'exited before it was ready'} (${how}); last lines of ${proxyLog}:\n${logTail(proxyLog)}`);
  });
  process.stdout.write(`proxy: ${proxyCmd} --config=${configFile} (pid ${proxy.pid}), waiting for ${proxyUrl}/-/ready ...\n`);
  try {
    await waitFor(() => answers200(`${proxyUrl}/-/ready`), 60_000, `the proxy at ${proxyUrl}/-/ready`, 200);
  } catch (err) {
    await fatal(`${(err as Error).message}; last lines of ${proxyLog}:\n${logTail(proxyLog)}`);
  }
  proxyReady = true;

  // 3. Prometheus servers: `replicas` per shard, all scraping that shard.
  let promBin: string | undefined;
  try {
    promBin = findPrometheus();
  } catch {
    process.stdout.write(
      '\nprometheus not found: install it with `sudo apt-get install -y prometheus` (Debian/Ubuntu)\n' +
        'Continuing with the exporter and the proxy only: the shards are still served below.\n',
    );
  }
  const promLogs: string[] = [];
  if (promBin) {
    for (let k = 0; k < shards; k++) {
      let out: string;
      try {
        ({ stdout: out } = await execFileAsync(proxyCmd, ['scrape-config', `--config=${configFile}`, `--shard=${k}`], { cwd: root }));
      } catch (err) {
        const e = err as Error & { stderr?: string };
        await fatal(`${proxyCmd} scrape-config --shard=${k} failed: ${e.stderr?.trim() || e.message}`);
        return;
      }
      const doc = YAML.parseAllDocuments(out)
        .map((d) => d.toJS() as Record<string, unknown> | null)
        .find((d) => d && 'scrape_configs' in d);
      if (!doc) await fatal(`${proxyCmd} scrape-config --shard=${k} printed no scrape_configs:\n${out}`);
      const { global: _ignored, ...rest } = doc!;
      const configYaml = YAML.stringify({ global: { scrape_interval: '5s', evaluation_interval: '5s' }, ...rest });
      fs.writeFileSync(path.join(tmp, `prometheus-${k}.yml`), configYaml);
      for (let r = 0; r < replicas; r++) {
        const logFile = path.join(tmp, `prometheus-${k}-${r}.log`);
        promLogs.push(logFile);
        const port = await preferredPort(9090 + k * replicas + r);
        try {
          proms.push(await startPrometheus({ configYaml, port, logFile }));
        } catch (err) {
          await fatal(`Prometheus ${r} for shard ${k} did not start: ${(err as Error).message}`);
        }
      }
    }
  }

  // 4. The query layer: the same proxy, reloaded with one server group per shard (its replicas).
  let queryReady = false;
  if (proms.length > 0) {
    const groups: string[] = ['query:', '  server_groups:'];
    for (let k = 0; k < shards; k++) {
      const targets = proms.slice(k * replicas, (k + 1) * replicas).map((p) => `"${HOST}:${p.port}"`);
      groups.push(`    - name: shard-${k}`, `      static_configs: [{targets: [${targets.join(', ')}]}]`);
    }
    fs.writeFileSync(configFile, `${shardSection}${groups.join('\n')}\n`);
    const res = await fetch(`${proxyUrl}/-/reload`, { method: 'POST' });
    if (!res.ok) await fatal(`reloading the proxy with a query section failed: HTTP ${res.status} ${await res.text()}`);
    queryReady = true;
  }

  // 5. What to open.
  const countExpr = 'count({__name__=~".+"})';
  const p90Expr = `histogram_quantile(0.9, sum by (le) (rate(${SYNTHETIC_HISTOGRAM}_bucket[1m])))`;
  const lines: string[] = [
    '',
    `promfront demo: ${series} synthetic series split over ${shards} shards`,
    '',
    `  exporter      ${exporter.url}`,
    `  proxy status  ${proxyUrl}/status`,
    `  web UI        ${proxyUrl}/graph   (query editor, targets, shards, config)`,
  ];
  for (let k = 0; k < shards; k++) {
    lines.push('', `  shard ${k}       ${proxyUrl}/metrics/shard/${k}`);
    for (const p of proms.slice(k * replicas, (k + 1) * replicas)) {
      lines.push(
        `    Prometheus  ${p.url}   (pid ${p.pid})`,
        `      series    ${graphLink(p.url, countExpr, 1)}`,
        `      p90       ${graphLink(p.url, p90Expr, 0)}`,
      );
    }
  }
  if (proms.length > 0) {
    lines.push(
      '',
      `  Each Prometheus holds about 1/${shards} of the series; ${countExpr} summed over the shards is about ${series}`,
      "  (plus each server's own scrape metrics). Rates need two scrapes: give it ~15 s.",
    );
  }
  if (queryReady) {
    const q = (expr: string) => `${proxyUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
    lines.push(
      '',
      `  all shards as one Prometheus (point Grafana or promtool at ${proxyUrl})`,
      `    series      ${q(countExpr)}`,
      `    p90         ${q(p90Expr)}`,
      `    promtool    promtool query instant ${proxyUrl} '${countExpr}'`,
      `    kill one replica of a shard: the answers stay the same, with a warning naming it`,
    );
  }
  lines.push('', '  logs', `    proxy       ${proxyLog}`);
  promLogs.forEach((f, i) => lines.push(`    shard ${Math.floor(i / replicas)}.${i % replicas}   ${f}`));
  lines.push(`  config        ${configFile}`, '', 'Ctrl-C to stop.', '');
  process.stdout.write(lines.join('\n'));
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
