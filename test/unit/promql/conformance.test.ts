// Prometheus's own PromQL test files (../shared/promqltest, Apache-2.0, read from there) against our
// engine: v2.42 in prometheus-2 mode, v3.5 in prometheus-3 mode, every eval its own test. Skipped:
// only native histograms and what Prometheus 3.5 keeps behind feature flags, each with its reason.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSuite, type EvalOutcome } from '../../../src/promql/promqltest/conformance.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared', 'promqltest');

const suites = [
  { version: 'v2.42', semantics: 'prometheus-2' as const },
  { version: 'v3.5', semantics: 'prometheus-3' as const },
];

describe('PromQL conformance', () => {
  it('has the test files beside the repository', () => {
    for (const { version } of suites) {
      expect(
        existsSync(path.join(shared, version)),
        `missing ${path.join(shared, version)}: Prometheus's PromQL test files must sit in shared/promqltest beside the repository`,
      ).toBe(true);
    }
  });
});

for (const { version, semantics } of suites) {
  const dir = path.join(shared, version);
  if (!existsSync(dir)) continue;
  const { outcomes } = await runSuite(dir, semantics);
  const byFile = new Map<string, EvalOutcome[]>();
  for (const o of outcomes) (byFile.get(o.file) ?? byFile.set(o.file, []).get(o.file)!).push(o);
  // The skips, grouped by reason, printed with every run.
  const reasons = new Map<string, number>();
  for (const o of outcomes) if (o.outcome.status === 'skipped') reasons.set(o.outcome.reason, (reasons.get(o.outcome.reason) ?? 0) + 1);
  if (reasons.size > 0) process.stdout.write(`promqltest ${version} skipped evals by reason:\n${[...reasons].map(([r, n]) => `  ${n} x ${r}`).join('\n')}\n`);
  describe(`promqltest ${version} (${semantics})`, () => {
    for (const [file, list] of byFile) {
      describe(file, () => {
        for (const o of list) {
          const name = `line ${o.line}: ${o.expr}`;
          if (o.outcome.status === 'skipped') {
            it.skip(`${name} [skipped: ${o.outcome.reason}]`, () => {});
          } else {
            const outcome = o.outcome;
            it(name, () => {
              expect(outcome.status === 'failed' ? outcome.reason : 'passed').toBe('passed');
            });
          }
        }
      });
    }
  });
}
