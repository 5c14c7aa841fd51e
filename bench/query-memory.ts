// Peak memory of queries that allocate far more than they answer (issue 17): each query runs in a
// child process of its own, in-process against an empty in-memory storage, and reports its outcome,
// wall time and peak RSS (getrusage's maxrss). Run by hand; the figures are in
// docs/reliability.md (memory a query may use).
//
//   npm run build:tools && node dist-tools/bench/query-memory.js [--engine=DIR]
//
// --engine: a directory holding promql/engine.js and storage/memory.js (another build of src/, to
// compare before and after a change); default this build's.
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import type { Engine as EngineT } from '../src/promql/engine.js';
import type { MemoryStorage as MemoryStorageT } from '../src/storage/memory.js';

interface Case {
  name: string;
  query: string;
  /** Range query over [0, endS] at stepS, or an instant query at endS when stepS is 0. */
  endS: number;
  stepS: number;
}

const CASES: Case[] = [
  { name: 'subquery 12h at 1ms', query: 'count_over_time(vector(1)[12h:1ms])', endS: 86_400, stepS: 0 },
  { name: 'subquery 1d at 1ms', query: 'count_over_time(vector(1)[1d:1ms])', endS: 86_400, stepS: 0 },
  { name: 'count_values over 11,000 steps', query: 'count_values("v", vector(time()))', endS: 10_999, stepS: 1 },
  { name: 'count_values over 5,000 steps', query: 'count_values("v", vector(time()))', endS: 4_999, stepS: 1 },
];

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const here = path.dirname(fileURLToPath(import.meta.url));
const engineDir = path.resolve(args.engine ?? path.join(here, '../src'));

async function child(c: Case): Promise<void> {
  const { Engine } = (await import(pathToFileURL(path.join(engineDir, 'promql/engine.js')).href)) as { Engine: typeof EngineT };
  const { MemoryStorage } = (await import(pathToFileURL(path.join(engineDir, 'storage/memory.js')).href)) as { MemoryStorage: typeof MemoryStorageT };
  const engine = new Engine({ timeoutMs: 600_000 });
  const st = new MemoryStorage();
  const t0 = performance.now();
  let outcome: string;
  try {
    const out = c.stepS === 0 ? await engine.instantQuery(st, c.query, c.endS * 1000) : await engine.rangeQuery(st, c.query, 0, c.endS * 1000, c.stepS * 1000);
    const r = out.result;
    const n = r.resultType === 'vector' || r.resultType === 'matrix' ? r.result.length : 1;
    outcome = `ok, ${n} series`;
  } catch (e) {
    outcome = `refused: ${(e as Error).message}`;
  }
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ outcome, ms: Math.round(ms), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

if (args.child !== undefined) {
  await child(CASES[Number(args.child)]);
} else {
  console.log(`engine: ${engineDir}`);
  for (let i = 0; i < CASES.length; i++) {
    const c = CASES[i];
    let line: string;
    try {
      const out = execFileSync(process.execPath, ['--max-old-space-size=8192', fileURLToPath(import.meta.url), `--child=${i}`, `--engine=${engineDir}`], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      const r = JSON.parse(out) as { outcome: string; ms: number; maxRssMB: number };
      line = `${r.maxRssMB} MB peak RSS, ${r.ms} ms, ${r.outcome}`;
    } catch (e) {
      line = `child failed: ${(e as Error).message.split('\n')[0]}`;
    }
    console.log(`${c.name.padEnd(32)} ${c.query.padEnd(40)} ${line}`);
  }
}
