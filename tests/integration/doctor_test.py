"""Issue 5 item 3: `lockout doctor` against a running stack (local-aws, lockout-relay,
lockout-enclave as real processes), healthy and with each link broken in turn.

The first broken link is named whatever the principal: the admin (who may read the key policy
and compare PCR0) and the instance role (which may only read the secret with GetSecretValue and
not the policy; a loaded key is then the proof KMS accepted the enclave's PCR0).
"""

import re
import unittest

import harness
from runtime_test import SECRET, RuntimeTestCase


class DoctorTest(RuntimeTestCase):
    def setUp(self):
        super().setUp()
        self.create_key("p256")

    def doctor(self, principal, relay, enclave, secret=SECRET, kms_key=True):
        args = ["doctor", "--secret", secret, "--relay", relay, "--enclave", enclave]
        if kms_key:
            args += ["--kms-key", self.key_arn]
        r = self.cli(principal, *args)
        self.assertEqual(r.stderr, "", r.stderr)
        return r.returncode, r.stdout

    def lines(self, out):
        return {m.group(2): (m.group(1), m.group(3))
                for m in re.finditer(r"^([✓✗·]) (\w+): (.*)$", out, re.M)}

    def start_stack(self):
        relay_proc, relay_info = self.start_relay()
        _, enclave = self.start_enclave(relay_info["listen"])
        return relay_proc, relay_info["listen"], enclave

    def test_a_healthy_stack_passes_for_the_admin_and_the_instance_role(self):
        self.lock_to("--enclave-binary", self.enclave_bin)
        _, relay, enclave = self.start_stack()
        self.wait_loaded(enclave)

        code, out = self.doctor("admin", relay, enclave)
        self.assertEqual(code, 0, out)
        self.assertTrue(out.endswith("all links work\n"), out)
        checks = self.lines(out)
        self.assertEqual(list(checks),
                         ["credentials", "secret", "relay", "enclave", "kms_key", "pcr0"])
        self.assertTrue(all(mark == "✓" for mark, _ in checks.values()), out)
        self.assertRegex(checks["pcr0"][1], r"^[0-9a-f]{96} = policy ImageSha384$")
        self.assertIn("healthy, key p256", checks["enclave"][1])

        code, out = self.doctor("instance", relay, enclave)
        self.assertEqual(code, 0, out)
        checks = self.lines(out)
        self.assertEqual(checks["secret"][0], "✓", out)
        # The tutorial's instance role may DescribeSecret (docs/TUTORIAL-AWS.md step 6).
        self.assertIn("current version", checks["secret"][1])
        self.assertEqual(checks["pcr0"][0], "·", out)
        self.assertIn("KMS accepted the enclave's PCR0", checks["pcr0"][1])
        self.assertNotIn("BEGIN", out)

    def test_each_broken_link_is_named_first(self):
        self.lock_to("--enclave-binary", self.enclave_bin)
        relay_proc, relay, enclave = self.start_stack()
        self.wait_loaded(enclave)

        # A secret that does not exist: the secret link, and the relay cannot serve it either.
        code, out = self.doctor("admin", relay, enclave, secret="lockout/missing")
        self.assertEqual(code, 1, out)
        self.assertTrue(out.endswith("first broken link: secret\n"), out)
        self.assertIn("ResourceNotFoundException", self.lines(out)["secret"][1])

        # Nothing listens at the enclave's address.
        code, out = self.doctor("admin", relay, f"tcp://127.0.0.1:{harness.free_port()}")
        self.assertEqual(code, 1, out)
        self.assertTrue(out.endswith("first broken link: enclave\n"), out)

        # The relay is down: the enclave keeps signing (its key is loaded) but the relay link is
        # the one doctor names.
        relay_proc.stop()
        code, out = self.doctor("instance", relay, enclave)
        self.assertEqual(code, 1, out)
        self.assertTrue(out.endswith("first broken link: relay\n"), out)
        self.assertIn("Connection refused", self.lines(out)["relay"][1])
        self.assertEqual(self.lines(out)["enclave"][0], "✓", out)

    def test_an_enclave_the_policy_does_not_pin_is_named_with_its_pcr0(self):
        self.lock_to("--pcr0", "ab" * 48)
        _, relay, enclave = self.start_stack()
        harness.wait_until(lambda: self.health(enclave)["reason"] == "kms access denied", "the denial")

        code, out = self.doctor("instance", relay, enclave)
        self.assertEqual(code, 1, out)
        self.assertTrue(out.endswith("first broken link: enclave\n"), out)
        detail = self.lines(out)["enclave"][1]
        self.assertIn("kms access denied", detail)
        running = re.search(r"it runs PCR0 ([0-9a-f]{96})", detail)
        self.assertIsNotNone(running, detail)

        code, out = self.doctor("admin", relay, enclave)
        self.assertEqual(code, 1, out)
        mark, detail = self.lines(out)["pcr0"]
        self.assertEqual(mark, "✗", out)
        self.assertIn(f"the enclave runs PCR0 {running.group(1)} but the policy allows "
                      + "ab" * 48, detail)


if __name__ == "__main__":
    unittest.main()
