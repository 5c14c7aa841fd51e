// Measures parsing and sharding the synthetic 600k-series body (OpenMetrics) fed to StreamingIngest
// in 64 KiB pieces, with the duplicate-series check on and (--off) with it switched off, to give the
// check's own cost. CPU time (this process, user + system) is given too: on a shared machine it
// moves less than wall time. --identity adds the per-source identity labels (shard.source_identity:
// instance and job, as a URL source gets them) to every series, to give their cost the same way.
// Usage: node --expose-gc dist-tools/bench/shard-dup.js [--series=N] [--runs=N] [--off] [--identity]

import { generateExpositionBuffer } from '../dev/synthetic.js';
import { initHash } from '../src/shard/hash.js';
import { SourceIngest } from '../src/shard/ingest.js';
import { StreamingIngest } from '../src/shard/stream-ingest.js';

const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const series = arg('series', 600_000);
const runs = arg('runs', 3);
const off = process.argv.includes('--off');
const identity: [string, string][] = process.argv.includes('--identity')
  ? [
      ['instance', '127.0.0.1:9283'],
      ['job', 'promfront-shards'],
    ]
  : [];

await initHash();
const body = await generateExpositionBuffer({ series, format: 'openmetrics', timeMs: 0 });
if (off) {
  // The check's cost is the difference to a run where it never finds anything.
  (SourceIngest.prototype as unknown as { isDuplicate: () => boolean }).isDuplicate = () => false;
}
const gc = (globalThis as { gc?: () => void }).gc;
const times: string[] = [];
const cpus: string[] = [];
for (let r = 0; r < runs; r++) {
  gc?.();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const sink = new StreamingIngest('openmetrics', 4, [], undefined, identity);
  for (let i = 0; i < body.length; i += 65536) sink.write(body.subarray(i, i + 65536));
  const data = sink.finish();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(c0);
  times.push(ms.toFixed(0));
  cpus.push(((cpu.user + cpu.system) / 1000).toFixed(0));
  if (data.series + data.duplicates !== series) throw new Error(`expected ${series} samples, got ${data.series} + ${data.duplicates} duplicates`);
}
console.log(
  `series=${series} bytes=${body.length} check=${off ? 'off' : 'on'} identity=${identity.length > 0 ? 'on' : 'off'} wall ms: ${times.join(' ')}; CPU ms: ${cpus.join(' ')}`,
);
