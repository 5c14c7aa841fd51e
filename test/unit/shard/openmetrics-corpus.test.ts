// Runs the OpenMetrics conformance corpus (github.com/prometheus/OpenMetrics, tests/testdata/parsers) through
// the parser. The corpus lives beside the repository in shared/openmetrics-parsers and is not copied into it.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExpositionError } from '../../../src/errors.js';
import type { ExpositionHandler } from '../../../src/shard/exposition.js';
import { ExpositionParser, parseExposition } from '../../../src/shard/textparse/parse.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const corpusDir = path.resolve(repoRoot, '..', 'shared', 'openmetrics-parsers');

interface Case {
  name: string;
  shouldParse: boolean;
  body: Buffer;
}

function loadCases(): Case[] {
  if (!existsSync(corpusDir)) return [];
  const cases: Case[] = [];
  for (const name of readdirSync(corpusDir).sort()) {
    const dir = path.join(corpusDir, name);
    if (!statSync(dir).isDirectory()) continue;
    const spec = JSON.parse(readFileSync(path.join(dir, 'test.json'), 'utf8')) as { file: string; shouldParse: boolean };
    cases.push({ name, shouldParse: spec.shouldParse, body: readFileSync(path.join(dir, spec.file)) });
  }
  return cases;
}

const cases = loadCases();

/** A handler that checks the parser keeps its promises: families before their samples, one reused Sample. */
function checkingHandler(): ExpositionHandler & { samples: number } {
  let current: string | undefined;
  let sampleObject: object | undefined;
  const h = {
    samples: 0,
    family(meta: { name: string }) {
      current = meta.name;
    },
    sample(s: { name: string; labels: string[] }) {
      if (current === undefined) throw new Error(`sample ${s.name} before any family`);
      if (sampleObject !== undefined && sampleObject !== s) throw new Error('a new Sample object was passed');
      sampleObject = s;
      if (s.labels.length % 2 !== 0) throw new Error('odd labels array');
      h.samples++;
    },
  };
  return h;
}

/** Parses whole, or pushed one line at a time as a download delivers it (`pieces`). */
function outcome(text: string, pieces = false): ExpositionError | undefined {
  try {
    if (pieces) {
      const p = new ExpositionParser('openmetrics', checkingHandler());
      for (const piece of text.split(/(?<=\n)/)) p.push(piece);
      p.end();
    } else {
      parseExposition(text, 'openmetrics', checkingHandler());
    }
    return undefined;
  } catch (err) {
    if (err instanceof ExpositionError) return err;
    throw err;
  }
}

describe('OpenMetrics conformance corpus', () => {
  it('is present next to the repository', () => {
    expect(existsSync(corpusDir), `OpenMetrics parser corpus not found at ${corpusDir}: check out shared/openmetrics-parsers beside the repository`).toBe(true);
    expect(cases.length, `no test cases found in ${corpusDir}`).toBeGreaterThan(200);
  });

  it.each(cases)('$name', ({ shouldParse, body }) => {
    // Bodies reach the parser decoded as latin1 (one char per byte, see the scraper); a UTF-8 decoding must
    // give the same verdict.
    for (const encoding of ['latin1', 'utf8'] as const) {
      const err = outcome(body.toString(encoding));
      if (shouldParse) expect(err?.message, `${encoding}: should parse`).toBeUndefined();
      else expect(err, `${encoding}: should be rejected`).toBeInstanceOf(ExpositionError);
    }
    // Fed line by line, the verdict and the line of the error are the same.
    const whole = outcome(body.toString('latin1'));
    const inPieces = outcome(body.toString('latin1'), true);
    expect(inPieces?.message, 'pushed line by line').toBe(whole?.message);
  });
});
