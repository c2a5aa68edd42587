"""Issue 5 items 1-3 against a real `lockout local-aws`: create-key, policy --apply, policy lint
and check-lockout, run as the built `lockout` binary with the principals' environments.

* create-key stores a SecretBinary that is the KMS ciphertext (context {"lockout:secret": NAME})
  of a PKCS#8 key whose public half is the PEM it printed (checked with openssl);
* with the account's default key policy, check-lockout says NOT locked out (exit 1) for root and
  admin;
* after `lockout policy --apply` (recommended, PCR0 of the lockout binary itself) it says locked
  out (exit 0) for root, admin and the instance role — every leak path closed — and lint agrees
  (exit 0);
* seed mode applies only with the safety-check bypass and says so; check-lockout then finds the
  instance role's ReEncrypt and the admin's grants and PutKeyPolicy OPEN (exit 1), lint says NOT
  locked (exit 1), and the probes leave no grant and no new secret version behind;
* recommended mode with a --policy-admin-role other than the caller is refused by KMS's safety
  check with advice; without one it is applied with the bypass and says the policy is immutable;
* `policy lint` exit codes: 0 locked, 1 NOT locked, 3 unreadable, 4 break-glass;
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

    def check(self, principal, key_arn, secret, *extra):
        return self.cli(principal, "check-lockout", "--kms-key", key_arn, "--secret", secret,
                        *extra)

    def check_json(self, principal, key_arn, secret):
        r = self.check(principal, key_arn, secret, "--json")
        report = json.loads(r.stdout)
        return r.returncode, report, {p["id"]: p["state"] for p in report["paths"]}

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
        self.assertIn("NOBODY can change this policy", r.stderr)
        applied = json.loads(self.admin_kms.get_key_policy(KeyId=key_arn,
                                                           PolicyName="default")["Policy"])
        self.assertEqual(json.loads(r.stdout), applied)
        self.assertEqual([s["Sid"] for s in applied["Statement"]],
                         ["KeyAdministration", "EncryptForEnclave", "DecryptOnlyInEnclave",
                          "DenyDecryptWithoutAttestation", "DenyReEncrypt", "DenyGrants",
                          "DenyPolicyChange"])
        # PCR0 is what the local NSM service reports for the lockout binary.
        nsm = harness.run([self.lockout, "nsm", "describe-pcr", "0", "--nsm",
                           "unix://" + self.la.ready["nsm_socket"]], text=True)
        self.assertEqual(nsm.returncode, 0, nsm.stderr)
        self.assertEqual(applied["Statement"][2]["Condition"]["StringEqualsIgnoreCase"][PCR0_KEY],
                         json.loads(nsm.stdout)["data"].lower())

        for principal in ("root", "admin", "instance"):
            r = self.check(principal, key_arn, "lockout/key")
            self.assertEqual(r.returncode, 0, f"{principal}: {r.stdout}{r.stderr}")
            self.assertIn("\nlocked out: every leak path tried is closed", r.stdout)
            for path in ("decrypt", "reencrypt", "grant-decrypt", "grant-reencrypt",
                         "put-key-policy"):
                self.assertRegex(r.stdout, rf"\n  closed +{path}: ", f"{principal}: {r.stdout}")
            # Without --nsm the debug-mode Decrypt is not tried, says why, and is left out.
            self.assertRegex(r.stdout, r"\n  not tried +decrypt-debug: no NSM given")
            self.assertIn("(not tried: decrypt-debug)", r.stdout)
        # With local-aws's NSM socket it is tried. The document carries lockout's own PCR0, which
        # is the pinned one here: root is still refused (no Allow names it).
        r = self.check("root", key_arn, "lockout/key", "--nsm",
                       "unix://" + self.la.ready["nsm_socket"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"\n  closed +decrypt-debug: ")
        lint = self.cli("admin", "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(lint.returncode, 0, lint.stderr)
        self.assertIn("Verdict: locked: the key is locked to the pinned enclave", lint.stdout)
        self.assertIn(self.role_arn + ": can decrypt only from the pinned enclave", lint.stdout)

    def test_seed_mode_applies_with_the_bypass_and_check_lockout_finds_its_leaks(self):
        key_arn = self.new_key()
        self.create_signing_key(key_arn, "lockout/seed")
        r = self.cli("root", "policy", "--mode", "seed", "--enclave-role", self.role_arn,
                     "--admin-role", self.admin_arn, "--pcr0", "ab" * 48, "--apply",
                     "--kms-key", key_arn)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("BypassPolicyLockoutSafetyCheck", r.stderr)
        sm = self.la.boto3_client("secretsmanager", "admin")
        versions = sm.describe_secret(SecretId="lockout/seed")["VersionIdsToStages"]
        policy_before = self.admin_kms.get_key_policy(KeyId=key_arn, PolicyName="default")

        code, report, states = self.check_json("root", key_arn, "lockout/seed")
        self.assertEqual(code, 0, report)
        self.assertEqual(report["verdict"], "locked out")

        code, report, states = self.check_json("instance", key_arn, "lockout/seed")
        self.assertEqual(code, 1, report)
        self.assertEqual(states["decrypt"], "closed")
        self.assertEqual(states["reencrypt"], "OPEN")  # the seed's kms:ReEncrypt*
        self.assertEqual(report["verdict"], "NOT locked out")

        code, report, states = self.check_json("admin", key_arn, "lockout/seed")
        self.assertEqual(code, 1, report)
        self.assertEqual(states["decrypt"], "closed")
        self.assertEqual(states["grant-decrypt"], "OPEN")
        self.assertEqual(states["grant-reencrypt"], "OPEN")
        self.assertEqual(states["put-key-policy"], "OPEN")
        self.assertEqual(states["put-secret-value"], "OPEN")
        self.assertTrue(report["secret_untouched"], report)
        self.assertEqual(report["cleanup_failures"], [])
        # The admin's probe made a key of its own: scheduled for deletion.
        probe = [line.split()[2] for line in report["cleanup"] if line.startswith("probe key ")]
        self.assertEqual(len(probe), 1, report["cleanup"])
        self.assertEqual(self.admin_kms.describe_key(KeyId=probe[0])["KeyMetadata"]["KeyState"],
                         "PendingDeletion")
        # Nothing left behind: no grant, the same secret versions, the same policy.
        self.assertEqual(self.admin_kms.list_grants(KeyId=key_arn)["Grants"], [])
        self.assertEqual(sm.describe_secret(SecretId="lockout/seed")["VersionIdsToStages"],
                         versions)
        self.assertEqual(
            self.admin_kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"],
            policy_before["Policy"])

        lint = self.cli("admin", "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(lint.returncode, 1, lint.stdout + lint.stderr)
        self.assertIn("kms:ReEncryptFrom", lint.stdout)
        self.assertIn("Verdict: NOT locked", lint.stdout)

    def test_a_policy_admin_other_than_the_caller_is_refused_by_the_safety_check(self):
        key_arn = self.new_key()
        r = self.cli("root", "policy", "--enclave-role", self.role_arn, "--admin-role",
                     self.admin_arn, "--policy-admin-role",
                     "arn:aws:iam::111122223333:role/break-glass", "--pcr0", "ab" * 48,
                     "--apply", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("MalformedPolicyDocumentException", r.stderr)
        self.assertIn("policy admin", r.stderr)

    def test_policy_lint_exit_codes(self):
        def lint_file(text):
            path = os.path.join(self.tmp, "policy.json")
            with open(path, "w") as f:
                f.write(text)
            return self.cli("admin", "policy", "lint", path)

        def policy(*extra):
            r = self.cli("admin", "policy", "--enclave-role", self.role_arn, "--admin-role",
                         self.admin_arn, "--pcr0", "ab" * 48, *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout

        self.assertEqual(lint_file(policy()).returncode, 0)
        self.assertEqual(lint_file(policy("--mode", "seed")).returncode, 1)
        break_glass = lint_file(policy("--policy-admin-role",
                                       "arn:aws:iam::111122223333:role/break-glass"))
        self.assertEqual(break_glass.returncode, 4, break_glass.stdout)
        self.assertIn("locked except break-glass", break_glass.stdout)
        self.assertEqual(lint_file("not a policy").returncode, 3)
        self.assertEqual(self.cli("admin", "policy", "lint", "/no/such/file").returncode, 3)

    def test_a_wrong_secret_name_is_inconclusive_not_locked_out(self):
        key_arn = self.new_key()
        # The instance role: on the account's default policy it may not rewrite the policy, so
        # nothing is open and the unread secret leaves the verdict open. (The admin would be
        # NOT locked out: it may PutKeyPolicy.)
        r = self.check("instance", key_arn, "lockout/no-such-secret")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("\ninconclusive:", r.stdout)
        self.assertIn("cannot read the secret", r.stdout)


if __name__ == "__main__":
    unittest.main()
