// The lifecycle file_sd and dns_sd share (src/query/discovery/refresher.ts): a failing refresh keeps
// the last good targets and is counted, listeners hear only of real changes, overlapping refreshes
// join or rerun as asked, and stop() ends the refresh_interval timer.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type OverlapPolicy, RefreshingDiscoverer } from '../../../src/query/discovery/refresher.js';
import type { DiscoveredTarget, DiscoveryLog } from '../../../src/query/discovery/target.js';

type Answer = DiscoveredTarget[] | Error;

/** A discoverer whose source answers from a script, one answer per look. */
class Scripted extends RefreshingDiscoverer {
  looks = 0;
  releasedCalls = 0;
  private last: DiscoveredTarget[] = [];
  gate: Promise<void> | undefined;

  constructor(
    private readonly answers: Answer[],
    overlap: OverlapPolicy,
    log?: DiscoveryLog,
    refreshIntervalMs = 1000,
  ) {
    super({ name: 'scripted', refreshIntervalMs, log, overlap });
  }

  protected async refreshOnce(): Promise<void> {
    const answer = this.answers[Math.min(this.looks, this.answers.length - 1)];
    this.looks++;
    if (this.gate !== undefined) await this.gate;
    if (answer instanceof Error) {
      this.failed('src', answer.message, { kept_targets: this.last.length }, `cannot use src: ${answer.message}`);
    } else {
      this.last = answer;
      this.succeeded('src', {}, 'src is good again');
    }
    if (this.stopped) return;
    this.publish(this.last);
  }

  protected override released(): void {
    this.releasedCalls++;
  }
}

const t = (address: string): DiscoveredTarget => ({ address, labels: {} });

function recordingLog(): DiscoveryLog & { lines: [string, string][] } {
  const lines: [string, string][] = [];
  return {
    lines,
    info: (_o, msg) => lines.push(['info', msg]),
    warn: (_o, msg) => lines.push(['warn', msg]),
    error: (_o, msg) => lines.push(['error', msg]),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RefreshingDiscoverer', () => {
  it('keeps the last good targets when a refresh fails, counts every failure, logs the first and the recovery once', async () => {
    const log = recordingLog();
    const d = new Scripted([[t('a:1')], new Error('boom'), new Error('boom'), [t('b:1')]], 'join', log);
    let changes = 0;
    await d.start(() => changes++);
    expect(d.targets()).toEqual([t('a:1')]);
    expect(changes).toBe(1);

    await d.refresh();
    await d.refresh();
    expect(d.targets()).toEqual([t('a:1')]);
    expect(d.errors).toBe(2);
    expect(d.failures().get('src')).toBe('boom');
    expect(changes).toBe(1);

    await d.refresh();
    expect(d.targets()).toEqual([t('b:1')]);
    expect(d.failures().size).toBe(0);
    expect(changes).toBe(2);
    // The second failure within the reminder period is counted, not logged again.
    expect(log.lines).toEqual([
      ['error', 'cannot use src: boom'],
      ['info', 'src is good again'],
    ]);
    d.stop();
  });

  it('does not notify when a refresh finds the same targets', async () => {
    const d = new Scripted([[t('a:1'), t('b:1')]], 'join');
    let changes = 0;
    await d.start(() => changes++);
    await d.refresh();
    await d.refresh();
    expect(changes).toBe(1);
    d.stop();
  });

  it('join: a refresh asked for while one runs is that same refresh', async () => {
    const d = new Scripted([[t('a:1')]], 'join');
    let open!: () => void;
    d.gate = new Promise((r) => (open = r));
    const first = d.refresh();
    const second = d.refresh();
    expect(second).toBe(first);
    open();
    await first;
    expect(d.looks).toBe(1);
  });

  it('rerun: a refresh asked for while one runs adds exactly one more look', async () => {
    const d = new Scripted([[t('a:1')], [t('b:1')]], 'rerun');
    let open!: () => void;
    d.gate = new Promise((r) => (open = r));
    const first = d.refresh();
    const second = d.refresh();
    const third = d.refresh();
    expect(second).toBe(first);
    expect(third).toBe(first);
    open();
    await first;
    expect(d.looks).toBe(2);
    expect(d.targets()).toEqual([t('b:1')]);
  });

  it('refreshes every refresh interval until stopped, then never again', async () => {
    vi.useFakeTimers();
    const d = new Scripted([[t('a:1')]], 'join', undefined, 1000);
    await d.start(() => {});
    expect(d.looks).toBe(1);
    await vi.advanceTimersByTimeAsync(3000);
    expect(d.looks).toBe(4);

    d.stop();
    expect(d.releasedCalls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(d.looks).toBe(4);
    await d.refresh();
    expect(d.looks).toBe(4);
  });

  it('a refresh that ends after stop() publishes nothing', async () => {
    const d = new Scripted([[t('a:1')], [t('b:1')]], 'join');
    let changes = 0;
    await d.start(() => changes++);
    let open!: () => void;
    d.gate = new Promise((r) => (open = r));
    const running = d.refresh();
    d.stop();
    open();
    await running;
    expect(d.targets()).toEqual([t('a:1')]);
    expect(changes).toBe(1);
  });
});
