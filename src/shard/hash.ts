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
const TWO32 = 4294967296;

/** Bucket in [0, buckets) for the 64-bit key hi:lo; growing buckets by one moves ~1/(n+1) of keys. */
export function jumpHash(hi: number, lo: number, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // 64-bit product of lo * M_LO from 16-bit limbs, exact in doubles.
    const a1 = lo >>> 16,
      a0 = lo & 0xffff;
    const m1 = M_LO >>> 16,
      m0 = M_LO & 0xffff;
    const mid = a1 * m0 + a0 * m1;
    const low = a0 * m0 + (mid % 65536) * 65536;
    const carry = Math.floor(low / TWO32);
    const loProdHi = a1 * m1 + Math.floor(mid / 65536) + carry;
    let newLo = low % TWO32;
    let newHi = (loProdHi + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) >>> 0;
    newLo += 1;
    if (newLo === TWO32) {
      newLo = 0;
      newHi = (newHi + 1) >>> 0;
    }
    hi = newHi;
    lo = newLo;
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
