"""Issue 3 item 10: bad input gets AWS-shaped errors and the server keeps serving."""

import json
import socket
import unittest
import urllib.request

import harness


class BadInputTest(harness.TempDirTestCase):
    def signed_raw(self, la, target, body):
        """Sends `body` (bytes) signed with SigV4 as admin, via botocore's signer."""
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        p = la.ready["principals"]["admin"]
        creds = botocore.credentials.Credentials(p["access_key_id"], p["secret_access_key"])
        service = "kms" if target.startswith("TrentService") else "secretsmanager"
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=la.ready["kms_endpoint"] + "/", data=body,
            headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
        botocore.auth.SigV4Auth(creds, service, la.ready["region"]).add_auth(req)
        prepared = req.prepare()
        r = urllib.request.Request(prepared.url, data=body, method="POST",
                                   headers=dict(prepared.headers))
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def test_malformed_requests_get_aws_errors_and_server_keeps_serving(self):
        la = self.local_aws()
        cases = [
            ("TrentService.Encrypt", b"{not json", "SerializationException"),
            ("TrentService.Encrypt", b"[1,2]", "SerializationException"),
            ("TrentService.NoSuchOperation", b"{}", "UnknownOperationException"),
            ("NoSuchService.Encrypt", b"{}", "UnknownOperationException"),
            ("TrentService.Encrypt", b'{"KeyId": 5, "Plaintext": "AAAA"}', "SerializationException"),
            ("TrentService.Encrypt", b'{"KeyId": "alias/none", "Plaintext": "not base64!"}',
             "SerializationException"),
            ("TrentService.Encrypt", b'{"Plaintext": "AAAA"}', "ValidationException"),
            ("TrentService.Decrypt", b'{"CiphertextBlob": "AAAA"}', "InvalidCiphertextException"),
            ("TrentService.DescribeKey", b'{"KeyId": "arn:aws:kms:us-east-1:1:key"}',
             "NotFoundException"),
            ("TrentService.DescribeKey",
             b'{"KeyId": "11111111-2222-3333-4444-555555555555"}', "NotFoundException"),
            ("secretsmanager.GetSecretValue", b'{"SecretId": 3}', "SerializationException"),
            ("secretsmanager.CreateSecret", b'{"Name": "x", "SecretBinary": "%%%"}',
             "SerializationException"),
            ("TrentService.Encrypt", b"[" * 100000, "SerializationException"),
        ]
        for target, body, expected in cases:
            with self.subTest(target=target, body=body[:40]):
                status, reply = self.signed_raw(la, target, body)
                self.assertGreaterEqual(status, 400)
                self.assertEqual(reply.get("__type"), expected, reply)
                self.assertIn("message", reply)

        # Oversized body: refused from its Content-Length, before any of it is read or buffered.
        # (A raw socket: a client that keeps writing after the 413 would see a broken pipe.)
        port = int(la.ready["kms_endpoint"].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: TrentService.Encrypt\r\n"
                      b"Content-Type: application/x-amz-json-1.1\r\n"
                      b"Content-Length: 2097152\r\n\r\n{")
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head)
        self.assertEqual(json.loads(body)["__type"], "RequestEntityTooLargeException")

        # Garbage that is not HTTP at all.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x00\x01\x02garbage\r\n\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 400"))

        # Still serving.
        kms = la.boto3_client("kms", "admin")
        self.assertIn("Keys", kms.list_keys())


if __name__ == "__main__":
    unittest.main()
