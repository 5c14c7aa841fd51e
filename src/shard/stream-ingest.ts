import { isUtf8 } from 'node:buffer';
import type { ExpositionFormat } from './exposition.js';
import { ScrapeError } from '../errors.js';
import type { BodySink } from './source-client.js';
import { SourceIngest, type SourceData } from './ingest.js';
import { ExpositionParser } from './textparse/parse.js';

/**
 * Parses and shards a body while it downloads: whole lines go to the parser as they arrive, so the
 * body is never held in memory at once (at 600k series that is 70 MB, twice: bytes and string).
 * Each piece is checked to be UTF-8 and read as latin1, one char per byte, so bytes pass through to
 * the shard bodies unchanged.
 */
export class StreamingIngest implements BodySink {
  private readonly ingest: SourceIngest;
  private readonly parser: ExpositionParser;
  /** Bytes after the last newline seen, waiting for the rest of their line. */
  private partial: Buffer | undefined;
  private started = false;

  constructor(
    format: ExpositionFormat,
    numShards: number,
    extraLabels: ReadonlyArray<readonly [string, string]>,
    defaultTimestampMs?: number,
    identityLabels: ReadonlyArray<readonly [string, string]> = [],
  ) {
    this.ingest = new SourceIngest(format, numShards, extraLabels, defaultTimestampMs, identityLabels);
    this.parser = new ExpositionParser(format, this.ingest);
  }

  write(chunk: Buffer): void {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      this.partial = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
      return;
    }
    const lines = this.partial ? Buffer.concat([this.partial, chunk.subarray(0, last + 1)]) : chunk.subarray(0, last + 1);
    this.partial = last + 1 < chunk.length ? chunk.subarray(last + 1) : undefined;
    this.feed(lines);
  }

  /** Parses what is left and returns the source's data; throws ExpositionError/ScrapeError. */
  finish(): SourceData {
    if (this.partial) this.feed(this.partial);
    this.partial = undefined;
    this.parser.end();
    return this.ingest.finish();
  }

  private feed(bytes: Buffer): void {
    if (!this.started) {
      this.started = true;
      // A UTF-8 byte order mark is not part of the exposition.
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    // Pieces end at a newline, which never falls inside a multi-byte character: each is checkable alone.
    if (!isUtf8(bytes)) throw new ScrapeError('invalid exposition: body is not valid UTF-8');
    const text = bytes.toString('latin1');
    this.parser.push(text);
  }
}
