"""Issue 13: authenticated requests against a real lockout-enclave with a signing policy.

The enclave runs with `--signing-policy FILE`; the clients are tests/integration/lockout_client.py
(written from docs/PROTOCOL.md alone: standard library + `cryptography`) and `lockout sign
--client-key`. An authorized client signs and the signature verifies; no auth, a bad signature,
an unknown client, a client lacking the permission, a tampered message, a replay and a stale
timestamp are each refused with the one generic error while the enclave keeps serving (the next
good request on the same connection works); each refusal's rule is in the enclave's log, and the
message never is. Every loop is bounded.
"""

import base64
import json
import os
import re
import time
import unittest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import harness
import lockout_client as lc

CANARY = b"canary-5e1d: pay 1000 BTC to the attacker"
WINDOW_SECONDS = 30
UNAUTHORIZED = "unauthorized"


def doc_example(name):
    """The fenced block after <!-- auth-example:NAME --> in docs/PROTOCOL.md."""
    with open(os.path.join(harness.SOURCE_DIR, "docs", "PROTOCOL.md")) as f:
        doc = f.read()
    m = re.search(r"<!-- auth-example:%s -->\n```\n(.*?)\n```" % re.escape(name), doc, re.S)
    if m is None:
        raise AssertionError(f"docs/PROTOCOL.md lost the auth-example block {name}")
    return m.group(1)


class DocumentedExampleTest(unittest.TestCase):
    """The client written from the document reproduces the document's example byte for byte."""

    def test_worked_example(self):
        key = lc.ClientKey.from_private_bytes("gateway", "ed25519",
                                              bytes.fromhex(doc_example("private-key")))
        self.assertEqual(key.public_key_raw().hex(), doc_example("public-key"))
        request = json.loads(doc_example("request"))
        nonce = b"0123456789abcdef"
        encoding = lc.canonical_request(request, "gateway", 1765000000000, nonce)
        expected = "".join(line.split()[0] for line in doc_example("encoding").splitlines())
        self.assertEqual(encoding.hex(), expected)
        self.assertEqual(len(encoding), 123)
        signed = key.sign_request(request, timestamp_ms=1765000000000, nonce=nonce)
        self.assertEqual(signed["auth"]["signature"], doc_example("signature"))
        self.assertEqual(signed, json.loads(doc_example("signed-request")))


class EnclaveAuthTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        # gateway: made by the CLI (the key file format), ed25519, may sign and ask for health.
        self.gateway_file = os.path.join(self.tmp, "gateway.key")
        r = harness.run([harness.binary("lockout"), "client-key", "create", "--out",
                         self.gateway_file, "--name", "gateway", "--json"], text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(self.gateway_file).st_mode & 0o777, 0o600)
        entry = json.loads(r.stdout)
        self.gateway = lc.ClientKey.load(self.gateway_file)
        self.assertEqual(entry["public_key"], self.gateway.public_key_raw().hex())
        with open(self.gateway_file) as f:
            self.assertNotIn(json.load(f)["private_key"], r.stdout + r.stderr)
        entry["ops"] = ["health", "public_key", "sign"]
        entry["keys"] = ["*"]
        # p256client: ECDSA P-256, may sign. monitor: may only ask for health.
        self.p256 = lc.ClientKey.generate("p256client", "ecdsa-p256")
        self.monitor = lc.ClientKey.generate("monitor", "ed25519")
        self.stranger = lc.ClientKey.generate("stranger", "ed25519")  # not in the policy
        policy = {"version": 1,
                  "clients": [entry, self.p256.policy_entry(ops=["sign"]),
                              self.monitor.policy_entry(ops=["health"])],
                  "replay_window_seconds": WINDOW_SECONDS,
                  "max_request_bytes": 65536,
                  "allow_unauthenticated_v1": False}
        self.policy_file = os.path.join(self.tmp, "signing-policy.json")
        with open(self.policy_file, "w") as f:
            json.dump(policy, f)
        # The enclave seals its policy into PCR16 through the NSM before it serves (an enclave
        # that cannot seal never gets a key): local-aws's NSM, one per test.
        la = self.local_aws()
        self.proc, self.uri = self.ephemeral_enclave("--signing-policy", self.policy_file,
                                                     threads=2,
                                                     nsm="unix://" + la.ready["nsm_socket"])
        host, port = harness.tcp_address(self.uri)
        self.conn = lc.Connection(host, port)
        self.addCleanup(self.conn.close)

    def sign_request(self, message, req_id=1):
        return {"id": req_id, "op": "sign", "message": lc.b64(message)}

    def enclave_public_key(self):
        reply = self.conn.call(self.gateway.sign_request({"id": "pk", "op": "public_key"}))
        self.assertTrue(reply["ok"], reply)
        return serialization.load_pem_public_key(reply["public_key_pem"].encode())

    def assert_signed(self, reply, message):
        self.assertTrue(reply["ok"], reply)
        sig = bytes.fromhex(reply["signature"])
        # The enclave's key is p256 (ephemeral_enclave's default): ECDSA over SHA-256, DER.
        self.enclave_public_key().verify(sig, message, ec.ECDSA(hashes.SHA256()))

    def log(self):
        with open(self.proc.log_path) as f:
            return f.read()

    def refusals(self):
        lines = [json.loads(l) for l in self.log().splitlines() if '"request_refused"' in l]
        return [(l["rule"], l["client"]) for l in lines]

    def test_authorized_clients_sign_and_the_signatures_verify(self):
        for i, key in enumerate((self.gateway, self.p256)):
            message = b"transfer %d" % i
            reply = self.conn.call(key.sign_request(self.sign_request(message, req_id=i)))
            self.assertEqual(reply["id"], i)
            self.assert_signed(reply, message)
        health = self.conn.call(self.gateway.sign_request({"id": "h", "op": "health"}))
        self.assertEqual(health["auth"], "policy")
        self.assertEqual(sum(health["refusals"].values()), 0, health)

    def test_each_refusal_is_generic_logged_by_rule_and_the_enclave_keeps_serving(self):
        good = self.gateway.sign_request(self.sign_request(b"first"))
        self.assert_signed(self.conn.call(good), b"first")

        tampered = self.gateway.sign_request(self.sign_request(b"pay alice 1"))
        tampered["message"] = lc.b64(CANARY)
        bad_signature = self.gateway.sign_request(self.sign_request(CANARY))
        sig = bytearray(base64.b64decode(bad_signature["auth"]["signature"]))
        sig[10] ^= 0x01
        bad_signature["auth"]["signature"] = lc.b64(bytes(sig))
        stale_ms = int((time.time() - WINDOW_SECONDS - 60) * 1000)
        cases = [
            ("no auth", self.sign_request(CANARY), "unauthenticated", ""),
            ("bad signature", bad_signature, "bad_signature", "gateway"),
            ("unknown client", self.stranger.sign_request(self.sign_request(CANARY)),
             "unknown_client", "stranger"),
            ("lacking the permission", self.monitor.sign_request(self.sign_request(CANARY)),
             "op_not_allowed", "monitor"),
            ("tampered message", tampered, "bad_signature", "gateway"),
            ("replay", good, "replayed_nonce", "gateway"),
            ("stale timestamp",
             self.gateway.sign_request(self.sign_request(CANARY), timestamp_ms=stale_ms),
             "stale_timestamp", "gateway"),
        ]
        for n, (what, request, rule, client) in enumerate(cases):
            reply = self.conn.call(request)
            self.assertEqual(reply, {"id": 1, "ok": False, "error": UNAUTHORIZED}, what)
            # The enclave keeps serving, on the same connection.
            message = b"after %d" % n
            self.assert_signed(self.conn.call(self.gateway.sign_request(
                self.sign_request(message, req_id=100 + n))), message)
            harness.wait_until(lambda: (rule, client) in self.refusals(),
                               f"the log line for {what} ({rule})", timeout=10,
                               detail=self.log)

        # The seed's v1 protocol is refused too, and the enclave still serves.
        reply = harness.v1_sign(self.uri, CANARY)
        self.assertEqual(reply, {"success": "False", "error": "Error: unauthorized"})
        self.assert_signed(self.conn.call(self.gateway.sign_request(self.sign_request(b"end"))),
                           b"end")

        log = self.log()
        self.assertNotIn(CANARY.decode(), log)
        self.assertNotIn(lc.b64(CANARY), log)
        health = self.conn.call(self.gateway.sign_request({"id": "h", "op": "health"}))
        self.assertEqual(health["refusals"]["bad_signature"], 2, health)
        self.assertEqual(health["refusals"]["unauthenticated"], 2, health)  # v2 and v1
        for rule in ("unknown_client", "op_not_allowed", "replayed_nonce", "stale_timestamp"):
            self.assertEqual(health["refusals"][rule], 1, (rule, health))
        self.assertIsNone(self.proc.proc.poll())

    def test_lockout_sign_with_a_client_key(self):
        r = harness.run([harness.binary("lockout"), "sign", "--enclave", self.uri,
                         "--client-key", self.gateway_file, "--message", "signed by the CLI"],
                        text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        sig = bytes.fromhex(json.loads(r.stdout)["signature"])
        self.enclave_public_key().verify(sig, b"signed by the CLI", ec.ECDSA(hashes.SHA256()))
        # Without the key the same command is refused, with the generic error.
        r = harness.run([harness.binary("lockout"), "sign", "--enclave", self.uri,
                         "--message", "unsigned"], text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(UNAUTHORIZED, r.stderr)
        self.assertIn(("unauthenticated", ""), self.refusals())

    def test_bench_signs_every_request_with_a_client_key(self):
        # A short closed-loop run: every request is signed by the loadgen's authenticator hook,
        # and each is accepted once (a fresh nonce per request), so the run has no errors.
        r = harness.run([harness.binary("lockout"), "bench", "--connect", self.uri,
                         "--client-key", self.gateway_file, "--duration", "1", "--warmup", "0",
                         "--pipeline", "8", "--verify-sample", "20", "--json"], text=True,
                        timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertGreater(report["signatures_ok"], 0, report)
        health = self.conn.call(self.gateway.sign_request({"id": "h", "op": "health"}))
        self.assertEqual(sum(health["refusals"].values()), 0, health)
        # The same run without the key is refused request by request.
        r = harness.run([harness.binary("lockout"), "bench", "--connect", self.uri,
                         "--duration", "1", "--warmup", "0", "--pipeline", "8",
                         "--verify-sample", "0", "--json"], text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(UNAUTHORIZED, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
