// Parse benchmark for one body of very many small families (issue 17: 1 M families in one 41.7 MB
// body took 9.7 s and 2.1 GB, so the next scrape timed out). The body is N gauge families, each a
// TYPE line (and with --help a HELP line) and one sample: `# TYPE metric_<i> gauge\nmetric_<i> 1\n`
// is 41.8 MB at 1 M families, the size of the body in the issue. Each run is a fresh process so its
// peak RSS is its own.
//
//   npm run build:tools && node --expose-gc dist-tools/bench/shard-families.js            # every variant
//   node --expose-gc dist-tools/bench/shard-families.js --child --families=1000000 --via=ingest [--help] [--format=openmetrics]
//
// --via=ingest feeds the body to StreamingIngest in 64 KiB pieces, as the scrape delivers them, and
// measures the parse and shard step alone: wall and CPU time, µs per family, peak RSS over the RSS
// before it (bytes per family) and the heap the source's data keeps. --via=cycle serves the body
// from another process and runs ShardService cycles over HTTP (fetch, parse, shard, build, gzip),
// while a 1 ms timer measures the longest event-loop stall (perf_hooks monitorEventLoopDelay).
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/load.js';
import { initHash } from '../src/shard/hash.js';
import { ShardService } from '../src/shard/shard-service.js';
import { StreamingIngest } from '../src/shard/stream-ingest.js';
import type { ExpositionFormat } from '../src/shard/exposition.js';

const self = fileURLToPath(import.meta.url);
const args: Record<string, string> = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const PIECE = 64 * 1024;

/** The body, built in 1 MiB pieces so that building it does not set the peak RSS. */
function makeBody(families: number, help: boolean, format: ExpositionFormat): Buffer {
  const pieces: Buffer[] = [];
  let s = '';
  for (let i = 0; i < families; i++) {
    if (help) s += `# HELP metric_${i} Help text.\n`;
    s += `# TYPE metric_${i} gauge\nmetric_${i} 1\n`;
    if (s.length > 1 << 20) {
      pieces.push(Buffer.from(s, 'latin1'));
      s = '';
    }
  }
  if (format === 'openmetrics') s += '# EOF\n';
  pieces.push(Buffer.from(s, 'latin1'));
  return Buffer.concat(pieces);
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const mb = (n: number): number => Math.round(n / 1e5) / 10;

async function ingestMain(families: number, help: boolean, format: ExpositionFormat): Promise<void> {
  await initHash();
  const body = makeBody(families, help, format);
  // Warm-up on a small body so the JIT has compiled the parser before the measured run.
  for (let i = 0; i < 3; i++) feed(makeBody(20_000, help, format), format);
  gc();
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const data = feed(body, format);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const peakRss = process.resourceUsage().maxRSS * 1024;
  gc();
  const heapKept = process.memoryUsage().heapUsed - heapBefore;
  process.stdout.write(
    `${JSON.stringify({
      via: 'ingest',
      format,
      help,
      families: data.families.size,
      series: data.series,
      body_mb: mb(body.length),
      wall_ms: Math.round(wall),
      cpu_ms: Math.round((c.user + c.system) / 1000),
      us_per_family: +((wall * 1000) / families).toFixed(2),
      rss_before_mb: mb(rssBefore),
      peak_rss_mb: mb(peakRss),
      peak_rss_growth_per_family_bytes: Math.round((peakRss - rssBefore) / families),
      heap_kept_per_family_bytes: Math.round(heapKept / families),
    })}\n`,
  );
}

function feed(body: Buffer, format: ExpositionFormat): ReturnType<StreamingIngest['finish']> {
  const ingest = new StreamingIngest(format, 4, []);
  for (let off = 0; off < body.length; off += PIECE) ingest.write(body.subarray(off, Math.min(body.length, off + PIECE)));
  return ingest.finish();
}

/** Serves the body over HTTP from its own process, so the measured process does only the scraping. */
function serverMain(families: number, help: boolean, format: ExpositionFormat): void {
  const body = makeBody(families, help, format);
  const contentType = format === 'openmetrics' ? 'application/openmetrics-text; version=1.0.0; charset=utf-8' : 'text/plain; version=0.0.4';
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics\n`));
}

async function cycleMain(families: number, help: boolean, format: ExpositionFormat): Promise<void> {
  const server = spawn(process.execPath, [self, '--server', `--families=${families}`, `--format=${format}`, ...(help ? ['--help'] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const config = parseConfigText(`
shard:
  num_shards: 4
  scrape_interval: 1h
  scrape_timeout: 10m
  sources:
    - url: ${url}
`);
  const svc = new ShardService(config.shard!, pino({ level: 'warn' }));
  await initHash();
  await svc.runCycle(); // warm-up: JIT, connection
  const runs: { wall: number; scrape: number; stall: number }[] = [];
  const count = Number(args.runs ?? 3);
  for (let i = 0; i < count; i++) {
    gc();
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const t0 = performance.now();
    await svc.runCycle();
    const wall = performance.now() - t0;
    h.disable();
    runs.push({ wall, scrape: svc.sources[0].durationMs, stall: h.max / 1e6 });
  }
  const src = svc.sources[0];
  if (!src.up) throw new Error(`source failed: ${src.lastError}`);
  runs.sort((a, b) => a.wall - b.wall);
  const med = runs[Math.floor(runs.length / 2)];
  process.stdout.write(
    `${JSON.stringify({
      via: 'cycle',
      format,
      help,
      families: src.families,
      body_mb: mb(src.bodyBytes),
      cycle_wall_ms_median: Math.round(med.wall),
      scrape_ms_median: Math.round(med.scrape),
      max_event_loop_stall_ms: Math.round(Math.max(...runs.map((r) => r.stall))),
      runs: runs.length,
      peak_rss_mb: mb(process.resourceUsage().maxRSS * 1024),
    })}\n`,
  );
  server.kill();
  await svc.stop();
}

function driver(): void {
  const families = Number(args.families ?? 1_000_000);
  console.log(`# node ${process.version}, ${cpus().length} x ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  const run = (flags: string[]): void => {
    const out = execFileSync(process.execPath, ['--expose-gc', self, '--child', `--families=${families}`, ...flags], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    console.log(out.trim().split('\n').pop());
  };
  for (const format of ['text', 'openmetrics']) {
    run(['--via=ingest', `--format=${format}`]);
    run(['--via=ingest', `--format=${format}`, '--help']);
  }
  run(['--via=cycle', '--format=text']);
}

const families = Number(args.families ?? 1_000_000);
const help = args.help === 'true';
const format = (args.format ?? 'text') as ExpositionFormat;
if (args.server !== undefined) serverMain(families, help, format);
else if (args.child !== undefined) await (args.via === 'cycle' ? cycleMain(families, help, format) : ingestMain(families, help, format));
else driver();
