"""Issue 13, attested replies: a sign request may ask for proof, with real processes.

lockout-enclave runs against `lockout local-aws`'s NSM (its own root certificate, in the state
directory), with a signing policy sealed into PCR16 and a tight attested-reply rate limit. Then:

* `lockout sign --attest --out FILE` saves a reply that `lockout verify --attested FILE
  --expect-pcr 0=.. --expect-pcr 16=.. --root-cert ROOT` accepts, PCR16 being the one `lockout
  signing-policy hash` predicts; and that fails, naming the check, when any bound field of the
  file is altered (the request's message, its attest nonce, its auth, the signature, the
  document), when the message given is another, a PCR is not the expected one, or the root is
  not trusted;
* tests/integration/lockout_client.py, written from docs/PROTOCOL.md alone, asks for an attested
  reply and checks the whole chain itself (COSE, certificates, PCRs, nonce, binding, signature);
* a flood of attested requests is answered "busy" past the limit while plain signing on another
  connection keeps flowing (every loop bounded);
* without a signing policy (unauthenticated requests) the reply binds SHA-256 of the message, and
  a PCR16 expectation fails (PCR16 was never extended).
"""

import base64
import json
import os
import threading
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

import harness
import lockout_client as lc

RATE = 2
BURST = 3


class AttestedReplyTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.key_file = os.path.join(self.tmp, "gateway.key")
        r = harness.run([self.lockout, "client-key", "create", "--out", self.key_file,
                         "--name", "gateway", "--json"], text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        entry = json.loads(r.stdout)
        entry["ops"] = ["health", "public_key", "sign"]
        entry["keys"] = ["*"]
        self.gateway = lc.ClientKey.load(self.key_file)
        self.policy_file = os.path.join(self.tmp, "signing-policy.json")
        with open(self.policy_file, "w") as f:
            json.dump({"version": 1, "clients": [entry], "replay_window_seconds": 60}, f)
        self.la = self.local_aws()
        self.root_pem = os.path.join(self.la.state_dir, "nsm", "root-cert.pem")
        with open(self.root_pem, "rb") as f:
            self.root_der = x509.load_pem_x509_certificate(f.read()).public_bytes(
                serialization.Encoding.DER)
        self.proc, self.uri = self.ephemeral_enclave(
            "--signing-policy", self.policy_file,
            "--attested-replies-per-second", str(RATE), "--attested-replies-burst", str(BURST),
            threads=2, nsm="unix://" + self.la.ready["nsm_socket"])
        self.conn = lc.Connection(*harness.tcp_address(self.uri))
        self.addCleanup(self.conn.close)
        health = self.health()
        self.pcr0 = health["pcr0"]
        self.pcr16 = health["pcr16"]
        r = harness.run([self.lockout, "signing-policy", "hash", self.policy_file, "--json"],
                        text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["pcr16"], self.pcr16)

    def health(self):
        h = self.conn.call(self.gateway.sign_request({"id": "h", "op": "health"}))
        self.assertTrue(h["ok"], h)
        return h

    def wait_for_token(self):
        time.sleep(1.0 / RATE + 0.1)

    def sign_attested_cli(self, message_file, out):
        r = harness.run([self.lockout, "sign", "--enclave", self.uri, "--client-key",
                         self.key_file, "--message-file", message_file, "--attest", "--out", out],
                        text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def verify_cli(self, reply_file, message_file, *extra, pcr0=None, pcr16=None, root=True):
        args = [self.lockout, "verify", "--attested", reply_file, "--message-file", message_file,
                "--expect-pcr", "0=" + (pcr0 or self.pcr0),
                "--expect-pcr", "16=" + (pcr16 or self.pcr16), "--json", *extra]
        if root:
            args += ["--root-cert", self.root_pem]
        return harness.run(args, text=True)

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    def test_cli_round_trip_and_every_altered_field_fails(self):
        message = b"pay 10 to carol\n\x00binary too"
        message_file = self.write("message.bin", message)
        reply_file = os.path.join(self.tmp, "reply.json")
        summary = self.sign_attested_cli(message_file, reply_file)
        r = self.verify_cli(reply_file, message_file)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertTrue(report["ok"], report)
        self.assertEqual([c["check"] for c in report["checks"]],
                         ["message", "document", "pcr0", "pcr16", "nonce", "binding", "signature"])
        with open(reply_file) as f:
            original = json.load(f)
        self.assertEqual(original["signature"], summary["signature"])
        self.assertIn("auth", original["request"])  # signed by the client: attest is covered

        def altered(name, change):
            doc = json.loads(json.dumps(original))
            change(doc)
            return self.write(name, json.dumps(doc))

        def flip_document(doc):
            raw = bytearray(base64.b64decode(doc["attestation"]))
            raw[-1] ^= 1  # the COSE signature's last byte
            doc["attestation"] = base64.b64encode(bytes(raw)).decode()

        def flip_signature(doc):
            sig = bytearray(bytes.fromhex(doc["signature"]))
            sig[-1] ^= 1
            doc["signature"] = sig.hex()

        other_message = self.write("other.bin", b"pay 10000 to mallory")
        cases = [
            ("request message", altered("m.json", lambda d: d["request"].update(
                message=lc.b64(b"pay 10000 to mallory"))), other_message, "binding"),
            ("attest nonce", altered("n.json", lambda d: d["request"]["attest"].update(
                nonce=lc.b64(b"a nonce of my choosing"))), message_file, "nonce"),
            ("auth timestamp", altered("t.json", lambda d: d["request"]["auth"].update(
                timestamp=d["request"]["auth"]["timestamp"] + 1)), message_file, "binding"),
            ("auth client", altered("c.json", lambda d: d["request"]["auth"].update(
                client="someone-else")), message_file, "binding"),
            ("auth removed", altered("a.json", lambda d: d["request"].pop("auth")),
             message_file, "binding"),
            ("signature", altered("s.json", flip_signature), message_file, "binding"),
            ("document", altered("d.json", flip_document), message_file, "document"),
            ("another message given", reply_file, other_message, "message"),
        ]
        for what, path, msg, check in cases:
            r = self.verify_cli(path, msg)
            self.assertEqual(r.returncode, 1, (what, r.stdout, r.stderr))
            report = json.loads(r.stdout)
            self.assertFalse(report["ok"], what)
            self.assertTrue(report["failure"].startswith(check + ":"), (what, report["failure"]))
            self.assertIn("attested reply rejected: " + check, r.stderr, what)

        wrong = "ab" * 48
        for what, kwargs, check in [("pcr0", {"pcr0": wrong}, "pcr0"),
                                    ("pcr16", {"pcr16": wrong}, "pcr16"),
                                    ("untrusted root", {"root": False}, "document")]:
            r = self.verify_cli(reply_file, message_file, **kwargs)
            self.assertEqual(r.returncode, 1, (what, r.stdout, r.stderr))
            self.assertTrue(json.loads(r.stdout)["failure"].startswith(check + ":"), what)
        # --nonce: the verifier's own record of the nonce it sent.
        nonce_hex = base64.b64decode(original["request"]["attest"]["nonce"]).hex()
        self.assertEqual(self.verify_cli(reply_file, message_file, "--nonce", nonce_hex)
                         .returncode, 0)
        self.assertEqual(self.verify_cli(reply_file, message_file, "--nonce", "00" * 32)
                         .returncode, 1)
        # Usage errors are 2: a malformed --expect-pcr, an unreadable reply file.
        r = harness.run([self.lockout, "verify", "--attested", reply_file, "--message-file",
                         message_file, "--expect-pcr", "0=zz"], text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = harness.run([self.lockout, "verify", "--attested", os.path.join(self.tmp, "none"),
                         "--message-file", message_file], text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        # A file that is not an attested reply: 1, named.
        r = self.verify_cli(self.write("junk.json", '{"format": "x"}'), message_file)
        self.assertEqual(r.returncode, 1)
        self.assertIn("format", r.stderr)

    def test_python_client_checks_the_whole_chain(self):
        message = b"attested from python"
        request, nonce = lc.attested_sign_request(message)
        sent = self.gateway.sign_request(dict(request, id=1))
        reply = self.conn.call(sent)
        self.assertTrue(reply["ok"], reply)
        expect = {0: bytes.fromhex(self.pcr0), 16: bytes.fromhex(self.pcr16)}
        spki = lc.verify_attested_reply(sent, reply, message, self.root_der, expect)
        # The key the document names is the enclave's signing key.
        pk = self.conn.call(self.gateway.sign_request({"id": 2, "op": "public_key"}))
        self.assertTrue(pk["ok"], pk)
        self.assertEqual(base64.b64decode(pk["spki_der"]), spki)
        # And every bound field, altered, is caught by the Python client too.
        for what, change, check in [
                ("signature", lambda s, r: r.update(signature="00" + r["signature"][2:]),
                 "binding"),
                ("nonce", lambda s, r: s["attest"].update(nonce=lc.b64(b"x" * 32)), "nonce"),
                ("message", lambda s, r: s.update(message=lc.b64(b"other")), "message"),
                ("auth", lambda s, r: s["auth"].update(timestamp=1), "binding")]:
            s, r = json.loads(json.dumps(sent)), dict(reply)
            change(s, r)
            with self.assertRaises(lc.AttestedReplyError, msg=what) as ctx:
                lc.verify_attested_reply(s, r, message, self.root_der, expect)
            self.assertEqual(ctx.exception.check, check, what)
        with self.assertRaises(lc.AttestedReplyError) as ctx:
            lc.verify_attested_reply(sent, reply, message, self.root_der,
                                     {0: bytes(48)})
        self.assertEqual(ctx.exception.check, "pcr0")

    def test_attested_flood_is_rate_limited_and_plain_signing_keeps_flowing(self):
        flood_requests = 120
        results = {"ok": 0, "busy": 0, "other": []}

        def flood():
            with lc.Connection(*harness.tcp_address(self.uri), timeout=30) as c:
                for i in range(flood_requests):  # pipelined
                    req, _ = lc.attested_sign_request(b"flood %d" % i)
                    c.send(self.gateway.sign_request(dict(req, id=i)))
                for _ in range(flood_requests):
                    r = c.recv()
                    if r is None:
                        results["other"].append("closed")
                        return
                    if r.get("ok"):
                        results["ok"] += 1
                    elif r.get("error") == "busy":
                        results["busy"] += 1
                    else:
                        results["other"].append(r)

        start = time.monotonic()
        t = threading.Thread(target=flood)
        t.start()
        plain_ok = 0
        plain_latencies = []
        with lc.Connection(*harness.tcp_address(self.uri)) as c:
            for i in range(200):
                t0 = time.monotonic()
                r = c.call(self.gateway.sign_request(
                    {"id": i, "op": "sign", "message": lc.b64(b"plain %d" % i)}))
                plain_latencies.append(time.monotonic() - t0)
                self.assertTrue(r["ok"], r)
                self.assertNotIn("attestation", r)
                plain_ok += 1
        t.join(timeout=60)
        self.assertFalse(t.is_alive())
        elapsed = time.monotonic() - start
        self.assertEqual(plain_ok, 200)
        self.assertEqual(results["other"], [])
        self.assertEqual(results["ok"] + results["busy"], flood_requests)
        # At most the burst plus what the rate refilled meanwhile (plus one for rounding).
        self.assertLessEqual(results["ok"], BURST + RATE * elapsed + 1, (results, elapsed))
        self.assertGreaterEqual(results["ok"], 1)
        self.assertGreater(results["busy"], 0)
        self.assertLess(max(plain_latencies), 5.0)
        health = self.health()
        self.assertEqual(health["attested_replies"]["served"], results["ok"], health)
        self.assertGreaterEqual(health["attested_replies"]["rate_limited"], 1, health)
        self.assertIsNone(self.proc.proc.poll())
        # After the flood, a token comes back and an attested reply verifies again.
        self.wait_for_token()
        message_file = self.write("after.txt", b"after the flood")
        reply_file = os.path.join(self.tmp, "after.json")
        self.sign_attested_cli(message_file, reply_file)
        self.assertEqual(self.verify_cli(reply_file, message_file).returncode, 0)


class UnauthenticatedAttestedReplyTest(harness.TempDirTestCase):
    def test_reply_binds_the_message_and_pcr16_is_absent(self):
        lockout = harness.binary("lockout")
        la = self.local_aws()
        root_pem = os.path.join(la.state_dir, "nsm", "root-cert.pem")
        _, uri = self.ephemeral_enclave(nsm="unix://" + la.ready["nsm_socket"],
                                        key_type="ed25519")
        pcr0 = harness.v2_call(uri, {"id": 1, "op": "health"})["pcr0"]
        message_file = os.path.join(self.tmp, "m.txt")
        with open(message_file, "w") as f:
            f.write("no policy")
        reply_file = os.path.join(self.tmp, "reply.json")
        r = harness.run([lockout, "sign", "--enclave", uri, "--message-file", message_file,
                         "--attest", "--out", reply_file], text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(reply_file) as f:
            reply = json.load(f)
        self.assertNotIn("auth", reply["request"])
        base = [lockout, "verify", "--attested", reply_file, "--message-file", message_file,
                "--root-cert", root_pem, "--expect-pcr", "0=" + pcr0]
        r = harness.run(base, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("attested reply OK", r.stdout)
        r = harness.run(base + ["--expect-pcr", "16=" + "00" * 48], text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("PCR16 is absent", r.stderr)
        # The Python client agrees (kind 1: SHA-256 of the message).
        with open(root_pem, "rb") as f:
            root_der = x509.load_pem_x509_certificate(f.read()).public_bytes(
                serialization.Encoding.DER)
        request, _ = lc.attested_sign_request(b"python, no policy")
        sent = dict(request, id=5)
        got = harness.v2_call(uri, sent)
        lc.verify_attested_reply(sent, got, b"python, no policy", root_der,
                                 {0: bytes.fromhex(pcr0)})
        # `lockout sign --attest` refuses v1 (no attested replies there).
        r = harness.run([lockout, "sign", "--enclave", uri, "--message", "x", "--attest",
                         "--protocol", "v1"], text=True)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
