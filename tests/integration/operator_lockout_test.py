"""Issue 5 items 1-3 against a real `lockout local-aws`: create-key, policy --apply, policy lint
and check-lockout, run as the built `lockout` binary with the principals' environments.

* create-key stores a SecretBinary that is the KMS ciphertext (context {"lockout:secret": NAME})
  of a PKCS#8 key whose public half is the PEM it printed (checked with openssl);
* with the account's default key policy, check-lockout says NOT locked out (exit 1) for root and
  admin;
* after `lockout policy --apply` (recommended, PCR0 of the lockout binary itself) it says locked
  out (exit 0) for root, admin and the instance role, and lint agrees;
* seed mode applies only with the safety-check bypass and says so; recommended mode applied by
  root (who is not in the policy) is refused by KMS's safety check with advice;
* a wrong secret name is inconclusive (exit 3), never "locked out".
"""

import json
import os
import subprocess
import unittest

import harness

PCR0_KEY = "kms:RecipientAttestation:ImageSha384"


class OperatorLockoutTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.la = self.local_aws()
        self.admin_arn = self.la.ready["principals"]["admin"]["arn"]
        self.role_arn = self.la.ready["instance_role_arn"]
        self.admin_kms = self.la.boto3_client("kms", "admin")

    def cli(self, principal, *args):
        return subprocess.run([self.lockout, *args], env=self.la.env(principal),
                              capture_output=True, text=True, timeout=60)

    def new_key(self):
        return self.admin_kms.create_key(Description="operator test")["KeyMetadata"]["Arn"]

    def create_signing_key(self, key_arn, secret, key_type="p256"):
        r = self.cli("instance", "create-key", "--kms-key", key_arn, "--secret", secret,
                     "--type", key_type, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def check(self, principal, key_arn, secret):
        return self.cli(principal, "check-lockout", "--kms-key", key_arn, "--secret", secret)

    def test_create_key_stores_the_kms_ciphertext_of_the_printed_key(self):
        key_arn = self.new_key()
        out = self.create_signing_key(key_arn, "lockout/k1", "secp256k1")
        self.assertEqual(out["key_type"], "secp256k1")
        self.assertEqual(out["kms_key_arn"], key_arn)
        self.assertRegex(out["address"], r"^0x[0-9a-fA-F]{40}$")
        sm = self.la.boto3_client("secretsmanager", "admin")
        blob = sm.get_secret_value(SecretId="lockout/k1")["SecretBinary"]
        self.assertEqual(len(blob), out["ciphertext_size"])
        # Without the context the ciphertext does not decrypt; with it, it is the key.
        with self.assertRaises(Exception):
            self.admin_kms.decrypt(CiphertextBlob=blob)
        plain = self.admin_kms.decrypt(CiphertextBlob=blob,
                                       EncryptionContext={"lockout:secret": "lockout/k1"})
        der = os.path.join(self.tmp, "k1.der")
        with open(der, "wb") as f:
            f.write(plain["Plaintext"])
        pub = harness.run(["openssl", "pkey", "-inform", "DER", "-in", der, "-pubout"], text=True)
        self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assertEqual(pub.stdout, out["public_key_pem"])
        # The plaintext never reaches the command's output.
        r = self.cli("instance", "create-key", "--kms-key", key_arn, "--secret", "lockout/k2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("-----BEGIN PUBLIC KEY-----", r.stdout)
        self.assertNotIn("PRIVATE", r.stdout + r.stderr)
        # A second create-key under the same name refuses unless --overwrite.
        again = self.cli("instance", "create-key", "--kms-key", key_arn, "--secret", "lockout/k2")
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("--overwrite", again.stderr)

    def test_default_policy_is_not_locked_out_and_the_recommended_one_is(self):
        key_arn = self.new_key()
        self.create_signing_key(key_arn, "lockout/key")
        for principal in ("root", "admin"):
            r = self.check(principal, key_arn, "lockout/key")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("NOT locked out", r.stdout)

        r = self.cli("admin", "policy", "--enclave-role", self.role_arn, "--admin-role",
                     self.admin_arn, "--enclave-binary", self.lockout, "--apply",
                     "--kms-key", key_arn)
        self.assertEqual(r.returncode, 0, r.stderr)
        applied = json.loads(self.admin_kms.get_key_policy(KeyId=key_arn,
                                                           PolicyName="default")["Policy"])
        self.assertEqual(json.loads(r.stdout), applied)
        self.assertEqual([s["Sid"] for s in applied["Statement"]],
                         ["KeyAdministration", "EncryptForEnclave", "DecryptOnlyInEnclave",
                          "DenyDecryptWithoutAttestation"])
        # PCR0 is what the local NSM service reports for the lockout binary.
        nsm = harness.run([self.lockout, "nsm", "describe-pcr", "0", "--nsm",
                           "unix://" + self.la.ready["nsm_socket"]], text=True)
        self.assertEqual(nsm.returncode, 0, nsm.stderr)
        self.assertEqual(applied["Statement"][2]["Condition"]["StringEqualsIgnoreCase"][PCR0_KEY],
                         json.loads(nsm.stdout)["data"].lower())

        for principal in ("root", "admin", "instance"):
            r = self.check(principal, key_arn, "lockout/key")
            self.assertEqual(r.returncode, 0, f"{principal}: {r.stdout}{r.stderr}")
            self.assertTrue(r.stdout.startswith("locked out"), r.stdout)

        lint = self.cli("admin", "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(lint.returncode, 0, lint.stderr)
        self.assertIn("Verdict: the key is locked to the pinned enclave", lint.stdout)
        self.assertIn(self.role_arn + ": can decrypt only from the pinned enclave", lint.stdout)

    def test_seed_mode_applies_with_the_bypass_and_says_so(self):
        key_arn = self.new_key()
        self.create_signing_key(key_arn, "lockout/seed")
        r = self.cli("root", "policy", "--mode", "seed", "--enclave-role", self.role_arn,
                     "--admin-role", self.admin_arn, "--pcr0", "ab" * 48, "--apply",
                     "--kms-key", key_arn)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("BypassPolicyLockoutSafetyCheck", r.stderr)
        for principal in ("root", "admin", "instance"):
            r = self.check(principal, key_arn, "lockout/seed")
            self.assertEqual(r.returncode, 0, f"{principal}: {r.stdout}{r.stderr}")
        lint = self.cli("admin", "policy", "lint", "--kms-key", key_arn)
        self.assertIn("kms:ReEncryptFrom", lint.stdout)
        self.assertIn("NOT locked", lint.stdout)

    def test_recommended_policy_applied_by_root_is_refused_by_the_safety_check(self):
        key_arn = self.new_key()
        r = self.cli("root", "policy", "--enclave-role", self.role_arn, "--admin-role",
                     self.admin_arn, "--pcr0", "ab" * 48, "--apply", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("MalformedPolicyDocumentException", r.stderr)
        self.assertIn("admin role", r.stderr)

    def test_a_wrong_secret_name_is_inconclusive_not_locked_out(self):
        key_arn = self.new_key()
        r = self.check("admin", key_arn, "lockout/no-such-secret")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("inconclusive"), r.stdout)


if __name__ == "__main__":
    unittest.main()
