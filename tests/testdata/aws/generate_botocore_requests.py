#!/usr/bin/env python3
"""Writes requests signed by botocore (the AWS CLI / boto3 signer) for interop tests.

Each output file is raw HTTP/1.1 request text (the AWS test suite's .sreq format) signed with the
AWS documentation's example credentials at 2015-08-30T12:36:00Z, region us-east-1. The C++ tests
check that SigV4Verifier accepts them and that SignRequest reproduces their Authorization header.
Run from this directory: python3 generate_botocore_requests.py (botocore 1.43 was used).
Query strings here are already in canonical encoding: botocore signs a URL query verbatim, while
SigV4 (and our verifier) re-encode it, so "%7E" or lower-case escapes would differ.
"""
import datetime
from unittest import mock

import botocore
import botocore.auth
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLEsessiontokenforlockouttests//////////wEaDEXAMPLE=="
NOW = datetime.datetime(2015, 8, 30, 12, 36, 0)


def write(name, method, host, target, headers, body, auth_cls, service, token=None):
    creds = Credentials(AKID, SECRET, token)
    req = AWSRequest(method=method, url=f"https://{host}{target}", data=body, headers=headers)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=NOW):
        auth_cls(creds, service, "us-east-1").add_auth(req)
    lines = [f"{method} {target} HTTP/1.1", f"Host:{host}"]
    lines += [f"{k}:{v}" for k, v in req.headers.items()]
    text = "\n".join(lines) + "\n\n" + (body or "")
    with open(name, "w", newline="") as f:
        f.write(text)
    print(name, req.headers["Authorization"])


write("botocore-kms-decrypt-token.sreq", "POST", "kms.us-east-1.amazonaws.com", "/",
      {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Decrypt",
       "User-Agent": "aws-cli/2 botocore/" + botocore.__version__},
      '{"CiphertextBlob": "AQIDBA==", "KeyId": "alias/lockout"}', SigV4Auth, "kms", TOKEN)
write("botocore-get-encoded-path-query.sreq", "GET", "example.amazonaws.com",
      "/a%20b/c%2Fd/./x/../e~f?b=2&a=x%20y&a=1&empty=&%E1%88%B4=~",
      {"User-Agent": "lockout-test"}, None, SigV4Auth, "service")
write("botocore-s3-put.sreq", "PUT", "bucket.s3.amazonaws.com", "/my%20folder//photo%2B1.jpg",
      {"Content-Type": "image/jpeg"}, "not really a jpeg", S3SigV4Auth, "s3")
