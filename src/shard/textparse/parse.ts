// Strict, allocation-light parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0.
//
// A line is located with indexOf('\n') and parsed in place: names are checked with charCodeAt and a class table,
// label values are delimited with indexOf (native searching is several times faster than a JavaScript loop over
// the characters), and the only strings produced are the slices the handler gets (names, label names and values,
// value and timestamp text, HELP texts). Comparing text with cached strings costs more than slicing, so nothing
// is interned. Slices of 13 characters or more are V8 sliced strings that keep the whole body alive while held.
//
// The scraper decodes bodies as latin1 (one char per UTF-8 byte) after checking they are valid UTF-8, so every
// check here works on code units; a properly decoded UTF-16 string parses the same way.

import { detach } from '../../util/strings.js';
import { isUtf8 } from 'node:buffer';
import { ExpositionError } from '../exposition.js';
import { NUM_INF, NUM_INVALID, NUM_NAN, NUM_REAL, NumberReader } from './numbers.js';
import { codePointCount, escapeLabelValue, quoteSnippet, readable, unescape } from './escapes.js';
import type { ExpositionFormat, ExpositionHandler, FamilyMeta, MetricType, Sample } from '../exposition.js';

/** 'openmetrics' for application/openmetrics-text (any version), otherwise 'text' (as Prometheus 2.x falls back). */
export function formatFromContentType(contentType: string | undefined): ExpositionFormat {
  if (contentType === undefined) return 'text';
  const semi = contentType.indexOf(';');
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return media === 'application/openmetrics-text' ? 'openmetrics' : 'text';
}

/**
 * Parses a whole exposition and reports its families and samples to `handler` as it goes.
 * Throws ExpositionError at the first problem; whatever the handler received before is then meaningless.
 */
export function parseExposition(text: string, format: ExpositionFormat, handler: ExpositionHandler): void {
  const parser = new ExpositionParser(format, handler);
  parser.push(text);
  parser.end();
}

/**
 * Incremental parsing: push() takes the body in pieces that each end with a newline (only the last
 * piece may lack it), so a body is parsed while it downloads and never held whole. Samples' offsets
 * refer to the piece being pushed. Line numbers in errors count from the start of the body.
 */
export class ExpositionParser {
  private readonly parser: Parser;
  constructor(private readonly format: ExpositionFormat, handler: ExpositionHandler) {
    this.parser = new Parser('', handler);
  }

  push(text: string): void {
    if (this.format === 'openmetrics') this.parser.parseOpenMetrics(text);
    else this.parser.parseText(text);
  }

  /** Checks what only the end can tell (# EOF, the last family) and reports the last family. */
  end(): void {
    if (this.format === 'openmetrics') this.parser.endOpenMetrics();
    else this.parser.endFamilyAtEnd();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Character classes

const C_METRIC_START = 1;
const C_METRIC = 2;
const C_LABEL_START = 4;
const C_LABEL = 8;

/** Indexed by any UTF-16 code unit, so lookups never go out of bounds. */
const CHAR_CLASS = new Uint8Array(65536);
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (alpha || c === 95) CHAR_CLASS[c] = C_METRIC_START | C_METRIC | C_LABEL_START | C_LABEL;
  else if (c === 58) CHAR_CLASS[c] = C_METRIC_START | C_METRIC;
  else if (c >= 48 && c <= 57) CHAR_CLASS[c] = C_METRIC | C_LABEL;
}

const CH_TAB = 9;
const CH_SPACE = 32;
const CH_QUOTE = 34;
const CH_HASH = 35;
const CH_COMMA = 44;
const CH_EQUALS = 61;
const CH_BACKSLASH = 92;
const CH_BRACE_OPEN = 123;
const CH_BRACE_CLOSE = 125;

function skipBlanks(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c !== CH_SPACE && c !== CH_TAB) break;
    i++;
  }
  return i;
}

// ---------------------------------------------------------------------------------------------------------------
// Types and sample kinds

const T_COUNTER = 0;
const T_GAUGE = 1;
const T_HISTOGRAM = 2;
const T_GAUGEHISTOGRAM = 3;
const T_SUMMARY = 4;
const T_INFO = 5;
const T_STATESET = 6;
const T_UNKNOWN = 7;

const TYPE_NAMES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown'];

const OM_TYPES = new Map<string, number>(TYPE_NAMES.map((name, t) => [name, t]));
const TEXT_TYPES = new Map<string, number>([
  ['counter', T_COUNTER],
  ['gauge', T_GAUGE],
  ['histogram', T_HISTOGRAM],
  ['summary', T_SUMMARY],
  ['untyped', T_UNKNOWN],
]);

const K_BARE = 0;
const K_TOTAL = 1;
const K_CREATED = 2;
const K_BUCKET = 3;
const K_COUNT = 4;
const K_SUM = 5;
const K_GCOUNT = 6;
const K_GSUM = 7;
const K_INFO = 8;
const SUFFIXES = ['', '_total', '_created', '_bucket', '_count', '_sum', '_gcount', '_gsum', '_info'];

/** Sample kinds each type allows, by type code. */
const OM_KINDS: readonly (readonly number[])[] = [
  [K_TOTAL, K_CREATED],
  [K_BARE],
  [K_BUCKET, K_COUNT, K_SUM, K_CREATED],
  [K_BUCKET, K_GCOUNT, K_GSUM],
  [K_BARE, K_COUNT, K_SUM, K_CREATED],
  [K_INFO],
  [K_BARE],
  [K_BARE],
];
const TEXT_KINDS: readonly (readonly number[])[] = [
  [K_BARE],
  [K_BARE],
  [K_BUCKET, K_SUM, K_COUNT],
  [],
  [K_BARE, K_SUM, K_COUNT],
  [],
  [],
  [K_BARE],
];

interface UsedName {
  /** The family the name belongs to. */
  family: string;
  line: number;
}

const MAX_EXEMPLAR_LABEL_CHARS = 128;

class Parser {
  /** Number parsing state of this parser alone (kind of the last number read). */
  private readonly num = new NumberReader();
  private text: string;
  private readonly handler: ExpositionHandler;
  private om = false;
  private line = 0;

  private readonly sample: Sample = {
    text: '',
    name: '',
    labels: [],
    value: 0,
    valueText: '',
    timestampMs: undefined,
    timestampText: undefined,
    exemplar: undefined,
    lineStart: 0,
    seriesEnd: 0,
    lineEnd: 0,
  };
  private readonly labels: string[];
  /** Per label pair k of the current sample: [2k] where its name starts, [2k+1] just after its closing quote. */
  private labelPos = new Int32Array(64);
  /** Whether a label value of the current sample had a backslash. */
  private labelsEscaped = false;
  private readonly exemplarLabels: string[] = [];
  /** The previous sample's name. */
  private predName = '';
  /** Position of the next backslash at or after the last label value start (text.length when none). */
  private nextBackslash = -1;

  // The current family.
  private famActive = false;
  private famName = '';
  private famType = T_UNKNOWN;
  private famHelp: string | undefined = undefined;
  private famUnit: string | undefined = undefined;
  private famHasHelp = false;
  private famHasType = false;
  private famHasUnit = false;
  private famHasSamples = false;
  private famReported = false;
  private famKinds: readonly number[] = [K_BARE];
  private famSampleNames: string[] = [];
  /** Last sample name seen in the current family and its kind. */
  private lastName = '';
  private lastKind = K_BARE;
  /** Every family name and every sample name a family may use, with the family it belongs to. */
  private readonly used = new Map<string, UsedName>();

  // OpenMetrics: the current group (a Metric: a label set, without le/quantile/the stateset label) of the family.
  /** Keys of the family's groups so far, in increasing order; replaced by seenGroupSet once the order breaks. */
  private readonly seenGroupKeys: string[] = [];
  private seenGroupSet: Set<string> | null = null;
  private pairOrder = new Int32Array(32);
  /** Label names (without the excluded one) of the family's first label set, in their order; see groupKeyOf. */
  private familyLabelOrder: string[] | null = null;
  private groupActive = false;
  private groupKey = '';
  /** rawGroupText of the previous sample. */
  private groupRaw = '';
  private groupHasTs = false;
  /** Seconds, when groupHasTs. */
  private groupTs = 0.5;
  private groupLine = 0;
  private groupHasTotal = false;

  // OpenMetrics histograms: the current MetricPoint (a group at one timestamp).
  private ptActive = false;
  private ptHasBucket = false;
  private ptLastLe = 0;
  private ptLastLeText = '';
  private ptLastBucket = 0;
  private ptNegBucket = false;
  private ptHasCount = false;
  private ptCount = 0;
  private ptHasSum = false;
  private ptNegSum = false;

  constructor(text: string, handler: ExpositionHandler) {
    this.text = text;
    this.handler = handler;
    this.labels = this.sample.labels;
  }

  private fail(reason: string, line: number = this.line): never {
    throw new ExpositionError(line, reason);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Text format 0.0.4

  parseText(text: string): void {
    this.om = false;
    this.text = text;
    this.sample.text = text;
    this.nextBackslash = -1;
    const s = text;
    const len = s.length;
    let pos = 0;
    while (pos < len) {
      this.line++;
      let eol = s.indexOf('\n', pos);
      if (eol < 0) eol = len;
      let c = s.charCodeAt(pos);
      if (c === CH_SPACE || c === CH_TAB) {
        pos = skipBlanks(s, pos, eol);
        c = pos < eol ? s.charCodeAt(pos) : -1;
      }
      if (c === CH_HASH) this.textComment(pos, eol);
      else if (pos < eol) this.textSample(pos, eol);
      pos = eol + 1;
    }
  }

  endFamilyAtEnd(): void {
    this.endFamily();
  }

  private textComment(pos: number, eol: number): void {
    const s = this.text;
    let i = pos + 1;
    if (i >= eol || (s.charCodeAt(i) !== CH_SPACE && s.charCodeAt(i) !== CH_TAB)) return;
    i = skipBlanks(s, i, eol);
    let isHelp: boolean;
    if (s.startsWith('HELP', i)) isHelp = true;
    else if (s.startsWith('TYPE', i)) isHelp = false;
    else return;
    const keyword = isHelp ? 'HELP' : 'TYPE';
    i += 4;
    if (i < eol && s.charCodeAt(i) !== CH_SPACE && s.charCodeAt(i) !== CH_TAB) return; // e.g. "# HELPFUL": a comment
    i = skipBlanks(s, i, eol);
    if (i >= eol) return; // "# HELP" alone: a comment, as Prometheus reads it
    const ns = i;
    if (!(CHAR_CLASS[s.charCodeAt(i)] & C_METRIC_START)) this.fail(`invalid metric name ${this.tokenSnippet(ns, eol)} in # ${keyword} line`);
    i++;
    while (i < eol && CHAR_CLASS[s.charCodeAt(i)] & C_METRIC) i++;
    if (i < eol && s.charCodeAt(i) !== CH_SPACE && s.charCodeAt(i) !== CH_TAB) {
      this.fail(`invalid metric name ${this.tokenSnippet(ns, eol)} in # ${keyword} line`);
    }
    const name = s.slice(ns, i);
    i = skipBlanks(s, i, eol);
    if (isHelp) {
      this.setHelp(name, unescape(s, i, eol, false));
      return;
    }
    let te = i;
    while (te < eol && s.charCodeAt(te) !== CH_SPACE && s.charCodeAt(te) !== CH_TAB) te++;
    const word = s.slice(i, te);
    if (skipBlanks(s, te, eol) < eol) this.fail(`unexpected text after the type in # TYPE line for ${name}`);
    const t = TEXT_TYPES.get(word);
    if (t === undefined) {
      this.fail(
        word === ''
          ? `# TYPE line for ${name} has no type`
          : `invalid metric type ${JSON.stringify(readable(word))} for ${name}: expected counter, gauge, histogram, summary or untyped`,
      );
    }
    this.setType(name, t);
  }

  private textSample(pos: number, eol: number): void {
    const s = this.text;
    const name = this.metricName(pos, eol);
    let i = pos + name.length;
    const labels = this.labels;
    let c = i < eol ? s.charCodeAt(i) : -1;
    if (c !== CH_SPACE && c !== CH_TAB && c !== CH_BRACE_OPEN && c !== -1) {
      this.fail(`invalid character ${JSON.stringify(readable(s[i]!))} in metric name ${this.tokenSnippet(pos, eol)}`);
    }
    let seriesEnd = i;
    i = skipBlanks(s, i, eol);
    if (i < eol && s.charCodeAt(i) === CH_BRACE_OPEN) {
      seriesEnd = this.parseLabels(i + 1, eol, labels, false, true, name);
      i = skipBlanks(s, seriesEnd, eol);
    } else if (labels.length !== 0) {
      labels.length = 0;
    }
    if (i >= eol) this.fail(`missing value for sample ${name}`);
    const vs = i;
    let ve = i;
    while (ve < eol && (c = s.charCodeAt(ve)) !== CH_SPACE && c !== CH_TAB) ve++;
    const value = this.num.parseNumber(s, i, ve);
    if (this.num.kind === NUM_INVALID) this.fail(`invalid value ${quoteSnippet(s, i, ve)} for sample ${name}`);
    if (this.num.kind === NUM_REAL && (value === Infinity || value === -Infinity)) {
      this.fail(`value ${quoteSnippet(s, i, ve)} of sample ${name} is out of the float64 range`);
    }
    let ts: number | undefined;
    let tsText: string | undefined;
    i = skipBlanks(s, ve, eol);
    if (i < eol) {
      let te = i;
      while (te < eol && (c = s.charCodeAt(te)) !== CH_SPACE && c !== CH_TAB) te++;
      ts = this.num.parseIntMs(s, i, te);
      tsText = s.slice(i, te);
      if (this.num.kind === NUM_INVALID) {
        this.fail(`invalid timestamp ${quoteSnippet(s, i, te)} for sample ${name}: expected an integer number of milliseconds`);
      }
      if (skipBlanks(s, te, eol) < eol) this.fail(`unexpected text after the timestamp of sample ${name}`);
    }

    const kind = this.sampleKind(name);
    this.checkLabelNames(labels, name);
    const smp = this.sample;
    smp.lineStart = pos;
    smp.seriesEnd = seriesEnd;
    smp.lineEnd = eol;
    this.emit(name, value, vs, ve, ts, tsText, undefined);
  }

  // -------------------------------------------------------------------------------------------------------------
  // OpenMetrics 1.0

  private sawEof = false;
  private endedWithNewline = true;

  parseOpenMetrics(text: string): void {
    this.om = true;
    this.text = text;
    this.sample.text = text;
    this.nextBackslash = -1;
    const s = text;
    const len = s.length;
    if (len === 0) return;
    if (this.sawEof) this.fail('unexpected content after # EOF: it must be the last line', this.line + 1);
    this.endedWithNewline = s.charCodeAt(len - 1) === 10;
    let pos = 0;
    while (pos < len) {
      this.line++;
      let eol = s.indexOf('\n', pos);
      if (eol < 0) eol = len;
      const c = s.charCodeAt(pos);
      if (c === CH_HASH) {
        if (eol - pos === 5 && s.startsWith('# EOF', pos)) {
          this.sawEof = true;
          this.endFamily();
          if (eol + 1 < len) this.fail('unexpected content after # EOF: it must be the last line', this.line + 1);
          break;
        }
        this.omMetadata(pos, eol);
      } else if (pos === eol) {
        this.fail('blank lines are not allowed in OpenMetrics');
      } else {
        this.omSample(pos, eol);
      }
      pos = eol + 1;
    }
  }

  endOpenMetrics(): void {
    if (!this.sawEof) {
      this.fail('missing # EOF: an OpenMetrics exposition must end with a "# EOF" line', this.endedWithNewline ? this.line + 1 : this.line);
    }
  }

  private omMetadata(pos: number, eol: number): void {
    const s = this.text;
    if (pos + 1 >= eol || s.charCodeAt(pos + 1) !== CH_SPACE) {
      this.fail(`invalid line ${quoteSnippet(s, pos, eol)}: OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines starting with #`);
    }
    let i = pos + 2;
    let ke = i;
    while (ke < eol && s.charCodeAt(ke) !== CH_SPACE) ke++;
    const keyword = s.slice(i, ke);
    if (keyword !== 'HELP' && keyword !== 'TYPE' && keyword !== 'UNIT') {
      this.fail(
        keyword === 'EOF'
          ? 'unexpected text after # EOF'
          : `invalid line ${quoteSnippet(s, pos, eol)}: OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines starting with #`,
      );
    }
    if (ke >= eol) this.fail(`# ${keyword} line without a metric name`);
    i = ke + 1;
    let ne = i;
    while (ne < eol && s.charCodeAt(ne) !== CH_SPACE) ne++;
    if (ne === i) this.fail(`# ${keyword} line without a metric name`);
    if (!(CHAR_CLASS[s.charCodeAt(i)] & C_METRIC_START)) this.fail(`invalid metric name ${quoteSnippet(s, i, ne)} in # ${keyword} line`);
    for (let k = i + 1; k < ne; k++) {
      if (!(CHAR_CLASS[s.charCodeAt(k)] & C_METRIC)) this.fail(`invalid metric name ${quoteSnippet(s, i, ne)} in # ${keyword} line`);
    }
    const name = s.slice(i, ne);
    if (ne >= eol) {
      this.fail(
        keyword === 'HELP'
          ? `# HELP line for ${name} needs a space and the help text after the name (the text may be empty)`
          : keyword === 'TYPE'
            ? `# TYPE line for ${name} has no type`
            : `# UNIT line for ${name} needs a space and the unit after the name (the unit may be empty)`,
      );
    }
    const rest = ne + 1;
    if (keyword === 'HELP') {
      this.setHelp(name, unescape(s, rest, eol, true));
    } else if (keyword === 'TYPE') {
      const word = s.slice(rest, eol);
      const t = OM_TYPES.get(word);
      if (t === undefined) {
        this.fail(
          `invalid metric type ${JSON.stringify(readable(word))} for ${name}: expected counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown`,
        );
      }
      this.setType(name, t);
    } else {
      this.setUnit(name, s.slice(rest, eol));
    }
  }

  private omSample(pos: number, eol: number): void {
    const s = this.text;
    const name = this.metricName(pos, eol);
    let i = pos + name.length;
    const labels = this.labels;
    this.labelsEscaped = false;
    let c = i < eol ? s.charCodeAt(i) : -1;
    if (c === CH_BRACE_OPEN) {
      i = this.parseLabels(i + 1, eol, labels, true, false, name);
      c = i < eol ? s.charCodeAt(i) : -1;
    } else {
      if (c !== CH_SPACE && c !== -1) {
        this.fail(`invalid character ${JSON.stringify(readable(s[i]!))} in metric name ${this.tokenSnippet(pos, eol)}`);
      }
      if (labels.length !== 0) labels.length = 0;
    }
    if (c !== CH_SPACE) {
      this.fail(c === -1 ? `missing value for sample ${name}` : `expected a space before the value of sample ${name}, found ${quoteSnippet(s, i, eol)}`);
    }
    const vs = i + 1;
    let ve = vs;
    while (ve < eol && s.charCodeAt(ve) !== CH_SPACE) ve++;
    const value = this.num.parseNumber(s, vs, ve);
    if (this.num.kind === NUM_INVALID) {
      this.fail(ve === vs ? `missing value for sample ${name} (exactly one space must separate the parts of a line)` : `invalid value ${quoteSnippet(s, vs, ve)} for sample ${name}`);
    }
    let tsSeconds: number | undefined;
    let tsText: string | undefined;
    let exemplar: string | undefined;
    if (ve < eol) {
      i = ve + 1;
      if (i < eol && s.charCodeAt(i) === CH_HASH) {
        exemplar = this.omExemplar(i, eol, name);
      } else {
        let te = i;
        while (te < eol && s.charCodeAt(te) !== CH_SPACE) te++;
        tsSeconds = this.num.parseNumber(s, i, te);
        if (this.num.kind !== NUM_REAL) {
          this.fail(
            te === i
              ? `unexpected space after the value of sample ${name}`
              : `invalid timestamp ${quoteSnippet(s, i, te)} for sample ${name}: expected a number of seconds`,
          );
        }
        tsText = s.slice(i, te);
        if (te < eol) {
          i = te + 1;
          if (i < eol && s.charCodeAt(i) === CH_HASH) exemplar = this.omExemplar(i, eol, name);
          else this.fail(`unexpected text ${quoteSnippet(s, te, eol)} after the timestamp of sample ${name}`);
        }
      }
    }
    const smp = this.sample;
    smp.lineStart = pos;
    smp.seriesEnd = vs - 1;
    smp.lineEnd = eol;
    this.omAccept(name, value, vs, ve, tsSeconds, tsText, exemplar);
  }

  /** Validates the exemplar starting at the '#' at `i` and returns its text after "# ". */
  private omExemplar(i: number, eol: number, name: string): string {
    const s = this.text;
    if (i + 2 >= eol || s.charCodeAt(i + 1) !== CH_SPACE || s.charCodeAt(i + 2) !== CH_BRACE_OPEN) {
      this.fail(`invalid exemplar ${quoteSnippet(s, i, eol)} on sample ${name}: expected "# {labels} value [timestamp]"`);
    }
    const start = i + 2;
    const ex = this.exemplarLabels;
    const what = `the exemplar of ${name}`;
    let j = this.parseLabels(start + 1, eol, ex, false, false, what);
    if (j >= eol || s.charCodeAt(j) !== CH_SPACE) this.fail(`missing value in ${what}`);
    j++;
    let ve = j;
    while (ve < eol && s.charCodeAt(ve) !== CH_SPACE) ve++;
    this.num.parseNumber(s, j, ve);
    if (this.num.kind === NUM_INVALID) this.fail(ve === j ? `missing value in ${what}` : `invalid value ${quoteSnippet(s, j, ve)} in ${what}`);
    if (ve < eol) {
      const ts = ve + 1;
      let te = ts;
      while (te < eol && s.charCodeAt(te) !== CH_SPACE) te++;
      this.num.parseNumber(s, ts, te);
      if (this.num.kind !== NUM_REAL) this.fail(te === ts ? `unexpected space after the value of ${what}` : `invalid timestamp ${quoteSnippet(s, ts, te)} in ${what}`);
      if (te < eol) this.fail(`unexpected text after the timestamp of ${what}`);
    }
    this.checkLabelNames(ex, what);
    let units = 0;
    for (let k = 0; k < ex.length; k++) units += ex[k].length;
    if (units > MAX_EXEMPLAR_LABEL_CHARS) {
      let chars = 0;
      for (let k = 0; k < ex.length; k++) chars += codePointCount(ex[k]);
      if (chars > MAX_EXEMPLAR_LABEL_CHARS) {
        this.fail(`the labels of the exemplar of ${name} have ${chars} characters; names and values together may have at most ${MAX_EXEMPLAR_LABEL_CHARS}`);
      }
    }
    return s.slice(start, eol);
  }

  /** `ts` is the timestamp in seconds as written (ordering is checked on it, not on truncated milliseconds). */
  private omAccept(
    name: string,
    value: number,
    vs: number,
    ve: number,
    ts: number | undefined,
    tsText: string | undefined,
    exemplar: string | undefined,
  ): void {
    const kind = this.sampleKind(name);
    const labels = this.labels;
    this.checkLabelNames(labels, name);
    const t = this.famType;

    // The label that tells a Metric's samples apart (excluded from the group), and per-kind value rules.
    let ex = -1;
    let le = 0;
    switch (kind) {
      case K_BUCKET: {
        ex = findLabel(labels, 'le');
        if (ex < 0) this.fail(`histogram bucket ${name} has no "le" label`);
        const lv = labels[2 * ex + 1];
        le = this.num.parseNumber(lv, 0, lv.length);
        if (!(this.num.kind === NUM_REAL || (this.num.kind === NUM_INF && (lv === '+Inf' || lv === '-Inf')))) {
          this.fail(`invalid "le" label value ${JSON.stringify(readable(lv))} in ${name}: expected a number or "+Inf"`);
        }
        this.checkCounterLike(name, value);
        break;
      }
      case K_BARE:
        if (t === T_SUMMARY) {
          ex = findLabel(labels, 'quantile');
          if (ex < 0) this.fail(`summary sample ${name} has no "quantile" label`);
          const qv = labels[2 * ex + 1];
          const q = this.num.parseNumber(qv, 0, qv.length);
          if (this.num.kind !== NUM_REAL || !(q >= 0 && q <= 1)) {
            this.fail(`invalid "quantile" label value ${JSON.stringify(readable(qv))} in ${name}: expected a number from 0 to 1`);
          }
          if (value < 0) this.fail(`quantile value ${value} of ${name} must not be negative`);
        } else if (t === T_STATESET) {
          ex = findLabel(labels, this.famName);
          if (ex < 0) this.fail(`stateset sample ${name} has no "${this.famName}" label naming its state`);
          if (value !== 0 && value !== 1) this.fail(`stateset sample ${name} has value ${value}; states must be 0 or 1`);
        }
        break;
      case K_TOTAL:
      case K_COUNT:
      case K_GCOUNT:
      case K_SUM:
        this.checkCounterLike(name, value);
        break;
      case K_GSUM:
        if (value !== value) this.fail(`${name} must not be NaN`);
        break;
      case K_INFO:
        if (value !== 1) this.fail(`info sample ${name} has value ${value}; info samples must have value 1`);
        break;
    }
    if (exemplar !== undefined && kind !== K_TOTAL && kind !== K_BUCKET) {
      this.fail(`exemplars are allowed only on counter _total and histogram _bucket samples, not on ${name} (${TYPE_NAMES[t]})`);
    }

    // Grouping: a Metric's samples must be contiguous, and within a Metric timestamps present on all and ordered.
    // Same raw label text (without the excluded pair) as the previous sample: surely the same group. Otherwise
    // the canonical key decides, as the same label set may be written in another order or escaping.
    const raw = this.rawGroupText(ex);
    let same = false;
    if (this.groupActive && raw === this.groupRaw) {
      same = true;
    } else {
      const key = this.groupKeyOf(ex, raw);
      if (this.groupActive && key === this.groupKey) same = true;
      else {
        this.endGroup();
        this.startGroup(key);
      }
    }
    this.groupRaw = raw;
    if (same) {
      if ((ts !== undefined) !== this.groupHasTs) {
        this.fail(
          ts === undefined
            ? `sample ${name} has no timestamp but earlier samples of ${this.groupName()} do`
            : `sample ${name} has a timestamp but earlier samples of ${this.groupName()} do not`,
        );
      }
      if (ts !== undefined) {
        if (ts < this.groupTs) this.fail(`timestamps of ${this.groupName()} go backwards at sample ${name}`);
        if (ts !== this.groupTs) this.endPoint();
      }
    }
    // Kept as a flag and a plain number: a number | undefined field would box every timestamp.
    this.groupHasTs = ts !== undefined;
    if (ts !== undefined) this.groupTs = ts;
    this.groupLine = this.line;
    if (kind === K_TOTAL) this.groupHasTotal = true;
    if (t === T_HISTOGRAM || t === T_GAUGEHISTOGRAM) this.addToPoint(kind, value, le, ex);

    // What Prometheus stores: int64(seconds * 1000).
    this.emit(name, value, vs, ve, ts === undefined ? undefined : Math.trunc(ts * 1000), tsText, exemplar);
  }

  /** The sample name's kind in the current family; a name the family cannot have starts a family of its own. */
  private sampleKind(name: string): number {
    if (name === this.lastName) return this.lastKind;
    let kind = this.kindOf(name);
    if (kind < 0) {
      this.startFamilyForSample(name);
      kind = K_BARE;
    }
    this.lastName = name;
    this.lastKind = kind;
    return kind;
  }

  /** Hands a validated sample to the handler (its line offsets are already set), after its family. */
  private emit(
    name: string,
    value: number,
    vs: number,
    ve: number,
    tsMs: number | undefined,
    tsText: string | undefined,
    exemplar: string | undefined,
  ): void {
    if (!this.famReported) this.reportFamily();
    this.famHasSamples = true;
    const smp = this.sample;
    smp.name = name;
    smp.value = value;
    smp.valueText = this.text.slice(vs, ve);
    smp.timestampMs = tsMs;
    smp.timestampText = tsText;
    smp.exemplar = exemplar;
    this.handler.sample(smp);
  }

  private checkCounterLike(name: string, value: number): void {
    if (value !== value) this.fail(`${name} must not be NaN`);
    if (value < 0) this.fail(`${name} must not be negative, got ${value}`);
  }

  /** The raw text of the sample's label pairs without pair `ex` (not canonical: order and escapes as written). */
  private rawGroupText(ex: number): string {
    const n = this.labels.length >> 1;
    if (n === 0 || (n === 1 && ex === 0)) return '';
    const s = this.text;
    const p = this.labelPos;
    if (ex < 0) return s.slice(p[0], p[2 * n - 1]);
    if (ex === 0) return s.slice(p[2], p[2 * n - 1]);
    if (ex === n - 1) return s.slice(p[0], p[2 * n - 3]);
    return `${s.slice(p[0], p[2 * ex - 1])},${s.slice(p[2 * ex + 2], p[2 * n - 1])}`;
  }

  /**
   * The key of the label set without pair `ex`: name="value" pairs joined by ',', values in minimal escaping.
   * Equal label sets must get equal keys whatever order they are written in, so the pairs go in a fixed order:
   * the order of the family's first label set when the names are the same set (nearly always: exporters write a
   * family's labels in one order, and then the raw text is the key), otherwise by name. Label sets with different
   * name sets never have equal keys, so the two orders never meet. `raw` is rawGroupText(ex).
   */
  private groupKeyOf(ex: number, raw: string): string {
    const labels = this.labels;
    const n = labels.length >> 1;
    const m = n - (ex >= 0 ? 1 : 0);
    if (m === 0) return '';
    let ref = this.familyLabelOrder;
    if (ref === null) {
      // The family's first label set sets the order.
      ref = this.familyLabelOrder = [];
      for (let k = 0; k < n; k++) if (k !== ex) ref.push(labels[2 * k]);
    }
    // Same names in the same order as the reference: the raw text is the key.
    let order = this.pairOrder;
    if (order.length < n) order = this.pairOrder = new Int32Array(2 * n);
    let inOrder = ref.length === m;
    if (inOrder) {
      for (let k = 0, j = 0; k < n; k++) {
        if (k === ex) continue;
        if (labels[2 * k] !== ref[j++]) {
          inOrder = false;
          break;
        }
      }
    }
    if (inOrder) {
      if (!this.labelsEscaped) return raw;
      for (let k = 0, j = 0; k < n; k++) if (k !== ex) order[j++] = k;
      return this.buildKey(m);
    }
    // A permutation of the reference names: in reference order.
    if (ref.length === m) {
      let j = 0;
      for (; j < m; j++) {
        const k = findLabel(labels, ref[j]);
        if (k < 0 || k === ex) break;
        order[j] = k;
      }
      if (j === m) return this.buildKey(m);
    }
    // Other names: by name (insertion sort, label sets are small).
    let j = 0;
    for (let k = 0; k < n; k++) {
      if (k === ex) continue;
      const name = labels[2 * k];
      let i = j++;
      while (i > 0 && labels[2 * order[i - 1]] > name) {
        order[i] = order[i - 1];
        i--;
      }
      order[i] = k;
    }
    return this.buildKey(m);
  }

  /** The key of the first `m` pairs listed in pairOrder. */
  private buildKey(m: number): string {
    const order = this.pairOrder;
    let key = '';
    if (!this.labelsEscaped) {
      const s = this.text;
      const p = this.labelPos;
      for (let j = 0; j < m; j++) key += (j === 0 ? '' : ',') + s.slice(p[2 * order[j]], p[2 * order[j] + 1]);
    } else {
      const labels = this.labels;
      for (let j = 0; j < m; j++) {
        const k = order[j];
        key += `${j === 0 ? '' : ','}${labels[2 * k]}="${escapeLabelValue(labels[2 * k + 1])}"`;
      }
    }
    return key;
  }

  /**
   * Starts a new group, rejecting a label set the family had before. Exporters usually write series in increasing
   * order, and then no key can repeat: keys are only collected in an array, and hashed into a set from the first
   * time the order breaks.
   */
  private startGroup(key: string): void {
    let set = this.seenGroupSet;
    if (set === null) {
      const keys = this.seenGroupKeys;
      if (keys.length === 0 || key > keys[keys.length - 1]) {
        keys.push(key);
      } else {
        set = this.seenGroupSet = new Set(keys);
        keys.length = 0;
      }
    }
    if (set !== null) {
      const size = set.size;
      if (set.add(key).size === size) {
        this.fail(`samples of ${this.famName}{${readable(key)}} are not contiguous: all samples of one series (Metric) must be exposed together`);
      }
    }
    this.groupKey = key;
    this.groupActive = true;
    this.groupHasTotal = false;
    this.ptActive = false;
  }

  private groupName(): string {
    return this.groupKey === '' ? this.famName : `${this.famName}{${readable(this.groupKey)}}`;
  }

  private endGroup(): void {
    if (!this.groupActive) return;
    this.endPoint();
    this.groupActive = false;
    if (this.famType === T_COUNTER && !this.groupHasTotal) this.fail(`counter ${this.groupName()} has no ${this.famName}_total sample`, this.groupLine);
  }

  private addToPoint(kind: number, value: number, le: number, ex: number): void {
    if (!this.ptActive) {
      this.ptActive = true;
      this.ptHasBucket = false;
      this.ptNegBucket = false;
      this.ptHasCount = false;
      this.ptHasSum = false;
      this.ptNegSum = false;
      this.ptLastLe = 0;
      this.ptLastBucket = 0;
      this.ptCount = 0;
    }
    switch (kind) {
      case K_BUCKET:
        if (this.ptHasBucket) {
          if (!(le > this.ptLastLe)) {
            this.fail(`bucket le="${readable(this.labels[2 * ex + 1])}" of ${this.groupName()} comes after le="${readable(this.ptLastLeText)}": buckets must be in increasing order of le`);
          }
          if (value < this.ptLastBucket) {
            this.fail(`bucket le="${readable(this.labels[2 * ex + 1])}" of ${this.groupName()} has count ${value}, less than the previous bucket's ${this.ptLastBucket}: buckets are cumulative`);
          }
        }
        this.ptHasBucket = true;
        this.ptLastLe = le;
        this.ptLastLeText = this.labels[2 * ex + 1];
        this.ptLastBucket = value;
        if (le < 0) this.ptNegBucket = true;
        break;
      case K_COUNT:
      case K_GCOUNT:
        this.ptHasCount = true;
        this.ptCount = value;
        break;
      case K_SUM:
      case K_GSUM:
        this.ptHasSum = true;
        if (value < 0) this.ptNegSum = true;
        break;
    }
  }

  /** Checks the finished histogram MetricPoint, if any. */
  private endPoint(): void {
    if (!this.ptActive) return;
    this.ptActive = false;
    const line = this.groupLine;
    const gauge = this.famType === T_GAUGEHISTOGRAM;
    const count = gauge ? '_gcount' : '_count';
    const sum = gauge ? '_gsum' : '_sum';
    if (!this.ptHasBucket || this.ptLastLe !== Infinity) this.fail(`histogram ${this.groupName()} has no le="+Inf" bucket`, line);
    if (this.ptHasCount && this.ptCount !== this.ptLastBucket) {
      this.fail(`${this.groupName()}: ${count} is ${this.ptCount} but the +Inf bucket is ${this.ptLastBucket}; they must be equal`, line);
    }
    if (this.ptHasCount !== this.ptHasSum) this.fail(`${this.groupName()} has ${this.ptHasCount ? count : sum} without ${this.ptHasCount ? sum : count}; they go together`, line);
    if (!gauge && this.ptNegBucket && this.ptHasSum) this.fail(`histogram ${this.groupName()} has negative buckets, so it must not have _sum`, line);
    if (gauge && this.ptNegSum && !this.ptNegBucket) this.fail(`gauge histogram ${this.groupName()} has a negative _gsum but no negative buckets`, line);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Families and metadata (both formats)

  private kindOf(name: string): number {
    const names = this.famSampleNames;
    for (let k = 0; k < names.length; k++) if (names[k] === name) return this.famKinds[k];
    return -1;
  }

  private startFamily(name: string, what: string): void {
    const u = this.used.get(name);
    if (u !== undefined) {
      if (this.famActive && u.family === this.famName) {
        if (name === this.famName) {
          this.fail(`sample name ${name} is not valid for ${TYPE_NAMES[this.famType]} family ${this.famName}; expected ${this.famSampleNames.join(' or ')}`);
        }
        this.fail(`${what} ${name} clashes with the sample names of the current family ${u.family} (${TYPE_NAMES[this.famType]})`);
      }
      if (u.family === name) {
        this.fail(`${what} ${name}: family ${name} already appeared at line ${u.line}; a family's metadata and samples must form one contiguous block`);
      }
      this.fail(`${what} ${name} clashes with family ${u.family} (line ${u.line}), which uses that name`);
    }
    this.endFamily();
    // Family names live in `used` until the end of the body: they must not pin the piece they came from.
    name = detach(name);
    this.famActive = true;
    this.famName = name;
    this.famType = T_UNKNOWN;
    this.famHelp = undefined;
    this.famUnit = undefined;
    this.famHasHelp = false;
    this.famHasType = false;
    this.famHasUnit = false;
    this.famHasSamples = false;
    this.famReported = false;
    this.famKinds = [K_BARE];
    this.famSampleNames = [name];
    this.lastName = '';
    this.used.set(name, { family: name, line: this.line });
  }

  private startFamilyForSample(name: string): void {
    this.startFamily(name, 'sample');
  }

  private metadataFamily(name: string, keyword: string): void {
    if (this.famActive && name === this.famName) {
      if (this.famHasSamples && (this.om || keyword === 'TYPE')) this.fail(`# ${keyword} for ${name} comes after its samples; metadata must come first`);
      return;
    }
    this.startFamily(name, `# ${keyword} for`);
  }

  private setHelp(name: string, help: string): void {
    this.metadataFamily(name, 'HELP');
    if (this.famHasHelp) this.fail(`second # HELP for ${name}`);
    this.famHasHelp = true;
    // Text format: HELP after the family's samples is allowed but arrives too late to report; it is dropped.
    if (!this.famHasSamples) this.famHelp = help;
  }

  private setType(name: string, t: number): void {
    this.metadataFamily(name, 'TYPE');
    if (this.famHasType) this.fail(`second # TYPE for ${name}`);
    if ((t === T_INFO || t === T_STATESET) && this.famUnit !== undefined) this.fail(`${TYPE_NAMES[t]} ${name} must not have a unit`);
    this.famHasType = true;
    this.famType = t;
    const kinds = (this.om ? OM_KINDS : TEXT_KINDS)[t];
    const names: string[] = [];
    for (const k of kinds) {
      const n = name + SUFFIXES[k];
      names.push(n);
      if (n === name) continue;
      const u = this.used.get(n);
      if (u !== undefined) {
        this.fail(`${TYPE_NAMES[t]} ${name} would use the sample name ${n}, which already belongs to family ${u.family} (line ${u.line})`);
      }
      this.used.set(n, { family: name, line: this.line });
    }
    this.famKinds = kinds;
    this.famSampleNames = names;
    this.lastName = '';
  }

  private setUnit(name: string, unit: string): void {
    this.metadataFamily(name, 'UNIT');
    if (this.famHasUnit) this.fail(`second # UNIT for ${name}`);
    this.famHasUnit = true;
    if (unit === '') return;
    if (!(name.length > unit.length + 1 && name.endsWith(unit) && name.charCodeAt(name.length - unit.length - 1) === 95)) {
      this.fail(`unit ${JSON.stringify(readable(unit))} is not a suffix of the metric name ${name}: the name must end with "_${readable(unit)}"`);
    }
    if (this.famType === T_INFO || this.famType === T_STATESET) this.fail(`${TYPE_NAMES[this.famType]} ${name} must not have a unit`);
    this.famUnit = unit;
  }

  private reportFamily(): void {
    this.famReported = true;
    const meta: FamilyMeta = { name: this.famName, type: TYPE_NAMES[this.famType], help: this.famHelp, unit: this.famUnit };
    this.handler.family(meta);
  }

  private endFamily(): void {
    if (!this.famActive) return;
    if (this.om) {
      this.endGroup();
      this.seenGroupKeys.length = 0;
      this.seenGroupSet = null;
      this.familyLabelOrder = null;
      this.groupKey = '';
    }
    if (!this.famReported) this.reportFamily();
    this.famActive = false;
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
  private parseLabels(i: number, eol: number, out: string[], record: boolean, text: boolean, what: string): number {
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
        this.fail(c === -1 ? `unterminated label set in ${what}: missing '}'` : `expected ',' or '}' after the value of label "${name}" in ${what}, found ${quoteSnippet(s, i, i + 1)}`);
      }
    }
    if (out.length !== n) out.length = n;
    return i;
  }

  /**
   * Name of the sample starting at `pos`: the previous sample's name when the text repeats it (a native string
   * comparison), else scanned and checked. Only checks the characters of the name itself.
   */
  private metricName(pos: number, eol: number): string {
    const s = this.text;
    const pn = this.predName;
    const after = pos + pn.length;
    if (pn !== '' && after <= eol && (after === eol || !(CHAR_CLASS[s.charCodeAt(after)] & C_METRIC)) && s.slice(pos, after) === pn) return pn;
    if (!(CHAR_CLASS[s.charCodeAt(pos)] & C_METRIC_START)) {
      this.fail(s.charCodeAt(pos) === CH_SPACE ? 'unexpected space at the start of the line' : `invalid metric name ${this.tokenSnippet(pos, eol)}`);
    }
    let i = pos + 1;
    while (i < eol && CHAR_CLASS[s.charCodeAt(i)] & C_METRIC) i++;
    return (this.predName = s.slice(pos, i));
  }

  /** Rejects repeated label names (names in increasing order, the common case, cannot repeat). */
  private checkLabelNames(labels: string[], what: string): void {
    const n = labels.length;
    for (let k = 2; k < n; k += 2) {
      if (!(labels[k - 2] < labels[k])) {
        for (let a = 0; a < n; a += 2) {
          for (let b = a + 2; b < n; b += 2) if (labels[a] === labels[b]) this.fail(`duplicate label name "${labels[a]}" in ${what}`);
        }
        return;
      }
    }
  }

  private tokenSnippet(start: number, eol: number): string {
    const s = this.text;
    let e = start;
    while (e < eol && s.charCodeAt(e) !== CH_SPACE && s.charCodeAt(e) !== CH_TAB && s.charCodeAt(e) !== CH_BRACE_OPEN) e++;
    return quoteSnippet(s, start, e === start ? Math.min(eol, start + 1) : e);
  }

  private labelNameSnippet(start: number, eol: number): string {
    const s = this.text;
    let e = start;
    while (e < eol && s.charCodeAt(e) !== CH_EQUALS && s.charCodeAt(e) !== CH_COMMA && s.charCodeAt(e) !== CH_BRACE_CLOSE) e++;
    return quoteSnippet(s, start, e === start ? Math.min(eol, start + 1) : e);
  }
}

function findLabel(labels: string[], name: string): number {
  for (let k = 0; k < labels.length; k += 2) if (labels[k] === name) return k >> 1;
  return -1;
}
