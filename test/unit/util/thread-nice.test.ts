// A thread raises its own nice value, never lowers it, and says why where it cannot.

import { readlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { raiseThreadNice } from '../../../src/util/thread-nice.js';

describe('raiseThreadNice', () => {
  it('0 asks for nothing', () => {
    expect(raiseThreadNice(0)).toBeUndefined();
  });

  it('raises this thread only, and only upward', () => {
    if (process.platform !== 'linux') {
      expect(raiseThreadNice(1)).toMatch(/Linux only/);
      return;
    }
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    const before = getPriority(tid);
    const target = Math.min(19, before + 1);
    expect(raiseThreadNice(target)).toBeUndefined();
    expect(getPriority(tid)).toBe(target);
    // A lower value leaves it where it is (lowering needs privilege).
    expect(raiseThreadNice(Math.max(1, target - 1))).toBeUndefined();
    expect(getPriority(tid)).toBe(target);
  });
});
