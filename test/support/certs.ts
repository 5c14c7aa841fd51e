// Throwaway TLS certificates for tests, made with the `openssl` command (so the suites that use them
// are end-to-end ones: they need that program, installed by .ci/run).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

/** A self-signed certificate (usable as its own CA) for `san`, written to DIR/NAME.crt and .key. */
export function makeCert(dir: string, name: string, san: string): CertFiles {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2'];
  args.push('-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=critical,CA:TRUE');
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(
      `TLS tests make their certificates with openssl, which failed or is missing (${r.error?.message ?? r.stderr.trim()}); install it (Debian: apt-get install openssl) and rerun`,
    );
  }
  return { cert, key };
}
