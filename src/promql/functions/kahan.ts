// Compensated (Kahan–Babuška / Neumaier) summation as Prometheus uses it, and accumulators for the
// sum / avg / stddev / stdvar aggregations in both semantics.
//
// prometheus-3 (3.5): sum and avg aggregations use Neumaier summation (avg switches to an
// incremental mean once the running sum would overflow); stddev/stdvar use plain Welford, with a
// first value of NaN/±Inf making the group's result NaN.
// prometheus-2 (2.42): sum is plain `+=`, avg is an uncompensated incremental mean with special
// handling of infinities, stddev/stdvar plain Welford.

import type { Semantics } from './types.js';

/**
 * One step of Neumaier summation, as Prometheus 3.5's kahanSumInc: returns the new [sum, c].
 * When the running sum becomes ±Inf the compensation is reset to 0 (so that the final `sum + c`
 * is not NaN).
 */
export function kahanSumInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (t === Infinity || t === -Infinity) {
    c = 0;
  } else if (Math.abs(sum) >= Math.abs(inc)) {
    c += sum - t + inc;
  } else {
    c += inc - t + sum;
  }
  return [t, c];
}

/** Prometheus 2.42's kahanSumInc: no reset of the compensation on overflow (c may become NaN). */
export function kahanSumIncV2(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (Math.abs(sum) >= Math.abs(inc)) {
    c += sum - t + inc;
  } else {
    c += inc - t + sum;
  }
  return [t, c];
}

/** The kahanSumInc of the given semantics (3.5 resets the compensation when the sum overflows). */
export function kahanSumIncFor(semantics: Semantics): (inc: number, sum: number, c: number) => [number, number] {
  return semantics === 'prometheus-3' ? kahanSumInc : kahanSumIncV2;
}

/** Compensated sum of a list of floats, finished the way sum_over_time finishes it (±Inf returned as is). */
export function kahanSum(values: ArrayLike<number>, from = 0, to = values.length): number {
  let sum = 0;
  let c = 0;
  for (let i = from; i < to; i++) [sum, c] = kahanSumInc(values[i], sum, c);
  if (sum === Infinity || sum === -Infinity) return sum;
  return sum + c;
}

/** The `sum` aggregation's float accumulator. Float values only; the evaluator handles histograms. */
export class SumAccumulator {
  private sum = 0;
  private c = 0;
  private seen = false;
  constructor(private readonly semantics: Semantics) {}
  add(f: number): void {
    if (!this.seen) {
      // Prometheus initialises the group with the first value (sum = f, c = 0).
      this.sum = f;
      this.seen = true;
      return;
    }
    if (this.semantics === 'prometheus-3') [this.sum, this.c] = kahanSumInc(f, this.sum, this.c);
    else this.sum += f;
  }
  result(): number {
    return this.semantics === 'prometheus-3' ? this.sum + this.c : this.sum;
  }
}

/** The `avg` aggregation's float accumulator. */
export class AvgAccumulator {
  private count = 0;
  private sum = 0; // prometheus-3 direct sum
  private c = 0;
  private mean = 0;
  private incremental = false;
  constructor(private readonly semantics: Semantics) {}
  add(f: number): void {
    this.count++;
    if (this.count === 1) {
      this.sum = f;
      this.mean = f;
      return;
    }
    const n = this.count;
    if (this.semantics === 'prometheus-3') {
      if (!this.incremental) {
        const [ns, nc] = kahanSumInc(f, this.sum, this.c);
        if (ns !== Infinity && ns !== -Infinity) {
          this.sum = ns;
          this.c = nc;
          return;
        }
        this.incremental = true;
        this.mean = this.sum / (n - 1);
        this.c /= n - 1;
      }
      const q = (n - 1) / n;
      [this.mean, this.c] = kahanSumInc(f / n, q * this.mean, q * this.c);
      return;
    }
    // prometheus-2: uncompensated incremental mean with the infinity special cases.
    if (this.mean === Infinity || this.mean === -Infinity) {
      if ((f === Infinity || f === -Infinity) && this.mean > 0 === f > 0) return;
      if (f !== Infinity && f !== -Infinity && !Number.isNaN(f)) return;
    }
    this.mean += f / n - this.mean / n;
  }
  result(): number {
    if (this.semantics === 'prometheus-3') {
      if (this.incremental) return this.mean + this.c;
      return this.sum / this.count + this.c / this.count;
    }
    return this.mean;
  }
}

/** The `stddev`/`stdvar` aggregations' accumulator (Welford, uncompensated, as in both versions). */
export class VarianceAccumulator {
  private count = 0;
  private mean = 0;
  private value = 0;
  constructor(private readonly semantics: Semantics) {}
  add(f: number): void {
    this.count++;
    if (this.count === 1) {
      this.mean = f;
      // 3.5 poisons the group when the first value is NaN or ±Inf; 2.42 starts at 0 (and the
      // Welford step of a later value then yields NaN anyway when mean is ±Inf/NaN).
      this.value = this.semantics === 'prometheus-3' && !Number.isFinite(f) ? NaN : 0;
      return;
    }
    const delta = f - this.mean;
    this.mean += delta / this.count;
    this.value += delta * (f - this.mean);
  }
  variance(): number {
    return this.value / this.count;
  }
  stddev(): number {
    return Math.sqrt(this.value / this.count);
  }
}
