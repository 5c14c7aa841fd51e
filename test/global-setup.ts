// Builds ./proxy once before the e2e project, so suites that run it in parallel never race on dist/.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// End-to-end suites run ./proxy as a child process; build once here so parallel suites never race
// on dist/.
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The web UI's assets (dist/web/), which the proxy serves and the browser tests open.
  execFileSync('npx', ['--no-install', 'vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
}
