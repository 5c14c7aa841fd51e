// RE2 regular expressions with Prometheus semantics: fully anchored, linear time, Go's error texts.
//
// Prometheus 3 compiles a matcher regex `re` as `^(?s:re)$` (so `.` matches a newline); Prometheus 2
// compiled `^(?:re)$`. Callers choose with `dotAll`. Matching runs on re2js (a port of RE2), so the
// running time is linear in the input whatever the pattern.
//
// A few shapes that Prometheus's FastRegexMatcher also short-circuits are matched without running the
// regex engine at all: a literal, an alternation of literals (a Set), `lit.*` / `.*lit` / `.*lit.*`
// (and the `.+` variants), `.*` and `.+`. They are exact: they agree with the engine on every input.

import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';
import { RegexError } from '../errors.js';

export interface RegexOptions {
  /** `.` matches `\n` (Prometheus 3); false gives Prometheus 2's behaviour. */
  readonly dotAll: boolean;
}

export interface CompiledRegex {
  /** The pattern as the user wrote it (without the anchoring wrapper). */
  readonly source: string;
  readonly dotAll: boolean;
  /** The anchored program, `^(?s:source)$` or `^(?:source)$`. */
  readonly re: RE2JS;
  /** Number of capturing groups (group 0, the whole match, excluded), as Go's NumSubexp(). */
  readonly groupCount: number;
  /** names[i] is the name of group i, '' when unnamed (names[0] is ''), as Go's SubexpNames(). */
  readonly names: ReadonlyArray<string>;
  /** Whether the whole of `value` matches; uses a fast path when the pattern allows it. */
  readonly matches: (value: string) => boolean;
  /** Which fast path `matches` uses ('regex' when none). For tests and diagnostics. */
  readonly strategy: MatchStrategy;
}

export type MatchStrategy = 'literal' | 'set' | 'dots' | 'regex';

// ---------------------------------------------------------------------------------------------
// Cache

const CACHE_LIMIT = 1000;

type CacheEntry = { ok: true; value: CompiledRegex } | { ok: false; error: RegexError };

/** A small LRU on top of Map's insertion order. */
class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly limit: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.limit) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
    }
  }
  get size(): number {
    return this.map.size;
  }
  clear(): void {
    this.map.clear();
  }
}

const cache = new LruCache<string, CacheEntry>(CACHE_LIMIT);

/** For tests: number of cached patterns, and a way to empty the cache. */
export function regexCacheSize(): number {
  return cache.size;
}
export function clearRegexCache(): void {
  cache.clear();
}

/**
 * Compiles `pattern` fully anchored, RE2 syntax. Cached (LRU, 1000 entries), including failures.
 * Throws RegexError with Go's message for an invalid pattern.
 */
export function compileRegex(pattern: string, opts: RegexOptions): CompiledRegex {
  const key = (opts.dotAll ? 's' : 'n') + pattern;
  let entry = cache.get(key);
  if (entry === undefined) {
    try {
      entry = { ok: true, value: build(pattern, opts.dotAll) };
    } catch (e) {
      if (!(e instanceof RegexError)) throw e;
      entry = { ok: false, error: e };
    }
    cache.set(key, entry);
  }
  if (!entry.ok) throw entry.error;
  return entry.value;
}

/** Convenience: the anchored match function of a pattern. */
export function regexMatcher(pattern: string, opts: RegexOptions): (value: string) => boolean {
  return compileRegex(pattern, opts).matches;
}

/**
 * The error Go's regexp.Compile("^(?:" + pattern + ")$") gives, as Prometheus 2.x reported an
 * invalid matcher regex (quoting the anchored text); undefined when that text compiles.
 */
export function anchoredRegexError(pattern: string): string | undefined {
  try {
    RE2JS.compile(`^(?:${pattern})$`);
    return undefined;
  } catch (e) {
    return goError(e, pattern).message;
  }
}

function goError(e: unknown, pattern: string): RegexError {
  if (e instanceof RE2JSSyntaxException) {
    // Go always prints ": `expr`", even when expr is empty (trailing backslash).
    return new RegexError(`error parsing regexp: ${e.error}: \`${e.input ?? ''}\``, pattern);
  }
  if (e instanceof RE2JSException) {
    const msg = e.message.startsWith('error parsing regexp') ? e.message : `error parsing regexp: ${e.message}`;
    return new RegexError(msg, pattern);
  }
  return new RegexError(`error parsing regexp: ${String(e)}`, pattern);
}

function build(pattern: string, dotAll: boolean): CompiledRegex {
  // Parse the pattern on its own first, as Prometheus does (syntax.Parse(v)): the error then names the
  // user's text, and a pattern such as `a)|(b` cannot become valid by being wrapped.
  let bare: RE2JS;
  try {
    bare = RE2JS.compile(pattern);
  } catch (e) {
    throw goError(e, pattern);
  }
  // An unterminated \Q quotes to the end of the pattern; close it so the wrapper stays syntax.
  const body = endsInsideQuote(pattern) ? pattern + '\\E' : pattern;
  let re: RE2JS;
  try {
    re = RE2JS.compile((dotAll ? '^(?s:' : '^(?:') + body + ')$');
  } catch (e) {
    throw goError(e, pattern);
  }
  const groupCount = re.groupCount();
  const names: string[] = new Array<string>(groupCount + 1).fill('');
  for (const [name, idx] of Object.entries(bare.namedGroups())) names[idx] = name;

  const fast = fastPath(pattern, dotAll);
  const matches = fast?.fn ?? ((value: string) => re.testExact(value));
  return { source: pattern, dotAll, re, groupCount, names, matches, strategy: fast?.strategy ?? 'regex' };
}

/** Whether the pattern ends inside an unterminated `\Q...` (only called on patterns that parsed). */
function endsInsideQuote(p: string): boolean {
  let i = 0;
  while (i < p.length) {
    if (p.charCodeAt(i) === 0x5c /* \ */) {
      if (p[i + 1] === 'Q') {
        const end = p.indexOf('\\E', i + 2);
        if (end < 0) return true;
        i = end + 2;
      } else {
        i += 2;
      }
    } else {
      i++;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Fast paths

const META = new Set(['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$']);

type Token = { k: 'lit'; s: string } | { k: 'star' } | { k: 'plus' } | { k: 'alt' };

/**
 * Splits a pattern into literal runs, `.*`, `.+` and top-level `|`; undefined when anything else
 * (classes, groups, flags, other repetitions, letter escapes...) occurs.
 */
function tokenize(p: string): Token[] | undefined {
  const out: Token[] = [];
  let lit = '';
  const flush = () => {
    if (lit !== '') out.push({ k: 'lit', s: lit });
    lit = '';
  };
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (!META.has(c)) {
      lit += c;
      continue;
    }
    if (c === '\\') {
      const n = p[i + 1];
      // Escaped ASCII punctuation is the character itself (Go: c < RuneSelf && !isalnum(c)).
      if (n !== undefined && /^[!-/:-@[-`{-~]$/.test(n)) {
        lit += n;
        i++;
        continue;
      }
      return undefined;
    }
    if (c === '.') {
      const n = p[i + 1];
      const after = p[i + 2];
      if ((n === '*' || n === '+') && after !== '?' && after !== '*' && after !== '+' && after !== '{') {
        flush();
        out.push({ k: n === '*' ? 'star' : 'plus' });
        i++;
        continue;
      }
      return undefined;
    }
    if (c === '|') {
      flush();
      out.push({ k: 'alt' });
      continue;
    }
    return undefined;
  }
  flush();
  return out;
}

function fastPath(p: string, dotAll: boolean): { fn: (v: string) => boolean; strategy: MatchStrategy } | undefined {
  const toks = tokenize(p);
  if (toks === undefined) return undefined;

  if (toks.some((t) => t.k === 'alt')) {
    // Alternation of plain literals (empty alternatives allowed): a Set.
    const set = new Set<string>();
    let cur = '';
    for (const t of toks) {
      if (t.k === 'alt') {
        set.add(cur);
        cur = '';
      } else if (t.k === 'lit') {
        cur = t.s;
      } else {
        return undefined;
      }
    }
    set.add(cur);
    return { fn: (v) => set.has(v), strategy: 'set' };
  }

  // [dots] [literal] [dots]
  let i = 0;
  let lead: 'star' | 'plus' | undefined;
  let trail: 'star' | 'plus' | undefined;
  let lit = '';
  if (i < toks.length && (toks[i].k === 'star' || toks[i].k === 'plus')) lead = toks[i++].k as 'star' | 'plus';
  if (i < toks.length && toks[i].k === 'lit') lit = (toks[i++] as { s: string }).s;
  if (i < toks.length && (toks[i].k === 'star' || toks[i].k === 'plus')) trail = toks[i++].k as 'star' | 'plus';
  if (i !== toks.length) return undefined;

  if (lead === undefined && trail === undefined) {
    return { fn: (v) => v === lit, strategy: 'literal' };
  }
  // Without (?s), a dot never matches '\n'; a literal holding '\n' is rare: leave it to the engine.
  if (!dotAll && lit.includes('\n')) return undefined;
  const minLead = lead === 'plus' ? 1 : 0;
  const minTrail = trail === 'plus' ? 1 : 0;
  const noNewline = (v: string) => dotAll || v.indexOf('\n') < 0;
  let fn: (v: string) => boolean;
  if (lead === undefined) {
    // lit.*  lit.+
    fn = (v) => v.length >= lit.length + minTrail && v.startsWith(lit) && noNewline(v);
  } else if (trail === undefined) {
    // .*lit  .+lit
    fn = (v) => v.length >= lit.length + minLead && v.endsWith(lit) && noNewline(v);
  } else if (lit === '') {
    // .*  .+  .*.*  .+.+ ...
    // Dots count runes, not UTF-16 units: '.+.+' rejects a lone surrogate pair.
    const min = minLead + minTrail;
    fn = min < 2 ? (v) => v.length >= min && noNewline(v) : (v) => atLeastRunes(v, min) && noNewline(v);
  } else {
    // .*lit.*  (the first occurrence at or after minLead is the best candidate)
    fn = (v) => {
      const at = v.indexOf(lit, minLead);
      return at >= 0 && at + lit.length + minTrail <= v.length && noNewline(v);
    };
  }
  return { fn, strategy: 'dots' };
}

function atLeastRunes(v: string, min: number): boolean {
  if (v.length < min) return false;
  if (v.length >= 2 * min) return true;
  let n = 0;
  for (const _ of v) if (++n >= min) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Template expansion and label_replace

export interface TemplateMatch {
  /** groups[0] is the whole match, groups[i] capture group i; undefined when the group did not participate. */
  readonly groups: ReadonlyArray<string | undefined>;
  /** names[i] is the name of group i ('' when unnamed), as Go's SubexpNames(). Optional. */
  readonly names?: ReadonlyArray<string>;
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/**
 * Go's Regexp.Expand: `$name` / `${name}` where name is the longest run of letters, digits and '_';
 * a name that is a decimal number without a leading zero (below 1e8) is a group index; an unknown
 * or non-participating group expands to ''; `$$` is '$'; a malformed reference leaves '$' as is.
 * So `$1x` is the (absent) group named "1x" and `${1}x` is group 1 followed by "x".
 */
export function expandTemplate(template: string, match: TemplateMatch): string {
  let out = '';
  let t = template;
  for (;;) {
    const dollar = t.indexOf('$');
    if (dollar < 0) break;
    out += t.slice(0, dollar);
    t = t.slice(dollar + 1);
    if (t.startsWith('$')) {
      out += '$';
      t = t.slice(1);
      continue;
    }
    const ref = extractRef(t);
    if (ref === undefined) {
      out += '$';
      continue;
    }
    t = ref.rest;
    if (ref.num >= 0) {
      out += match.groups[ref.num] ?? '';
    } else if (match.names !== undefined) {
      const names = match.names;
      for (let i = 0; i < names.length; i++) {
        if (names[i] === ref.name && match.groups[i] !== undefined) {
          out += match.groups[i];
          break;
        }
      }
    }
  }
  return out + t;
}

function extractRef(s: string): { name: string; num: number; rest: string } | undefined {
  if (s === '') return undefined;
  let brace = false;
  if (s[0] === '{') {
    brace = true;
    s = s.slice(1);
  }
  let i = 0;
  for (const ch of s) {
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === 0) return undefined;
  const name = s.slice(0, i);
  if (brace) {
    if (i >= s.length || s[i] !== '}') return undefined;
    i++;
  }
  let num = 0;
  for (let j = 0; j < name.length; j++) {
    const c = name.charCodeAt(j);
    if (c < 0x30 || c > 0x39 || num >= 1e8) {
      num = -1;
      break;
    }
    num = num * 10 + (c - 0x30);
  }
  if (name[0] === '0' && name.length > 1) num = -1;
  return { name, num, rest: s.slice(i) };
}

/** Runs the anchored regex on `input` and returns its capture groups, or undefined when it does not match. */
export function matchAnchored(regex: CompiledRegex, input: string): TemplateMatch | undefined {
  const m = regex.re.matcher(input);
  if (!m.matches()) return undefined;
  const groups = new Array<string | undefined>(regex.groupCount + 1);
  for (let i = 0; i <= regex.groupCount; i++) groups[i] = m.group(i) ?? undefined;
  return { groups, names: regex.names };
}

/**
 * label_replace's core: when the anchored regex matches the whole input, the expanded template;
 * undefined when it does not match. `regex` may be a pattern string (compiled with `opts`, cached).
 */
export function replaceAnchored(regex: CompiledRegex | string, input: string, template: string, opts: RegexOptions = { dotAll: true }): string | undefined {
  const re = typeof regex === 'string' ? compileRegex(regex, opts) : regex;
  const m = matchAnchored(re, input);
  return m === undefined ? undefined : expandTemplate(template, m);
}
