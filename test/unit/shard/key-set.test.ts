import { describe, expect, it } from 'vitest';
import { initHash } from '../../../src/shard/hash.js';
import { SourceIngest } from '../../../src/shard/ingest.js';
import { KeySet, lineIdentity, sampleHash, type LineLookup } from '../../../src/shard/key-set.js';
import { parseExposition } from '../../../src/shard/textparse/parse.js';

/**
 * Lines "written" to shard 0, as the ingest's parts hold them, and the line being checked (set with
 * checking()); compares identities as the ingest does and counts how often a line is read back.
 */
class Lines implements LineLookup {
  readonly text: string[] = [];
  reads = 0;
  private current = '';
  /** Appends a line and returns its [offset, length]. */
  write(line: string): [number, number] {
    const at = this.text.join('').length;
    this.text.push(line);
    return [at, line.length];
  }
  checking(line: string): this {
    this.current = line;
    return this;
  }
  sameSeries(shard: number, offset: number, length: number): boolean {
    expect(shard).toBe(0);
    this.reads++;
    return lineIdentity(this.text.join('').slice(offset, offset + length)) === lineIdentity(this.current);
  }
}

describe('lineIdentity', () => {
  it('gives every spelling of one series one identity', () => {
    const one = lineIdentity('g{a="1",b="2"} 1\n');
    expect(lineIdentity('g{b="2",a="1"} 7 1000\n')).toBe(one);
    expect(lineIdentity('g{ a = "1" , b="2" , } 5\n')).toBe(one);
    expect(lineIdentity('g{a="1",c="",b="2"} 5\n')).toBe(one);
    expect(lineIdentity('g{a="1",b="3"} 1\n')).not.toBe(one);
    expect(lineIdentity('g2{a="1",b="2"} 1\n')).not.toBe(one);
  });

  it('compares label values unescaped, and a label set of empty values as no labels', () => {
    // An unknown escape stays as written: "\q" and "\\q" are both the value \q.
    expect(lineIdentity('m{v="\\q"} 1\n')).toBe(lineIdentity('m{v="\\\\q"} 1\n'));
    expect(lineIdentity('m{v="x\\"y,z}"} 1\n')).toBe('m{v="x\\"y,z}"}');
    expect(lineIdentity('m{v="a\\nb"} 1\n')).not.toBe(lineIdentity('m{v="anb"} 1\n'));
    expect(lineIdentity('m{c=""} 1\n')).toBe(lineIdentity('m 2\n'));
    expect(lineIdentity('m{} 1\n')).toBe('m');
  });
});

describe('KeySet', () => {
  const h = new Int32Array(2);

  it('drops a repeat of one series at one timestamp, keeps it at another', () => {
    const keys = new KeySet();
    const lines = new Lines();
    sampleHash(1, 2, 3, 0, NaN, h);
    const [o1, l1] = lines.write('g{a="1"} 1\n');
    expect(keys.add(h[0], h[1], NaN, 0, o1, l1, lines)).toBe(true);
    expect(lines.reads).toBe(0);
    expect(keys.add(h[0], h[1], NaN, 0, 99, 1, lines.checking('g{a="1"} 2\n'))).toBe(false);
    expect(lines.reads).toBe(1);
    sampleHash(1, 2, 3, 0, 1000, h);
    expect(keys.add(h[0], h[1], 1000, 0, 99, 1, lines)).toBe(true);
    expect(lines.reads).toBe(1);
    expect(keys.size).toBe(2);
  });

  it('keeps two series whose hashes collide: a match is confirmed on the lines themselves', () => {
    const keys = new KeySet();
    const lines = new Lines();
    const [o1, l1] = lines.write('g{a="1"} 1\n');
    expect(keys.add(7, 8, NaN, 0, o1, l1, lines)).toBe(true);
    // Same hash words, another series: kept.
    const [o2, l2] = lines.write('g{a="2"} 1\n');
    expect(keys.add(7, 8, NaN, 0, o2, l2, lines.checking('g{a="2"} 1\n'))).toBe(true);
    // Both are found again, each against its own line.
    expect(keys.add(7, 8, NaN, 0, 0, 0, lines.checking('g{a="2"} 5\n'))).toBe(false);
    expect(keys.add(7, 8, NaN, 0, 0, 0, lines.checking('g{a="1"} 5\n'))).toBe(false);
    expect(keys.size).toBe(2);
  });

  it('keeps every one of many keys through the tables growing, and forgets them on clear', () => {
    const keys = new KeySet();
    const lines = new Lines();
    for (let fam = 0; fam < 3; fam++) {
      keys.clear();
      const n = fam === 1 ? 50_000 : 300;
      let added = 0;
      for (let i = 0; i < n; i++) {
        sampleHash(i * 31, i, 5, 0, NaN, h);
        if (keys.add(h[0], h[1], NaN, 0, 0, 0, lines)) added++;
      }
      expect(added).toBe(n);
      let again = 0;
      for (let i = 0; i < n; i += 3) {
        sampleHash(i * 31, i, 5, 0, NaN, h);
        // The lookup stands for "the same line": every candidate compares equal.
        if (!keys.add(h[0], h[1], NaN, 0, 0, 0, { sameSeries: () => true })) again++;
      }
      expect(again).toBe(Math.ceil(n / 3));
      expect(keys.size).toBe(n);
    }
  });

  it('hashes the name, the child label value and the timestamp apart', () => {
    const seen = new Set<string>();
    for (const [name, child, ts] of [
      [1, 0, NaN],
      [2, 0, NaN],
      [1, 9, NaN],
      [1, 0, 0],
      [1, 0, 4294967296],
      [1, 0, 1],
    ]) {
      sampleHash(11, 12, name, child, ts, h);
      seen.add(`${h[0]},${h[1]}`);
    }
    expect(seen.size).toBe(6);
  });
});

describe('the duplicate check in the ingest', () => {
  it('drops every repeat of one line (the exact-spelling path) and of its respellings, with extra labels too', async () => {
    await initHash();
    const line = 'x_total{a="b"} 1\n';
    const body = `${line.repeat(20_000)}x_total{ a="b" } 2\nx_total{a="b",c=""} 3\nx_total{a="c"} 4\n`;
    for (const extra of [[], [['job', 'j']]] as [string, string][][]) {
      const ing = new SourceIngest('text', 4, extra);
      parseExposition(body, 'text', ing);
      const data = ing.finish();
      expect(data.duplicates).toBe(20_000 - 1 + 2);
      expect(data.series).toBe(2);
    }
  });
});
