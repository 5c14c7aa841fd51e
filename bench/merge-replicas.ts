// The HA merge alone (mergeSeriesSets), the query layer's hot loop: 2 replicas x 10,000 series x 240
// samples, aligned and with a gap in one replica, counters and gauges. Run by hand:
// `npm run bench:merge` (results in docs/performance.md). Optional argument: a module path exporting
// mergeSeriesSets to measure instead (an older merge.ts compiled alongside, for before/after).
import { mergeSeriesSets as current } from '../src/query/merge.js';
import type { Series } from '../src/storage/interface.js';

type Merge = (sets: Series[][], aa: number) => Series[];

function replicaSet(n: number, samples: number, gapFrom: number, gapTo: number, skewMs: number): Series[] {
  const out: Series[] = [];
  for (let k = 0; k < n; k++) {
    const name = k % 2 === 0 ? 'requests_total' : 'temperature';
    const ts: number[] = [];
    for (let i = 0; i < samples; i++) if (i < gapFrom || i >= gapTo) ts.push(i * 15_000 + skewMs);
    out.push({
      labels: [
        { name: '__name__', value: name },
        { name: 'instance', value: `host-${String(k).padStart(5, '0')}` },
      ],
      timestamps: Float64Array.from(ts),
      values: Float64Array.from(ts, (t) => t / 1000),
    });
  }
  return out;
}

async function main(): Promise<void> {
  const merge: Merge = process.argv[2] ? ((await import(process.argv[2])) as { mergeSeriesSets: Merge }).mergeSeriesSets : current;
  const cases = [
    { name: 'aligned, no gaps', a: replicaSet(10_000, 240, 0, 0, 0), b: replicaSet(10_000, 240, 0, 0, 0) },
    { name: 'skewed 2 s, no gaps', a: replicaSet(10_000, 240, 0, 0, 0), b: replicaSet(10_000, 240, 0, 0, 2_000) },
    { name: 'skewed 2 s, gap in A', a: replicaSet(10_000, 240, 80, 120, 0), b: replicaSet(10_000, 240, 0, 0, 2_000) },
  ];
  for (const c of cases) {
    const times: number[] = [];
    for (let run = 0; run < 7; run++) {
      const t0 = performance.now();
      // New lists each run: the same lists merged again are answered from the first merge.
      merge([c.a.slice(), c.b.slice()], 10_000);
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    console.log(`${c.name}: median ${times[3].toFixed(0)} ms, best ${times[0].toFixed(0)} ms (7 runs, 2 x 10,000 series x 240 samples)`);
  }
}

await main();
