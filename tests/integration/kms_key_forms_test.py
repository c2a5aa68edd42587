"""Issue 15 acceptance 3: every operator command that takes a KMS key accepts the key id, the key
ARN, the alias name (alias/NAME) and the alias ARN, against a real `lockout local-aws`:
`policy --apply`, `policy lint --kms-key`, `doctor --kms-key` and `check-lockout --kms-key`.
A key that does not exist is named as such (doctor's kms_key line, not "pcr0").
"""

import json
import subprocess
import unittest

import harness

PCR0 = "cd" * 48


class KmsKeyFormsTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.la = self.local_aws()
        self.admin_arn = self.la.ready["principals"]["admin"]["arn"]
        kms = self.la.boto3_client("kms", "admin")
        meta = kms.create_key(Description="forms")["KeyMetadata"]
        self.key_id, self.key_arn = meta["KeyId"], meta["Arn"]
        kms.create_alias(AliasName="alias/forms", TargetKeyId=self.key_id)
        region, account = self.la.ready["region"], self.la.ready["account"]
        self.forms = {
            "key id": self.key_id,
            "key ARN": self.key_arn,
            "alias name": "alias/forms",
            "alias ARN": f"arn:aws:kms:{region}:{account}:alias/forms",
        }

    def cli(self, principal, *args):
        return subprocess.run([self.lockout, *args], env=self.la.env(principal),
                              capture_output=True, text=True, timeout=120)

    def test_policy_apply_and_lint(self):
        for name, form in self.forms.items():
            with self.subTest(form=name):
                # The admin user is the policy admin, so the policy can be applied again.
                r = self.cli("admin", "policy", "--enclave-role", self.la.ready["instance_role_arn"],
                             "--admin-role", self.la.ready["roles"]["KeyAdmin"],
                             "--policy-admin-role", self.admin_arn, "--pcr0", PCR0, "--apply",
                             "--kms-key", form)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(self.key_arn, r.stderr)
                r = self.cli("admin", "policy", "lint", "--kms-key", form, "--json")
                self.assertEqual(r.returncode, 4, r.stderr)  # locked except break-glass
                self.assertIn(PCR0, r.stdout)
        for form in ("alias/nope", "arn:aws:kms:us-east-1:111122223333:alias/nope",
                     "11111111-2222-3333-4444-555555555555"):
            with self.subTest(missing=form):
                r = self.cli("admin", "policy", "lint", "--kms-key", form)
                self.assertEqual(r.returncode, 3)
                self.assertIn(f"--kms-key {form}: KMS has no such", r.stderr)
                self.assertIn("AWS_REGION", r.stderr)

    def test_doctor(self):
        for name, form in self.forms.items():
            with self.subTest(form=name):
                r = self.cli("admin", "doctor", "--secret", "s", "--kms-key", form, "--relay",
                             "tcp://127.0.0.1:1", "--enclave", "tcp://127.0.0.1:1")
                self.assertRegex(r.stdout, r"(?m)^✓ kms_key: .*" + self.key_arn)
                # The policy was read (with the resolved key): the default one pins nothing.
                self.assertRegex(r.stdout, r"(?m)^✗ pcr0: the key policy pins no ImageSha384")
        r = self.cli("admin", "doctor", "--secret", "s", "--kms-key", "alias/nope", "--relay",
                     "tcp://127.0.0.1:1", "--enclave", "tcp://127.0.0.1:1")
        self.assertRegex(r.stdout, r"(?m)^✗ kms_key: --kms-key alias/nope: KMS has no such alias")
        self.assertRegex(r.stdout, r"(?m)^· pcr0: no KMS key")

    def test_check_lockout(self):
        r = self.cli("instance", "create-key", "--kms-key", "alias/forms", "--secret", "forms/key",
                     "--type", "p256", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["kms_key_arn"], self.key_arn)
        for name, form in self.forms.items():
            with self.subTest(form=name):
                r = self.cli("admin", "check-lockout", "--kms-key", form, "--secret", "forms/key",
                             "--probe-key", form, "--json")
                report = json.loads(r.stdout)
                self.assertEqual(report["kms_key"], self.key_arn, r.stderr)
                states = {p["id"]: p for p in report["paths"]}
                # The admin may read and rewrite the default policy: NOT locked out, and every
                # path that needs a key id or ARN (GetKeyPolicy/PutKeyPolicy, grants) was tried.
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertEqual(states["put-key-policy"]["state"], "OPEN", states)


if __name__ == "__main__":
    unittest.main()
