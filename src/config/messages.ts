// Plain words for config mistakes: zod's issues turned into `path: what is wrong` lines a user can
// act on without reading the source ("required", "did you mean `num_shards`?", what YAML 1.1
// booleans are here), and YAML syntax errors with their line, column and the offending text.

import type { z } from 'zod';

interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  getter?: () => Schema;
}
interface Schema {
  _zod: { def: Def };
}

/** The schema a path leads to inside `root` (through optional, default, pipe, arrays, records), if any. */
function schemaAt(root: unknown, path: readonly PropertyKey[]): Schema | undefined {
  let s = root as Schema | undefined;
  let i = 0;
  for (let guard = 0; s && guard < 100; guard++) {
    const def = s._zod.def;
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else if (def.type === 'lazy' && def.getter) s = def.getter();
    // A union (a shard source: URL or nats) leads to its first branch that the rest of the path fits.
    else if (def.type === 'union' && def.options) s = def.options.find((o) => schemaAt(o, path.slice(i)) !== undefined);
    else if (i === path.length) return s;
    else if (def.type === 'object' && def.shape) s = def.shape[String(path[i++])];
    else if (def.type === 'array' && def.element) {
      s = def.element;
      i++;
    } else if (def.type === 'record' && def.valueType) {
      s = def.valueType;
      i++;
    } else return undefined;
  }
  return undefined;
}

/** The field names an object schema at `path` allows. */
export function knownKeys(root: unknown, path: readonly PropertyKey[]): string[] {
  const s = schemaAt(root, path);
  const shape = s?._zod.def.type === 'object' ? s._zod.def.shape : undefined;
  return shape ? Object.keys(shape) : [];
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = keep;
    }
  }
  return prev[b.length];
}

/** The known key nearest to `key`, when near enough to be a typo (or the same in other case or separators). */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_.\s]/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = norm(k) === norm(key) ? 0 : editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

// YAML 1.1 spelled booleans these ways; YAML 1.2 (what promfront reads) only true and false.
const YAML11_BOOLEANS = new Map<string, boolean>(
  ['y', 'yes', 'on'].map((w) => [w, true] as [string, boolean]).concat(['n', 'no', 'off'].map((w) => [w, false] as [string, boolean])),
);

/** The kind of a value, never the value: a mistyped field may hold a secret. */
function typeName(v: unknown): string {
  if (v === null) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return ({ string: 'a string', number: 'a number', boolean: 'a boolean' } as Record<string, string>)[typeof v] ?? typeof v;
}

const ARTICLE: Record<string, string> = {
  number: 'a number',
  boolean: 'true or false',
  string: 'a string',
  array: 'a list',
  object: 'a mapping',
  int: 'a whole number',
};

/**
 * Every issue as `path: what is wrong`. With `root` (the schema parsed against) an unknown field
 * gets the nearest known one as a suggestion. Issues need their input (safeParse with
 * reportInput: true) for "got ..." and the YAML 1.1 boolean hint; only its kind is shown, or the
 * word when it is a YAML 1.1 boolean, never a value (it could be a secret).
 */
export function plainIssues(issues: readonly z.core.$ZodIssue[], root?: unknown): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    // A union of string|number reports both branches; show what the user has to write instead.
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const nested = issue.errors.flat().map((e) => ({ ...e, path: [...issue.path, ...e.path] }));
      out.push(...plainIssues(nested, root).slice(0, 1));
      continue;
    }
    const path = issue.path.map(String).join('.') || '(top level)';
    const input = (issue as { input?: unknown }).input;
    let msg = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const known = root ? knownKeys(root, issue.path) : [];
      msg = issue.keys
        .map((k) => {
          const near = nearestKey(k, known);
          return `unknown field "${k}"${near ? `: did you mean "${near}"?` : ''}`;
        })
        .join('; ');
    } else if (issue.code === 'invalid_type') {
      if (input === undefined && /received undefined$/.test(issue.message)) msg = 'required';
      else if (issue.expected === 'boolean' && typeof input === 'string' && YAML11_BOOLEANS.has(input.toLowerCase())) {
        msg = `must be true or false: "${input}" is a boolean only in YAML 1.1; promfront reads YAML 1.2, so write ${String(YAML11_BOOLEANS.get(input.toLowerCase()))}`;
      } else msg = `must be ${ARTICLE[issue.expected] ?? issue.expected}${input !== undefined ? `, got ${typeName(input)}` : ''}`;
    }
    out.push(`${path}: ${msg}`);
  }
  return out;
}

/** A YAML parse error as `yaml: line L, column C: what: <the line's text>`. */
export function yamlProblem(err: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }, text: string): string {
  const what = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  const pos = err.linePos?.[0];
  if (!pos) return `yaml: ${what}`;
  const lines = text.split(/\r?\n/);
  const show = (l: string) => JSON.stringify(l.length > 120 ? `${l.slice(0, 120)}…` : l);
  const line = lines[pos.line - 1] ?? '';
  if (line.trim() !== '') return `yaml: line ${pos.line}, column ${pos.col}: ${what}: ${show(line)}`;
  // At a blank line or the end: the text that was left unfinished is above it.
  let k = Math.min(pos.line - 1, lines.length) - 1;
  while (k >= 0 && lines[k].trim() === '') k--;
  return `yaml: line ${pos.line}, column ${pos.col}: ${what}${k >= 0 ? `, after line ${k + 1}: ${show(lines[k])}` : ''}`;
}
