// The one-command local demo (`npm run demo`): a synthetic Ceph-like exporter, the promfront proxy
// splitting it into shards, and one real Prometheus per shard.
//
//   node dist/src/dev/demo.js [--series=30000] [--shards=3]
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

const USAGE = `Usage: npm run demo -- [--series=N] [--shards=N]

Starts a synthetic Ceph-like exporter (N series, default 30000), the promfront proxy sharding it
(default 3 shards) and one Prometheus per shard. Ctrl-C stops everything.
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
  let values: { series?: string; shards?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { series: { type: 'string' }, shards: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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
  fs.writeFileSync(
    configFile,
    [
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
    ].join('\n'),
  );
  const proxyLog = path.join(tmp, 'proxy.log');
  const proxyUrl = `http://${HOST}:${proxyPort}`;
  if (!fs.existsSync(proxyCmd)) await fatal(`the proxy launcher ${proxyCmd} does not exist`);
  const logFd = fs.openSync(proxyLog, 'a');
  proxy = spawn(proxyCmd, [`--config=${configFile}`], { cwd: root, stdio: ['ignore', logFd, logFd] });
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

  // 3. One Prometheus per shard.
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
      const doc = YAML.parseAllDocuments(out).map((d) => d.toJS() as Record<string, unknown> | null).find((d) => d && 'scrape_configs' in d);
      if (!doc) await fatal(`${proxyCmd} scrape-config --shard=${k} printed no scrape_configs:\n${out}`);
      const { global: _ignored, ...rest } = doc!;
      const configYaml = YAML.stringify({ global: { scrape_interval: '5s', evaluation_interval: '5s' }, ...rest });
      const logFile = path.join(tmp, `prometheus-${k}.log`);
      promLogs.push(logFile);
      const port = await preferredPort(9090 + k);
      try {
        proms.push(await startPrometheus({ configYaml, port, logFile }));
      } catch (err) {
        await fatal(`Prometheus for shard ${k} did not start: ${(err as Error).message}`);
      }
      fs.writeFileSync(path.join(tmp, `prometheus-${k}.yml`), configYaml);
    }
  }

  // 4. What to open.
  const countExpr = 'count({__name__=~".+"})';
  const p90Expr = `histogram_quantile(0.9, sum by (le) (rate(${SYNTHETIC_HISTOGRAM}_bucket[1m])))`;
  const lines: string[] = [
    '',
    `promfront demo: ${series} synthetic series split over ${shards} shards`,
    '',
    `  exporter      ${exporter.url}`,
    `  proxy status  ${proxyUrl}/status`,
  ];
  for (let k = 0; k < shards; k++) {
    lines.push('', `  shard ${k}       ${proxyUrl}/metrics/shard/${k}`);
    const p = proms[k];
    if (p) {
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
      '  (plus each server\'s own scrape metrics). Rates need two scrapes: give it ~15 s.',
    );
  }
  lines.push('', '  logs', `    proxy       ${proxyLog}`);
  promLogs.forEach((f, k) => lines.push(`    shard ${k}     ${f}`));
  lines.push(`  config        ${configFile}`, '', 'Ctrl-C to stop.', '');
  process.stdout.write(lines.join('\n'));
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
