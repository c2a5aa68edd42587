"""Issue 13, "Audit trail", with real processes (docs/PROTOCOL.md §5).

`lockout local-aws` (its NSM service), lockout-relay with --audit-log FILE and lockout-enclave with
--audit and a signing policy, all on loopback TCP:

* signatures (v1 and v2, unauthenticated and by a policy client) and refusals (a client not in the
  policy) each leave one record in the relay's file; `lockout audit verify` checks the hash chain,
  the checkpoint signatures and the genesis's attestation (the local NSM's root, the enclave's
  PCR0) and passes, and is signed through the seq the enclave's health reports acknowledged;
* deleting one line, altering one, or cutting the file's end is detected (exit 1);
* a relay that stops reading (SIGSTOP) stalls no signature and costs the enclave a bounded
  buffer: the records it could not keep come back as a "lost" marker the verifier reports once
  the relay reads again; with --audit-required the signature is withheld instead.
"""

import json
import os
import signal
import subprocess
import time

import harness
import lockout_client as lc

SECRET = "lockout/audit-test"


class AuditTrailTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.la = self.local_aws()
        self.lockout = harness.binary("lockout")
        self.gateway = lc.ClientKey.generate("gateway", "ed25519")
        self.stranger = lc.ClientKey.generate("stranger", "ed25519")  # not in the policy
        policy = {"version": 1, "clients": [self.gateway.policy_entry(ops=["sign", "health"])],
                  "allow_unauthenticated_v1": True}
        self.policy_file = os.path.join(self.tmp, "signing-policy.json")
        with open(self.policy_file, "w") as f:
            json.dump(policy, f)
        self.audit_log = os.path.join(self.tmp, "audit.jsonl")
        self.root_cert = self.find_nsm_root()

    def find_nsm_root(self):
        for base, _, files in os.walk(self.la.ready["state_dir"]):
            if "root-cert.pem" in files:
                return os.path.join(base, "root-cert.pem")
        raise AssertionError("local-aws wrote no NSM root-cert.pem")

    def start_relay(self):
        ready = os.path.join(self.tmp, "relay.json")
        p = harness.Process([harness.binary("lockout-relay"), "--listen", "tcp://127.0.0.1:0",
                             "--allow-secret", SECRET, "--audit-log", self.audit_log,
                             "--ready-file", ready], self.tmp, "relay",
                            env=self.la.process_env(relay=True))
        self._stops.append(p.stop)
        harness.wait_for_file(ready, p.proc, what="relay ready file")
        with open(ready) as f:
            return p, json.load(f)["listen"]

    def start(self, *extra):
        self.relay, relay_uri = self.start_relay()
        self.enclave, self.uri = self.ephemeral_enclave(
            "--signing-policy", self.policy_file, "--relay", relay_uri, "--audit", *extra,
            threads=2, nsm="unix://" + self.la.ready["nsm_socket"])

    def health(self):
        reply = harness.v2_call(self.uri, {"id": "h", "op": "health"})
        self.assertTrue(reply["ok"], reply)
        return reply

    def wait_flushed(self):
        """Until the relay acknowledged every record, the last one a checkpoint."""
        def flushed():
            a = self.health()["audit"]
            return a if a["acknowledged_seq"] == a["seq"] and a["pending_records"] == 0 else None
        return harness.wait_until(flushed, "the audit trail to reach the relay", 30,
                                  lambda: json.dumps(self.health()) + self.enclave.log()[-3000:])

    def verify(self, path=None, *extra):
        r = subprocess.run([self.lockout, "audit", "verify", path or self.audit_log,
                            "--root-cert", self.root_cert, "--json", *extra],
                           capture_output=True, text=True, timeout=60)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return r.returncode, json.loads(r.stdout), r.stderr

    def lines(self):
        with open(self.audit_log) as f:
            return f.read().splitlines()

    def tampered(self, name, lines):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def sign_some(self, conn, n=5):
        for i in range(n):
            reply = harness.v1_sign(self.uri, b"v1 message %d" % i)
            self.assertEqual(reply["success"], "True", reply)
            reply = conn.call(self.gateway.sign_request(
                {"id": i, "op": "sign", "message": lc.b64(b"gateway %d" % i)}))
            self.assertTrue(reply["ok"], reply)
            reply = conn.call(self.stranger.sign_request(
                {"id": i, "op": "sign", "message": lc.b64(b"stranger %d" % i)}))
            self.assertEqual(reply["error"], "unauthorized", reply)

    def test_signatures_and_refusals_are_recorded_and_verify(self):
        self.start()
        host, port = harness.tcp_address(self.uri)
        with lc.Connection(host, port) as conn:
            self.sign_some(conn, 5)
        audit = self.wait_flushed()
        pcr0 = self.health()["pcr0"]

        records = [json.loads(line) for line in self.lines()]
        self.assertEqual(records[0]["type"], "genesis")
        self.assertIsNotNone(records[0]["attestation"])
        requests = [r for r in records if r["type"] == "request"]
        self.assertEqual(sorted((r["client"], r["verdict"], r["rule"]) for r in requests),
                         sorted([("-", "signed", "")] * 5 + [("gateway", "signed", "")] * 5
                                + [("stranger", "refused", "unknown_client")] * 5))
        self.assertTrue(all(r["op"] == "sign" and r["key"] == "ephemeral" for r in requests))
        # No message bytes in the trail: only a digest of each request.
        with open(self.audit_log) as f:
            self.assertNotIn(lc.b64(b"gateway 0"), f.read())

        code, report, err = self.verify(None, "--expect-pcr", f"0={pcr0}",
                                        "--expect-seq", str(audit["acknowledged_seq"]))
        self.assertEqual(code, 0, err + json.dumps(report))
        chain = report["chains"][0]
        self.assertEqual(chain["attestation"], "verified")
        self.assertEqual(chain["pcrs"]["0"], pcr0)
        self.assertEqual(chain["requests"], {"signed": 10, "refused": 5, "failed": 0})
        self.assertEqual(chain["signed_through"], audit["acknowledged_seq"])
        self.assertEqual((report["errors"], report["gaps"]), ([], []))

        # Another PCR0, or the AWS root instead of the local NSM's: rejected.
        code, report, _ = self.verify(None, "--expect-pcr", "0=" + "00" * 48)
        self.assertEqual(code, 1)
        self.assertIn("PCR0", json.dumps(report["errors"]))
        r = subprocess.run([self.lockout, "audit", "verify", self.audit_log, "--json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout)

        lines = self.lines()
        # One line removed.
        code, report, err = self.verify(self.tampered("removed.jsonl", lines[:4] + lines[5:]))
        self.assertEqual(code, 1)
        self.assertIn("missing", report["errors"][0]["message"])
        self.assertIn("does not verify", err)
        # One field altered (a refusal made to look like a signature).
        refused = next(i for i, line in enumerate(lines) if '"verdict":"refused"' in line)
        altered = list(lines)
        altered[refused] = altered[refused].replace('"verdict":"refused","rule":"unknown_client"',
                                                    '"verdict":"signed","rule":""')
        code, report, _ = self.verify(self.tampered("altered.jsonl", altered))
        self.assertEqual(code, 1)
        self.assertIn("hash link broken", json.dumps(report["errors"]))
        # The end cut off: an unsigned tail, and short of what the enclave said was acknowledged.
        cut = self.tampered("cut.jsonl", lines[:-3])
        code, report, _ = self.verify(cut)
        self.assertEqual(code, 0)
        self.assertIn("unsigned tail", report["gaps"][0]["message"])
        code, report, _ = self.verify(cut, "--expect-seq", str(audit["acknowledged_seq"]))
        self.assertEqual(code, 1)
        # The human-readable form says what was verified.
        r = subprocess.run([self.lockout, "audit", "verify", self.audit_log, "--root-cert",
                            self.root_cert], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("attestation: verified", r.stdout)

    def test_a_relay_that_stops_reading_neither_stalls_signing_nor_grows_the_enclave(self):
        self.start("--audit-buffer-kib", "64")
        self.wait_flushed()
        self.relay.proc.send_signal(signal.SIGSTOP)
        try:
            start = time.monotonic()
            for i in range(600):  # far more records than 64 KiB holds
                reply = harness.v1_sign(self.uri, b"while the relay sleeps %d" % i)
                self.assertEqual(reply["success"], "True", reply)
            self.assertLess(time.monotonic() - start, 60)
            audit = self.health()["audit"]
            self.assertLessEqual(audit["pending_bytes"], 64 * 1024 + 8192, audit)
            self.assertGreater(audit["lost_records"], 0, audit)
            # (relay_ok may still be true: the sender is waiting out its 5 s deadline.)
        finally:
            self.relay.proc.send_signal(signal.SIGCONT)
        for i in range(3):
            harness.v1_sign(self.uri, b"after %d" % i)
        audit = self.wait_flushed()
        code, report, err = self.verify(None, "--expect-seq", str(audit["acknowledged_seq"]))
        self.assertEqual(code, 0, err + json.dumps(report))
        chain = report["chains"][0]
        self.assertEqual(chain["lost"], audit["lost_records"])
        self.assertEqual(chain["requests"]["signed"] + chain["lost"], 603)
        self.assertIn("lost", report["gaps"][0]["message"])
        code, _, _ = self.verify(None, "--strict")
        self.assertEqual(code, 1)

    def test_audit_required_withholds_signatures_it_cannot_record(self):
        self.start("--audit-buffer-kib", "64", "--audit-required")
        self.wait_flushed()
        self.relay.proc.send_signal(signal.SIGSTOP)
        withheld = 0
        try:
            for i in range(600):
                reply = harness.v1_sign(self.uri, b"required %d" % i)
                if reply["success"] != "True":
                    self.assertEqual(reply["error"], "Error: audit unavailable", reply)
                    withheld += 1
        finally:
            self.relay.proc.send_signal(signal.SIGCONT)
        self.assertGreater(withheld, 0)
        audit = self.wait_flushed()
        code, report, err = self.verify(None, "--expect-seq", str(audit["acknowledged_seq"]))
        self.assertEqual(code, 0, err + json.dumps(report))
        # Every signature that left the enclave is in the file.
        self.assertEqual(report["chains"][0]["requests"]["signed"], 600 - withheld)


if __name__ == "__main__":
    import unittest
    unittest.main()
