import { describe, expect, it } from 'vitest';
import { KeySet } from '../../../src/shard/key-set.js';

describe('KeySet', () => {
  it('finds a key again whether it was added from a body range or built piece by piece', () => {
    const keys = new KeySet();
    const body = 'xx g{a="1",b="2"} 1\n';
    expect(keys.add(body, 3, 17, NaN)).toBe(true);
    keys.begin();
    for (const piece of ['g', '{', 'a', '="', '1', '"', ',', 'b', '="', '2', '"', '}']) keys.put(piece);
    expect(keys.commit(NaN)).toBe(false);
    expect(keys.add('g{a="1",b="2"}', 0, 14, 1000)).toBe(true); // another timestamp is another sample
    expect(keys.add('g{a="1",b="2"}', 0, 14, 1000)).toBe(false);
    expect(keys.size).toBe(2);
  });

  it('tells apart strings that differ only above latin1, and forgets everything on clear', () => {
    const keys = new KeySet();
    // U+0141 and U+0241 share their low byte with "A": a hash of the low bytes alone collides.
    expect(keys.add('m{v="A"}', 0, 8, NaN)).toBe(true);
    expect(keys.add('m{v="\u0141"}', 0, 8, NaN)).toBe(true);
    keys.begin();
    keys.put('m{v="\u0241"}');
    expect(keys.commit(NaN)).toBe(true);
    expect(keys.add('m{v="\u0141"}', 0, 8, NaN)).toBe(false);
    keys.clear();
    expect(keys.add('m{v="A"}', 0, 8, NaN)).toBe(true);
  });

  it('keeps every one of many keys through the tables growing, across families', () => {
    const keys = new KeySet();
    for (let fam = 0; fam < 3; fam++) {
      keys.clear();
      const n = fam === 1 ? 50_000 : 300;
      for (let i = 0; i < n; i++) expect(keys.add(`s{i="${i}",x="${'y'.repeat(i % 40)}"}`, 0, 12 + String(i).length + (i % 40), NaN)).toBe(true);
      let again = 0;
      for (let i = 0; i < n; i += 3) if (!keys.add(`s{i="${i}",x="${'y'.repeat(i % 40)}"}`, 0, 12 + String(i).length + (i % 40), NaN)) again++;
      expect(again).toBe(Math.ceil(n / 3));
      expect(keys.size).toBe(n);
    }
  });
});
