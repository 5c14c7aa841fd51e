// The remote_write and alertmanagers auth/TLS blocks use the shared schemas of config/fields.ts:
// what they refuse now (and did not before, when rules had its own looser copy), and that a
// complete block is still taken as written.

import { describe, expect, it } from 'vitest';
import { alertmanagerSchema, remoteWriteSchema } from '../../../src/config/rules.js';

const url = 'http://127.0.0.1:9090/api/v1/write';
const am = { static_configs: [{ targets: ['127.0.0.1:9093'] }] };

function problems(r: { success: boolean; error?: { issues: { message: string; path: PropertyKey[] }[] } }): string[] {
  return r.success ? [] : r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('rules config: auth and TLS as the shared schemas check them', () => {
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['cert_file without key_file', { tls_config: { cert_file: '/c.pem' } }, /tls_config: cert_file and key_file must be given together/],
    [
      'password and password_file',
      { basic_auth: { username: 'u', password: 'p', password_file: '/p' } },
      /basic_auth: at most one of password and password_file/,
    ],
    ['authorization without credentials', { authorization: { type: 'Bearer' } }, /authorization: credentials or credentials_file is needed/],
    ['authorization of type Basic', { authorization: { type: 'Basic', credentials: 'x' } }, /authorization\.type: use basic_auth for Basic authorization/],
    ['an empty bearer_token', { bearer_token: '' }, /bearer_token: /],
    ['two auth methods', { bearer_token: 't', basic_auth: { username: 'u', password: 'p' } }, /at most one of basic_auth, authorization, bearer_token/],
  ];
  for (const [what, block, message] of refused) {
    it(`remote_write and alertmanagers refuse ${what}`, () => {
      const rw = problems(remoteWriteSchema.safeParse({ url, ...block }));
      const a = problems(alertmanagerSchema.safeParse({ ...am, ...block }));
      expect(rw.join('\n')).toMatch(message);
      expect(a.join('\n')).toMatch(message);
    });
  }

  it('takes complete blocks, defaults filled in', () => {
    const rw = remoteWriteSchema.parse({
      url,
      tls_config: { ca_file: '/ca.pem', cert_file: '/c.pem', key_file: '/k.pem' },
      authorization: { credentials_file: '/token' },
    });
    expect(rw.tls_config).toEqual({ ca_file: '/ca.pem', cert_file: '/c.pem', key_file: '/k.pem', insecure_skip_verify: false });
    expect(rw.authorization).toEqual({ type: 'Bearer', credentials_file: '/token' });
    const a = alertmanagerSchema.parse({ ...am, basic_auth: { username: 'u', password_file: '/p' } });
    expect(a.basic_auth).toEqual({ username: 'u', password_file: '/p' });
  });
});
