// File patterns of file_sd_configs, matched like Go's filepath.Glob (which Prometheus uses), with
// metacharacters honoured in the file name only; Prometheus's own rule already keeps "*" there.

import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const META = /[*?[]/;

/** A regular expression for one path element in Go's filepath.Match syntax (*, ?, [a-z], [^x], \x). */
export function globElementToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
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

/** The regular files the pattern names now, sorted; a missing directory names none. */
export async function expandFilePattern(pattern: string): Promise<string[]> {
  const dir = path.dirname(pattern);
  const base = path.basename(pattern);
  if (!META.test(base)) {
    try {
      return (await stat(pattern)).isFile() ? [pattern] : [];
    } catch {
      return [];
    }
  }
  const re = globElementToRegExp(base);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names.filter((x) => re.test(x)).sort()) {
    const file = path.join(dir, n);
    try {
      if ((await stat(file)).isFile()) out.push(file);
    } catch {
      // removed meanwhile
    }
  }
  return out;
}
