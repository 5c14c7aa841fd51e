// The remote-read messages of Prometheus's prompb package (remote.proto, types.proto), with their
// field numbers, encoded and decoded with ./protobuf.ts. Only what remote read needs: exemplars are
// skipped, native histograms are counted so that the caller can refuse them.
//
// Sample values travel as raw 64-bit patterns, never through a JS number, so NaN payloads (the
// staleness marker above all) survive. Samples are kept columnar (Float64Array), as in Series.

import type { Label } from '../model/labels.js';
import { ProtoReader, ProtoWriter, varintSize, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './protobuf.js';
import { ProtobufError } from '../errors.js';

export const MatcherType = { EQ: 0, NEQ: 1, RE: 2, NRE: 3 } as const;
export const ResponseType = { SAMPLES: 0, STREAMED_XOR_CHUNKS: 1 } as const;
export const ChunkEncoding = { UNKNOWN: 0, XOR: 1, HISTOGRAM: 2, FLOAT_HISTOGRAM: 3 } as const;

/** The bit pattern of Prometheus's staleness marker (value.StaleNaN). */
export const STALE_NAN_HI = 0x7ff00000;
export const STALE_NAN_LO = 0x00000002;
/** The bit pattern of Go's math.NaN(), what Prometheus writes for an ordinary NaN. */
export const GO_NAN_HI = 0x7ff80000;
export const GO_NAN_LO = 0x00000001;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Values are read and written through 32-bit views of Float64Arrays, low word first.
  throw new Error('remote read codecs need a little-endian platform');
}

export interface PbLabelMatcher {
  type: number;
  name: string;
  value: string;
}

export interface ReadHints {
  stepMs: number;
  func: string;
  startMs: number;
  endMs: number;
  grouping: string[];
  by: boolean;
  rangeMs: number;
}

export interface PbQuery {
  startTimestampMs: number;
  endTimestampMs: number;
  matchers: PbLabelMatcher[];
  hints?: ReadHints;
}

export interface ReadRequest {
  queries: PbQuery[];
  acceptedResponseTypes: number[];
}

/** A TimeSeries of a SAMPLES response, columnar. */
export interface PbTimeSeries {
  labels: Label[];
  timestamps: Float64Array;
  values: Float64Array;
  /** Number of native histogram samples the series carried (not decoded). */
  histograms: number;
}

export interface QueryResult {
  timeseries: PbTimeSeries[];
}

export interface ReadResponse {
  results: QueryResult[];
}

export interface PbChunk {
  minTimeMs: number;
  maxTimeMs: number;
  type: number;
  data: Uint8Array;
}

export interface ChunkedSeries {
  labels: Label[];
  chunks: PbChunk[];
}

export interface ChunkedReadResponse {
  chunkedSeries: ChunkedSeries[];
  queryIndex: number;
}

// ---------------------------------------------------------------------------------------------
// Decoding

function decodeLabel(r: ProtoReader): Label {
  let name = '';
  let value = '';
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_LEN) name = r.string();
    else if (field === 2 && wire === WIRE_LEN) value = r.string();
    else r.skip(wire);
  }
  return { name, value };
}

function decodeMatcher(r: ProtoReader): PbLabelMatcher {
  const m: PbLabelMatcher = { type: 0, name: '', value: '' };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_VARINT) m.type = r.enumValue();
    else if (field === 2 && wire === WIRE_LEN) m.name = r.string();
    else if (field === 3 && wire === WIRE_LEN) m.value = r.string();
    else r.skip(wire);
  }
  return m;
}

function decodeHints(r: ProtoReader): ReadHints {
  const h: ReadHints = { stepMs: 0, func: '', startMs: 0, endMs: 0, grouping: [], by: false, rangeMs: 0 };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_VARINT) h.stepMs = r.int64();
    else if (field === 2 && wire === WIRE_LEN) h.func = r.string();
    else if (field === 3 && wire === WIRE_VARINT) h.startMs = r.int64();
    else if (field === 4 && wire === WIRE_VARINT) h.endMs = r.int64();
    else if (field === 5 && wire === WIRE_LEN) h.grouping.push(r.string());
    else if (field === 6 && wire === WIRE_VARINT) h.by = r.bool();
    else if (field === 7 && wire === WIRE_VARINT) h.rangeMs = r.int64();
    else r.skip(wire);
  }
  return h;
}

function decodeQuery(r: ProtoReader): PbQuery {
  const q: PbQuery = { startTimestampMs: 0, endTimestampMs: 0, matchers: [] };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_VARINT) q.startTimestampMs = r.int64();
    else if (field === 2 && wire === WIRE_VARINT) q.endTimestampMs = r.int64();
    else if (field === 3 && wire === WIRE_LEN) q.matchers.push(decodeMatcher(r.message()));
    else if (field === 4 && wire === WIRE_LEN) q.hints = decodeHints(r.message());
    else r.skip(wire);
  }
  return q;
}

export function decodeReadRequest(buf: Uint8Array): ReadRequest {
  const r = new ProtoReader(buf);
  const req: ReadRequest = { queries: [], acceptedResponseTypes: [] };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_LEN) req.queries.push(decodeQuery(r.message()));
    else if (field === 2) r.repeatedEnum(field, wire, (v) => req.acceptedResponseTypes.push(v));
    else r.skip(wire);
  }
  return req;
}

/** Growing sample columns; push() reads one Sample message into them. */
class SampleColumns {
  t = new Float64Array(16);
  v = new Float64Array(16);
  bits = new Uint32Array(this.v.buffer);
  n = 0;

  push(r: ProtoReader): void {
    let t = 0;
    let lo = 0;
    let hi = 0;
    while (!r.done) {
      const field = r.tag();
      const wire = r.wire;
      if (field === 1 && wire === WIRE_FIXED64) {
        lo = r.fixed64Bits();
        hi = r.hi;
      } else if (field === 2 && wire === WIRE_VARINT) t = r.int64();
      else r.skip(wire);
    }
    if (this.n === this.t.length) this.grow();
    this.t[this.n] = t;
    this.bits[2 * this.n] = lo;
    this.bits[2 * this.n + 1] = hi;
    this.n++;
  }

  private grow(): void {
    const t = new Float64Array(this.t.length * 2);
    t.set(this.t);
    const v = new Float64Array(this.v.length * 2);
    v.set(this.v); // Float64Array.set copies bytes: NaN payloads are kept
    this.t = t;
    this.v = v;
    this.bits = new Uint32Array(v.buffer);
  }
}

function decodeTimeSeries(r: ProtoReader): PbTimeSeries {
  const labels: Label[] = [];
  const cols = new SampleColumns();
  // One reader moved from sample to sample: there can be millions of them.
  const sample = new ProtoReader(r.buf, 0, 0);
  let histograms = 0;
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_LEN) labels.push(decodeLabel(r.message()));
    else if (field === 2 && wire === WIRE_LEN) {
      const [s, e] = r.lengthDelimited();
      sample.pos = s;
      sample.end = e;
      cols.push(sample);
    } else if (field === 4 && wire === WIRE_LEN) {
      histograms++;
      r.skip(wire);
    } else r.skip(wire);
  }
  return { labels, timestamps: cols.t.subarray(0, cols.n), values: cols.v.subarray(0, cols.n), histograms };
}

function decodeQueryResult(r: ProtoReader): QueryResult {
  const res: QueryResult = { timeseries: [] };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_LEN) res.timeseries.push(decodeTimeSeries(r.message()));
    else r.skip(wire);
  }
  return res;
}

export function decodeReadResponse(buf: Uint8Array): ReadResponse {
  const r = new ProtoReader(buf);
  const resp: ReadResponse = { results: [] };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_LEN) resp.results.push(decodeQueryResult(r.message()));
    else r.skip(wire);
  }
  return resp;
}

/** A chunk's data until its field is read: one shared empty array, not one per chunk. */
const NO_DATA = new Uint8Array(0);

function decodeChunk(r: ProtoReader): PbChunk {
  const c: PbChunk = { minTimeMs: 0, maxTimeMs: 0, type: 0, data: NO_DATA };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_VARINT) c.minTimeMs = r.int64();
    else if (field === 2 && wire === WIRE_VARINT) c.maxTimeMs = r.int64();
    else if (field === 3 && wire === WIRE_VARINT) c.type = r.enumValue();
    else if (field === 4 && wire === WIRE_LEN) c.data = r.bytes();
    else r.skip(wire);
  }
  return c;
}

function decodeChunkedSeries(r: ProtoReader): ChunkedSeries {
  const s: ChunkedSeries = { labels: [], chunks: [] };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_LEN) s.labels.push(decodeLabel(r.message()));
    else if (field === 2 && wire === WIRE_LEN) s.chunks.push(decodeChunk(r.message()));
    else r.skip(wire);
  }
  return s;
}

/** Decodes one frame's message. Chunk data are views into `buf`. */
export function decodeChunkedReadResponse(buf: Uint8Array): ChunkedReadResponse {
  const r = new ProtoReader(buf);
  const resp: ChunkedReadResponse = { chunkedSeries: [], queryIndex: 0 };
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    if (field === 1 && wire === WIRE_LEN) resp.chunkedSeries.push(decodeChunkedSeries(r.message()));
    else if (field === 2 && wire === WIRE_VARINT) resp.queryIndex = r.int64();
    else r.skip(wire);
  }
  return resp;
}

// ---------------------------------------------------------------------------------------------
// Encoding (fields in number order and proto3 defaults left out, as Go's generated code does)

function writeLabels(w: ProtoWriter, field: number, labels: ReadonlyArray<Label>): void {
  for (const l of labels) {
    w.tag(field, WIRE_LEN);
    const m = w.beginMessage();
    if (l.name !== '') {
      w.tag(1, WIRE_LEN);
      w.string(l.name);
    }
    if (l.value !== '') {
      w.tag(2, WIRE_LEN);
      w.string(l.value);
    }
    w.endMessage(m);
  }
}

function writeInt64Field(w: ProtoWriter, field: number, v: number): void {
  if (v === 0) return;
  w.tag(field, WIRE_VARINT);
  w.int64(v);
}

function writeStringField(w: ProtoWriter, field: number, s: string): void {
  if (s === '') return;
  w.tag(field, WIRE_LEN);
  w.string(s);
}

export function encodeReadRequest(req: ReadRequest, w = new ProtoWriter(256)): Uint8Array {
  for (const q of req.queries) {
    w.tag(1, WIRE_LEN);
    const qm = w.beginMessage();
    writeInt64Field(w, 1, q.startTimestampMs);
    writeInt64Field(w, 2, q.endTimestampMs);
    for (const m of q.matchers) {
      w.tag(3, WIRE_LEN);
      const mm = w.beginMessage();
      writeInt64Field(w, 1, m.type);
      writeStringField(w, 2, m.name);
      writeStringField(w, 3, m.value);
      w.endMessage(mm);
    }
    if (q.hints !== undefined) {
      const h = q.hints;
      w.tag(4, WIRE_LEN);
      const hm = w.beginMessage();
      writeInt64Field(w, 1, h.stepMs);
      writeStringField(w, 2, h.func);
      writeInt64Field(w, 3, h.startMs);
      writeInt64Field(w, 4, h.endMs);
      for (const g of h.grouping) {
        w.tag(5, WIRE_LEN);
        w.string(g);
      }
      writeInt64Field(w, 6, h.by ? 1 : 0);
      writeInt64Field(w, 7, h.rangeMs);
      w.endMessage(hm);
    }
    w.endMessage(qm);
  }
  if (req.acceptedResponseTypes.length > 0) {
    // Packed, as proto3 repeated scalars are by default.
    w.tag(2, WIRE_LEN);
    const m = w.beginMessage();
    for (const t of req.acceptedResponseTypes) w.int64(t);
    w.endMessage(m);
  }
  return w.finish();
}

/** A series to encode in a SAMPLES response: the storage's columnar Series shape. */
export interface SeriesToEncode {
  labels: ReadonlyArray<Label>;
  timestamps: Float64Array;
  values: Float64Array;
  /** stale[i] = 1: sample i is written as the staleness marker whatever its value. */
  stale?: Uint8Array;
}

/** The 32-bit words of a Float64Array's values (low word first), without copying. */
export function valueBits(values: Float64Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
}

/** Appends one QueryResult message (field `field` of the enclosing message) holding `series`. */
export function writeQueryResult(w: ProtoWriter, field: number, series: Iterable<SeriesToEncode>): void {
  w.tag(field, WIRE_LEN);
  const rm = w.beginMessage();
  for (const s of series) {
    w.tag(1, WIRE_LEN);
    const sm = w.beginMessage();
    writeLabels(w, 1, s.labels);
    const bits = valueBits(s.values);
    const ts = s.timestamps;
    const stale = s.stale;
    for (let i = 0; i < ts.length; i++) {
      let lo = bits[2 * i];
      let hi = bits[2 * i + 1];
      if (stale !== undefined && stale[i] !== 0) {
        lo = STALE_NAN_LO;
        hi = STALE_NAN_HI;
      } else if (lo === STALE_NAN_LO && hi === STALE_NAN_HI) {
        // A real sample must not turn into a staleness marker on the way.
        lo = GO_NAN_LO;
        hi = GO_NAN_HI;
      }
      w.tag(2, WIRE_LEN);
      const pm = w.beginMessage();
      if (lo !== 0 || hi !== 0) {
        w.tag(1, WIRE_FIXED64);
        w.fixed64Bits(lo, hi);
      }
      writeInt64Field(w, 2, ts[i]);
      w.endMessage(pm);
    }
    w.endMessage(sm);
  }
  w.endMessage(rm);
}

export function encodeReadResponse(results: Iterable<SeriesToEncode>[], w = new ProtoWriter(64 * 1024)): Uint8Array {
  for (const r of results) writeQueryResult(w, 1, r);
  return w.finish();
}

/** Encodes a ChunkedReadResponse message: one series (or a part of one) of query `queryIndex`. */
export function encodeChunkedReadResponse(resp: ChunkedReadResponse, w = new ProtoWriter(4096)): Uint8Array {
  for (const s of resp.chunkedSeries) {
    w.tag(1, WIRE_LEN);
    const sm = w.beginMessage();
    writeLabels(w, 1, s.labels);
    for (const c of s.chunks) {
      w.tag(2, WIRE_LEN);
      const cm = w.beginMessage();
      writeInt64Field(w, 1, c.minTimeMs);
      writeInt64Field(w, 2, c.maxTimeMs);
      writeInt64Field(w, 3, c.type);
      if (c.data.length > 0) {
        w.tag(4, WIRE_LEN);
        w.bytes(c.data);
      }
      w.endMessage(cm);
    }
    w.endMessage(sm);
  }
  writeInt64Field(w, 2, resp.queryIndex);
  return w.finish();
}

/** Size in bytes of a Label message's content (gogo's Label.Size()). */
export function labelMessageSize(l: Label): number {
  const n = Buffer.byteLength(l.name);
  const v = Buffer.byteLength(l.value);
  return (n > 0 ? 1 + varintSize(n) + n : 0) + (v > 0 ? 1 + varintSize(v) + v : 0);
}

/** Size in bytes of a Chunk message's content (gogo's Chunk.Size()). */
export function chunkMessageSize(c: PbChunk): number {
  return (
    (c.minTimeMs !== 0 ? 1 + int64Len(c.minTimeMs) : 0) +
    (c.maxTimeMs !== 0 ? 1 + int64Len(c.maxTimeMs) : 0) +
    (c.type !== 0 ? 1 + int64Len(c.type) : 0) +
    (c.data.length > 0 ? 1 + varintSize(c.data.length) + c.data.length : 0)
  );
}

function int64Len(v: number): number {
  return v < 0 ? 10 : varintSize(v);
}

export { ProtobufError };
