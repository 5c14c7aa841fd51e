// Byte-chunk accumulation for shard bodies: lines collected into large Buffers without a per-line
// allocation.

/**
 * Accumulates exposition lines (latin1 strings: one char per upstream byte) into Buffers of about
 * 64 KiB, so a shard body is a list of ready byte chunks and no per-line Buffer is ever made.
 */
export class LineSink {
  chunks: Buffer[] = [];
  private pending = '';
  bytes = 0;

  add(line: string): void {
    this.pending += line;
    this.bytes += line.length;
    if (this.pending.length >= 65536) this.flush();
  }

  flush(): void {
    if (this.pending.length > 0) {
      this.chunks.push(Buffer.from(this.pending, 'latin1'));
      this.pending = '';
    }
  }

  clone(): LineSink {
    const copy = new LineSink();
    copy.chunks = this.chunks.slice();
    copy.pending = this.pending;
    copy.bytes = this.bytes;
    return copy;
  }

  /** Finished content; call flush() first. */
  get buffers(): readonly Buffer[] {
    return this.chunks;
  }
}
