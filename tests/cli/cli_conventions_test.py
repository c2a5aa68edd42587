"""Every lockout binary follows docs/CLI.md: usage errors exit 2 with "did you mean", --version
names the version and commit, `-` reads standard input, and --json output parses.

Runs the built binaries from LOCKOUT_BIN_DIR. Nothing here talks to AWS or an enclave: AWS
endpoints point at a closed local port and the relay and enclave at a socket that does not exist.
"""

import json
import os
import re
import shlex
import subprocess
import tempfile
import unittest

BIN_DIR = os.environ.get("LOCKOUT_BIN_DIR", "")
BINARIES = ("lockout", "lockout-relay", "lockout-enclave")


def binary(name):
    path = os.path.join(BIN_DIR, name)
    if not os.path.exists(path):
        raise unittest.SkipTest(f"{name} is not built at {path}")
    return path


def run(name, args, stdin=None, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("LOCKOUT_PARSE_ONLY", None)
    env.update(env_extra or {})
    return subprocess.run([binary(name), *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env)


def subcommands(help_text):
    """The subcommand names a CLI11 --help lists under "Subcommands:"."""
    names = []
    in_section = False
    for line in help_text.splitlines():
        if line.startswith("Subcommands:"):
            in_section = True
            continue
        if in_section:
            m = re.match(r"^  (\S+)", line)
            if m:
                names.append(m.group(1))
            elif line and not line.startswith(" "):
                in_section = False
    return names


def all_command_paths():
    """Every command path of `lockout`, e.g. [], ["sign"], ["policy", "lint"]."""
    paths = [[]]
    i = 0
    while i < len(paths):
        out = run("lockout", [*paths[i], "--help"]).stdout
        paths.extend([*paths[i], name] for name in subcommands(out))
        i += 1
    return paths


class UsageErrorTest(unittest.TestCase):
    def assert_usage(self, name, args, *needles):
        r = run(name, args)
        self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
        for needle in needles:
            self.assertIn(needle, r.stderr, args)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        return r

    def test_bare_lockout_lists_the_commands(self):
        self.assert_usage("lockout", [], "lockout: a command is required: ", "sign", "verify")

    def test_mistyped_command(self):
        self.assert_usage("lockout", ["sing"], "unknown command 'sing'; did you mean sign?")

    def test_mistyped_nested_command(self):
        self.assert_usage("lockout", ["policy", "lnt", "p.json"],
                          "lockout policy: unknown command 'lnt'; did you mean lint?")

    def test_mistyped_required_flag_is_named_not_the_missing_one(self):
        self.assert_usage("lockout", ["sign", "--enclve", "vsock://20:5010", "--message", "m"],
                          "lockout sign: unknown option --enclve; did you mean --enclave?")

    def test_missing_required_flag(self):
        self.assert_usage("lockout", ["sign", "--message", "m"], "--enclave is required")

    def test_bad_choice(self):
        self.assert_usage("lockout", ["sign", "--enclave", "vsock://20:5010", "--message", "m",
                                      "--protocol", "v3"], "lockout sign: ")

    def test_commands_own_checks_exit_two(self):
        self.assert_usage("lockout", ["sign", "--enclave", "nonsense", "--message", "m"])
        self.assert_usage("lockout", ["verify", "--message", "m"], "--public-key")

    def test_relay_and_enclave(self):
        self.assert_usage("lockout-relay", ["--alow-secret", "s"],
                          "lockout-relay: unknown option --alow-secret; did you mean "
                          "--allow-secret?")
        self.assert_usage("lockout-enclave", ["--lisen", "tcp://127.0.0.1:0"],
                          "lockout-enclave: unknown option --lisen; did you mean --listen?")
        self.assert_usage("lockout-enclave", ["--load-at", "never"])

    def test_relay_flag_values_are_usage_errors(self):
        self.assert_usage("lockout-relay", ["--allow-secret", "s", "--max-connections", "0"],
                          "--max-connections")

    def test_help_exits_zero_on_stdout(self):
        for name in BINARIES:
            r = run(name, ["--help"])
            self.assertEqual(r.returncode, 0, name)
            self.assertIn("--version", r.stdout, name)
            self.assertEqual(r.stderr, "", name)


class VersionTest(unittest.TestCase):
    def test_every_binary_names_version_and_commit(self):
        for name in BINARIES:
            r = run(name, ["--version"])
            self.assertEqual(r.returncode, 0, (name, r.stderr))
            self.assertRegex(r.stdout.strip(),
                             rf"^{name} \d+\.\d+\.\d+ \(commit ([0-9a-f]{{40}}|unknown)\)$")

    def test_no_dirty_marker_or_date(self):
        # lockout-enclave's bytes are its PCR0: nothing but the source may change them.
        out = run("lockout-enclave", ["--version"]).stdout
        self.assertNotIn("dirty", out)
        self.assertNotRegex(out, r"\d{4}-\d\d-\d\d")


class HelpTest(unittest.TestCase):
    def test_no_internal_document_citations(self):
        for path in all_command_paths():
            out = run("lockout", [*path, "--help"]).stdout
            for pattern in (r"§", r"ARCHITECTURE", r"\bissue \d", r"shared/vectors", r"STYLE\.md"):
                self.assertNotRegex(out, pattern, f"lockout {' '.join(path)} --help")
        for name in ("lockout-relay", "lockout-enclave"):
            out = run(name, ["--help"]).stdout
            self.assertNotRegex(out, r"§|ARCHITECTURE|\bissue \d", name)

    def test_json_where_scripts_parse(self):
        for path in (["doctor"], ["check-lockout"], ["policy", "lint"], ["sign"], ["verify"],
                     ["attest"], ["attest", "verify"]):
            out = run("lockout", [*path, "--help"]).stdout
            self.assertIn("--json", out, path)

    def test_json_is_accepted_where_output_is_always_json(self):
        r = run("lockout", ["sign", "--enclave", "vsock://20:5010", "--message", "m", "--json"],
                env_extra={"LOCKOUT_PARSE_ONLY": "1"})
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("lockout", ["attest", "--enclave", "unix:///nonexistent/enclave.sock", "--json",
                            "--timeout", "2"])
        self.assertEqual(r.returncode, 1, r.stderr)  # cannot connect: a failure, not usage
        r = run("lockout", ["attest", "verify", "/nonexistent/doc.cbor", "--json"])
        self.assertNotIn("unknown option", r.stderr)

    def test_describe_eif_has_one_file_argument(self):
        out = run("lockout", ["describe-eif", "--help"]).stdout
        self.assertNotIn("REQUIRED", out)
        r = run("lockout", ["describe-eif"])
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_examples_run(self):
        """Every `lockout` example in a --help: the operator commands parse and validate it
        (LOCKOUT_PARSE_ONLY=1, exit 0); other commands are checked to exist."""
        operator = {"create-key", "policy", "check-lockout", "doctor", "sign", "verify", "attest"}
        sample = {"ARN": "arn:aws:iam::123456789012:role/lockout", "HEX": "ab" * 48,
                  '"$(cat sig.hex)"': "0x3045"}
        examples = []
        for path in all_command_paths():
            for line in run("lockout", [*path, "--help"]).stdout.splitlines():
                m = re.match(r"^\s*(?:Example: )?(lockout .*)$", line)
                if m and not m.group(1).endswith("\\"):
                    examples.extend(e.strip() for e in m.group(1).split("   |   "))
        self.assertGreater(len(examples), 10)
        with tempfile.TemporaryDirectory() as d:
            for name in ("reply.json", "key.pem", "gateway.key", "policy.json", "lockout.eif"):
                with open(os.path.join(d, name), "w") as f:
                    f.write("{}")
            for example in examples:
                for placeholder, value in sample.items():
                    example = example.replace(placeholder, value)
                args = shlex.split(example.split("#")[0])[1:]
                if args[0] in operator and not (args[0] == "attest" and "verify" in args):
                    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
                    r = subprocess.run([binary("lockout"), *args], capture_output=True,
                                       text=True, timeout=60, cwd=d,
                                       env=dict(env, LOCKOUT_PARSE_ONLY="1"))
                else:
                    words = [a for a in args if not a.startswith("-")][:2]
                    r = run("lockout", [words[0], "--help"])
                self.assertEqual(r.returncode, 0, (example, r.stderr))

    def test_help_shows_defaults(self):
        out = run("lockout", ["sign", "--help"]).stdout
        self.assertRegex(out, r"--protocol TEXT\S*=v2\s")
        self.assertRegex(out, r"--timeout FLOAT=10\s")
        out = run("lockout-enclave", ["--help"]).stdout
        self.assertRegex(out, r"--load-at TEXT\S*=boot\s")


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True)


class StdinAndJsonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        cls.key = os.path.join(d, "key.pem")
        cls.pub = os.path.join(d, "pub.pem")
        cls.message = b"Hello, sign this message!\n"
        try:
            openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", cls.key)
            openssl("ec", "-in", cls.key, "-pubout", "-out", cls.pub)
            cls.signature = openssl("dgst", "-sha256", "-sign", cls.key,
                                    stdin=cls.message).stdout.hex()
        except (OSError, subprocess.CalledProcessError) as e:
            raise unittest.SkipTest(f"openssl cannot make a test signature: {e}")

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def verify(self, message_args, stdin, extra=()):
        return subprocess.run(
            [binary("lockout"), "verify", "--public-key", self.pub, "--signature", self.signature,
             *message_args, *extra], input=stdin, capture_output=True, timeout=60)

    def test_message_dash_reads_stdin(self):
        r = self.verify(["--message", "-"], self.message)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"signature OK", r.stdout)

    def test_message_file_dash_reads_stdin(self):
        r = self.verify(["--message-file", "-"], self.message)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_message_file(self):
        path = os.path.join(self.dir.name, "message")
        with open(path, "wb") as f:
            f.write(self.message)
        self.assertEqual(self.verify(["--message-file", path], b"").returncode, 0)

    def test_verify_json(self):
        r = self.verify(["--message", "-"], self.message, ["--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout),
                         {"ok": True, "key_type": "p256", "hash": "sha256", "format": "der"})
        r = self.verify(["--message", "-"], b"another message", ["--json"])
        self.assertEqual(r.returncode, 1, r.stderr)
        out = json.loads(r.stdout)
        self.assertIs(out["ok"], False)
        self.assertIsInstance(out["failure"], str)

    def test_stdin_over_the_limit_is_refused(self):
        r = self.verify(["--message", "-"], b"x" * ((1 << 20) + 1))
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"standard input is longer than", r.stderr)

    def test_policy_lint_json_from_stdin(self):
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "root", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*", "Resource": "*"}]}
        r = run("lockout", ["policy", "lint", "-", "--json"], stdin=json.dumps(policy))
        self.assertEqual(r.returncode, 1, r.stderr)  # root may decrypt: NOT locked
        self.assertIsInstance(json.loads(r.stdout), dict)

    def test_doctor_json(self):
        env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x" * 40,
               "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
        r = run("lockout", ["doctor", "--secret", "s", "--json",
                            "--relay", "unix:///nonexistent/relay.sock",
                            "--enclave", "unix:///nonexistent/enclave.sock"], env_extra=env,
                timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        out = json.loads(r.stdout)
        self.assertIs(out["ok"], False)
        self.assertIsInstance(out["first_broken"], str)
        self.assertTrue(out["checks"])
        for check in out["checks"]:
            self.assertEqual(set(check), {"name", "state", "detail"})
            self.assertIn(check["state"], ("ok", "failed", "skipped"))


if __name__ == "__main__":
    unittest.main()
