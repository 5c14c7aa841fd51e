// `npm run conformance`: Prometheus's PromQL test files against our engine, v2.42 in prometheus-2
// mode and v3.5 in prometheus-3 mode. Prints per file and in total "N passed, N failed, N skipped"
// (the total last); --verbose lists every failure and skip with its reason.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSuite } from './conformance.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared', 'promqltest');
const verbose = process.argv.includes('--verbose');
const only = process.argv.find((a) => a.startsWith('--file='))?.slice(7);

const suites = [
  { dir: path.join(shared, 'v2.42'), semantics: 'prometheus-2' as const },
  { dir: path.join(shared, 'v3.5'), semantics: 'prometheus-3' as const },
];

let passed = 0;
let failed = 0;
let skipped = 0;
for (const { dir, semantics } of suites) {
  if (!existsSync(dir)) {
    process.stderr.write(`missing ${dir}: Prometheus's PromQL test files must sit in shared/promqltest beside the repository\n`);
    process.exit(2);
  }
  const { perFile, outcomes } = await runSuite(dir, semantics);
  for (const f of perFile) {
    if (only && f.file !== only) continue;
    process.stdout.write(`${path.basename(dir)}/${f.file} (${semantics}): ${f.passed} passed, ${f.failed} failed, ${f.skipped} skipped\n`);
    passed += f.passed;
    failed += f.failed;
    skipped += f.skipped;
  }
  if (verbose) {
    for (const o of outcomes) {
      if (only && o.file !== only) continue;
      if (o.outcome.status !== 'passed')
        process.stdout.write(`  ${o.outcome.status.toUpperCase()} ${o.file}:${o.line} ${o.expr}\n    ${o.outcome.reason.split('\n')[0]}\n`);
    }
  }
}
process.stdout.write(`Total: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(failed > 0 ? 1 : 0);
