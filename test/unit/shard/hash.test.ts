import { beforeAll, describe, expect, it } from 'vitest';
import xxhash from 'xxhash-wasm';
import { hash64, hash64Latin1, initHash, jumpHash, jumpHashBigInt, keyBytes } from '../../../src/shard/hash.js';

beforeAll(initHash);

function keyOf(i: number): [number, number] {
  return hash64(`ceph_osd_op_r\xffceph_daemon\xffosd.${i}\xffpool\xffrbd-${i % 97}`);
}

describe('jump hash', () => {
  it('matches the BigInt reference for many keys and bucket counts', () => {
    for (let i = 0; i < 2000; i++) {
      const [hi, lo] = keyOf(i);
      const key = (BigInt(hi) << 32n) | BigInt(lo);
      for (const n of [1, 2, 3, 4, 7, 16, 100, 1000]) {
        expect(jumpHash(hi, lo, n)).toBe(jumpHashBigInt(key, n));
      }
    }
  });

  it('matches published values of the algorithm', () => {
    // Values of the reference C++ implementation for key 0..3 and small bucket counts (computed with
    // the BigInt port, which follows the paper line by line) must agree with the fast path.
    expect(jumpHashBigInt(0n, 1)).toBe(0);
    expect(jumpHash(0, 0, 1)).toBe(0);
    expect(jumpHash(0xffffffff, 0xffffffff, 10)).toBe(jumpHashBigInt(0xffffffffffffffffn, 10));
  });

  for (const n of [4, 16]) {
    it(`balances 100k keys over ${n} shards within a few percent`, () => {
      const counts = new Array(n).fill(0);
      const total = 100_000;
      for (let i = 0; i < total; i++) {
        const [hi, lo] = keyOf(i);
        counts[jumpHash(hi, lo, n)]++;
      }
      const expected = total / n;
      for (const c of counts) expect(Math.abs(c - expected) / expected).toBeLessThan(0.05);
    });
  }

  it('moves about 1/(N+1) of keys from N to N+1 shards, and only to the new shard', () => {
    for (const n of [3, 4, 8]) {
      const total = 50_000;
      let moved = 0;
      for (let i = 0; i < total; i++) {
        const [hi, lo] = keyOf(i);
        const before = jumpHash(hi, lo, n);
        const after = jumpHash(hi, lo, n + 1);
        if (before !== after) {
          moved++;
          expect(after).toBe(n);
        }
      }
      const share = moved / total;
      expect(share).toBeGreaterThan((1 / (n + 1)) * 0.9);
      expect(share).toBeLessThan((1 / (n + 1)) * 1.1);
    }
  });
});

describe('hash64Latin1', () => {
  it('hashes the UTF-8 bytes held in a latin1 string like hash64 hashes the decoded string', () => {
    const s = 'ceph_daemon\u00ffosd.1 ümlaut ☃';
    const bytes = Buffer.from(s, 'utf8').toString('latin1');
    expect(hash64Latin1(bytes)).toEqual(hash64(s));
  });

  it('is xxh64: known value for the empty string', () => {
    // xxh64("", seed 0) = 0xEF46DB3751D8E999
    expect(hash64('')).toEqual([0xef46db37, 0x51d8e999]);
  });
});

describe('keyBytes (xxh64 in JavaScript)', () => {
  it('gives the xxhash-wasm module its results for every length up to several stripes', async () => {
    const wasm = await xxhash();
    // A fixed pseudo-random byte stream (LCG), so a failure repeats.
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (let n = 0; n <= 200; n++) {
      for (let rep = 0; rep < 20; rep++) {
        const bytes = new Uint8Array(n);
        // Some inputs all 0xff or 0x00: carries and zero lanes at the edges of the arithmetic.
        for (let i = 0; i < n; i++) bytes[i] = rep === 0 ? 0xff : rep === 1 ? 0 : next();
        const text = Buffer.from(bytes).toString('latin1');
        const h = wasm.h64Raw(bytes);
        expect(hash64Latin1(text)).toEqual([Number(h >> 32n), Number(h & 0xffffffffn)]);
      }
    }
  });

  it('hashes keys built in pieces like the joined text', () => {
    keyBytes.reset();
    keyBytes.add('up');
    keyBytes.separator();
    keyBytes.add('job');
    keyBytes.separator();
    keyBytes.add('node');
    expect(keyBytes.hash()).toEqual(hash64Latin1('up\xffjob\xffnode'));
  });
});
