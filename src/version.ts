// The program's name, version and source revision, read once, for everything that reports them:
// the User-Agent of scrapes, /api/v1/status/buildinfo, `./proxy --version`, /status and the
// promfront_build_info metric. One source, so they cannot disagree.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROGRAM = 'promfront';

/**
 * The version in package.json. Looked up upwards from this file because the same code runs from
 * src/ (tests), dist/src/ (./proxy) and dist-tools/src/ (benches); 'unknown' when none is found.
 */
function findPackage(): { version: string; dir: string | undefined } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = path.join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === PROGRAM && pkg.version) return { version: pkg.version, dir };
      } catch {
        // an unreadable package.json of something else: keep looking upwards
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return { version: 'unknown', dir: undefined };
}

const PACKAGE = findPackage();

export const VERSION = PACKAGE.version;

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The source revision: $PROMFRONT_REVISION, else a REVISION file next to package.json (written by
 * the Docker build, which has no .git), else the commit checked out in the package's git
 * directory (a worktree's `.git` file names it), read from the files so no git binary is needed.
 */
export function readRevision(root: string | undefined, env = process.env.PROMFRONT_REVISION?.trim()): string {
  if (env) return env;
  if (root === undefined) return 'unknown';
  const file = readText(path.join(root, 'REVISION'));
  if (file) return file;
  let gitDir = path.join(root, '.git');
  const pointer = readText(gitDir);
  if (pointer?.startsWith('gitdir:')) gitDir = path.resolve(root, pointer.slice('gitdir:'.length).trim());
  const head = readText(path.join(gitDir, 'HEAD'));
  if (head === undefined) return 'unknown';
  if (!head.startsWith('ref:')) return head;
  const ref = head.slice('ref:'.length).trim();
  // A worktree keeps its refs in the common directory it names.
  const common = readText(path.join(gitDir, 'commondir'));
  const dirs = [gitDir, ...(common ? [path.resolve(gitDir, common)] : [])];
  for (const d of dirs) {
    const loose = readText(path.join(d, ref));
    if (loose) return loose;
    const packed = readText(path.join(d, 'packed-refs'));
    const line = packed?.split('\n').find((l) => l.endsWith(` ${ref}`));
    if (line) return line.split(' ')[0];
  }
  return 'unknown';
}

export const REVISION = readRevision(PACKAGE.dir);

/** Node's version as prom-client's nodejs_version_info shows it (v20.18.1). */
export const NODEJS_VERSION = process.version;

/** `promfront/0.1.0`, as Prometheus sends `Prometheus/2.42.0`. */
export const USER_AGENT = `${PROGRAM}/${VERSION}`;

/** The runtime in the place Prometheus's build info has its Go version. */
export const RUNTIME_VERSION = `node${process.versions.node}`;
