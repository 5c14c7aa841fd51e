// Logging for something that fails again and again (a source scraped every 15 s, a target asked on
// every query, a service discovery file re-read): one line when it starts failing, a reminder at
// most every few minutes while it keeps failing (with how many failures and since when), and one
// line when it works again. A line per failure would bury every other line of the log.

/** The logger methods used; a pino Logger has them. */
export interface FailureLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Default time between reminders of the same failure. */
export const REMIND_EVERY_MS = 5 * 60_000;

interface Failing {
  since: number;
  lastLogged: number;
  failures: number;
}

export class RepeatedFailureLog {
  private readonly failing = new Map<string, Failing>();

  constructor(
    private readonly log: FailureLogger,
    private readonly level: 'warn' | 'error' = 'warn',
    private readonly remindMs = REMIND_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A failure of `key`: logged when it is the first, or the first since the last reminder period. */
  failed(key: string, fields: object, msg: string): void {
    const now = this.now();
    const f = this.failing.get(key);
    if (f === undefined) {
      this.failing.set(key, { since: now, lastLogged: now, failures: 1 });
      this.log[this.level](fields, msg);
      return;
    }
    f.failures++;
    if (now - f.lastLogged < this.remindMs) return;
    f.lastLogged = now;
    this.log[this.level]({ ...fields, failures: f.failures, failing_since: new Date(f.since).toISOString() }, `${msg} (still failing)`);
  }

  /** A success of `key`: logged once when it had been failing. */
  succeeded(key: string, fields: object, msg: string): void {
    const f = this.failing.get(key);
    if (f === undefined) return;
    this.failing.delete(key);
    this.log.info({ ...fields, failures: f.failures, failed_for_secs: Math.round((this.now() - f.since) / 1000) }, msg);
  }

  isFailing(key: string): boolean {
    return this.failing.has(key);
  }
}
