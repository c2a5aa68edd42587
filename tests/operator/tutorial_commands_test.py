"""Every `lockout` command line in docs/TUTORIAL-AWS.md and docs/WALLET.md is one the CLI accepts.

The operator commands honour LOCKOUT_PARSE_ONLY=1: they parse and validate their arguments
(required options, choices, exclusive options, endpoint URIs, hex values) and exit 0 without
touching AWS or an enclave. Commands of other families (describe-eif, `attest verify`) are checked
with --help appended: that proves the subcommand exists, not that its arguments are right. Shell variables are replaced by sample values; a variable
this test does not know fails the test, so the tutorial cannot drift silently.
"""

import os
import re
import shlex
import subprocess
import unittest

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTORIAL = os.path.join(SOURCE_DIR, "docs", "TUTORIAL-AWS.md")
WALLET = os.path.join(SOURCE_DIR, "docs", "WALLET.md")
BIN_DIR = os.environ.get("LOCKOUT_BIN_DIR", "")

SAMPLE = {
    "AWS_REGION": "us-east-1",
    "SECRET": "lockout/signing-key",
    "KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "ROLE_ARN": "arn:aws:iam::123456789012:role/lockout-instance",
    "ADMIN_ARN": "arn:aws:iam::123456789012:role/KeyAdmin",
    "POLICY_ADMIN_ARN": "arn:aws:iam::123456789012:role/KeyPolicyBreakGlass",
    "PCR0": "d425a8dddca64416b9bd2b1a352978198ee2cf2adfea7b899c3b91b441988ce40c867ed6f6234b8de88ec254d40c4bca",
    "SIGNATURE": "0x3081870241",
    "ENCLAVE": "vsock://20:5010",
    "RELAY": "vsock://1:5011",
    "BG_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ac",
    "LOCAL": "/tmp/local",
    # --root must name a readable certificate: any will do for parsing.
    "LOCKOUT_NSM_ROOT_CERT": os.path.join(SOURCE_DIR, "tests", "testdata", "eif", "signing-cert.pem"),
}
# A command line ends at the first shell operator (a pipe, a redirection, `||`, a comment).
SHELL_OPERATORS = ("|", "||", "&&", "&", ";", "#")
OPERATOR_COMMANDS = {"create-key", "policy", "check-lockout", "doctor", "sign", "verify", "attest"}


def substitute(line):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name not in SAMPLE:
            raise AssertionError(f"unknown shell variable ${name} in tutorial line: {line}")
        return SAMPLE[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, line)


def tutorial_commands(text):
    commands = []
    in_block = False
    pending = ""
    for raw in text.splitlines():
        if raw.startswith("```"):
            in_block = raw.strip() in ("```sh", "```bash", "```shell")
            pending = ""
            continue
        if not in_block:
            continue
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line.startswith("lockout ") or line == "lockout":
            commands.append(line)
    return commands


def lockout():
    path = os.path.join(BIN_DIR, "lockout")
    if not os.path.exists(path):
        raise unittest.SkipTest(f"lockout is not built at {path}")
    return path


def run(args):
    env = dict(os.environ, LOCKOUT_PARSE_ONLY="1")
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]  # parse-only must not need AWS configuration
    return subprocess.run([lockout(), *args], capture_output=True, text=True, timeout=30, env=env)


def check_args(line):
    args = shlex.split(substitute(line))[1:]
    for i, a in enumerate(args):
        if a in SHELL_OPERATORS or a.startswith((">", "2>", "<")):
            args = args[:i]
            break
    if args and args[0] in OPERATOR_COMMANDS and not (args[0] == "attest" and "verify" in args):
        return args, run(args)
    if args and not args[0].startswith("--"):
        # CLI11 answers --help before it rejects unknown arguments, so this only checks that the
        # subcommand exists: its own help must come back, not the top-level one.
        # --help before a "--" (after it, it would be the enclave's argv of build-eif).
        end = args.index("--") if "--" in args else len(args)
        r = run([*args[:end], "--help"])
        usage = [l for l in r.stdout.splitlines() if l.startswith("Usage:")]
        if r.returncode == 0 and not any(f" {args[0]}" in l for l in usage):
            r = subprocess.CompletedProcess(r.args, 1, r.stdout, f"no such subcommand: {args[0]}")
        return args, r
    return args, run(args)


class TutorialCommandsTest(unittest.TestCase):
    def setUp(self):
        with open(TUTORIAL, encoding="utf-8") as f:
            self.commands = tutorial_commands(f.read())

    def test_the_tutorial_has_the_commands_of_every_step(self):
        self.assertGreaterEqual(len(self.commands), 15)
        used = {shlex.split(substitute(c))[1] for c in self.commands if len(c.split()) > 1}
        for cmd in ("create-key", "policy", "check-lockout", "doctor", "sign", "verify", "attest",
                    "describe-eif"):
            self.assertIn(cmd, used)

    def test_every_lockout_command_line_is_accepted(self):
        for line in self.commands:
            with self.subTest(line=line):
                args, r = check_args(line)
                self.assertEqual(r.returncode, 0, f"lockout {' '.join(args)}\n{r.stderr}")

    def test_the_checker_rejects_what_the_cli_rejects(self):
        # Without this the test above could pass vacuously.
        bad = [
            "lockout policy --mode bogus --enclave-role $ROLE_ARN --admin-role $ADMIN_ARN --pcr0 $PCR0",
            "lockout policy --enclave-role $ROLE_ARN --admin-role $ADMIN_ARN",
            "lockout policy --enclave-role $ROLE_ARN --admin-role $ADMIN_ARN --pcr0 abc",
            "lockout policy --enclave-role $ROLE_ARN --admin-role $ADMIN_ARN --pcr0 $PCR0 --apply",
            "lockout create-key --kms-key alias/lockout",
            "lockout create-key --kms-key alias/lockout --secret s --type p999",
            "lockout sign --enclave vsock://20:5010",
            "lockout sign --enclave vsock://20:5010 --message a --bytes-b64 YQ==",
            "lockout sign --enclave nowhere --message a",
            "lockout sign --enclave vsock://20:5010 --bytes-b64 not-base64",
            "lockout verify --public-key k.pem --message a --signature xyz",
            "lockout attest --enclave vsock://20:5010 --expect-pcr 0=abcd",
            "lockout attest --expect-pcr 0=$PCR0",
            "lockout check-lockout --secret $SECRET",
            "lockout doctor --kms-key $KEY_ARN",
            "lockout doctor --secret $SECRET --relay tcp://nohost",
            "lockout policy lint",
            "lockout no-such-command",
        ]
        for line in bad:
            with self.subTest(line=line):
                _, r = check_args(line)
                self.assertNotEqual(r.returncode, 0, line)

    def test_unknown_variables_fail(self):
        with self.assertRaises(AssertionError):
            substitute("lockout sign --enclave $NOT_A_TUTORIAL_VARIABLE")


class WalletCommandsTest(unittest.TestCase):
    """docs/WALLET.md: its flows block also runs for real (integration.wallet_flows_test); this
    checks every other lockout line in it (HD seeds, import, gateway) parses."""

    def setUp(self):
        with open(WALLET, encoding="utf-8") as f:
            self.commands = tutorial_commands(f.read())

    def test_every_lockout_command_line_is_accepted(self):
        self.assertGreaterEqual(len(self.commands), 10)
        for line in self.commands:
            with self.subTest(line=line):
                args, r = check_args(line)
                self.assertEqual(r.returncode, 0, f"lockout {' '.join(args)}\n{r.stderr}")


if __name__ == "__main__":
    unittest.main()
