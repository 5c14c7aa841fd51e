// The auth and TLS fields shared by the query downstreams' http_client and the shard sources: the
// Authorization header and connect TLS options they turn into, with files read by the caller's reader.

import { describe, expect, it } from 'vitest';
import { authorizationHeader, basicAuth, readTlsMaterial, tlsConnectOptions, type FileReader } from '../../../src/client/auth-tls.js';

const files: Record<string, string> = { '/pw': 'filepw', '/tok': 'filetok', '/creds': 'filecreds', '/ca': 'CA', '/crt': 'CRT', '/key': 'KEY' };
const reads: Array<[string, string]> = [];
const reader: FileReader = async (field, path) => {
  reads.push([field, path]);
  const c = files[path];
  if (c === undefined) throw new Error(`cannot read ${field} ${path}: ENOENT`);
  return c;
};

describe('authorizationHeader', () => {
  it('builds each kind of Authorization header, reading files through the reader', async () => {
    reads.length = 0;
    expect(await authorizationHeader({}, reader)).toBeUndefined();
    expect(await authorizationHeader({ basic_auth: { username: 'u', password: 'p' } }, reader)).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(await authorizationHeader({ basic_auth: { username: 'u' } }, reader)).toBe(basicAuth('u', ''));
    expect(await authorizationHeader({ basic_auth: { username: 'u', password_file: '/pw' } }, reader)).toBe(basicAuth('u', 'filepw'));
    expect(await authorizationHeader({ bearer_token: 'tok' }, reader)).toBe('Bearer tok');
    expect(await authorizationHeader({ bearer_token_file: '/tok' }, reader)).toBe('Bearer filetok');
    expect(await authorizationHeader({ authorization: { type: 'Token', credentials: 'c' } }, reader)).toBe('Token c');
    expect(await authorizationHeader({ authorization: { type: 'Token', credentials_file: '/creds' } }, reader)).toBe('Token filecreds');
    expect(reads).toEqual([
      ['basic_auth.password_file', '/pw'],
      ['bearer_token_file', '/tok'],
      ['authorization.credentials_file', '/creds'],
    ]);
  });

  it("passes the reader's error through", async () => {
    await expect(authorizationHeader({ bearer_token_file: '/nope' }, reader)).rejects.toThrow('cannot read bearer_token_file /nope: ENOENT');
  });
});

describe('TLS', () => {
  it('reads the configured files and turns them into connect options', async () => {
    const tls = { ca_file: '/ca', cert_file: '/crt', key_file: '/key', server_name: 'x.example', insecure_skip_verify: false };
    const m = await readTlsMaterial(tls, reader);
    expect(m).toEqual({ ca: 'CA', cert: 'CRT', key: 'KEY' });
    expect(tlsConnectOptions(tls, m)).toEqual({ ca: 'CA', cert: 'CRT', key: 'KEY', servername: 'x.example', rejectUnauthorized: true });
  });

  it('leaves out what is not configured and honours insecure_skip_verify', async () => {
    expect(await readTlsMaterial(undefined, reader)).toEqual({});
    expect(tlsConnectOptions(undefined, {})).toEqual({ rejectUnauthorized: true });
    expect(tlsConnectOptions({ insecure_skip_verify: true }, { ca: 'CA' })).toEqual({ ca: 'CA', rejectUnauthorized: false });
  });
});
