// The scanner core shared by both exposition formats: the parser's state, the character classes, and the pieces
// of a line both grammars read the same way (metric names, label sets).
//
// The state lives in one class so every format's code works on the same object with monomorphic field accesses;
// the format-specific line grammars (text.ts, openmetrics.ts) and the family checks (groups.ts) are plain
// functions that take the core as their first argument. This module imports none of them, so the core never
// depends on a format: where it must reach format code (ending an OpenMetrics group with its family), the
// function is handed in at construction (endGroups).
//
// A line is located with indexOf('\n') and parsed in place: names are checked with charCodeAt and a class table,
// label values are delimited with indexOf (native searching is several times faster than a JavaScript loop over
// the characters), and the only strings produced are the slices the handler gets (names, label names and values,
// value and timestamp text, HELP texts). Comparing text with cached strings costs more than slicing, so nothing
// is interned. Slices of 13 characters or more are V8 sliced strings that keep the whole body alive while held.
//
// The scraper decodes bodies as latin1 (one char per UTF-8 byte) after checking they are valid UTF-8, so every
// check here works on code units; a properly decoded UTF-16 string parses the same way.

import { ExpositionError } from '../exposition.js';
import { NameTable } from './name-table.js';
import { NumberReader } from './numbers.js';
import { quoteSnippet, unescape } from './escapes.js';
import type { ExpositionHandler, FamilyMeta, MetricType, Sample } from '../exposition.js';

// ---------------------------------------------------------------------------------------------------------------
// Character classes

export const C_METRIC_START = 1;
export const C_METRIC = 2;
export const C_LABEL_START = 4;
export const C_LABEL = 8;

/** Indexed by any UTF-16 code unit, so lookups never go out of bounds. */
export const CHAR_CLASS = new Uint8Array(65536);
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (alpha || c === 95) CHAR_CLASS[c] = C_METRIC_START | C_METRIC | C_LABEL_START | C_LABEL;
  else if (c === 58) CHAR_CLASS[c] = C_METRIC_START | C_METRIC;
  else if (c >= 48 && c <= 57) CHAR_CLASS[c] = C_METRIC | C_LABEL;
}

export const CH_TAB = 9;
export const CH_SPACE = 32;
export const CH_QUOTE = 34;
export const CH_HASH = 35;
export const CH_COMMA = 44;
export const CH_EQUALS = 61;
export const CH_BACKSLASH = 92;
export const CH_BRACE_OPEN = 123;
export const CH_BRACE_CLOSE = 125;

export function skipBlanks(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c !== CH_SPACE && c !== CH_TAB) break;
    i++;
  }
  return i;
}

// ---------------------------------------------------------------------------------------------------------------
// Types and sample kinds

export const T_COUNTER = 0;
export const T_GAUGE = 1;
export const T_HISTOGRAM = 2;
export const T_GAUGEHISTOGRAM = 3;
export const T_SUMMARY = 4;
export const T_INFO = 5;
export const T_STATESET = 6;
export const T_UNKNOWN = 7;

export const TYPE_NAMES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown'];

export const K_BARE = 0;
export const K_TOTAL = 1;
export const K_CREATED = 2;
export const K_BUCKET = 3;
export const K_COUNT = 4;
export const K_SUM = 5;
export const K_GCOUNT = 6;
export const K_GSUM = 7;
export const K_INFO = 8;
export const SUFFIXES = ['', '_total', '_created', '_bucket', '_count', '_sum', '_gcount', '_gsum', '_info'];

/** The sample kinds of a family before its TYPE: its own name only. */
export const BARE_KINDS: readonly number[] = [K_BARE];

/** Ends the current OpenMetrics group with its family (see openmetrics.ts); the text format has no groups. */
export type FamilyEndHook = (p: ParserCore) => void;

function noEndGroups(): void {}

export class ParserCore {
  /** Number parsing state of this parser alone (kind of the last number read). */
  readonly num = new NumberReader();
  text: string;
  readonly handler: ExpositionHandler;
  /** OpenMetrics (true) or text 0.0.4: fixed for the parser's life, one body is one format. */
  readonly om: boolean;
  line = 0;

  /** Handed to the handler for every family (it copies what it keeps), so no object is made per family. */
  readonly meta: FamilyMeta = { name: '', type: 'unknown', help: undefined, unit: undefined };

  readonly sample: Sample = {
    text: '',
    name: '',
    labels: [],
    value: 0,
    valueText: '',
    timestampMs: undefined,
    timestampText: undefined,
    exemplar: undefined,
    escaped: undefined,
    lineStart: 0,
    seriesEnd: 0,
    lineEnd: 0,
  };
  readonly labels: string[];
  /** Per label pair k of the current sample: [2k] where its name starts, [2k+1] just after its closing quote. */
  labelPos = new Int32Array(64);
  /** Whether a label value of the current sample had a backslash. */
  labelsEscaped = false;
  readonly exemplarLabels: string[] = [];
  /** The previous sample's name. */
  predName = '';
  /** Position of the next backslash at or after the last label value start (text.length when none). */
  nextBackslash = -1;

  // The current family.
  famActive = false;
  famName = '';
  /** The family name's entry in `used`. */
  famEntry = -1;
  famType = T_UNKNOWN;
  famHelp: string | undefined = undefined;
  famUnit: string | undefined = undefined;
  famHasHelp = false;
  famHasType = false;
  famHasUnit = false;
  famHasSamples = false;
  famReported = false;
  famKinds: readonly number[] = BARE_KINDS;
  /** The sample names the current family may use; rewritten in place for each family (see groups.ts). */
  famSampleNames: string[] = [];
  /** Last sample name seen in the current family and its kind. */
  lastName = '';
  lastKind = K_BARE;
  /** Every family name and every sample name a family may use, with the family it belongs to. */
  readonly used = new NameTable();

  // OpenMetrics: the current group (a Metric: a label set, without le/quantile/the stateset label) of the family.
  /** Keys of the family's groups so far, in increasing order; replaced by seenGroupSet once the order breaks. */
  readonly seenGroupKeys: string[] = [];
  seenGroupSet: Set<string> | null = null;
  pairOrder = new Int32Array(32);
  /** Label names (without the excluded one) of the family's first label set, in their order; see groupKeyOf. */
  familyLabelOrder: string[] | null = null;
  groupActive = false;
  groupKey = '';
  /** rawGroupText of the previous sample. */
  groupRaw = '';
  groupHasTs = false;
  /** Seconds, when groupHasTs. */
  groupTs = 0.5;
  groupLine = 0;
  groupHasTotal = false;

  // OpenMetrics histograms: the current MetricPoint (a group at one timestamp).
  ptActive = false;
  ptHasBucket = false;
  ptLastLe = 0;
  ptLastLeText = '';
  ptLastBucket = 0;
  ptNegBucket = false;
  ptHasCount = false;
  ptCount = 0;
  ptHasSum = false;
  ptNegSum = false;

  // OpenMetrics: what only the end of the body can tell.
  sawEof = false;
  endedWithNewline = true;
  /** Called when a family ends; given at construction by the format that needs it, so the core imports no format. */
  readonly endGroups: FamilyEndHook;

  constructor(text: string, handler: ExpositionHandler, om: boolean, endGroups: FamilyEndHook = noEndGroups) {
    this.text = text;
    this.handler = handler;
    this.om = om;
    this.endGroups = endGroups;
    this.labels = this.sample.labels;
  }

  fail(reason: string, line: number = this.line): never {
    throw new ExpositionError(line, reason);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Labels

  /**
   * Parses label pairs starting just after '{' and returns the index after '}'. Writes names and unescaped values
   * to `out` (truncated to what was parsed). With `record`, remembers where each pair is and whether values had
   * escapes (for group keys). Text format: blanks between tokens and a trailing comma are allowed.
   *
   * Values are found with indexOf and sliced: native searching beats any per-character loop in JavaScript, and a
   * slice is cheaper than comparing the text with a cached string.
   */
  parseLabels(i: number, eol: number, out: string[], record: boolean, text: boolean, what: string): number {
    const s = this.text;
    let n = 0;
    if (text) i = skipBlanks(s, i, eol);
    if (i < eol && s.charCodeAt(i) === CH_BRACE_CLOSE) {
      i++;
    } else {
      for (;;) {
        const ns = i;
        if (i >= eol) this.fail(`unterminated label set in ${what}: missing '}'`);
        if (!(CHAR_CLASS[s.charCodeAt(i)] & C_LABEL_START)) {
          if (s.charCodeAt(i) === CH_BRACE_CLOSE) this.fail(`trailing comma in the labels of ${what}`);
          this.fail(`invalid label name ${this.labelNameSnippet(i, eol)} in ${what}`);
        }
        i++;
        while (i < eol && CHAR_CLASS[s.charCodeAt(i)] & C_LABEL) i++;
        const name = s.slice(ns, i);
        if (text) i = skipBlanks(s, i, eol);
        if (i >= eol || s.charCodeAt(i) !== CH_EQUALS) {
          const found = i < eol ? `, found ${quoteSnippet(s, i, i + 1)}` : '';
          this.fail(`expected '=' after label name "${name}" in ${what}${found}`);
        }
        i++;
        if (text) i = skipBlanks(s, i, eol);
        if (i >= eol || s.charCodeAt(i) !== CH_QUOTE) this.fail(`expected '"' to open the value of label "${name}" in ${what}`);
        const vs = ++i;
        // The value ends at the first quote unless a backslash comes before it. The next backslash is searched
        // once and remembered until passed, so bodies without backslashes are searched for them only once.
        const q = s.indexOf('"', vs);
        if (q < 0 || q >= eol) this.fail(`unterminated value of label "${name}" in ${what}: missing closing '"'`);
        if (this.nextBackslash < vs) {
          const b = s.indexOf('\\', vs);
          this.nextBackslash = b < 0 ? s.length : b;
        }
        let value: string;
        if (this.nextBackslash > q) {
          i = q;
          value = s.slice(vs, q);
        } else {
          for (;;) {
            if (i >= eol) this.fail(`unterminated value of label "${name}" in ${what}: missing closing '"'`);
            const ch = s.charCodeAt(i);
            if (ch === CH_QUOTE) break;
            i += ch === CH_BACKSLASH ? 2 : 1;
          }
          value = unescape(s, vs, i, true);
          if (record) this.labelsEscaped = true;
        }
        i++;
        out[n] = name;
        out[n + 1] = value;
        if (record) {
          let p = this.labelPos;
          if (n + 1 >= p.length) {
            const grown = new Int32Array(p.length * 2);
            grown.set(p);
            this.labelPos = p = grown;
          }
          p[n] = ns;
          p[n + 1] = i;
        }
        n += 2;
        if (text) i = skipBlanks(s, i, eol);
        const c = i < eol ? s.charCodeAt(i) : -1;
        if (c === CH_COMMA) {
          i++;
          if (text) {
            i = skipBlanks(s, i, eol);
            if (i < eol && s.charCodeAt(i) === CH_BRACE_CLOSE) {
              i++;
              break;
            }
          }
          continue;
        }
        if (c === CH_BRACE_CLOSE) {
          i++;
          break;
        }
        this.fail(
          c === -1
            ? `unterminated label set in ${what}: missing '}'`
            : `expected ',' or '}' after the value of label "${name}" in ${what}, found ${quoteSnippet(s, i, i + 1)}`,
        );
      }
    }
    if (out.length !== n) out.length = n;
    return i;
  }

  /**
   * Name of the sample starting at `pos`: the previous sample's name when the text repeats it (a native string
   * comparison), else scanned and checked. Only checks the characters of the name itself.
   */
  metricName(pos: number, eol: number): string {
    const s = this.text;
    const pn = this.predName;
    if (pn !== '' && this.nameAt(pn, pos, eol)) return pn;
    // A family's first sample usually has the family's own name (a body of many one-sample families).
    const fn = this.famName;
    if (fn !== pn && fn !== '' && this.nameAt(fn, pos, eol)) return (this.predName = fn);
    if (!(CHAR_CLASS[s.charCodeAt(pos)] & C_METRIC_START)) {
      this.fail(s.charCodeAt(pos) === CH_SPACE ? 'unexpected space at the start of the line' : `invalid metric name ${this.tokenSnippet(pos, eol)}`);
    }
    let i = pos + 1;
    while (i < eol && CHAR_CLASS[s.charCodeAt(i)] & C_METRIC) i++;
    return (this.predName = s.slice(pos, i));
  }

  /** Whether the metric name at `pos` is `name` (startsWith: no slice is made to compare). */
  private nameAt(name: string, pos: number, eol: number): boolean {
    const after = pos + name.length;
    return after <= eol && (after === eol || !(CHAR_CLASS[this.text.charCodeAt(after)] & C_METRIC)) && this.text.startsWith(name, pos);
  }

  tokenSnippet(start: number, eol: number): string {
    const s = this.text;
    let e = start;
    while (e < eol && s.charCodeAt(e) !== CH_SPACE && s.charCodeAt(e) !== CH_TAB && s.charCodeAt(e) !== CH_BRACE_OPEN) e++;
    return quoteSnippet(s, start, e === start ? Math.min(eol, start + 1) : e);
  }

  labelNameSnippet(start: number, eol: number): string {
    const s = this.text;
    let e = start;
    while (e < eol && s.charCodeAt(e) !== CH_EQUALS && s.charCodeAt(e) !== CH_COMMA && s.charCodeAt(e) !== CH_BRACE_CLOSE) e++;
    return quoteSnippet(s, start, e === start ? Math.min(eol, start + 1) : e);
  }
}

export function findLabel(labels: string[], name: string): number {
  for (let k = 0; k < labels.length; k += 2) if (labels[k] === name) return k >> 1;
  return -1;
}
