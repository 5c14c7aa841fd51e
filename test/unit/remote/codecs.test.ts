// The remote-read codecs on their own: snappy, protobuf messages, frame checksums, XOR chunks.
// Expected bytes written out here were derived by hand from the formats' descriptions, not by
// running the code under test.

import { describe, expect, it } from 'vitest';
import { prng } from '../../../dev/backfill.js';
import { crc32c } from '../../../src/remote/crc32c.js';
import { encodeFrame, FrameReader } from '../../../src/remote/framing.js';
import {
  decodeChunkedReadResponse,
  decodeReadRequest,
  decodeReadResponse,
  encodeChunkedReadResponse,
  encodeReadRequest,
  encodeReadResponse,
  valueBits,
  type ReadRequest,
} from '../../../src/remote/prompb.js';
import { ProtoWriter, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WIRE_FIXED32 } from '../../../src/remote/protobuf.js';
import { snappyCompress, snappyDecompress } from '../../../src/remote/snappy.js';
import { decodeXorChunk, decodeXorChunkInto, encodeXorChunk } from '../../../src/remote/xor-chunk.js';
import { SampleArena } from '../../../src/util/sample-arena.js';
import { frameGenerator } from '../../../src/server/api/remote-read-api.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** A double from its 64-bit pattern, written into a Float64Array slot without passing through a JS number. */
function setBits(arr: Float64Array, i: number, hi: number, lo: number): void {
  const b = valueBits(arr);
  b[2 * i] = lo;
  b[2 * i + 1] = hi;
}
function getBits(arr: Float64Array, i: number): string {
  const b = valueBits(arr);
  return b[2 * i + 1].toString(16).padStart(8, '0') + b[2 * i].toString(16).padStart(8, '0');
}

describe('snappy', () => {
  const rnd = prng(7);
  const inputs: [string, Uint8Array][] = [];
  for (const n of [0, 1, 2, 3, 4, 5, 59, 60, 61, 255, 256, 257, 1000, 65535, 65536, 65537, 200_000]) {
    const random = new Uint8Array(n);
    for (let i = 0; i < n; i++) random[i] = Math.floor(rnd() * 256);
    inputs.push([`random ${n}`, random]);
    const skewed = new Uint8Array(n);
    for (let i = 0; i < n; i++) skewed[i] = rnd() < 0.9 ? 97 + (i % 3) : Math.floor(rnd() * 4);
    inputs.push([`repetitive ${n}`, skewed]);
  }
  inputs.push(['zeros 1 MiB', new Uint8Array(1 << 20)]);
  inputs.push(['text', new TextEncoder().encode('http_requests_total{job="api",instance="10.0.0.1:9100"} '.repeat(5000))]);

  it.each(inputs)('round trip: %s', (_name, input) => {
    const c = snappyCompress(input);
    expect(c.length).toBeLessThanOrEqual(32 + input.length + Math.floor(input.length / 6));
    expect(hex(snappyDecompress(c))).toBe(hex(input));
  });

  it('compresses what repeats', () => {
    expect(snappyCompress(new Uint8Array(1 << 20)).length).toBeLessThan(60_000);
  });

  it('decodes a hand-made block with an overlapping copy', () => {
    // length 10; literal "abcd" (tag (4-1)<<2); copy of 6 at offset 4 (tag 1 | (6-4)<<2)
    expect(new TextDecoder().decode(snappyDecompress(fromHex('0a 0c 61626364 09 04')))).toBe('abcdabcdab');
    // length 3; literal "xyz"; then nothing
    expect(new TextDecoder().decode(snappyDecompress(fromHex('03 08 78797a')))).toBe('xyz');
    // 2-byte-offset copy (tag 2): length 8, literal "ab", copy 6 at offset 2
    expect(new TextDecoder().decode(snappyDecompress(fromHex('08 04 6162 16 0200')))).toBe('abababab');
  });

  it.each([
    ['empty input', '', /empty input/],
    ['a length header cut short', '80', /truncated length header/],
    ['a length beyond 32 bits', 'ffffffff7f', /does not fit in 32 bits/],
    ['a literal running past the input', '0a 24 6162', /runs past the end/],
    ['a literal longer than declared', '02 08 616263', /overflows the declared length/],
    ['a copy before any output', '04 01 01', /offset 1 at output byte 0 is out of range/],
    ['a copy with offset 0', '08 0c 61626364 01 00', /offset 0/],
    ['a copy reaching back too far', '08 0c 61626364 01 05', /offset 5 at output byte 4 is out of range/],
    ['a copy longer than declared', '06 0c 61626364 09 04', /overflows the declared length/],
    ['a copy cut short', '08 0c 61626364 02 01', /truncated copy/],
    ['input ending before the declared length', '0a 0c 61626364', /after 4 of the declared 10 bytes \(truncated\)/],
  ])('rejects %s', (_name, input, msg) => {
    expect(() => snappyDecompress(fromHex(input))).toThrow(msg);
  });

  it('refuses a declared length above the limit before allocating it', () => {
    // declares 0xffffffff bytes
    expect(() => snappyDecompress(fromHex('ffffffff0f 00'), 1 << 20)).toThrow(/decoded length 4294967295 exceeds the limit of 1048576 bytes/);
  });

  it('rejects every truncation and most corruptions of a real block', () => {
    const input = new TextEncoder().encode('remote read '.repeat(300) + 'the end');
    const c = snappyCompress(input);
    for (let n = 0; n < c.length; n++) expect(() => snappyDecompress(c.subarray(0, n)), `cut at ${n}`).toThrow(/snappy: /);
    // A flipped byte either fails or decodes to something else of the declared length; it never hangs or overruns.
    for (let i = 0; i < c.length; i++) {
      const bad = c.slice();
      bad[i] ^= 0x5a;
      try {
        const out = snappyDecompress(bad, 1 << 20);
        expect(out.length).toBeLessThanOrEqual(1 << 20);
      } catch (e) {
        expect((e as Error).message).toMatch(/^snappy: /);
      }
    }
  });
});

describe('CRC-32C', () => {
  it('matches the standard check values', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('continues across pieces', () => {
    const data = new Uint8Array(1000).map((_, i) => (i * 37) & 0xff);
    expect(crc32c(data.subarray(333), crc32c(data.subarray(0, 333)))).toBe(crc32c(data));
  });
});

describe('frames', () => {
  const messages = [new Uint8Array([1, 2, 3]), new Uint8Array(200).fill(7), new Uint8Array(70_000).map((_, i) => i & 0xff), new Uint8Array([9])];
  const stream = Buffer.concat(messages.map(encodeFrame));

  it('are laid out as uvarint length, big-endian CRC-32C, message', () => {
    const f = encodeFrame(new TextEncoder().encode('123456789'));
    expect(hex(f)).toBe('09' + 'e3069283' + hex(new TextEncoder().encode('123456789')));
    expect(hex(encodeFrame(new Uint8Array(200)).subarray(0, 2))).toBe('c801'); // 200 as a uvarint
  });

  it.each([1, 2, 3, 5, 64, 1000, stream.length])('are read back from pieces of %i bytes', (size) => {
    const r = new FrameReader(1 << 20);
    const got: string[] = [];
    for (let i = 0; i < stream.length; i += size) {
      for (const f of r.push(stream.subarray(i, i + size))) got.push(hex(f));
    }
    r.finish();
    expect(got).toEqual(messages.map(hex));
    expect(r.frames).toBe(messages.length);
  });

  it('a flipped bit in a message or in its checksum is a checksum mismatch', () => {
    // Frame 1: length at byte 0, CRC at 1..4, message at 5..7; frame 2's message starts at byte 14.
    for (const [pos, frame] of [
      [1, 1],
      [3, 1],
      [4, 1],
      [6, 1],
      [7, 1],
      [10, 2],
      [20, 2],
    ] as const) {
      const bad = Buffer.from(stream);
      bad[pos] ^= 0x10;
      const r = new FrameReader(1 << 20);
      expect(() => [...r.push(bad)], `byte ${pos}`).toThrow(new RegExp(`frame ${frame} is corrupt: checksum mismatch`));
    }
  });

  it('a frame over the size limit is refused', () => {
    const r = new FrameReader(1000);
    expect(() => [...r.push(stream)]).toThrow(/frame 3 of 70000 bytes exceeds the limit of 1000 bytes/);
  });

  it('a stream cut inside a frame or a header is truncated', () => {
    const r = new FrameReader(1 << 20);
    expect([...r.push(stream.subarray(0, 20))].length).toBe(1);
    expect(() => r.finish()).toThrow(/truncated: frame 2 ends after 6 of its 200 bytes/);
    const r2 = new FrameReader(1 << 20);
    expect([...r2.push(stream.subarray(0, 9))].length).toBe(1);
    expect(() => r2.finish()).toThrow(/truncated: the stream ends inside the header of frame 2/);
  });

  it('a length varint that never ends is malformed', () => {
    const r = new FrameReader(1 << 20);
    expect(() => [...r.push(new Uint8Array(12).fill(0x80))]).toThrow(/malformed length/);
  });
});

describe('protobuf messages', () => {
  it('encode a ReadRequest as Prometheus does (hand-derived bytes)', () => {
    const req: ReadRequest = {
      queries: [{ startTimestampMs: 1, endTimestampMs: 2, matchers: [{ type: 2, name: 'a', value: 'b' }] }],
      acceptedResponseTypes: [1, 0],
    };
    // Query{1: 1, 2: 2, 3: LabelMatcher{1: 2, 2: "a", 3: "b"}}, then packed [1, 0] as field 2.
    const want = '0a0e' + '0801' + '1002' + '1a08' + '0802' + '120161' + '1a0162' + '12020100';
    expect(hex(encodeReadRequest(req))).toBe(want);
    expect(decodeReadRequest(fromHex(want))).toEqual(req);
  });

  it('round-trip a ReadRequest with every field, negative times, long and non-ASCII strings', () => {
    const req: ReadRequest = {
      queries: [
        {
          startTimestampMs: -1_000,
          endTimestampMs: 1_704_067_200_000,
          matchers: [
            { type: 0, name: '__name__', value: 'up' },
            { type: 1, name: 'job', value: '' },
            { type: 3, name: 'instance', value: 'x'.repeat(300) },
            { type: 2, name: 'ünïcödé', value: '🙂|日本' },
          ],
          hints: { stepMs: 15_000, func: 'rate', startMs: -5, endMs: 9_007_199_254_740_991, grouping: ['job', 'instance'], by: true, rangeMs: 300_000 },
        },
        { startTimestampMs: 0, endTimestampMs: 0, matchers: [] },
      ],
      acceptedResponseTypes: [1, 0],
    };
    expect(decodeReadRequest(encodeReadRequest(req))).toEqual(req);
  });

  it('read accepted_response_types unpacked, and skip unknown fields of every wire type', () => {
    const w = new ProtoWriter();
    w.tag(2, WIRE_VARINT);
    w.uint32(1);
    w.tag(99, WIRE_VARINT);
    w.int64(-5);
    w.tag(98, WIRE_FIXED64);
    w.fixed64Bits(1, 2);
    w.tag(97, WIRE_LEN);
    w.string('ignored');
    w.tag(96, WIRE_FIXED32);
    w.ensure(4);
    w.pos += 4;
    w.tag(2, WIRE_VARINT);
    w.uint32(0);
    expect(decodeReadRequest(w.finish())).toEqual({ queries: [], acceptedResponseTypes: [1, 0] });
  });

  it('reject truncated and malformed messages', () => {
    const good = encodeReadRequest({
      queries: [{ startTimestampMs: 5, endTimestampMs: 6, matchers: [{ type: 0, name: 'a', value: 'b' }] }],
      acceptedResponseTypes: [],
    });
    for (let n = 1; n < good.length; n++) expect(() => decodeReadRequest(good.subarray(0, n)), `cut at ${n}`).toThrow(/^protobuf: /);
    expect(() => decodeReadRequest(fromHex('0b'))).toThrow(/unsupported wire type 3/); // a group
    expect(() => decodeReadRequest(fromHex('00'))).toThrow(/field number 0/);
    expect(() => decodeReadRequest(fromHex('0affffffff0f'))).toThrow(/runs past the end/);
  });

  it('round-trip a ReadResponse keeping NaN payloads and writing stale samples as StaleNaN', () => {
    const values = new Float64Array(6);
    values.set([1.5, -0, Infinity, -Infinity]);
    setBits(values, 4, 0x7ff80000, 0x00000001); // Go's math.NaN()
    setBits(values, 5, 0x7ff00000, 0x00000002); // the StaleNaN pattern on a sample not flagged stale
    const ts = new Float64Array([-2000, 0, 1, 2, 1_704_067_200_000, 1_704_067_215_000]);
    const staleValues = new Float64Array([42, 43]);
    const body = encodeReadResponse([
      [
        { labels: [{ name: '__name__', value: 'a' }], timestamps: ts, values },
        {
          labels: [
            { name: '__name__', value: 'b' },
            { name: 'job', value: 'j' },
          ],
          timestamps: new Float64Array([10, 20]),
          values: staleValues,
          stale: new Uint8Array([0, 1]),
        },
      ],
      [],
    ]);
    const resp = decodeReadResponse(body);
    expect(resp.results.length).toBe(2);
    expect(resp.results[1].timeseries).toEqual([]);
    const [a, b] = resp.results[0].timeseries;
    expect(a.labels).toEqual([{ name: '__name__', value: 'a' }]);
    expect(Array.from(a.timestamps)).toEqual(Array.from(ts));
    expect([0, 1, 2, 3, 4, 5].map((i) => getBits(a.values, i))).toEqual([
      '3ff8000000000000',
      '8000000000000000',
      '7ff0000000000000',
      'fff0000000000000',
      '7ff8000000000001',
      '7ff8000000000001', // not a staleness marker any more: Go's NaN
    ]);
    expect([getBits(b.values, 0), getBits(b.values, 1)]).toEqual(['4045000000000000', '7ff0000000000002']);
    expect(a.histograms).toBe(0);
  });

  it('round-trip a ChunkedReadResponse', () => {
    const msg = {
      chunkedSeries: [
        {
          labels: [
            { name: '__name__', value: 'x' },
            { name: 'le', value: '+Inf' },
          ],
          chunks: [
            { minTimeMs: 1000, maxTimeMs: 2000, type: 1, data: new Uint8Array([0, 2, 1, 2, 3]) },
            { minTimeMs: -5, maxTimeMs: 0, type: 2, data: new Uint8Array(300).fill(1) },
          ],
        },
      ],
      queryIndex: 3,
    };
    const got = decodeChunkedReadResponse(encodeChunkedReadResponse(msg));
    expect({ ...got, chunkedSeries: got.chunkedSeries.map((s) => ({ ...s, chunks: s.chunks.map((c) => ({ ...c, data: Array.from(c.data) })) })) }).toEqual({
      ...msg,
      chunkedSeries: msg.chunkedSeries.map((s) => ({ ...s, chunks: s.chunks.map((c) => ({ ...c, data: Array.from(c.data) })) })),
    });
  });
});

// ---------------------------------------------------------------------------------------------

interface RawSeries {
  ts: Float64Array;
  vs: Float64Array;
  stale?: Uint8Array;
}

function randomSeries(rnd: () => number, n: number): RawSeries {
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  const stale = new Uint8Array(n);
  let t = Math.floor((rnd() - 0.3) * 2e12);
  let v = rnd() * 1000;
  const deltas = [1, 15_000, 15_000, 15_000, 8191, 8192, 8193, 65_535, 65_536, 65_537, 524_288, 524_289, 1e9, 3e11];
  for (let i = 0; i < n; i++) {
    const kind = rnd();
    if (i > 0) {
      // Mostly regular, sometimes jittered, sometimes at the edges of the delta-of-delta buckets.
      t += kind < 0.5 ? 15_000 : kind < 0.8 ? 15_000 + Math.floor((rnd() - 0.5) * 200) : deltas[Math.floor(rnd() * deltas.length)];
    }
    ts[i] = t;
    const vk = rnd();
    if (vk < 0.3)
      v += Math.floor(rnd() * 10); // counters
    else if (vk < 0.5)
      v = rnd() * 1e-300; // tiny
    else if (vk < 0.6)
      v = -rnd() * 1e300; // huge
    else if (vk < 0.65) v = NaN;
    else if (vk < 0.7) v = rnd() < 0.5 ? Infinity : -Infinity;
    else if (vk < 0.75) stale[i] = 1;
    else if (vk < 0.8) v = 0;
    // else: unchanged value
    vs[i] = v;
  }
  return { ts, vs, stale };
}

function expectSameSamples(got: { timestamps: Float64Array; values: Float64Array; stale?: Uint8Array }, want: RawSeries, what: string): void {
  expect(Array.from(got.timestamps), what).toEqual(Array.from(want.ts));
  const gotText: string[] = [];
  const wantText: string[] = [];
  for (let i = 0; i < want.ts.length; i++) {
    const isStale = want.stale !== undefined && want.stale[i] === 1;
    gotText.push(`${got.stale?.[i] ?? 0} ${getBits(got.values, i)}`);
    wantText.push(`${isStale ? 1 : 0} ${isStale ? '7ff0000000000002' : getBits(want.vs, i)}`);
  }
  expect(gotText, what).toEqual(wantText);
}

describe('XOR chunks', () => {
  it('match hand-derived bytes', () => {
    // count 3; t=1000 as zig-zag varint (2000 = d0 0f); 1.0 as 64 raw bits; delta 1000 as uvarint
    // (e8 07); '0' (same value); dod '0'; value 2.0: '1' '1', 5 bits leading zeros (1), 6 bits
    // meaningful length (11), the 11 bits 0x7ff of 1.0 XOR 2.0 = 0x7ff0000000000000; zero padding.
    const chunk = encodeXorChunk(new Float64Array([1000, 2000, 3000]), new Float64Array([1, 1, 2]));
    expect(hex(chunk)).toBe('0003' + 'd00f' + '3ff0000000000000' + 'e807' + '3097ffc0');
    // One sample: Prometheus's bstream.writeByte always appends the next byte, so a chunk whose last
    // byte-wise write ends on a byte boundary carries one more, empty, byte.
    const one = encodeXorChunk(new Float64Array([1000]), new Float64Array([1]));
    expect(hex(one)).toBe('0001d00f3ff0000000000000' + '00');
    // Two equal samples: the value's single '0' bit goes into that byte.
    expect(hex(encodeXorChunk(new Float64Array([1000, 2000]), new Float64Array([1, 1])))).toBe('0002d00f3ff0000000000000e80700');
    const d = decodeXorChunk(fromHex('0003 d00f 3ff0000000000000 e807 3097ffc0'));
    expect(Array.from(d.timestamps)).toEqual([1000, 2000, 3000]);
    expect(Array.from(d.values)).toEqual([1, 1, 2]);
    expect(d.stale).toBeUndefined();
  });

  it('round-trip random series of 1 to 120 samples with NaN, ±Inf, stale markers, extreme values and irregular times', () => {
    const rnd = prng(99);
    let total = 0;
    for (let k = 0; k < 400; k++) {
      const n = k < 20 ? k + 1 : k % 3 === 0 ? 120 : 1 + Math.floor(rnd() * 120);
      const s = randomSeries(rnd, n);
      const d = decodeXorChunk(encodeXorChunk(s.ts, s.vs, s.stale));
      expectSameSamples(d, s, `series ${k} (${n} samples)`);
      total += n;
    }
    expect(total).toBeGreaterThan(20_000);
  });

  it('round-trip delta-of-deltas at the edges of every bucket', () => {
    const dods = [0, 1, -1, 8191, -8191, 8192, -8192, 8193, 65535, -65535, 65536, -65536, 65537, 524287, -524287, 524288, -524288, 524289, 2 ** 40, -(2 ** 40)];
    const ts = [1_000_000_000_000, 1_000_000_000_000 + 3_000_000_000];
    let delta = 3_000_000_000;
    for (const d of dods) {
      delta += d;
      ts.push(ts[ts.length - 1] + delta);
    }
    const t = new Float64Array(ts);
    const d = decodeXorChunk(encodeXorChunk(t, new Float64Array(t.length).fill(1)));
    expect(Array.from(d.timestamps)).toEqual(ts);
  });

  it('keep NaN payloads, -0 and the staleness marker bit for bit', () => {
    const ts = new Float64Array([1, 2, 3, 4, 5, 6]);
    const vs = new Float64Array(6);
    setBits(vs, 0, 0x7ff80000, 0x00000001); // Go's NaN
    setBits(vs, 1, 0x7ff80000, 0x00000000); // JS's NaN
    setBits(vs, 2, 0xfff00000, 0x00000abc); // a negative signalling NaN
    setBits(vs, 3, 0x80000000, 0); // -0
    setBits(vs, 4, 0x7ff00000, 0x00000002); // StaleNaN but not flagged: written as Go's NaN
    setBits(vs, 5, 0x00000000, 0x00000001); // the smallest subnormal
    const d = decodeXorChunk(encodeXorChunk(ts, vs, new Uint8Array([0, 0, 0, 0, 0, 0])));
    expect([0, 1, 2, 3, 4, 5].map((i) => getBits(d.values, i))).toEqual([
      '7ff8000000000001',
      '7ff8000000000000',
      'fff0000000000abc',
      '8000000000000000',
      '7ff8000000000001',
      '0000000000000001',
    ]);
    expect(d.stale).toBeUndefined();
  });

  it('an empty chunk is just its header', () => {
    expect(hex(encodeXorChunk(new Float64Array(0), new Float64Array(0)))).toBe('0000');
    expect(decodeXorChunk(fromHex('0000')).timestamps.length).toBe(0);
  });

  it('refuse timestamps that do not increase', () => {
    expect(() => encodeXorChunk(new Float64Array([5, 5]), new Float64Array([1, 2]))).toThrow(/timestamps must increase: 5 after 5/);
  });

  it('reject truncated and corrupt chunks', () => {
    const rnd = prng(5);
    const s = randomSeries(rnd, 120);
    const chunk = encodeXorChunk(s.ts, s.vs, s.stale);
    expect(() => decodeXorChunk(chunk.subarray(0, 1))).toThrow(/shorter than the 2-byte header/);
    // Every cut before the last byte loses samples; the reader notices.
    for (let n = 2; n < chunk.length - 1; n++) expect(() => decodeXorChunk(chunk.subarray(0, n)), `cut at ${n}`).toThrow(/XOR chunk: .*truncated/);
    // A header claiming more samples than the data hold.
    const more = chunk.slice();
    more[1] = more[1] + 5;
    expect(() => decodeXorChunk(more)).toThrow(/XOR chunk: sample 12\d of 12\d/);
    // 31 leading zeros and 63 meaningful bits cannot be.
    expect(() => decodeXorChunk(fromHex('0002 02 3ff0000000000000 02 fff8'))).toThrow(/exceed 64 \(corrupt\)/);
  });

  it('decode into an arena only the samples in a window, series after series, moving a series that outgrows its block', () => {
    const rnd = prng(17);
    // Small first blocks, so that series move to new blocks while being written.
    let arena = new SampleArena(8);
    const taken: { got: ReturnType<SampleArena['take']>; want: RawSeries; what: string }[] = [];
    for (let k = 0; k < 60; k++) {
      const chunks = 1 + (k % 9);
      const parts = Array.from({ length: chunks }, () => randomSeries(rnd, 1 + Math.floor(rnd() * 120)));
      // Consecutive chunks of one series: each part starts after the previous one ends.
      let shift = 0;
      for (const p of parts) {
        const d = shift - p.ts[0] + 1;
        for (let i = 0; i < p.ts.length; i++) p.ts[i] += d;
        shift = p.ts[p.ts.length - 1];
      }
      const all = {
        ts: new Float64Array(parts.flatMap((p) => Array.from(p.ts))),
        vs: new Float64Array(parts.flatMap((p) => Array.from(p.vs))),
        stale: new Uint8Array(parts.flatMap((p) => Array.from(p.stale!))),
      };
      // A window cutting into the first and last chunks (or everything, or nothing).
      const lo = k % 7 === 0 ? -Infinity : all.ts[Math.floor(rnd() * all.ts.length)] + (k % 2);
      const hi = k % 5 === 0 ? Infinity : k % 11 === 0 ? lo - 1 : all.ts[Math.floor(rnd() * all.ts.length)];
      const keep = Array.from(all.ts.keys()).filter((i) => all.ts[i] >= lo && all.ts[i] <= hi);
      const want = {
        ts: new Float64Array(keep.map((i) => all.ts[i])),
        vs: new Float64Array(keep.map((i) => all.vs[i])),
        stale: new Uint8Array(keep.map((i) => all.stale[i])),
      };
      if (k % 2 === 0) arena = new SampleArena(8);
      let added = 0;
      for (const p of parts) added += decodeXorChunkInto(encodeXorChunk(p.ts, p.vs, p.stale), arena, lo, hi);
      expect(added, `series ${k}`).toBe(keep.length);
      taken.push({ got: arena.take(), want, what: `series ${k}` });
    }
    // Every view still holds its own samples after the later series were written.
    for (const t of taken) {
      expectSameSamples(t.got, t.want, t.what);
      expect(t.got.stale === undefined || t.got.stale.indexOf(1) >= 0, t.what).toBe(true);
    }
  });

  it('stop at the first sample after the window: what follows is not decoded', () => {
    const ts = Float64Array.from({ length: 120 }, (_, i) => 1_000 + 15_000 * i);
    const vs = Float64Array.from({ length: 120 }, (_, i) => i * 1.5);
    const chunk = encodeXorChunk(ts, vs);
    // Cut after the first 30 samples' worth of bytes: the whole chunk no longer decodes...
    const cut = chunk.subarray(0, Math.floor(chunk.length / 4));
    expect(() => decodeXorChunk(cut)).toThrow(/truncated/);
    // ...but a window ending well before the cut does, and holds exactly its samples.
    const arena = new SampleArena(8);
    const added = decodeXorChunkInto(cut, arena, ts[3], ts[10]);
    expect(added).toBe(8);
    const got = arena.take();
    expect(Array.from(got.timestamps)).toEqual(Array.from(ts.subarray(3, 11)));
    expect(Array.from(got.values)).toEqual(Array.from(vs.subarray(3, 11)));
  });

  it('leave the arena as it was when a chunk is corrupt', () => {
    const rnd = prng(8);
    const arena = new SampleArena(16);
    const s = randomSeries(rnd, 120);
    s.stale!.fill(1, 0, 60);
    const chunk = encodeXorChunk(s.ts, s.vs, s.stale);
    decodeXorChunkInto(encodeXorChunk(new Float64Array([1, 2]), new Float64Array([5, 6])), arena, -Infinity, Infinity);
    expect(() => decodeXorChunkInto(chunk.subarray(0, chunk.length - 4), arena, -Infinity, Infinity)).toThrow(/truncated/);
    expect(arena.length).toBe(2);
    // The stale flags the failed chunk wrote do not reach the samples written next in their place.
    decodeXorChunkInto(encodeXorChunk(new Float64Array([3, 4, 5]), new Float64Array([7, 8, 9])), arena, -Infinity, Infinity);
    const got = arena.take();
    expect(Array.from(got.timestamps)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(got.values)).toEqual([5, 6, 7, 8, 9]);
    expect(got.stale).toBeUndefined();
  });
});

describe('streamed answer frames', () => {
  it('cut series into chunks of at most 120 samples and frames of about 1 MiB, one series per frame', () => {
    const n = 500_000;
    const ts = new Float64Array(n).map((_, i) => 1e12 + i * 1000);
    const vs = new Float64Array(n).map((_, i) => Math.sin(i) * 1e6); // poorly compressible
    const small = { labels: [{ name: '__name__', value: 'b' }], timestamps: new Float64Array([1, 2, 3]), values: new Float64Array([1, 2, 3]) };
    const big = { labels: [{ name: '__name__', value: 'a' }], timestamps: ts, values: vs };
    const frames = [...frameGenerator([[big, small], [small]], 1 << 20)];
    const reader = new FrameReader();
    const decoded = frames.flatMap((f) => [...reader.push(f)]).map(decodeChunkedReadResponse);
    expect(decoded.length).toBeGreaterThan(2 + 3);
    let samples = 0;
    let mismatches = 0;
    let badChunks = 0;
    for (const [i, msg] of decoded.entries()) {
      expect(msg.chunkedSeries.length).toBe(1);
      expect(frames[i].length).toBeLessThan((1 << 20) + 4096); // the budget plus at most one chunk
      for (const c of msg.chunkedSeries[0].chunks) {
        const d = decodeXorChunk(c.data);
        const k = d.timestamps.length;
        if (k > 120 || c.minTimeMs !== d.timestamps[0] || c.maxTimeMs !== d.timestamps[k - 1]) badChunks++;
        if (msg.chunkedSeries[0].labels[0].value === 'a') {
          for (let j = 0; j < k; j++) if (d.timestamps[j] !== ts[samples + j] || d.values[j] !== vs[samples + j]) mismatches++;
          samples += k;
        }
      }
    }
    expect(badChunks).toBe(0);
    expect(mismatches).toBe(0);
    expect(samples).toBe(n);
    // All frames but the last two (the small series of query 0 and of query 1) are the big series.
    expect(decoded.slice(0, -2).every((m) => m.chunkedSeries[0].labels[0].value === 'a' && m.queryIndex === 0)).toBe(true);
    expect(decoded.at(-2)!.queryIndex).toBe(0);
    expect(decoded.at(-1)!.queryIndex).toBe(1);
    // Frames are close to the budget except each series' last one.
    expect(frames[0].length).toBeGreaterThan((1 << 20) - 4096);
  });
});
