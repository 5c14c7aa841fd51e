// Shard assignment: xxh64 of a series' shard key and jump consistent hashing onto the shards, so
// that a change of num_shards moves as few series as possible.

import xxhash from 'xxhash-wasm';

// 64-bit values travel as two unsigned 32-bit halves: BigInt arithmetic per series would cost
// more than the hash itself at 600k series per cycle.

type Hasher = Awaited<ReturnType<typeof xxhash>>;
let hasher: Hasher | undefined;

/** Loads the xxhash wasm module once; everything else in this file is synchronous. */
export async function initHash(): Promise<void> {
  hasher ??= await xxhash();
}

const LOW32 = 0xffffffffn;

/** xxh64 (seed 0) of the UTF-8 encoding of `text`, as [high, low] 32-bit halves. */
export function hash64(text: string): [number, number] {
  if (!hasher) throw new Error('initHash() must be awaited before hashing');
  const h = hasher.h64(text);
  return [Number(h >> 32n), Number(h & LOW32)];
}

// Jump consistent hash (Lamping & Veach, 2014). The LCG step key = key * 2862933555777619973 + 1
// (mod 2^64) is done on 32-bit halves; the multiplier's halves are:
const M_HI = 0x27bb2ee6;
const M_LO = 0x87abc805;

/** Bucket in [0, buckets) for the 64-bit key hi:lo; growing buckets by one moves ~1/(n+1) of keys. */
export function jumpHash(hi: number, lo: number, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // key = key * 2862933555777619973 + 1 (mod 2^64), in integer arithmetic on the halves (see mul).
    mul(hi, lo, M_HI, M_LO);
    lo = (R[1] + 1) | 0;
    hi = lo === 0 ? (R[0] + 1) | 0 : R[0];
    // (key >> 33) + 1 uses the top 31 bits.
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)));
  }
  return b;
}

/** Reference implementation on BigInt, used by the tests to pin the fast one down. */
export function jumpHashBigInt(key: bigint, buckets: number): number {
  let b = -1n;
  let j = 0n;
  const n = BigInt(buckets);
  while (j < n) {
    b = j;
    key = BigInt.asUintN(64, key * 2862933555777619973n + 1n);
    j = BigInt(Math.floor(Number(b + 1n) * (2147483648 / Number((key >> 33n) + 1n))));
  }
  return Number(b);
}

let scratch = new Uint8Array(4096);
let used = 0;

function grow(extra: number): void {
  const next = new Uint8Array(Math.max(scratch.length * 2, used + extra));
  next.set(scratch.subarray(0, used));
  scratch = next;
}

/**
 * Builds a hash input from byte strings held in latin1 JS strings (one char per upstream byte, as the
 * scrape path keeps bodies) without building a joined string: the bytes go straight into a reused
 * buffer. hashKey() is then the xxh64 of the original UTF-8 bytes.
 */
export const keyBytes = {
  reset(): void {
    used = 0;
  },
  add(text: string): void {
    const n = text.length;
    if (used + n > scratch.length) grow(n);
    const buf = scratch;
    let o = used;
    for (let i = 0; i < n; i++) buf[o++] = text.charCodeAt(i);
    used = o;
  },
  /** Byte 0xFF: never part of valid UTF-8, so it cannot be confused with a name or value byte. */
  separator(): void {
    if (used + 1 > scratch.length) grow(1);
    scratch[used++] = 0xff;
  },
  hash(): [number, number] {
    this.hashToKey();
    return [keyHash.hi, keyHash.lo];
  },
  /** hash() without the array (once per series): the halves are left in keyHash, to be read at once. */
  hashToKey(): void {
    // Short keys (a family alone, a few short labels) in JavaScript; from 32 bytes on the wasm
    // module is faster than 64-bit arithmetic on 32-bit halves, despite its copy and BigInts.
    if (used < 32) {
      xxh64Short(scratch, used);
      return;
    }
    if (!hasher) throw new Error('initHash() must be awaited before hashing');
    // The 64-bit result is split through a typed array: shifting and masking the BigInt made two
    // more BigInts per series.
    split64[0] = hasher.h64Raw(scratch.subarray(0, used));
    keyHash.hi = split32[HI_WORD];
    keyHash.lo = split32[1 - HI_WORD];
  },
};

const split64 = new BigUint64Array(1);
/** The same 8 bytes as two 32-bit words, in the platform's byte order. */
const split32 = new Uint32Array(split64.buffer);
const HI_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Where keyBytes.hashToKey() leaves its result. */
export const keyHash = { hi: 0, lo: 0 };

/** xxh64 of a byte string held in a latin1 JS string, as [high, low] 32-bit halves. */
export function hash64Latin1(text: string): [number, number] {
  keyBytes.reset();
  keyBytes.add(text);
  return keyBytes.hash();
}

// xxh64 (seed 0) of inputs under 32 bytes in JavaScript on 32-bit halves, for keyBytes. Once per
// series: through the wasm module each call copied the bytes into its memory, made a view of the
// scratch buffer and two BigInts and split them through a typed array, which cost more than the
// hash itself on the short keys of a body of a million families (1.3x faster on 13-byte keys;
// 1.7x slower than wasm on 60-byte keys, which go to wasm). Results are the wasm module's, bit for
// bit (the tests compare keyBytes with the module at every length from 0 to 200 bytes).
const P1H = 0x9e3779b1;
const P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d;
const P2L = 0x27d4eb4f;
const P3H = 0x165667b1;
const P3L = 0x9e3779f9;
const P4H = 0x85ebca77;
const P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f;
const P5L = 0x165667c5;

// The 64-bit value the helpers below leave, as two int32 halves: kept in a typed array because a
// module variable holding a number outside the small-integer range is a heap object per store.
const R = new Int32Array(2);

/** R = ah:al * bh:bl mod 2^64 (halves as int32 bits); the low product from 16-bit limbs. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a1 = al >>> 16;
  const a0 = al & 0xffff;
  const b1 = bl >>> 16;
  const b0 = bl & 0xffff;
  // al * bl = a1*b1 << 32 + (a1*b0 + a0*b1) << 16 + a0*b0; each product fits 32 unsigned bits.
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  // Carry out of the low word: the sum of the three terms that reach it, in 16-bit steps.
  const c16 = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const carry = (c16 >>> 16) + (p01 >>> 16) + (p10 >>> 16);
  R[1] = Math.imul(al, bl);
  R[0] = Math.imul(a1, b1) + carry + Math.imul(ah, bl) + Math.imul(al, bh);
}

/** R = ah:al + bh:bl mod 2^64. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const l = (al >>> 0) + (bl >>> 0);
  R[1] = l;
  R[0] = ah + bh + (l > 0xffffffff ? 1 : 0);
}

/** R = rotl(h:l, r) for 0 < r < 32. */
function rotl(h: number, l: number, r: number): void {
  R[0] = (h << r) | (l >>> (32 - r));
  R[1] = (l << r) | (h >>> (32 - r));
}

/** xxh64's round: rotl(acc + lane * P2, 31) * P1, into rh:rl. */
function round(ah: number, al: number, inh: number, inl: number): void {
  mul(inh, inl, P2H, P2L);
  add(ah, al, R[0], R[1]);
  rotl(R[0], R[1], 31);
  mul(R[0], R[1], P1H, P1L);
}

function u32At(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24) | 0;
}

/** xxh64 (seed 0) of b[0, n) into keyHash, for n < 32 (no 32-byte stripes). */
function xxh64Short(b: Uint8Array, n: number): void {
  let i = 0;
  let hh = P5H;
  let hl = P5L;
  // h += n (n < 2^32).
  add(hh, hl, 0, n);
  hh = R[0];
  hl = R[1];
  for (; i + 8 <= n; i += 8) {
    round(0, 0, u32At(b, i + 4), u32At(b, i));
    rotl((hh ^ R[0]) | 0, (hl ^ R[1]) | 0, 27);
    mul(R[0], R[1], P1H, P1L);
    add(R[0], R[1], P4H, P4L);
    hh = R[0];
    hl = R[1];
  }
  if (i + 4 <= n) {
    mul(0, u32At(b, i), P1H, P1L);
    rotl((hh ^ R[0]) | 0, (hl ^ R[1]) | 0, 23);
    mul(R[0], R[1], P2H, P2L);
    add(R[0], R[1], P3H, P3L);
    hh = R[0];
    hl = R[1];
    i += 4;
  }
  for (; i < n; i++) {
    mul(0, b[i], P5H, P5L);
    rotl((hh ^ R[0]) | 0, (hl ^ R[1]) | 0, 11);
    mul(R[0], R[1], P1H, P1L);
    hh = R[0];
    hl = R[1];
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hl = (hl ^ (hh >>> 1)) | 0;
  mul(hh, hl, P2H, P2L);
  hh = R[0];
  hl = (R[1] ^ ((R[1] >>> 29) | (R[0] << 3))) | 0;
  hh = (hh ^ (hh >>> 29)) | 0;
  mul(hh, hl, P3H, P3L);
  keyHash.hi = R[0] >>> 0;
  keyHash.lo = (R[1] ^ R[0]) >>> 0;
}
