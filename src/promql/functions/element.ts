// Element-wise functions of an instant vector's float value, after Prometheus's promql/functions.go
// (identical in v2.42 and v3.5 for floats), plus Go math helpers the evaluator needs for `^` and `%`.
//
// Where Go's math package differs from JavaScript's Math (special cases, or a different algorithm
// whose last bits can differ), the Go behaviour is reproduced: goPow, goMod, goLog2, goLog10.
// sin/cos/exp/… use Math.* directly: same special cases as Go, results within an ulp or so.
//
// clamp(v, min, max) with max < min: Prometheus returns no series at all. This function returns
// NaN then; the evaluator must check `clampDropsAll(min, max)` and drop every element instead.
// timestamp(), pi(), time(), vector(), scalar() and the date functions without arguments (which use
// the evaluation time) are the evaluator's.

import type { ElementFn } from './types.js';

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer); // little-endian: [lo, hi]

/** Go's math.Frexp: x = frac × 2^exp with 0.5 <= |frac| < 1; (±0|±Inf|NaN, 0) for the special values. */
export function frexp(x: number): [number, number] {
  if (x === 0 || !Number.isFinite(x)) return [x, 0];
  let e = 0;
  F64[0] = x;
  let biased = (U32[1] >>> 20) & 0x7ff;
  if (biased === 0) {
    // Subnormal: normalise first.
    F64[0] = x * 2 ** 52;
    e = -52;
    biased = (U32[1] >>> 20) & 0x7ff;
  }
  e += biased - 1022;
  U32[1] = (U32[1] & 0x800fffff) | (1022 << 20);
  return [F64[0], e];
}

/** Go's math.Ldexp: frac × 2^exp, rounding once when the result is subnormal. */
export function ldexp(frac: number, exp: number): number {
  if (frac === 0 || !Number.isFinite(frac)) return frac;
  const [f, e0] = frexp(frac);
  const m = f * 2; // in [1, 2)
  const g = e0 - 1 + exp; // result = m × 2^g
  if (g < -1075) return f < 0 ? -0 : 0;
  if (g > 1023) return f < 0 ? -Infinity : Infinity;
  if (g < -1022) return m * 2 ** (g + 53) * 2 ** -53;
  return m * 2 ** g;
}

// Go's constants, written as the doubles they round to.
const LOG2E = 1.4426950408889634; // 1/Ln2
const LN2_OVER_LN10 = 0.3010299956639812; // Ln2/Ln10

/** Go's math.Log2: exact for powers of two, otherwise Log(frac)·(1/Ln2) + exp. */
export function goLog2(x: number): number {
  const [frac, exp] = frexp(x);
  if (frac === 0.5) return exp - 1;
  return Math.log(frac) * LOG2E + exp;
}

/** Go's math.Log10: log2(x) · (Ln2/Ln10). */
export function goLog10(x: number): number {
  return goLog2(x) * LN2_OVER_LN10;
}

/**
 * Go's math.Pow, for PromQL's `^`. Special cases as Go (which differ from JS `**` for
 * pow(1, NaN|±Inf) = 1 and pow(-1, ±Inf) = 1), and Go's algorithm for finite arguments: repeated
 * squaring in frexp space for the integer part of y (so integer powers match Go bit for bit) and
 * exp(yf·ln x) for the fractional part.
 */
export function goPow(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (y === 1) return x;
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  if (x === 0) {
    if (y < 0) {
      if (Object.is(x, -0) && isOddInt(y)) return -Infinity;
      return Infinity;
    }
    if (isOddInt(y)) return x;
    return 0;
  }
  if (y === Infinity || y === -Infinity) {
    if (x === -1) return 1;
    if (Math.abs(x) < 1 === (y === Infinity)) return 0;
    return Infinity;
  }
  if (x === Infinity || x === -Infinity) {
    if (x === -Infinity) return goPow(1 / x, -y); // Pow(-0, -y)
    return y < 0 ? 0 : Infinity;
  }
  if (y === 0.5) return Math.sqrt(x);
  if (y === -0.5) return 1 / Math.sqrt(x);

  let yi = Math.trunc(Math.abs(y));
  let yf = Math.abs(y) - yi;
  if (yf !== 0 && x < 0) return NaN;
  if (yi >= 2 ** 63) {
    // yi is a large even integer that will lead to overflow (or underflow to 0) for all x except -1.
    if (x === -1) return 1;
    if (Math.abs(x) < 1 === y > 0) return 0;
    return Infinity;
  }
  // ans = a1 × 2^ae (= 1 for now).
  let a1 = 1.0;
  let ae = 0;
  if (yf !== 0) {
    if (yf > 0.5) {
      yf--;
      yi++;
    }
    a1 = Math.exp(yf * Math.log(x));
  }
  // ans *= x^yi by repeated squaring, keeping the exponent in xe to avoid overflow.
  let [x1, xe] = frexp(x);
  // yi < 2^63 but may exceed 2^53 (then it is an even integer); iterate over its bits.
  let i = BigInt(yi);
  while (i !== 0n) {
    if (xe < -(1 << 12) || 1 << 12 < xe) {
      // Catastrophic overflow: let ldexp produce 0 or Inf.
      ae += xe;
      break;
    }
    if ((i & 1n) === 1n) {
      a1 *= x1;
      ae += xe;
    }
    x1 *= x1;
    xe <<= 1;
    if (x1 < 0.5) {
      x1 += x1;
      xe--;
    }
    i >>= 1n;
  }
  // ans = a1 × 2^ae; if y < 0, ans = 1 / ans, with the inversion on the fractional part only.
  if (y < 0) {
    a1 = 1 / a1;
    ae = -ae;
  }
  return ldexp(a1, ae);
}

function isOddInt(x: number): boolean {
  if (Math.abs(x) >= 2 ** 53) return false;
  return Number.isInteger(x) && Math.abs(x % 2) === 1;
}

/** Go's math.Mod (PromQL's `%`): result has the sign of x; NaN for x = ±Inf, y = 0 or NaN; x for y = ±Inf. JS `%` is the same IEEE fmod. */
export function goMod(x: number, y: number): number {
  return x % y;
}

/** clamp(v, min, max) yields no series at all when max < min (false for NaN bounds, as in Go). */
export function clampDropsAll(min: number, max: number): boolean {
  return max < min;
}

function sgn(v: number): number {
  if (v < 0) return -1;
  if (v > 0) return 1;
  return v; // ±0 and NaN unchanged
}

function round(v: number, args: readonly number[]): number {
  const toNearest = args.length >= 1 ? args[0] : 1;
  // Prometheus multiplies by the inverse (fewer floating point surprises), ties round up.
  const inverse = 1.0 / toNearest;
  return Math.floor(v * inverse + 0.5) / inverse;
}

// ---- date functions (value = Unix seconds, UTC, truncated to an integer like Go's int64(v)) ----

interface Civil {
  year: number;
  month: number; // 1..12
  day: number; // 1..31
  hour: number;
  minute: number;
  weekday: number; // 0 = Sunday
  yearDay: number; // 1..366
  daysInMonth: number;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const CUM_DAYS = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Proleptic Gregorian civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm), in BigInt. */
function civilFromDays(z: bigint): [year: bigint, month: number, day: number] {
  z += 719468n;
  const era = (z >= 0n ? z : z - 146096n) / 146097n;
  const doe = z - era * 146097n; // [0, 146096]
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n; // [0, 399]
  const y = yoe + era * 400n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n); // [0, 365]
  const mp = (5n * doy + 2n) / 153n; // [0, 11]
  const d = Number(doy - (153n * mp + 2n) / 5n + 1n);
  const m = Number(mp < 10n ? mp + 3n : mp - 9n);
  return [m <= 2 ? y + 1n : y, m, d];
}

/** The UTC civil time of Unix seconds v (truncated toward zero); undefined when v is not a finite int64. */
export function civilTime(v: number): Civil | undefined {
  if (!Number.isFinite(v)) return undefined;
  const secs = Math.trunc(v);
  if (Math.abs(secs) >= 2 ** 63) return undefined;
  const s = BigInt(secs);
  let days = s / 86400n;
  let rem = s - days * 86400n;
  if (rem < 0n) {
    rem += 86400n;
    days -= 1n;
  }
  const [yBig, month, day] = civilFromDays(days);
  const year = Number(yBig);
  const r = Number(rem);
  const leap = isLeapBig(yBig);
  const yearDay = CUM_DAYS[month - 1] + day + (leap && month > 2 ? 1 : 0);
  const wd = Number((((days + 4n) % 7n) + 7n) % 7n); // 1970-01-01 was a Thursday (4)
  return {
    year,
    month,
    day,
    hour: Math.floor(r / 3600),
    minute: Math.floor((r % 3600) / 60),
    weekday: wd,
    yearDay,
    daysInMonth: month === 2 && leap ? 29 : MONTH_DAYS[month - 1],
  };
}

function isLeapBig(y: bigint): boolean {
  if (y >= -(2n ** 52n) && y <= 2n ** 52n) return isLeap(Number(y));
  return (y % 4n === 0n && y % 100n !== 0n) || y % 400n === 0n;
}

function dateFn(pick: (c: Civil) => number): ElementFn {
  // Non-finite or out-of-int64 values: Go converts them to an implementation-defined int64; we
  // return NaN (see the report: uncertain corner case).
  return (v) => {
    const c = civilTime(v);
    return c === undefined ? NaN : pick(c);
  };
}

export const ELEMENT_FUNCTIONS: Record<string, ElementFn> = {
  abs: (v) => Math.abs(v),
  ceil: (v) => Math.ceil(v),
  floor: (v) => Math.floor(v),
  exp: (v) => Math.exp(v),
  sqrt: (v) => Math.sqrt(v),
  ln: (v) => Math.log(v),
  log2: (v) => goLog2(v),
  log10: (v) => goLog10(v),
  round,
  sgn,
  clamp: (v, args) => {
    const min = args[0];
    const max = args[1];
    if (max < min) return NaN; // evaluator: clampDropsAll(min, max) → no output at all
    return Math.max(min, Math.min(max, v));
  },
  clamp_min: (v, args) => Math.max(args[0], v),
  clamp_max: (v, args) => Math.min(args[0], v),
  acos: (v) => Math.acos(v),
  acosh: (v) => Math.acosh(v),
  asin: (v) => Math.asin(v),
  asinh: (v) => Math.asinh(v),
  atan: (v) => Math.atan(v),
  atanh: (v) => Math.atanh(v),
  cos: (v) => Math.cos(v),
  cosh: (v) => Math.cosh(v),
  sin: (v) => Math.sin(v),
  sinh: (v) => Math.sinh(v),
  tan: (v) => Math.tan(v),
  tanh: (v) => Math.tanh(v),
  deg: (v) => (v * 180) / Math.PI,
  rad: (v) => (v * Math.PI) / 180,
  days_in_month: dateFn((c) => c.daysInMonth),
  day_of_month: dateFn((c) => c.day),
  day_of_week: dateFn((c) => c.weekday),
  day_of_year: dateFn((c) => c.yearDay),
  hour: dateFn((c) => c.hour),
  minute: dateFn((c) => c.minute),
  month: dateFn((c) => c.month),
  year: dateFn((c) => c.year),
};
