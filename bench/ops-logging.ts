// Benchmark of the operator-facing costs added by issue 10: a request-log line written as logfmt
// against the same line as JSON (pino's own format, the peer), and one render of the process_* and
// nodejs_* families that every /metrics scrape pays. Run by hand: `npm run bench:ops`.

import { renderProcessMetrics, startEventLoopMonitor } from '../src/server/process-metrics.js';
import { createLogger, type LogFormat } from '../src/server/logger.js';

const LINES = 200_000;

function logLines(format: LogFormat): { ms: number; bytes: number } {
  let bytes = 0;
  const log = createLogger({ level: 'info', format, destination: { write: (l: string) => void (bytes += l.length) } }).child({ component: 'query' });
  const t0 = performance.now();
  for (let i = 0; i < LINES; i++) {
    log.info(
      {
        endpoint: '/api/v1/query_range',
        method: 'GET',
        type: 'range',
        status: 200,
        duration_ms: 12.5,
        groups: ['shard-0', 'shard-1', 'shard-2'],
        series: 120,
        samples: 43_200,
        query: 'sum by (job) (rate(http_requests_total{job=~"api|web"}[5m]))',
        warnings: ['server group "shard-2" left out: connection refused'],
      },
      'query api request',
    );
  }
  return { ms: performance.now() - t0, bytes };
}

function processMetrics(): { perRenderUs: number; bytes: number } {
  startEventLoopMonitor();
  const n = 2_000;
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) bytes = renderProcessMetrics().length;
  return { perRenderUs: ((performance.now() - t0) / n) * 1000, bytes };
}

for (const format of ['json', 'logfmt', 'json', 'logfmt'] as const) {
  const r = logLines(format);
  console.log(
    `${format.padEnd(6)} ${LINES} lines: ${r.ms.toFixed(0)} ms, ${((LINES / r.ms) * 1000).toFixed(0)} lines/s, ${(r.bytes / LINES).toFixed(0)} bytes/line`,
  );
}
const p = processMetrics();
console.log(`process_*/nodejs_* render: ${p.perRenderUs.toFixed(0)} µs each, ${p.bytes} bytes`);
