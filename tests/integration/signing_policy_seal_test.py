"""Issue 13, "Sealed by KMS": the signing policy sealed into PCR16, with real processes.

`lockout local-aws` (KMS, Secrets Manager, IMDS and the local NSM service), a KMS key whose
recommended policy `lockout policy --signing-policy A --apply` pins both the built
lockout-enclave's PCR0 and the PCR16 that signing policy A gives, the signing key stored as a
SecretBinary, then lockout-relay and lockout-enclave as separate processes on loopback TCP:

* booted with A, the enclave extends PCR16 with A's digest and locks it, KMS's Decrypt (a real
  Recipient attestation document carrying PCR16) releases the key, and it signs; health reports
  "auth": "policy" and the PCR16 that `lockout signing-policy hash A` predicted;
* booted with B (A with one client added, as root on the parent would), KMS refuses the key, the
  enclave keeps serving without it, and its log names the PCR16 it has (B's) beside its PCR0;
* check-lockout and policy lint report the PCR16 pin, and a different signing policy as a
  finding;
* with --signing-policy-from-relay the relay's policy (lockout-relay --signing-policy) is sealed
  the same way: A gets the key, a relay serving B gets the enclave refused, a relay serving none
  means the key is never requested;
* an enclave whose policy cannot be sealed (no NSM) never requests the key; a malformed policy
  file stops the enclave at start with the field named;
* the worked example of docs/PROTOCOL.md ("Signing policy") gives the numbers printed there.
"""

import hashlib
import json
import os
import re
import subprocess

import harness
import runtime_test

SECRET = runtime_test.SECRET
ED25519_A = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
ED25519_ROOT = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "PROTOCOL.md")


def policy_text(clients):
    # allow_unauthenticated_v1: this test is about the seal, not request authentication, so the
    # enclave still answers the seed's unauthenticated requests under this policy.
    return json.dumps({"version": 1, "allow_unauthenticated_v1": True, "clients": [
        {"name": name, "algorithm": "ed25519", "public_key": key, "ops": ["sign", "public_key"],
         "keys": ["*"]} for name, key in clients]}, indent=1)


class SigningPolicySealTest(runtime_test.RuntimeTestCase):
    # runtime_test's real-process steps (local-aws setup, relay, enclave, health); that base class
    # holds no tests of its own.

    def write_policy(self, name, clients):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(policy_text(clients))
        return path

    def pcr16_of(self, path):
        r = subprocess.run([self.lockout, "signing-policy", "hash", path, "--json"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertRegex(out["pcr16"], r"^[0-9a-f]{96}$")
        return out["pcr16"]

    def setup_sealed_key(self):
        """The key, locked to the built enclave's PCR0 and signing policy A's PCR16; returns
        (public key PEM, path of A, path of B = A plus a client of root's, A's PCR16)."""
        pem = self.create_key("p256")
        policy_a = self.write_policy("policy-a.json", [("gateway", ED25519_A)])
        policy_b = self.write_policy("policy-b.json",
                                     [("gateway", ED25519_A), ("root-added", ED25519_ROOT)])
        self.lock_to("--enclave-binary", self.enclave_bin, "--signing-policy", policy_a)
        return pem, policy_a, policy_b, self.pcr16_of(policy_a)

    def test_enclave_booted_with_the_sealed_policy_gets_its_key_and_signs(self):
        pem, policy_a, _, pcr16_a = self.setup_sealed_key()
        _, relay = self.start_relay()
        enclave, uri = self.start_enclave(relay["listen"], "--signing-policy", policy_a)
        h = self.wait_loaded(uri)
        h = self.health(uri)
        self.assertEqual((h["status"], h["auth"], h["pcr16"]), ("ok", "policy", pcr16_a), h)
        self.assert_signs(uri, pem)
        sealed = [json.loads(line) for line in enclave.log().splitlines()
                  if '"signing_policy_sealed"' in line]
        self.assertEqual(len(sealed), 1, enclave.log())
        self.assertEqual(sealed[0]["pcr16"], pcr16_a)
        self.assertNotIn("no_signing_policy", enclave.log())

        # The lock-out check and the lint report the pin, and that it is A's.
        r = self.cli("admin", "check-lockout", "--kms-key", self.key_arn, "--secret", SECRET,
                     "--signing-policy", policy_a, "--json")
        # The admin is the policy's break-glass principal, so put-key-policy is OPEN (exit 1):
        # the exit status is about leak paths; the PCR16 pin is reported beside them.
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        seal = json.loads(r.stdout)["signing_policy_pcr16"]
        self.assertEqual((seal["pin"], seal["value"], seal["matches_expected"]),
                         ("pinned", pcr16_a, True), seal)
        self.assertEqual(seal["findings"], [])
        r = self.cli("admin", "check-lockout", "--kms-key", self.key_arn, "--secret", SECRET)
        self.assertIn("signing policy (kms:RecipientAttestation:PCR16): pinned = " + pcr16_a,
                      r.stdout)
        r = self.cli("admin", "policy", "lint", "--kms-key", self.key_arn, "--signing-policy",
                     policy_a, "--json")
        lint = json.loads(r.stdout)["signing_policy_pcr16"]
        self.assertEqual((lint["pin"], lint["matches_expected"]), ("pinned", True), lint)

    def test_enclave_booted_with_another_policy_is_refused_by_kms_and_names_its_pcr16(self):
        _, _, policy_b, pcr16_a = self.setup_sealed_key()
        pcr16_b = self.pcr16_of(policy_b)
        self.assertNotEqual(pcr16_a, pcr16_b)
        _, relay = self.start_relay()
        enclave, uri = self.start_enclave(relay["listen"], "--signing-policy", policy_b)
        h = harness.wait_until(
            lambda: (lambda h: h if h["reason"] == "kms access denied" else None)(self.health(uri)),
            "KMS's refusal to reach health", detail=self.all_logs)
        self.assertNotEqual(h["status"], "ok", h)
        self.assertEqual((h["auth"], h["pcr16"]), ("policy", pcr16_b), h)
        self.assertEqual(harness.v1_sign(uri, runtime_test.SEED_MESSAGE),
                         {"success": "False", "error": "Error: key not loaded"})
        self.assertIsNone(enclave.proc.poll())
        denials = [json.loads(line) for line in enclave.log().splitlines()
                   if '"kms_access_denied"' in line]
        self.assertEqual(len(denials), 1, enclave.log())
        self.assertEqual((denials[0]["pcr16"], denials[0]["pcr16_locked"]), (pcr16_b, True))
        self.assertRegex(denials[0]["pcr0"], r"^[0-9a-f]{96}$")

        # The key policy is A's: lint with B's policy file reports the mismatch as a finding.
        r = self.cli("admin", "policy", "lint", "--kms-key", self.key_arn, "--signing-policy",
                     policy_b, "--json")
        lint = json.loads(r.stdout)["signing_policy_pcr16"]
        self.assertEqual((lint["pin"], lint["value"], lint["matches_expected"]),
                         ("pinned", pcr16_a, False), lint)
        self.assertTrue(any(pcr16_b in f for f in lint["findings"]), lint)

    def start_policy_relay(self, policy_path):
        """lockout-relay serving `policy_path` to get_signing_policy; returns its listen URI."""
        self._count += 1
        name = f"relay-{self._count}"
        ready = os.path.join(self.tmp, f"{name}.json")
        p = harness.Process([self.relay_bin, "--listen", "tcp://127.0.0.1:0", "--allow-secret",
                             SECRET, "--signing-policy", policy_path, "--ready-file", ready],
                            self.tmp, name, env=self.la.process_env(relay=True))
        self._stops.append(p.stop)
        harness.wait_for_file(ready, p.proc, what="relay ready file")
        with open(ready) as f:
            return p, json.load(f)["listen"]

    def test_policy_from_the_relay_is_sealed_the_same_way(self):
        pem, policy_a, policy_b, pcr16_a = self.setup_sealed_key()
        pcr16_b = self.pcr16_of(policy_b)
        relay_a, uri_a = self.start_policy_relay(policy_a)
        self.assertIn(pcr16_a, relay_a.log())  # the relay logs what it serves
        _, good = self.start_enclave(uri_a, "--signing-policy-from-relay")
        self.wait_loaded(good)
        self.assertEqual((self.health(good)["auth"], self.health(good)["pcr16"]),
                         ("policy", pcr16_a))
        self.assert_signs(good, pem)

        # Root on the parent serves its own policy (a client added): KMS refuses the key.
        _, uri_b = self.start_policy_relay(policy_b)
        enclave_b, bad = self.start_enclave(uri_b, "--signing-policy-from-relay")
        h = harness.wait_until(
            lambda: (lambda h: h if h["reason"] == "kms access denied" else None)(self.health(bad)),
            "KMS's refusal to reach health", detail=self.all_logs)
        self.assertEqual(h["pcr16"], pcr16_b, h)
        denial = [json.loads(line) for line in enclave_b.log().splitlines()
                  if '"kms_access_denied"' in line]
        self.assertEqual(denial[0]["pcr16"], pcr16_b)

    def test_a_relay_without_a_policy_means_no_key(self):
        self.create_key("p256")
        self.lock_to("--enclave-binary", self.enclave_bin)
        _, relay = self.start_relay()
        enclave, uri = self.start_enclave(relay["listen"], "--signing-policy-from-relay")
        h = harness.wait_until(
            lambda: (lambda h: h if h["status"] == "failed" else None)(self.health(uri)),
            "health to report the failure", detail=self.all_logs)
        self.assertEqual(h["reason"], "signing policy not sealed", h)
        self.assertNotIn("kms_access_denied", enclave.log())
        self.assertIn("no signing policy", enclave.log())

    def test_without_a_pcr16_pin_any_policy_gets_the_key_and_lint_says_so(self):
        pem = self.create_key("p256")
        policy_b = self.write_policy("policy-b.json",
                                     [("gateway", ED25519_A), ("root-added", ED25519_ROOT)])
        self.lock_to("--enclave-binary", self.enclave_bin)  # PCR0 only
        _, relay = self.start_relay()
        _, uri = self.start_enclave(relay["listen"], "--signing-policy", policy_b)
        self.wait_loaded(uri)
        self.assert_signs(uri, pem)
        r = self.cli("admin", "policy", "lint", "--kms-key", self.key_arn, "--signing-policy",
                     policy_b)
        self.assertIn("Signing policy (kms:RecipientAttestation:PCR16): not pinned", r.stdout)
        self.assertIn("the signing policy is NOT sealed: the key policy pins the enclave image "
                      "(PCR0) but does not pin kms:RecipientAttestation:PCR16", r.stdout)

    def test_no_policy_is_the_seed_mode_with_a_warning(self):
        pem = self.create_key("p256")
        self.lock_to("--enclave-binary", self.enclave_bin)
        _, relay = self.start_relay()
        enclave, uri = self.start_enclave(relay["listen"])
        self.wait_loaded(uri)
        self.assert_signs(uri, pem)
        h = self.health(uri)
        self.assertEqual(h["auth"], "none", h)
        self.assertNotIn("pcr16", h)
        warnings = [line for line in enclave.log().splitlines() if '"no_signing_policy"' in line]
        self.assertEqual(len(warnings), 1, enclave.log())


class SigningPolicyStartTest(harness.TempDirTestCase):
    """No local-aws needed: what the enclave does before it would ever reach KMS."""

    def start(self, *extra):
        ready = os.path.join(self.tmp, "enclave.json")
        p = harness.Process([harness.binary("lockout-enclave"), "--listen", "tcp://127.0.0.1:0",
                             "--ephemeral-key", "p256", "--nsm", "", "--threads", "1",
                             "--ready-file", ready, *extra], self.tmp, "enclave")
        self._stops.append(p.stop)
        return p, ready

    def test_a_policy_that_cannot_be_sealed_means_no_key(self):
        path = os.path.join(self.tmp, "policy.json")
        with open(path, "w") as f:
            f.write(policy_text([("gateway", ED25519_A)]))
        p, ready = self.start("--signing-policy", path)
        harness.wait_for_file(ready, p.proc, what="enclave ready file")
        with open(ready) as f:
            uri = json.load(f)["listen"]
        h = harness.wait_until(
            lambda: (lambda h: h if h["status"] == "failed" else None)(
                harness.v2_call(uri, {"id": 1, "op": "health"})), "health to report the failure")
        self.assertEqual((h["reason"], h["auth"]), ("signing policy not sealed", "policy"), h)
        self.assertNotIn("pcr16", h)
        self.assertEqual(harness.v1_sign(uri, b"hi"),
                         {"success": "False", "error": "Error: key not loaded"})
        self.assertIn("signing_policy_not_sealed", p.log())

    def test_a_malformed_policy_stops_the_enclave_naming_the_field(self):
        path = os.path.join(self.tmp, "policy.json")
        with open(path, "w") as f:
            f.write(policy_text([("gateway", ED25519_A[:-2])]))
        p, _ = self.start("--signing-policy", path)
        self.assertEqual(p.proc.wait(timeout=30), 1)
        self.assertIn("clients[0].public_key: an ed25519 key is 32 bytes, not 31", p.log())

    def test_a_policy_file_and_the_relay_together_are_refused(self):
        path = os.path.join(self.tmp, "policy.json")
        with open(path, "w") as f:
            f.write(policy_text([("gateway", ED25519_A)]))
        p, _ = self.start("--signing-policy", path, "--signing-policy-from-relay")
        self.assertEqual(p.proc.wait(timeout=30), 1)
        self.assertIn("give the signing policy one way", p.log())


class SigningPolicyDocsTest(harness.TempDirTestCase):
    def test_the_worked_example_in_the_protocol_document_gives_its_numbers(self):
        with open(DOCS) as f:
            doc = f.read()
        example = re.search(r"<!-- signing-policy-example -->\s*```json\n(.*?)```", doc, re.S)
        numbers = re.search(r"<!-- signing-policy-example-numbers -->\s*```\n(.*?)```", doc, re.S)
        canonical = re.search(r"<!-- signing-policy-example-canonical -->\s*```\n(.*?)\n```", doc,
                              re.S)
        self.assertTrue(example and numbers and canonical, "markers missing in docs/PROTOCOL.md")
        path = os.path.join(self.tmp, "example.json")
        with open(path, "w") as f:
            f.write(example.group(1))
        r = subprocess.run([harness.binary("lockout"), "signing-policy", "hash", path, "--json"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        documented = dict(re.findall(r"^(policy digest|expected PCR16)\s+([0-9a-f]{96})$",
                                     numbers.group(1), re.M))
        self.assertEqual(documented, {"policy digest": out["policy_digest"],
                                      "expected PCR16": out["pcr16"]})
        self.assertEqual(hashlib.sha384(canonical.group(1).encode()).hexdigest(),
                         out["policy_digest"])
        self.assertEqual(hashlib.sha384(bytes(48) + bytes.fromhex(out["policy_digest"])).hexdigest(),
                         out["pcr16"])


if __name__ == "__main__":
    import unittest
    unittest.main()
