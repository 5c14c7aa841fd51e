// A pause that another part of the same object can cut short: a retry loop sleeps between tries,
// and stop() or news (a reconnect, a new item queued) wakes it at once instead of waiting out the
// delay.

export class WakeableSleep {
  private wakeCurrent: (() => void) | undefined;

  /** Resolves after `ms`, or earlier when wake() is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeCurrent = done;
    });
  }

  /** Ends the sleep in progress, if any. */
  wake(): void {
    this.wakeCurrent?.();
  }
}
