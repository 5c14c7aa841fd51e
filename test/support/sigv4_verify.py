#!/usr/bin/env python3
# An independent AWS SigV4 verifier for the tests: recomputes the signature of requests captured raw
# by a loopback server with botocore (Debian's python3-botocore), from the request line, headers and
# body as they arrived, and says whether each one's Authorization header carries that signature.
#
# stdin: {"secret_key": "...", "session_token": null, "requests": [
#           {"method": "GET", "target": "/path?query as received", "headers": [[name, value], ...],
#            "body_b64": "..."}]}
# stdout: one JSON list, per request {"ok": bool, "reason": str, "signed_headers": [...],
#          "received_headers": [...], "region": str, "service": str, "access_key": str}
import base64
import json
import re
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH = re.compile(r'^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([^, ]+), ?Signature=([0-9a-f]{64})$')


def verify(req, secret_key, session_token):
    headers = {}
    for name, value in req['headers']:
        headers.setdefault(name.lower(), []).append(value)
    out = {'ok': False, 'reason': '', 'signed_headers': [], 'received_headers': sorted(headers), 'region': '', 'service': '', 'access_key': ''}
    auth = headers.get('authorization', [''])[0]
    m = AUTH.match(auth)
    if not m:
        out['reason'] = 'no SigV4 Authorization header: %r' % auth[:40]
        return out
    access_key, date, region, service, signed, signature = m.groups()
    out.update(signed_headers=signed.split(';'), region=region, service=service, access_key=access_key)
    amz_date = headers.get('x-amz-date', [''])[0]
    if not amz_date.startswith(date):
        out['reason'] = 'x-amz-date %r does not match the credential scope date %s' % (amz_date, date)
        return out
    missing = [h for h in out['signed_headers'] if h not in headers]
    if missing:
        out['reason'] = 'signed headers not received: %s' % ', '.join(missing)
        return out
    body = base64.b64decode(req.get('body_b64') or '')
    host = headers['host'][0]
    # Only the headers the request says it signed: botocore signs every header it is given.
    to_sign = {h: ','.join(headers[h]) for h in out['signed_headers']}
    aws_req = AWSRequest(method=req['method'], url='http://%s%s' % (host, req['target']), headers=to_sign, data=body)
    aws_req.context['timestamp'] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret_key, session_token), service, region)
    canonical = signer.canonical_request(aws_req)
    # botocore lists the headers it signed; they must be exactly the ones the request names.
    got_signed = signer.signed_headers(signer.headers_to_sign(aws_req)).split(';')
    if got_signed != out['signed_headers']:
        out['reason'] = 'signed header sets differ: request %s, verifier %s' % (out['signed_headers'], got_signed)
        return out
    expected = signer.signature(signer.string_to_sign(aws_req, canonical), aws_req)
    if expected != signature:
        out['reason'] = 'signature mismatch; verifier canonical request:\n' + canonical
        return out
    out['ok'] = True
    return out


def main():
    doc = json.load(sys.stdin)
    results = [verify(r, doc['secret_key'], doc.get('session_token')) for r in doc['requests']]
    json.dump(results, sys.stdout)


if __name__ == '__main__':
    main()
