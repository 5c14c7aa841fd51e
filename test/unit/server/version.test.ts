// One version everywhere: package.json's, in the user agent and the build-info metric.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderSelfMetrics } from '../../../src/server/self-metrics.js';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRevision, REVISION, USER_AGENT, VERSION } from '../../../src/version.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('version', () => {
  it("is package.json's, in the user agent and in promfront_build_info", () => {
    expect(VERSION).toBe(pkg.version);
    expect(USER_AGENT).toBe(`promfront/${pkg.version}`);
    const text = renderSelfMetrics(undefined, { requests: new Map() }, Date.now());
    expect(text).toContain('# TYPE promfront_build_info gauge\n');
    expect(text).toContain(`\npromfront_build_info{version="${pkg.version}",revision="${REVISION}",nodejs="${process.version}"} 1\n`);
  });

  it('reads the revision from $PROMFRONT_REVISION, a REVISION file, or the git files of a checkout or worktree', () => {
    const sha = (c: string) => c.repeat(40);
    const root = (files: Record<string, string>) => {
      const dir = mkdtempSync(join(tmpdir(), 'promfront-rev-'));
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(join(dir, name, '..'), { recursive: true });
        writeFileSync(join(dir, name), text);
      }
      return dir;
    };
    expect(readRevision(root({}), 'abc123')).toBe('abc123');
    expect(readRevision(root({ REVISION: `${sha('a')}\n` }), undefined)).toBe(sha('a'));
    expect(readRevision(root({ '.git/HEAD': `${sha('b')}\n` }), undefined)).toBe(sha('b'));
    expect(readRevision(root({ '.git/HEAD': 'ref: refs/heads/main\n', '.git/refs/heads/main': `${sha('c')}\n` }), undefined)).toBe(sha('c'));
    expect(readRevision(root({ '.git/HEAD': 'ref: refs/heads/main\n', '.git/packed-refs': `# pack-refs\n${sha('d')} refs/heads/main\n` }), undefined)).toBe(
      sha('d'),
    );
    // A worktree: .git is a file naming its git directory, whose refs live in the common directory.
    const main = root({
      'repo/.git/worktrees/wt/HEAD': 'ref: refs/heads/h\n',
      'repo/.git/worktrees/wt/commondir': '../..\n',
      'repo/.git/refs/heads/h': sha('e'),
    });
    const wt = root({ '.git': `gitdir: ${join(main, 'repo/.git/worktrees/wt')}\n` });
    expect(readRevision(wt, undefined)).toBe(sha('e'));
    expect(readRevision(root({}), undefined)).toBe('unknown');
    expect(readRevision(undefined, undefined)).toBe('unknown');
  });
});
