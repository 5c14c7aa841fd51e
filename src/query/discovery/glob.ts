// File patterns of file_sd_configs, matched like Go's filepath.Glob (which Prometheus uses), with
// metacharacters honoured in the file name only; Prometheus's own rule already keeps "*" there.
//
// Written here rather than taken from a glob package so a pattern means exactly what it means to
// Prometheus (the same file_sd_configs must select the same files), and because Node 20 has no
// fs.glob.

import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

const META = /[*?[]/;

/** A regular expression for one path element in Go's filepath.Match syntax (*, ?, [a-z], [^x], \x). */
export function globElementToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) throw new Error(`unterminated [ in pattern ${JSON.stringify(pattern)}`);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\]\\^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 'u');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, (m) => `\\${m}`);
}

/**
 * The paths the pattern names now, sorted; a missing directory names none. Like Go's Glob, any kind
 * of entry matches: one that cannot be read as a file is then a read error, not a missing file.
 */
export async function expandFilePattern(pattern: string): Promise<string[]> {
  const dir = path.dirname(pattern);
  const base = path.basename(pattern);
  if (!META.test(base)) {
    try {
      await lstat(pattern);
      return [pattern];
    } catch {
      return [];
    }
  }
  const re = globElementToRegExp(base);
  try {
    return (await readdir(dir))
      .filter((n) => re.test(n))
      .sort()
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}
