"""docs/LOCAL-AWS.md "Run the stack yourself", executed as written.

The block between the run-the-stack markers runs in one bash (set -euo pipefail) with the build's
binaries first on PATH, no AWS_* or LOCKOUT_* variables of the caller, an empty STACK directory and
free ports. Then: every process removed its ready file at shutdown, every line the relay, the
enclave and local-aws logged is a JSON object, and the enclave's log and counters reached the
relay's log and metrics.
"""

import json
import os
import re
import subprocess
import unittest

import harness

DOC = os.path.join(harness.SOURCE_DIR, "docs", "LOCAL-AWS.md")


def stack_block():
    with open(DOC) as f:
        text = f.read()
    m = re.search(r"<!-- run-the-stack:begin -->\n```sh\n(.*?)```\n<!-- run-the-stack:end -->",
                  text, re.S)
    if m is None:
        raise AssertionError("docs/LOCAL-AWS.md has no run-the-stack block")
    return m.group(1)


class RunTheStackTest(harness.TempDirTestCase):
    def test_the_documented_commands_run_as_written(self):
        bin_dir = os.path.dirname(harness.binary("lockout"))
        harness.binary("lockout-relay")
        harness.binary("lockout-enclave")
        stack = os.path.join(self.tmp, "stack")
        os.mkdir(stack)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and not k.startswith("LOCKOUT_")}
        env.update({
            "PATH": bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp,  # no ~/.aws of the caller's
            "STACK": stack,
            "RELAY_PORT": str(harness.free_port()),
            "ENCLAVE_PORT": str(harness.free_port()),
            "METRICS_PORT": str(harness.free_port()),
        })
        script = "set -euo pipefail\n" + stack_block()
        # A new session, so that the cleanup below can stop whatever the script left running.
        proc = subprocess.Popen(["bash", "-c", script], env=env, cwd=self.tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        self._stops.append(lambda: os.killpg(proc.pid, 9))
        try:
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            out, err = proc.communicate()
            self.fail(f"the block did not finish in 240 s\nstdout:\n{out}\nstderr:\n{err[-4000:]}"
                      + self.logs(stack))
        self.assertEqual(proc.returncode, 0,
                         f"stdout:\n{out}\nstderr:\n{err[-4000:]}" + self.logs(stack))
        self.assertIn("attestation verified against", out)
        self.assertIn("signature OK", out)
        self.assertRegex(out, r"(?m)^lockout_enclave_load_attempts [1-9]")

        for ready in ("la.json", "relay.json", "enclave.json"):
            self.assertFalse(os.path.exists(os.path.join(stack, ready)),
                             f"{ready} is left after shutdown")

        logs = {}
        for name in ("local-aws.log", "relay.log", "enclave.log"):
            with open(os.path.join(stack, name)) as f:
                logs[name] = f.read()
        for name, text in logs.items():
            lines = [line for line in text.splitlines() if line.strip()]
            self.assertTrue(lines, f"{name} is empty")
            for line in lines:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    self.fail(f"{name} has a line that is not JSON: {line!r}")
                self.assertIsInstance(obj, dict, f"{name}: {line!r}")
        self.assertIn("key_loaded", logs["enclave.log"])
        # The enclave's log reached the relay's: the same events, marked as the enclave's.
        forwarded = [json.loads(line) for line in logs["relay.log"].splitlines()
                     if '"source":"enclave"' in line]
        self.assertIn("key_loaded", [line["event"] for line in forwarded])
        self.assertTrue(all(line["source"] == "enclave" and "ts" in line and "level" in line
                            for line in forwarded))

    @staticmethod
    def logs(stack):
        out = []
        for name in ("local-aws.log", "relay.log", "enclave.log"):
            path = os.path.join(stack, name)
            if os.path.exists(path):
                with open(path) as f:
                    out.append(f"\n--- {name}\n" + "\n".join(f.read().splitlines()[-20:]))
        return "".join(out)


if __name__ == "__main__":
    unittest.main()
