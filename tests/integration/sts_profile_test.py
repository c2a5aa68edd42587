"""Issue 15 acceptance 2 against a real `lockout local-aws`: its STS, and the operator CLI's
standard AWS credential chain.

* `aws sts get-caller-identity` (AWS CLI, AWS_ENDPOINT_URL_STS from `local-aws env`) and boto3
  get the caller's account, ARN and AWS-style UserId for root, the admin user and the instance
  role;
* AssumeRole of KeyAdmin by the admin user returns temporary credentials that local-aws
  attributes to arn:aws:sts::ACCT:assumed-role/KeyAdmin/SESSION (GetCallerIdentity, and KMS
  evaluates a key policy naming only the role for them); the instance role may not assume it, and
  an unknown role is refused in the same words (AccessDenied, HTTP 403);
* the tutorial's "apply it as that principal" step runs through a profile with role_arn +
  source_profile exactly as on AWS: `AWS_PROFILE=breakglass lockout policy ... --apply` assumes
  KeyPolicyBreakGlass and passes KMS's safety check as that role, which the admin user's own
  credentials do not;
* credential_process, AWS_PROFILE selection, environment precedence, a source_profile cycle and
  AWS_EC2_METADATA_DISABLED are honoured, and "no credentials" names what was tried.
"""

import json
import os
import re
import subprocess
import sys
import unittest

import harness

PCR0 = "ab" * 48


class StsProfileTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.la = self.local_aws()
        self.account = self.la.ready["account"]
        self.admin = self.la.ready["principals"]["admin"]
        self.roles = self.la.ready["roles"]
        self.config = os.path.join(self.tmp, "config")
        self.credentials = os.path.join(self.tmp, "credentials")
        with open(self.credentials, "w") as f:
            f.write("[base]\n"
                    f"aws_access_key_id = {self.admin['access_key_id']}\n"
                    f"aws_secret_access_key = {self.admin['secret_access_key']}\n")
        with open(self.config, "w") as f:
            f.write("[profile base]\nregion = " + self.la.ready["region"] + "\n"
                    "[profile keyadmin]\n"
                    f"role_arn = {self.roles['KeyAdmin']}\n"
                    "source_profile = base\nrole_session_name = tutorial\n"
                    "[profile breakglass]\n"
                    f"role_arn = {self.roles['KeyPolicyBreakGlass']}\n"
                    "source_profile = base\nduration_seconds = 900\n"
                    "[profile loop-a]\nrole_arn = " + self.roles["KeyAdmin"] +
                    "\nsource_profile = loop-b\n"
                    "[profile loop-b]\nrole_arn = " + self.roles["KeyAdmin"] +
                    "\nsource_profile = loop-a\n")

    def profile_env(self, profile=None, region=True):
        """Endpoints (and region) as `local-aws env` exports them, credentials from the files."""
        env = self.la.env("admin")
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        if not region:
            env.pop("AWS_REGION")
            env.pop("AWS_DEFAULT_REGION")
        env["AWS_CONFIG_FILE"] = self.config
        env["AWS_SHARED_CREDENTIALS_FILE"] = self.credentials
        if profile:
            env["AWS_PROFILE"] = profile
        return env

    def cli(self, env, *args):
        return subprocess.run([self.lockout, *args], env=env, capture_output=True, text=True,
                              timeout=60)

    def sts(self, **credentials):
        import boto3
        import botocore.config
        return boto3.client("sts", region_name=self.la.ready["region"],
                            endpoint_url=self.la.ready["sts_endpoint"],
                            config=botocore.config.Config(retries={"max_attempts": 1}),
                            **credentials)

    def principal_sts(self, principal):
        p = self.la.ready["principals"][principal]
        return self.sts(aws_access_key_id=p["access_key_id"],
                        aws_secret_access_key=p["secret_access_key"],
                        aws_session_token=p.get("session_token"))

    # ---- STS itself ----

    def test_the_aws_cli_gets_the_caller_identity_of_each_principal(self):
        exports = subprocess.run([self.lockout, "local-aws", "env", "--ready-file",
                                  self.la.ready_path, "--as", "admin"], capture_output=True,
                                 text=True, timeout=30).stdout
        self.assertIn(f"export AWS_ENDPOINT_URL_STS='{self.la.ready['sts_endpoint']}'", exports)
        for principal in ("root", "admin", "instance"):
            env = self.la.env(principal)
            _, out, _ = harness.aws(env, "sts", "get-caller-identity", "--endpoint-url",
                                    self.la.ready["sts_endpoint"])
            self.assertEqual(out["Account"], self.account)
            self.assertEqual(out["Arn"], self.la.ready["principals"][principal]["arn"])
        _, out, _ = harness.aws(self.la.env("root"), "sts", "get-caller-identity",
                                "--endpoint-url", self.la.ready["sts_endpoint"])
        self.assertEqual(out["UserId"], self.account)
        _, out, _ = harness.aws(self.la.env("admin"), "sts", "get-caller-identity",
                                "--endpoint-url", self.la.ready["sts_endpoint"])
        self.assertRegex(out["UserId"], r"^AIDA[A-Z2-7]{17}$")
        _, out, _ = harness.aws(self.la.env("instance"), "sts", "get-caller-identity",
                                "--endpoint-url", self.la.ready["sts_endpoint"])
        self.assertRegex(out["UserId"], r"^AROA[A-Z2-7]{17}:i-0123456789abcdef0$")

    def test_assumed_role_credentials_act_as_the_role(self):
        r = self.principal_sts("admin").assume_role(RoleArn=self.roles["KeyAdmin"],
                                                    RoleSessionName="alice", DurationSeconds=900)
        session_arn = f"arn:aws:sts::{self.account}:assumed-role/KeyAdmin/alice"
        self.assertEqual(r["AssumedRoleUser"]["Arn"], session_arn)
        self.assertRegex(r["AssumedRoleUser"]["AssumedRoleId"], r"^AROA[A-Z2-7]{17}:alice$")
        c = r["Credentials"]
        self.assertTrue(c["AccessKeyId"].startswith("ASIA"))
        remaining = c["Expiration"].timestamp() - __import__("time").time()
        self.assertTrue(800 < remaining <= 900, remaining)
        creds = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                     aws_session_token=c["SessionToken"])
        self.assertEqual(self.sts(**creds).get_caller_identity()["Arn"], session_arn)

        # A key whose policy names only the role (and the root): the session may describe it, the
        # admin user may not.
        import boto3
        import botocore.config
        import botocore.exceptions
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{self.account}:root"},
             "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy"], "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": self.roles["KeyAdmin"]},
             "Action": "kms:DescribeKey", "Resource": "*"}]}
        root_kms = self.la.boto3_client("kms", "root")
        key = root_kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
        role_kms = boto3.client("kms", region_name=self.la.ready["region"],
                                endpoint_url=self.la.ready["kms_endpoint"],
                                config=botocore.config.Config(retries={"max_attempts": 1}), **creds)
        self.assertEqual(role_kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"], key)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.la.boto3_client("kms", "admin").describe_key(KeyId=key)
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")

        # Role chaining: the role's own policy has no sts:AssumeRole.
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.sts(**creds).assume_role(RoleArn=self.roles["KeyPolicyBreakGlass"],
                                          RoleSessionName="chain")
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDenied")
        self.assertIn(f"User: {session_arn} is not authorized to perform: sts:AssumeRole",
                      e.exception.response["Error"]["Message"])

    def test_assume_role_is_refused_in_aws_words(self):
        import botocore.exceptions
        instance = self.la.ready["principals"]["instance"]["arn"]
        for client, caller, role in (
                (self.principal_sts("instance"), instance, self.roles["KeyAdmin"]),
                (self.principal_sts("admin"), self.admin["arn"],
                 f"arn:aws:iam::{self.account}:role/NoSuchRole"),
                (self.principal_sts("admin"), self.admin["arn"],
                 self.la.ready["instance_role_arn"])):
            with self.assertRaises(botocore.exceptions.ClientError) as e:
                client.assume_role(RoleArn=role, RoleSessionName="s1")
            err = e.exception.response
            self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 403)
            self.assertEqual(err["Error"]["Code"], "AccessDenied")
            self.assertEqual(err["Error"]["Message"],
                             f"User: {caller} is not authorized to perform: sts:AssumeRole on "
                             f"resource: {role}")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.principal_sts("admin").assume_role(RoleArn=self.roles["KeyAdmin"],
                                                    RoleSessionName="s1", DurationSeconds=7200)
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationError")
        self.assertIn("MaxSessionDuration", e.exception.response["Error"]["Message"])
        # A wrong secret: STS's own error names.
        bad = self.sts(aws_access_key_id=self.admin["access_key_id"],
                       aws_secret_access_key="x" * 40)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            bad.get_caller_identity()
        self.assertEqual(e.exception.response["Error"]["Code"], "SignatureDoesNotMatch")

    # ---- the operator CLI's credential chain ----

    def test_the_tutorial_applies_the_policy_as_the_break_glass_role_through_a_profile(self):
        admin_kms = self.la.boto3_client("kms", "admin")
        key_arn = admin_kms.create_key(Description="tutorial")["KeyMetadata"]["Arn"]
        policy_args = ["policy", "--mode", "recommended", "--enclave-role",
                       self.la.ready["instance_role_arn"], "--admin-role", self.roles["KeyAdmin"],
                       "--policy-admin-role", self.roles["KeyPolicyBreakGlass"], "--pcr0", PCR0,
                       "--apply", "--kms-key", key_arn]
        # The admin user's own credentials fail KMS's lock-out safety check: it is not named.
        r = self.cli(self.la.env("admin"), *policy_args)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("MalformedPolicyDocumentException", r.stderr)
        # The same command through the profile assumes the break-glass role and passes.
        r = self.cli(self.profile_env("breakglass"), *policy_args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"Applied to {key_arn}", r.stderr)
        log = self.la.process.log()
        self.assertRegex(log, r'"event":"sts_authorization","allowed":true,"principal":"' +
                         re.escape(self.admin["arn"]))
        self.assertRegex(log, r'"principal":"arn:aws:sts::\d+:assumed-role/KeyPolicyBreakGlass/'
                              r'lockout-\d+".*"target":"TrentService.PutKeyPolicy"')
        # Lint through the key-admin profile: locked except break-glass (exit 4).
        r = self.cli(self.profile_env("keyadmin"), "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 4, r.stdout + r.stderr)

    def test_credential_process_supplies_the_credentials(self):
        script = os.path.join(self.tmp, "creds process.py")
        with open(script, "w") as f:
            f.write("import json, sys\n"
                    "assert sys.argv[1:] == ['--who', 'it is me'], sys.argv\n"
                    "print(json.dumps({'Version': 1, "
                    f"'AccessKeyId': {self.admin['access_key_id']!r}, "
                    f"'SecretAccessKey': {self.admin['secret_access_key']!r}}}))\n")
        with open(self.config, "a") as f:
            f.write("[profile proc]\nregion = us-east-1\n"
                    f"credential_process = {sys.executable} '{script}' --who \"it is me\"\n"
                    "[profile garbage]\nregion = us-east-1\n"
                    f"credential_process = {sys.executable} -c \"print('SECRETVALUE not json')\"\n"
                    "[profile injected]\nregion = us-east-1\n"
                    f"credential_process = /bin/echo $(touch {self.tmp}/pwned); touch "
                    f"{self.tmp}/pwned2\n")
        admin_kms = self.la.boto3_client("kms", "admin")
        key_arn = admin_kms.create_key()["KeyMetadata"]["Arn"]
        r = self.cli(self.profile_env("proc"), "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 1, r.stderr)  # readable, and the default policy: NOT locked
        self.assertIn("NOT locked", r.stdout)
        r = self.cli(self.profile_env("garbage"), "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 3, r.stderr)  # the key's policy could not be read
        self.assertIn("credential_process of profile \"garbage\"", r.stderr)
        self.assertIn("not JSON", r.stderr)
        self.assertNotIn("SECRETVALUE", r.stderr)
        r = self.cli(self.profile_env("injected"), "policy", "lint", "--kms-key", key_arn)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "pwned")))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "pwned2")))

    def test_the_chain_order_and_its_errors(self):
        key_arn = self.la.boto3_client("kms", "admin").create_key()["KeyMetadata"]["Arn"]
        # The environment wins over AWS_PROFILE (as in the SDKs): a broken profile is not read.
        env = self.profile_env("loop-a")
        env["AWS_ACCESS_KEY_ID"] = self.admin["access_key_id"]
        env["AWS_SECRET_ACCESS_KEY"] = self.admin["secret_access_key"]
        r = self.cli(env, "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 1, r.stderr)
        r = self.cli(self.profile_env("loop-a"), "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 2)
        self.assertIn("source_profile cycle: loop-a -> loop-b -> loop-a", r.stderr)
        r = self.cli(self.profile_env("nosuch"), "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 2)
        self.assertIn('AWS_PROFILE=nosuch: no such profile "nosuch"', r.stderr)
        # No credentials anywhere, IMDS disabled: every source is named, and what to set.
        env = self.profile_env()
        r = self.cli(env, "policy", "lint", "--kms-key", key_arn)
        self.assertEqual(r.returncode, 2)
        for words in ("AWS_ACCESS_KEY_ID", 'profile "default"', self.credentials, self.config,
                      "AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE"):
            self.assertIn(words, r.stderr)
        # IMDS enabled: the instance role's credentials (local-aws's IMDS).
        env["AWS_EC2_METADATA_DISABLED"] = "false"
        r = self.cli(env, "doctor", "--secret", "none", "--relay", "tcp://127.0.0.1:1",
                     "--enclave", "tcp://127.0.0.1:1")
        self.assertRegex(r.stdout, r"✓ credentials: instance role \(IMDS at http://127\.0\.0\.1:"
                                   r"\d+/?\), access key ASIA")
        # The region comes from the profile when no variable sets it.
        r = self.cli(self.profile_env("base", region=False), "doctor", "--secret", "none", "--relay",
                     "tcp://127.0.0.1:1", "--enclave", "tcp://127.0.0.1:1")
        self.assertRegex(r.stdout, r'✓ credentials: profile "base": static keys in ')


if __name__ == "__main__":
    unittest.main()
