// One version everywhere: package.json's, in the user agent and the build-info metric.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderSelfMetrics } from '../../../src/server/self-metrics.js';
import { USER_AGENT, VERSION } from '../../../src/version.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('version', () => {
  it("is package.json's, in the user agent and in promfront_build_info", () => {
    expect(VERSION).toBe(pkg.version);
    expect(USER_AGENT).toBe(`promfront/${pkg.version}`);
    const text = renderSelfMetrics(undefined, { requests: new Map() }, Date.now());
    expect(text).toContain('# TYPE promfront_build_info gauge\n');
    expect(text).toMatch(new RegExp(`^promfront_build_info\\{version="${pkg.version.replace(/\./g, '\\.')}",runtime="node[^"]+"\\} 1$`, 'm'));
  });
});
