"""Issue 15 item 5: every hint names the actual cause and the next step. Each test drives the
situation for real (local-aws, lockout-relay, lockout-enclave as processes; the `lockout` CLI as
the operator runs it) and checks the words: the cause, and what to do.

The wording comes from one place (src/awsclient/failure_hint.cc; the relay's from
src/relay/relay_protocol.h); docs/CLI.md's "When something fails" table lists each message, and
the last test checks that the table and the code agree.
"""

import json
import os
import re

import harness
from runtime_test import SECRET, RuntimeTestCase


class HintsTest(RuntimeTestCase):
    def setUp(self):
        super().setUp()
        self.create_key("p256")

    def run_cli(self, env, *args):
        r = harness.run([self.lockout, *args], env=env, text=True)
        self.outputs.append(r.stdout + r.stderr)
        return r

    def doctor(self, env, secret=SECRET, relay="tcp://127.0.0.1:1", enclave="tcp://127.0.0.1:1"):
        r = self.run_cli(env, "doctor", "--secret", secret, "--relay", relay, "--enclave", enclave)
        return {m.group(2): (m.group(1), m.group(3))
                for m in re.finditer(r"^([✓✗·]) (\w+): (.*)$", r.stdout, re.M)}

    def check_lockout(self, env, secret=SECRET):
        return self.run_cli(env, "check-lockout", "--kms-key", self.key_arn, "--secret", secret)

    def assert_words(self, text, *words, absent=()):
        for w in words:
            self.assertIn(w, text)
        for w in absent:
            self.assertNotIn(w, text)

    # ------------------------------------------------------------------ connection / endpoint

    def test_nothing_listening_at_the_endpoint_says_check_the_endpoint(self):
        env = self.la.env("instance")
        nowhere = f"http://127.0.0.1:{harness.free_port()}"
        env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = nowhere
        env["AWS_ENDPOINT_URL_KMS"] = nowhere
        secret = self.doctor(env)["secret"]
        self.assertEqual(secret[0], "✗")
        self.assert_words(secret[1], "could not reach AWS", "127.0.0.1", "check the endpoint",
                          "AWS_ENDPOINT_URL", absent=("may call", "does not exist"))
        r = self.check_lockout(env)
        self.assert_words(r.stderr + r.stdout, "could not reach AWS", "AWS_ENDPOINT_URL",
                          absent=("credentials that may call",))

    def test_doctor_says_what_to_check_when_the_relay_or_enclave_is_not_there(self):
        checks = self.doctor(self.la.env("instance"),
                             relay=f"tcp://127.0.0.1:{harness.free_port()}",
                             enclave=f"tcp://127.0.0.1:{harness.free_port()}")
        self.assert_words(checks["relay"][1], "Connection refused",
                          "is lockout-relay running and listening at --relay")
        self.assert_words(checks["enclave"][1], "Connection refused",
                          "is the enclave running (nitro-cli describe-enclaves)")

    # ------------------------------------------------------------------ region

    def test_a_wrong_region_says_set_aws_region(self):
        env = self.la.env("instance")
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = "eu-west-3"
        secret = self.doctor(env)["secret"]
        self.assertEqual(secret[0], "✗")
        self.assert_words(secret[1], "the endpoint serves another region", "set AWS_REGION",
                          "now eu-west-3", absent=("may call",))
        r = self.check_lockout(env)
        self.assert_words(r.stderr + r.stdout, "another region", "set AWS_REGION",
                          absent=("credentials that may call",))

    # ------------------------------------------------------------------ credentials

    def test_no_credentials_names_the_variables_and_files_tried(self):
        env = {k: v for k, v in self.la.env("instance").items()
               if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        creds = self.doctor(env)["credentials"]
        self.assertEqual(creds[0], "✗")
        self.assert_words(creds[1], "no AWS credentials", "AWS_ACCESS_KEY_ID", "AWS_PROFILE",
                          "~/.aws/credentials", "AWS_EC2_METADATA_DISABLED")
        r = self.check_lockout(env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assert_words(r.stderr, "no AWS credentials", "set AWS_ACCESS_KEY_ID", "AWS_PROFILE")

    def test_no_instance_role_answering_names_imds_and_the_variables(self):
        env = {k: v for k, v in self.la.env("instance").items()
               if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
        env["AWS_EC2_METADATA_DISABLED"] = "false"
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{harness.free_port()}/"
        creds = self.doctor(env)["credentials"]
        self.assertEqual(creds[0], "✗")
        self.assert_words(creds[1], "no AWS credentials", "instance role (IMDS at",
                          "Connection refused", "set AWS_ACCESS_KEY_ID", "AWS_PROFILE",
                          absent=("no usable AWS credentials (no AWS credentials",))

    def test_an_unknown_access_key_says_check_the_key(self):
        env = self.la.env("admin")
        env["AWS_ACCESS_KEY_ID"] = "AKIAIOSFODNN7EXAMPLE"
        secret = self.doctor(env)["secret"]
        self.assert_words(secret[1], "AWS does not recognise these credentials",
                          "check AWS_ACCESS_KEY_ID")

    # ------------------------------------------------------------------ permission

    def test_a_principal_without_permission_is_named_with_the_action(self):
        # The instance role's identity policy has no kms:GetKeyPolicy.
        r = self.cli("instance", "policy", "lint", "--kms-key", self.key_arn)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assert_words(r.stderr, "permission denied", "lockout-instance-role",
                          "may not call kms:GetKeyPolicy", "allow kms:GetKeyPolicy to")

    # ------------------------------------------------------------------ missing resource

    def test_a_missing_secret_is_named_missing_not_forbidden(self):
        for principal in ("admin", "instance"):
            secret = self.doctor(self.la.env(principal), secret="lockout/missing")["secret"]
            self.assertEqual(secret[0], "✗")
            self.assert_words(secret[1], 'the secret "lockout/missing" does not exist in',
                              "check the name, AWS_REGION", "--secret",
                              absent=("permission", "these credentials:"))
        r = self.check_lockout(self.la.env("instance"), secret="lockout/missing")
        self.assert_words(r.stdout, 'the secret "lockout/missing" does not exist',
                          absent=("credentials that may call",))

    def test_a_missing_key_in_another_region_says_which_region(self):
        arn = self.key_arn.replace(f":{self.region}:", ":eu-west-3:")
        r = self.cli("admin", "policy", "lint", "--kms-key", arn)
        self.assert_words(r.stderr, "KMS has no such key", "set AWS_REGION=eu-west-3")

    # ------------------------------------------------------------------ relay allowlist

    def test_a_relay_without_allow_secret_for_the_name_says_so_everywhere(self):
        self.lock_to("--enclave-binary", self.enclave_bin)
        ready = os.path.join(self.tmp, "relay-other.json")
        relay = harness.Process([self.relay_bin, "--listen", "tcp://127.0.0.1:0",
                                 "--allow-secret", "lockout/other", "--ready-file", ready],
                                self.tmp, "relay-other", env=self.la.process_env(relay=True))
        self._stops.append(relay.stop)
        harness.wait_for_file(ready, relay.proc, what="relay ready file")
        with open(ready) as f:
            relay_uri = json.load(f)["listen"]
        _, enclave = self.start_enclave(relay_uri)
        h = harness.wait_until(
            lambda: (lambda h: h if h.get("reason") == "relay refused the secret name" else None)(
                self.health(enclave)), "the refusal to reach health")
        self.assert_words(h.get("detail", ""), "secret not allowed", "--allow-secret")
        self.assertIn("--allow-secret", relay.log())
        self.assertIn("secret name is not on the allowlist", relay.log())
        checks = self.doctor(self.la.env("instance"), relay=relay_uri, enclave=enclave)
        self.assert_words(checks["relay"][1], "secret not allowed", "--allow-secret NAME")

    def start_relay_for(self, allow, env):
        self._count += 1
        name = f"relay-hints-{self._count}"
        ready = os.path.join(self.tmp, f"{name}.json")
        relay = harness.Process([self.relay_bin, "--listen", "tcp://127.0.0.1:0",
                                 "--allow-secret", allow, "--ready-file", ready],
                                self.tmp, name, env=env)
        self._stops.append(relay.stop)
        harness.wait_for_file(ready, relay.proc, what="relay ready file")
        with open(ready) as f:
            return relay, json.load(f)["listen"]

    def test_the_relay_names_a_missing_secret_and_missing_credentials_in_its_log(self):
        # The secret does not exist: the client is told to read the relay's log, which says so.
        relay, uri = self.start_relay_for("lockout/missing", self.la.process_env(relay=True))
        checks = self.doctor(self.la.env("instance"), secret="lockout/missing", relay=uri)
        self.assert_words(checks["relay"][1], "secret unavailable",
                          "the relay could not read it from Secrets Manager")
        self.assert_words(relay.log(), 'the secret \\"lockout/missing\\" does not exist',
                          "check the name")
        # No instance role answers (IMDS down): the relay's log says where credentials come from.
        env = self.la.process_env(relay=True)
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{harness.free_port()}"
        relay, uri = self.start_relay_for(SECRET, env)
        checks = self.doctor(self.la.env("instance"), relay=uri)
        self.assert_words(checks["relay"][1], "upstream unavailable",
                          "the relay cannot reach Secrets Manager or get credentials")
        self.assert_words(relay.log(), "the relay gets the instance role's credentials from IMDS")

    # ------------------------------------------------------------------ the docs agree

    def test_the_docs_table_lists_the_codes_messages(self):
        with open(os.path.join(harness.SOURCE_DIR, "docs", "CLI.md")) as f:
            doc = f.read()
        start = doc.index("## When something fails")
        table = doc[start:doc.index("\n## ", start + 1) if "\n## " in doc[start + 1:] else None]
        messages = re.findall(r"^\| `([^`]+)` \|", table, re.M)
        self.assertGreaterEqual(len(messages), 8, table)
        code = ""
        for path in ("src/awsclient/failure_hint.cc", "src/awsclient/failure_hint.h",
                     "src/relay/relay_protocol.h", "src/relay/relay_service.cc",
                     "src/enclave/key_loader.cc", "src/awsclient/credential_chain.cc",
                     "src/operator/doctor.cc"):
            with open(os.path.join(harness.SOURCE_DIR, path)) as f:
                code += f.read()
        for m in messages:
            self.assertIn(m, code, f"docs/CLI.md lists `{m}`, which no hint in the code says")


if __name__ == "__main__":
    import unittest
    unittest.main()
