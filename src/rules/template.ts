// The subset of Go's text/template that Prometheus rule labels and annotations use, with
// Prometheus's template functions (humanize*, printf, toUpper, ...). Rules are written against
// Go's template language; promfront has no Go, so this is our own small implementation of what
// rule files actually contain. Parsing is separate from execution so that check-config rejects, at
// load time, a template using what is not implemented here (with, define, template, block, query
// and the other functions that reach back into the TSDB), with an error naming it.

/** What a template sees, as Prometheus's rules.tmplData plus the $-variables it predefines. */
export interface TemplateData {
  labels: Record<string, string>;
  externalLabels: Record<string, string>;
  externalURL: string;
  value: number;
}

type Node =
  | { k: 'text'; s: string }
  | { k: 'action'; p: Pipe }
  | { k: 'if'; p: Pipe; then: Node[]; else: Node[] }
  | { k: 'range'; vars: string[]; p: Pipe; body: Node[]; else: Node[] };

interface Pipe {
  decl: string | undefined;
  cmds: Arg[][];
}

type Arg =
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'var'; name: string; fields: string[] }
  | { k: 'dot'; fields: string[] }
  | { k: 'fn'; name: string }
  | { k: 'pipe'; p: Pipe };

export class TemplateError extends Error {}

type Fn = (...args: unknown[]) => unknown;

const FUNCS: Record<string, Fn> = {
  humanize: (v) => humanize(toFloat(v)),
  humanize1024: (v) => humanize1024(toFloat(v)),
  humanizeDuration: (v) => humanizeDuration(toFloat(v)),
  humanizePercentage: (v) => goG(toFloat(v) * 100, 4) + '%',
  humanizeTimestamp: (v) => humanizeTimestamp(toFloat(v)),
  printf: (f, ...args) => goSprintf(String(f), args),
  toUpper: (s) => String(s).toUpperCase(),
  toLower: (s) => String(s).toLowerCase(),
  title: (s) => String(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  stripPort: (s) => {
    const t = String(s);
    const m = /^(\[[^\]]*\]|[^:]*):\d*$/.exec(t);
    return m ? m[1].replace(/^\[|\]$/g, '') : t;
  },
  reReplaceAll: (re, repl, s) => String(s).replace(new RegExp(String(re), 'g'), String(repl).replace(/\$\{?(\w+)\}?/g, '$$$1')),
  match: (re, s) => new RegExp(`^(?:${String(re)})$`).test(String(s)),
  len: (v) => (typeof v === 'string' ? v.length : v !== null && typeof v === 'object' ? Object.keys(v).length : 0),
  index: (m, k) => (m as Record<string, unknown>)[String(k)] ?? '',
  eq: (a, ...b) => b.some((x) => x === a),
  ne: (a, b) => a !== b,
  lt: (a, b) => (a as number) < (b as number),
  le: (a, b) => (a as number) <= (b as number),
  gt: (a, b) => (a as number) > (b as number),
  ge: (a, b) => (a as number) >= (b as number),
  not: (a) => !truthy(a),
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
};

/** Functions of Go's templates or of Prometheus's that promfront does not implement. */
const UNSUPPORTED = new Set([
  'query',
  'first',
  'label',
  'value',
  'strvalue',
  'sortByLabel',
  'args',
  'tmpl',
  'safeHtml',
  'pathPrefix',
  'externalURL',
  'parseDuration',
  'toTime',
  'html',
  'js',
  'urlquery',
  'call',
  'slice',
  'print',
  'println',
  'graphLink',
  'tableLink',
]);
const UNSUPPORTED_KEYWORDS = new Set(['with', 'define', 'template', 'block', 'break', 'continue']);

/** A parsed template, ready to run many times. */
export class Template {
  private constructor(private readonly nodes: Node[]) {}

  /** Parses `text` as Prometheus's rule templates would; `name` is used in errors as Go's template name. */
  static parse(name: string, text: string): Template {
    return new Template(new Parser(name, text).parseAll());
  }

  execute(data: TemplateData): string {
    const vars = new Map<string, unknown>([
      ['$', data],
      ['$labels', data.labels],
      ['$externalLabels', data.externalLabels],
      ['$externalURL', data.externalURL],
      ['$value', data.value],
    ]);
    const dot = { Labels: data.labels, ExternalLabels: data.externalLabels, ExternalURL: data.externalURL, Value: data.value };
    const out: string[] = [];
    run(this.nodes, dot, vars, out);
    return out.join('');
  }
}

/** Expands `text` (Prometheus's expandTemplate): on error, the error's text instead, as Prometheus does. */
export function expand(name: string, text: string, data: TemplateData): string {
  if (!text.includes('{{')) return text;
  try {
    return Template.parse(name, text).execute(data);
  } catch (e) {
    return `<error expanding template: ${(e as Error).message}>`;
  }
}

class Parser {
  private pos = 0;
  private line = 1;
  constructor(
    private readonly name: string,
    private readonly src: string,
  ) {}

  private fail(msg: string): never {
    throw new TemplateError(`template: ${this.name}:${this.line}: ${msg}`);
  }

  parseAll(): Node[] {
    const [nodes, end] = this.parseList();
    if (end !== undefined) this.fail(`unexpected {{${end}}}`);
    return nodes;
  }

  /** Parses nodes until {{end}} / {{else ...}} or the end of input; returns which ended it. */
  private parseList(): [Node[], string | undefined, string] {
    const nodes: Node[] = [];
    let trimNext = false;
    for (;;) {
      const open = this.src.indexOf('{{', this.pos);
      let text = this.src.slice(this.pos, open < 0 ? undefined : open);
      if (trimNext) text = text.replace(/^\s+/, '');
      if (open < 0) {
        if (text) nodes.push({ k: 'text', s: text });
        this.pos = this.src.length;
        return [nodes, undefined, ''];
      }
      let start = open + 2;
      if (this.src.startsWith('- ', start) || this.src.startsWith('-\t', start) || this.src.startsWith('-\n', start)) {
        text = text.replace(/\s+$/, '');
        start += 1;
      }
      if (text) nodes.push({ k: 'text', s: text });
      this.line += countLines(this.src.slice(this.pos, open));
      const close = this.findClose(start);
      if (close < 0) this.fail('unclosed action');
      let inner = this.src.slice(start, close);
      trimNext = false;
      const after = close + 2;
      if (/\s-$/.test(inner)) {
        inner = inner.slice(0, -1);
        trimNext = true;
      }
      this.pos = after;
      const body = inner.trim();
      this.line += countLines(inner);
      if (body.startsWith('/*')) {
        if (!body.endsWith('*/')) this.fail('unclosed comment');
        continue;
      }
      if (body === '') this.fail('missing value for command');
      const kw = /^([a-z]+)\b\s*([^]*)$/.exec(body);
      const word = kw?.[1];
      if (word === 'end') return [nodes, 'end', ''];
      if (word === 'else') return [nodes, 'else', kw![2]];
      if (word !== undefined && UNSUPPORTED_KEYWORDS.has(word)) this.fail(`{{${word}}} is not supported by promfront's rule templates`);
      if (word === 'if') {
        nodes.push(this.parseIf(kw![2]));
        continue;
      }
      if (word === 'range') {
        nodes.push(this.parseRange(kw![2]));
        continue;
      }
      nodes.push({ k: 'action', p: new PipeParser(body, (m) => this.fail(m)).pipe() });
    }
  }

  private findClose(from: number): number {
    let i = from;
    while (i < this.src.length) {
      const c = this.src[i];
      if (c === '"' || c === '`') {
        const q = c;
        i++;
        while (i < this.src.length && this.src[i] !== q) {
          if (q === '"' && this.src[i] === '\\') i++;
          if (this.src[i] === '\n' && q === '"') return -1;
          i++;
        }
        i++;
        continue;
      }
      if (c === '}' && this.src[i + 1] === '}') return i;
      i++;
    }
    return -1;
  }

  private parseIf(cond: string): Node {
    const p = new PipeParser(cond, (m) => this.fail(m)).pipe();
    const [then, end, rest] = this.parseList();
    if (end === undefined) this.fail('unexpected EOF');
    if (end === 'end') return { k: 'if', p, then, else: [] };
    if (/^if\b/.test(rest)) return { k: 'if', p, then, else: [this.parseIf(rest.slice(2))] };
    const [els, end2] = this.parseList();
    if (end2 !== 'end') this.fail('expected end; found ' + (end2 ?? 'EOF'));
    return { k: 'if', p, then, else: els };
  }

  private parseRange(spec: string): Node {
    const m = /^(\$\w*)\s*(?:,\s*(\$\w*)\s*)?:=\s*([^]*)$/.exec(spec);
    const vars = m ? [m[1], m[2]].filter((v): v is string => v !== undefined) : [];
    const p = new PipeParser(m ? m[3] : spec, (msg) => this.fail(msg)).pipe();
    const [body, end] = this.parseList();
    if (end === undefined) this.fail('unexpected EOF');
    if (end === 'end') return { k: 'range', vars, p, body, else: [] };
    const [els, end2] = this.parseList();
    if (end2 !== 'end') this.fail('expected end; found ' + (end2 ?? 'EOF'));
    return { k: 'range', vars, p, body, else: els };
  }
}

function countLines(s: string): number {
  let n = 0;
  for (const c of s) if (c === '\n') n++;
  return n;
}

class PipeParser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly fail: (m: string) => never,
  ) {}

  pipe(): Pipe {
    let decl: string | undefined;
    const m = /^\s*(\$\w*)\s*:?=\s*/.exec(this.s.slice(this.i));
    if (m) {
      decl = m[1];
      this.i += m[0].length;
    }
    const cmds: Arg[][] = [];
    let cmd: Arg[] = [];
    for (;;) {
      this.skipSpace();
      if (this.i >= this.s.length || this.s[this.i] === ')') break;
      if (this.s[this.i] === '|') {
        if (cmd.length === 0) this.fail('missing command');
        cmds.push(cmd);
        cmd = [];
        this.i++;
        continue;
      }
      cmd.push(this.operand());
    }
    if (cmd.length === 0) this.fail('missing value for command');
    cmds.push(cmd);
    return { decl, cmds };
  }

  private skipSpace(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private operand(): Arg {
    const rest = this.s.slice(this.i);
    let m: RegExpExecArray | null;
    if (rest[0] === '(') {
      this.i++;
      const p = this.pipe();
      if (this.s[this.i] !== ')') this.fail('unclosed left paren');
      this.i++;
      return { k: 'pipe', p };
    }
    if ((m = /^"((?:[^"\\]|\\.)*)"/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'str', v: JSON.parse(`"${m[1]}"`) as string };
    }
    if ((m = /^`([^`]*)`/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'str', v: m[1] };
    }
    if ((m = /^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|0x[0-9a-fA-F]+)/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'num', v: Number(m[0]) };
    }
    if ((m = /^(\$\w*)((?:\.\w+)*)/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'var', name: m[1], fields: m[2].split('.').filter(Boolean) };
    }
    if ((m = /^\.((?:\w+)?(?:\.\w+)*)/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'dot', fields: m[1].split('.').filter(Boolean) };
    }
    if ((m = /^(true|false)\b/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'bool', v: m[1] === 'true' };
    }
    if ((m = /^[A-Za-z_]\w*/.exec(rest))) {
      this.i += m[0].length;
      const name = m[0];
      if (UNSUPPORTED.has(name)) this.fail(`function "${name}" is not supported by promfront's rule templates`);
      if (!(name in FUNCS)) this.fail(`function "${name}" not defined`);
      return { k: 'fn', name };
    }
    this.fail(`unexpected "${rest[0]}" in command`);
  }
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function field(v: unknown, fields: string[]): unknown {
  for (const f of fields) {
    if (v === null || typeof v !== 'object') throw new TemplateError(`can't evaluate field ${f}`);
    const o = v as Record<string, unknown>;
    // A missing map key is Go's zero value for map[string]string: the empty string ("<no value>" only for interface maps).
    v = f in o ? o[f] : '';
  }
  return v;
}

function evalArg(a: Arg, dot: unknown, vars: Map<string, unknown>, final: unknown[]): unknown {
  switch (a.k) {
    case 'str':
    case 'num':
    case 'bool':
      return a.v;
    case 'var': {
      if (!vars.has(a.name)) throw new TemplateError(`undefined variable "${a.name}"`);
      return field(vars.get(a.name), a.fields);
    }
    case 'dot':
      return field(dot, a.fields);
    case 'pipe':
      return evalPipe(a.p, dot, vars);
    case 'fn':
      return FUNCS[a.name](...final);
  }
}

function evalPipe(p: Pipe, dot: unknown, vars: Map<string, unknown>): unknown {
  let prev: unknown[] = [];
  let out: unknown;
  for (const cmd of p.cmds) {
    const [head, ...rest] = cmd;
    if (head.k === 'fn') {
      const args = rest.map((a) => evalArg(a, dot, vars, []));
      out = evalArg(head, dot, vars, [...args, ...prev]);
    } else {
      if (rest.length > 0) throw new TemplateError(`can't give argument to non-function`);
      out = evalArg(head, dot, vars, []);
    }
    prev = [out];
  }
  if (p.decl !== undefined) vars.set(p.decl, out);
  return out;
}

function printValue(v: unknown): string {
  if (typeof v === 'number') return goShortest(v);
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o)
      .sort()
      .map((k) => `${k}:${printValue(o[k])}`)
      .join(' ')}]`;
  }
  return `${v as string | boolean}`;
}

function run(nodes: Node[], dot: unknown, vars: Map<string, unknown>, out: string[]): void {
  for (const n of nodes) {
    switch (n.k) {
      case 'text':
        out.push(n.s);
        break;
      case 'action': {
        const v = evalPipe(n.p, dot, vars);
        if (n.p.decl === undefined) out.push(printValue(v));
        break;
      }
      case 'if':
        run(truthy(evalPipe(n.p, dot, vars)) ? n.then : n.else, dot, vars, out);
        break;
      case 'range': {
        const v = evalPipe(n.p, dot, vars);
        const entries: [unknown, unknown][] = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v !== null && typeof v === 'object'
            ? Object.keys(v)
                .sort()
                .map((k) => [k, (v as Record<string, unknown>)[k]])
            : [];
        if (entries.length === 0) run(n.else, dot, vars, out);
        for (const [k, x] of entries) {
          if (n.vars.length === 1) vars.set(n.vars[0], x);
          if (n.vars.length === 2) {
            vars.set(n.vars[0], k);
            vars.set(n.vars[1], x);
          }
          run(n.body, x, vars, out);
        }
        break;
      }
    }
  }
}

function toFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = Number(v);
    if (Number.isNaN(n) && v.trim() !== 'NaN') throw new TemplateError(`strconv.ParseFloat: parsing "${v}": invalid syntax`);
    return n;
  }
  throw new TemplateError(`can't convert ${String(v)} to float`);
}

/** Go's strconv.FormatFloat(v, 'g', prec, 64), as %.{prec}g prints it. */
export function goG(v: number, prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mant, expText] = v.toExponential(Math.max(0, prec - 1)).split('e');
  const exp = Number(expText);
  const digits = mant.replace(/\.?0+$/, '');
  if (exp < -4 || exp >= prec) return `${digits}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return v
    .toFixed(Math.max(0, prec - 1 - exp))
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '');
}

/** Go's %v of a float64 (strconv 'g' with the shortest digits). */
export function goShortest(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mant, expText] = v.toExponential().split('e');
  const exp = Number(expText);
  const nd = mant.replace('-', '').replace('.', '').length;
  let eprec = 6;
  if (eprec > nd && nd >= exp + 1) eprec = nd;
  if (exp < -4 || exp >= eprec) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(v);
}

function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return goG(v, 4);
  let prefix = '';
  if (Math.abs(v) >= 1) {
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return goG(v, 4) + prefix;
  }
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return goG(v, 4) + prefix;
}

function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return goG(v, 4);
  let prefix = '';
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return goG(v, 4) + prefix;
}

function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return goG(v, 4);
  if (v === 0) return goG(v, 4) + 's';
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    v = Math.abs(v);
    const d = Math.trunc(v);
    const s = d % 60;
    const m = Math.trunc(d / 60) % 60;
    const h = Math.trunc(d / 3600) % 24;
    const days = Math.trunc(d / 86400);
    if (days !== 0) return `${sign}${days}d ${h}h ${m}m ${s}s`;
    if (h !== 0) return `${sign}${h}h ${m}m ${s}s`;
    if (m !== 0) return `${sign}${m}m ${s}s`;
    return `${sign}${goG(v, 4)}s`;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${goG(v, 4)}${prefix}s`;
}

function humanizeTimestamp(v: number): string {
  if (!Number.isFinite(v)) return goG(v, 4);
  const ns = BigInt(Math.trunc(v * 1e9));
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString(); // 2006-01-02T15:04:05.000Z
  let frac = String(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n)
    .padStart(9, '0')
    .replace(/0+$/, '');
  if (frac) frac = '.' + frac;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac} +0000 UTC`;
}

/** Go's fmt.Sprintf for the verbs rule templates use: %s %v %d %f %g %e %q %x %%, with width and precision. */
export function goSprintf(format: string, args: unknown[]): string {
  let n = 0;
  return format.replace(
    /%([-+ 0#]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g,
    (_m, flags: string, width: string | undefined, precText: string | undefined, verb: string) => {
      if (verb === '%') return '%';
      if (n >= args.length) return `%!${verb}(MISSING)`;
      const a = args[n++];
      const prec = precText === undefined ? undefined : Number(precText);
      let s: string;
      switch (verb) {
        case 'd':
          s = typeof a === 'number' && Number.isInteger(a) ? String(a) : `%!d(${typeName(a)}=${printValue(a)})`;
          break;
        case 'f':
        case 'F':
          s = typeof a === 'number' ? (Number.isFinite(a) ? a.toFixed(prec ?? 6) : goShortest(a)) : `%!f(${typeName(a)}=${printValue(a)})`;
          break;
        case 'e':
          s = typeof a === 'number' ? a.toExponential(prec ?? 6).replace(/e([-+])(\d)$/, 'e$10$2') : `%!e(${typeName(a)}=${printValue(a)})`;
          break;
        case 'g':
          s = typeof a === 'number' ? (prec === undefined ? goShortest(a) : goG(a, prec)) : `%!g(${typeName(a)}=${printValue(a)})`;
          break;
        case 'q':
          s = JSON.stringify(String(a));
          break;
        case 'x':
          s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(String(a)).toString('hex');
          break;
        default:
          s = printValue(a);
          if (verb === 's' && prec !== undefined) s = s.slice(0, prec);
      }
      if (flags.includes('+') && typeof a === 'number' && a >= 0 && verb !== 's' && verb !== 'v') s = '+' + s;
      const w = width === undefined ? 0 : Number(width);
      if (s.length < w) s = flags.includes('-') ? s.padEnd(w) : flags.includes('0') && typeof a === 'number' ? s.padStart(w, '0') : s.padStart(w);
      return s;
    },
  );
}

function typeName(a: unknown): string {
  return typeof a === 'number' ? 'float64' : typeof a === 'string' ? 'string' : typeof a;
}
