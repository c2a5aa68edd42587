"""docs/TUTORIAL-AWS.md executes as written (issue 15, acceptance 1).

Every ```sh block of the tutorial is one of three kinds, marked by the HTML comment on the line
before it:

* runnable (no marker): runs on AWS as written, and runs here against `lockout local-aws`;
* `<!-- local-only: REASON -->`: the local stand-in for the aws-only block before it (processes
  instead of nitro-cli and systemd, the principal switch that on AWS is a change of machine);
* `<!-- aws-only: REASON -->`: needs EC2, nitro-cli, docker, systemd or the IAM console; checked
  with `bash -n` only.

The runnable and local-only blocks run in order in ONE bash (set -euo pipefail) with the build's
binaries first on PATH, a fresh HOME, none of the caller's AWS_* or LOCKOUT_* variables, and free
ports in the variables the first local-only block defaults. Statically, every $VAR a runnable or
local-only block uses must be assigned by an earlier (or the same) block or be in ALLOWED: the
environment's HOME and PATH and what `lockout local-aws env` exports. A failure names the block
by number and shows its text.
"""

import os
import re
import subprocess
import unittest

import harness

DOC = os.path.join(harness.SOURCE_DIR, "docs", "TUTORIAL-AWS.md")
TIMEOUT = 180  # seconds for the whole run (about 50 s under ASan); ctest's own limit is 300

# HOME and PATH, and what `lockout local-aws env` exports (docs/LOCAL-AWS.md).
ALLOWED = {
    "HOME", "PATH",
    "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "LOCKOUT_NSM_SOCKET", "LOCKOUT_NSM_ROOT_CERT",
}
KINDS = ("runnable", "local-only", "aws-only")


class Block:
    def __init__(self, number, kind, reason, line, text):
        self.number, self.kind, self.reason, self.line, self.text = number, kind, reason, line, text

    def describe(self):
        return (f"block {self.number} ({self.kind}, docs/TUTORIAL-AWS.md line {self.line}):\n"
                + "".join(f"    {l}\n" for l in self.text.splitlines()))


def blocks(text):
    """Every fenced block: (kind, reason) from the marker line before it; only sh blocks kept."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        lang = m.group(1)
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            raise AssertionError(f"docs/TUTORIAL-AWS.md line {i + 1}: unterminated fence")
        body = "\n".join(lines[i + 1:j]) + "\n"
        prev = lines[i - 1].strip() if i > 0 else ""
        marker = re.match(r"^<!--\s*(aws-only|local-only)\s*(?::\s*(.*?))?\s*-->$", prev)
        if lang in ("sh", "bash", "shell"):
            kind = marker.group(1) if marker else "runnable"
            reason = (marker.group(2) or "") if marker else ""
            out.append(Block(len(out) + 1, kind, reason, i + 2, body))
        elif marker:
            raise AssertionError(f"docs/TUTORIAL-AWS.md line {i}: a {marker.group(1)} marker on "
                                 f"a ```{lang} block, which is not a command block")
        elif lang == "":
            raise AssertionError(f"docs/TUTORIAL-AWS.md line {i + 1}: a fence without a language")
        i = j + 1
    return out


def strip_single_quotes_and_comments(line):
    """The line without '...' strings (no expansion there) and without a trailing # comment."""
    out, quote = [], None
    k = 0
    while k < len(line):
        c = line[k]
        if quote == "'":
            if c == "'":
                quote = None
        elif c == "\\" and quote != "'":
            out.append(line[k:k + 2])
            k += 2
            continue
        elif c == "'" and quote is None:
            quote = "'"
        elif c == '"':
            quote = None if quote == '"' else '"'
            out.append(c)
        elif c == "#" and quote is None and (k == 0 or line[k - 1] in " \t;("):
            break
        else:
            out.append(c)
        k += 1
    return "".join(out)


ASSIGN = [
    re.compile(r"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_]\w*)=(?!=)"),
    re.compile(r"\$\{([A-Za-z_]\w*):?=[^}]*\}"),
    re.compile(r"\bfor\s+([A-Za-z_]\w*)\s+in\b"),
    re.compile(r"\bread\s+(?:-\w+\s+)*([A-Za-z_]\w*)"),
]
USE = re.compile(r"\$\{?([A-Za-z_]\w*)")


def variables(block):
    """(assigned, used) names of a block, in the order of their lines."""
    assigned, used = [], []
    for raw in block.text.splitlines():
        line = strip_single_quotes_and_comments(raw)
        line_assigned = {m.group(1) for p in ASSIGN for m in p.finditer(line)}
        for m in USE.finditer(line):
            name = m.group(1)
            # ${NAME:=default} assigns NAME; it is not a use of an unset one.
            if name not in line_assigned or not re.search(r"\$\{" + name + r":?=", line):
                used.append(name)
        assigned.extend(sorted(line_assigned))
    return assigned, used


def unset_uses(all_blocks):
    """[(block, NAME)]: a runnable or local-only block uses $NAME before any block (or an earlier
    line of its own) sets it, and NAME is not in ALLOWED."""
    known, out = set(ALLOWED), []
    for b in all_blocks:
        if b.kind == "aws-only":
            continue  # what it sets exists only on AWS; its own uses are AWS's business
        for raw in b.text.splitlines():
            line = strip_single_quotes_and_comments(raw)
            line_assigned = {m.group(1) for p in ASSIGN for m in p.finditer(line)}
            for m in USE.finditer(line):
                name = m.group(1)
                if name not in known and name not in line_assigned:
                    out.append((b, name))
            known |= line_assigned
    return out


def script(runnable):
    """One bash: each block preceded by a marker line on stderr naming it."""
    parts = ["set -euo pipefail\n"]
    for b in runnable:
        parts.append(f"echo '@@tutorial-block {b.number}' >&2\n")
        parts.append(b.text)
    parts.append("echo '@@tutorial-done' >&2\n")
    return "".join(parts)


def run_blocks(runnable, env, cwd, timeout, stops):
    """Runs the blocks in one bash; {"stdout", "stderr", "failed": None, or the Block that was
    running when bash failed or timed out (False: before the first), "why"}.

    Output goes to files, not pipes: the processes a block starts in the background keep its
    stdout and stderr open, and bash's exit, not theirs, ends the run."""
    out_path, err_path = os.path.join(cwd, ".tutorial.stdout"), os.path.join(cwd, ".tutorial.stderr")
    with open(out_path, "w") as out_f, open(err_path, "w") as err_f:
        # A new session, so that a failure or a timeout can stop whatever the blocks started.
        proc = subprocess.Popen(["bash", "-c", script(runnable)], env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
                                start_new_session=True)
    stops.append(lambda: os.killpg(proc.pid, 9))
    why = None
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        why = f"did not finish in {timeout} s"
    try:
        os.killpg(proc.pid, 9)  # whatever a failed run left running; nothing after a good one
    except ProcessLookupError:
        pass
    proc.wait()
    with open(out_path, errors="replace") as f:
        out = f.read()
    with open(err_path, errors="replace") as f:
        err = f.read()
    if why is None and (proc.returncode != 0 or "@@tutorial-done" not in err):
        why = f"exit {proc.returncode}"
    failed = None
    if why is not None:
        started = re.findall(r"^@@tutorial-block (\d+)$", err, re.M)
        by_number = {b.number: b for b in runnable}
        failed = by_number[int(started[-1])] if started else False
    return {"stdout": out, "stderr": err, "failed": failed, "why": why}


class TutorialTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        with open(DOC, encoding="utf-8") as f:
            self.blocks = blocks(f.read())

    def test_every_block_is_marked_and_the_markers_are_explained(self):
        kinds = {k: [b for b in self.blocks if b.kind == k] for k in KINDS}
        self.assertGreaterEqual(len(kinds["runnable"]), 15)
        self.assertGreaterEqual(len(kinds["aws-only"]), 5)
        self.assertGreaterEqual(len(kinds["local-only"]), 1)
        for b in self.blocks:
            if b.kind != "runnable":
                self.assertTrue(b.reason, "a marker without a reason in " + b.describe())
        # The first block that runs locally starts local-aws: it is the local-only one.
        first_local = kinds["local-only"][0]
        self.assertIn("lockout local-aws", first_local.text, first_local.describe())

    def test_the_lockout_commands_left_to_aws(self):
        # Every lockout command of the tutorial runs here except these, which need an EIF
        # (nitro-cli's blobs) or the AWS Nitro root; tests/operator/tutorial_commands_test checks
        # that the CLI accepts their lines.
        def commands(kinds):
            return {m.group(1) for b in self.blocks if b.kind in kinds
                    for m in re.finditer(r"(?:^|[\s($|])lockout\s+([a-z][\w-]*)", b.text)}
        run_here = commands(("runnable", "local-only"))
        self.assertEqual(commands(("aws-only",)) - run_here, {"build-eif", "describe-eif"})
        for cmd in ("create-key", "policy", "sign", "verify", "attest", "check-lockout", "doctor",
                    "local-aws"):
            self.assertIn(cmd, run_here)

    def test_aws_only_blocks_are_valid_bash(self):
        for b in self.blocks:
            if b.kind != "aws-only":
                continue
            r = subprocess.run(["bash", "-n"], input=b.text, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, f"bash -n: {r.stderr}\n" + b.describe())

    def test_every_variable_is_set_by_an_earlier_step(self):
        for b, name in unset_uses(self.blocks):
            self.fail(f"${name} is used before any step sets it in " + b.describe())

    def test_the_checker_catches_what_it_must(self):
        # Without these the two tests above could pass vacuously.
        bs = blocks("```sh\necho \"$UNSET_THING\" '$QUOTED' # $COMMENT\n```\n"
                    "<!-- aws-only: needs EC2 -->\n```sh\nif then\n```\n")
        self.assertEqual([b.kind for b in bs], ["runnable", "aws-only"])
        self.assertEqual(variables(bs[0]), ([], ["UNSET_THING"]))
        self.assertEqual([n for _, n in unset_uses(bs)], ["UNSET_THING"])
        later = blocks("```sh\necho $LATER\n```\n```sh\nexport LATER=1\n```\n"
                       "<!-- aws-only: on EC2 -->\n```sh\nAWS_ONLY=1\n```\n"
                       "```sh\n: \"${P:=1}\" && X=$(echo $P $Q) && echo $X $AWS_ONLY $HOME\n```\n")
        self.assertEqual([(b.number, n) for b, n in unset_uses(later)],
                         [(1, "LATER"), (4, "Q"), (4, "AWS_ONLY")])
        r = subprocess.run(["bash", "-n"], input=bs[1].text, capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        with self.assertRaises(AssertionError):
            blocks("<!-- aws-only: x -->\n```json\n{}\n```\n")
        # A failing block is named; so is the block that was running at the timeout.
        bs = blocks("```sh\nX=1\n```\n```sh\nfalse | cat\necho never\n```\n```sh\nexit 0\n```\n")
        r = run_blocks(bs, dict(os.environ), self.tmp, 30, self._stops)
        self.assertEqual((r["failed"].number, r["why"]), (2, "exit 1"))
        self.assertNotIn("never", r["stdout"])
        r = run_blocks(blocks("```sh\ntrue\n```\n```sh\nsleep 30 &\nwait\n```\n"),
                       dict(os.environ), self.tmp, 2, self._stops)
        self.assertEqual((r["failed"].number, r["why"]), (2, "did not finish in 2 s"))
        r = run_blocks(bs[:1], dict(os.environ), self.tmp, 30, self._stops)
        self.assertIsNone(r["failed"])

    def test_the_tutorial_runs_against_local_aws(self):
        bin_dir = os.path.dirname(harness.binary("lockout"))
        harness.binary("lockout-relay")
        harness.binary("lockout-enclave")
        runnable = [b for b in self.blocks if b.kind != "aws-only"]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and not k.startswith("LOCKOUT_")}
        home = os.path.join(self.tmp, "home")
        os.mkdir(home)
        work = os.path.join(self.tmp, "work")
        os.mkdir(work)
        local = os.path.join(self.tmp, "local")  # the first local-only block's $LOCAL
        os.mkdir(local)
        env.update({
            "PATH": bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
            "HOME": home,  # no ~/.aws of the caller's
            "LOCAL": local,
            "RELAY_PORT": str(harness.free_port()),
            "ENCLAVE_PORT": str(harness.free_port()),
        })
        result = run_blocks(runnable, env, work, TIMEOUT, self._stops)
        out, err = result["stdout"], result["stderr"]
        if result["failed"] is not None:
            b = result["failed"]
            where = b.describe() if b else "before block 1"
            self.fail(f"the tutorial failed ({result['why']}) in {where}\nstdout (end):\n"
                      f"{out[-3000:]}\nstderr (end):\n{err[-5000:]}" + self.logs(local))
        started = [int(n) for n in re.findall(r"^@@tutorial-block (\d+)$", err, re.M)]
        self.assertEqual(started, [b.number for b in runnable])
        # What the tutorial says the reader sees.
        self.assertIn("signature OK (p521, sha256, der)", out)
        self.assertIn("signature OK (p521, sha512, raw)", out)
        self.assertRegex(out, r'"nonce_matches": true,\s*"key_bound": true')
        self.assertRegex(out, r"(?m)^locked out: ")  # check-lockout, as the instance role
        self.assertRegex(out, r"(?m)^all links work$")  # doctor

    @staticmethod
    def logs(*dirs):
        out = []
        for d in dirs:
            for root, _, files in os.walk(d):
                for name in sorted(files):
                    if name.endswith(".log"):
                        with open(os.path.join(root, name), errors="replace") as f:
                            tail = "\n".join(f.read().splitlines()[-15:])
                        out.append(f"\n--- {name}\n{tail}")
        return "".join(out)


if __name__ == "__main__":
    unittest.main()
