// Number syntax of the exposition formats: the float grammar of OpenMetrics (which is what Prometheus's Go
// ParseFloat accepts for text 0.0.4, minus hex floats and underscores) and int64 millisecond timestamps.
// Kept apart from the line parsers because the rules are Go's, not the formats', and must give bit-identical
// float64s. A reader reports the kind of the last number in a field instead of a second return value, so the
// hot path allocates nothing; each parser owns its reader, so there is no shared mutable state between parses.

export const NUM_INVALID = 0;
/** A decimal number: [sign] digits [. digits] [e [sign] digits] (at least one mantissa digit). */
export const NUM_REAL = 1;
/** [sign] inf | infinity, case-insensitive. */
export const NUM_INF = 2;
/** nan, case-insensitive, without sign. */
export const NUM_NAN = 3;

const POW10: number[] = [];
for (let k = 0; k <= 22; k++) POW10.push(Number(`1e${k}`));

function matchesWordCI(s: string, i: number, end: number, word: string): boolean {
  if (end - i !== word.length) return false;
  for (let k = 0; k < word.length; k++) if ((s.charCodeAt(i + k) | 0x20) !== word.charCodeAt(k)) return false;
  return true;
}

/** Parses numbers; `kind` tells what the last call saw (NUM_INVALID, NUM_REAL, NUM_INF or NUM_NAN). */
export class NumberReader {
  kind = NUM_INVALID;

  /**
   * Parses the float in s[start, end). The grammar is the OpenMetrics one, which is also what Prometheus accepts for
   * text 0.0.4 (Go's ParseFloat without hex floats and underscores). Sets this.kind; returns 0 when invalid.
   *
   * The result is the correctly rounded float64: up to 15 significant digits with a power of ten of at most 22 take
   * the exact fast path (one correctly rounded multiplication or division of exact operands); anything else goes to
   * Number().
   */
  parseNumber(s: string, start: number, end: number): number {
    let i = start;
    if (i >= end) {
      this.kind = NUM_INVALID;
      return 0;
    }
    let c = s.charCodeAt(i);
    let neg = false;
    let signed = false;
    if (c === 43 || c === 45) {
      neg = c === 45;
      signed = true;
      if (++i >= end) {
        this.kind = NUM_INVALID;
        return 0;
      }
      c = s.charCodeAt(i);
    }
    if (c === 105 || c === 73) {
      if (matchesWordCI(s, i, end, 'inf') || matchesWordCI(s, i, end, 'infinity')) {
        this.kind = NUM_INF;
        return neg ? -Infinity : Infinity;
      }
      this.kind = NUM_INVALID;
      return 0;
    }
    if (c === 110 || c === 78) {
      this.kind = !signed && matchesWordCI(s, i, end, 'nan') ? NUM_NAN : NUM_INVALID;
      return this.kind === NUM_NAN ? NaN : 0;
    }
    const mantStart = i;
    let m = 0;
    let sig = 0;
    let digits = 0;
    let frac = 0;
    for (; i < end; i++) {
      c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      digits++;
      if (sig !== 0 || c !== 48) {
        if (++sig <= 15) m = m * 10 + (c - 48);
      }
    }
    if (i < end && c === 46) {
      for (i++; i < end; i++) {
        c = s.charCodeAt(i);
        if (c < 48 || c > 57) break;
        digits++;
        frac++;
        if (sig !== 0 || c !== 48) {
          if (++sig <= 15) m = m * 10 + (c - 48);
        }
      }
    }
    if (digits === 0) {
      this.kind = NUM_INVALID;
      return 0;
    }
    const mantEnd = i;
    let exp = 0;
    if (i < end && (c === 101 || c === 69)) {
      if (++i >= end) {
        this.kind = NUM_INVALID;
        return 0;
      }
      c = s.charCodeAt(i);
      let expNeg = false;
      if (c === 43 || c === 45) {
        expNeg = c === 45;
        i++;
      }
      const expStart = i;
      for (; i < end; i++) {
        c = s.charCodeAt(i);
        if (c < 48 || c > 57) break;
        if (exp < 100000) exp = exp * 10 + (c - 48);
      }
      if (i === expStart) {
        this.kind = NUM_INVALID;
        return 0;
      }
      if (expNeg) exp = -exp;
    }
    if (i !== end) {
      this.kind = NUM_INVALID;
      return 0;
    }
    this.kind = NUM_REAL;
    let v: number;
    if (sig === 0) {
      v = 0;
    } else {
      const e10 = exp - frac;
      if (sig <= 15 && e10 >= -22 && e10 <= 22) {
        v = e10 >= 0 ? m * POW10[e10] : m / POW10[-e10];
      } else {
        v = Number(s.slice(mantStart, mantEnd) + (exp === 0 ? '' : `e${exp}`));
      }
    }
    return neg ? -v : v;
  }

  /** Text 0.0.4 timestamp: an int64 of milliseconds (optional sign, decimal digits). Sets this.kind. */
  parseIntMs(s: string, start: number, end: number): number {
    let i = start;
    let neg = false;
    if (i < end) {
      const c = s.charCodeAt(i);
      if (c === 43 || c === 45) {
        neg = c === 45;
        i++;
      }
    }
    if (i >= end) {
      this.kind = NUM_INVALID;
      return 0;
    }
    let first = -1;
    let v = 0;
    for (let k = i; k < end; k++) {
      const c = s.charCodeAt(k);
      if (c < 48 || c > 57) {
        this.kind = NUM_INVALID;
        return 0;
      }
      if (first < 0 && c !== 48) first = k;
      v = v * 10 + (c - 48);
    }
    this.kind = NUM_REAL;
    if (first < 0) return 0;
    const nd = end - first;
    if (nd > 15) {
      if (nd > 19 || (nd === 19 && s.slice(first, end) > (neg ? '9223372036854775808' : '9223372036854775807'))) {
        this.kind = NUM_INVALID;
        return 0;
      }
      v = Number(s.slice(first, end));
    }
    return neg ? -v : v;
  }
}
