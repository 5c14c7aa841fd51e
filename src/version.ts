// The program's name and version, read once from package.json, for everything that reports them:
// the User-Agent of scrapes, /api/v1/status/buildinfo, `./proxy --version` and the
// promfront_build_info metric. One source, so they cannot disagree.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROGRAM = 'promfront';

/**
 * The version in package.json. Looked up upwards from this file because the same code runs from
 * src/ (tests), dist/src/ (./proxy) and dist-tools/src/ (benches); 'unknown' when none is found.
 */
function readVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = path.join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === PROGRAM && pkg.version) return pkg.version;
      } catch {
        // an unreadable package.json of something else: keep looking upwards
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return 'unknown';
}

export const VERSION = readVersion();

/** `promfront/0.1.0`, as Prometheus sends `Prometheus/2.42.0`. */
export const USER_AGENT = `${PROGRAM}/${VERSION}`;

/** The runtime in the place Prometheus's build info has its Go version. */
export const RUNTIME_VERSION = `node${process.versions.node}`;
