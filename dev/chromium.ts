// Starts Debian's chromium headless through playwright-core for the web UI's browser tests: a fresh
// profile per run, no network services of its own (no updates, sync or QUIC), removed on close.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_MISSING = 'chromium not found at /usr/bin/chromium: install it with `apt-get install -y chromium` (Debian)';

export interface HeadlessChromium {
  /** The browser's one context, on the fresh profile. */
  context: BrowserContext;
  close(): Promise<void>;
}

export async function startChromium(): Promise<HeadlessChromium> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(CHROMIUM_MISSING);
  const profile = mkdtempSync(join(tmpdir(), 'promfront-chromium-'));
  // A persistent context is playwright's way to name the profile directory (--user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 760 },
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
