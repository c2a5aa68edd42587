"""Issue 5 item 5: `lockout demo` and `lockout demo --serve`, with real processes.

The demo runs in this test's temporary directory (--work-dir), so every process it starts
(lockout-relay, lockout-enclave, the modified copy) has that directory in its command line:
"no process left behind" is checked by scanning /proc for command lines that mention it.
"""

import hashlib
import json
import os
import signal
import stat
import subprocess
import time
import unittest

import harness

# recommended, authenticated (the default): steps 1-4, the client key and signing policy, the seed
# policy, start, the seed's unauthenticated request refused, the authorized client signs, its
# replay refused, the probe key, the seed's leak, the recommended policy, the enclave reloads,
# three principals, root's client refused by KMS, modified, debug, still signs, the EIP-1559
# transaction (an ephemeral secp256k1 enclave's: the default key is p521).
STEP_COUNT = 22
# seed: steps 1-4, the seed policy, start, sign, the probe key, three principals, the leak,
# modified, debug, still signs, the EIP-1559 transaction (the locked secp256k1 key's).
SEED_STEP_COUNT = 16
CLOSED_LEAK_PATHS = ("closed: decrypt, decrypt-debug, reencrypt, grant-decrypt, grant-reencrypt, "
                     "put-key-policy;")
SEED_MESSAGE = b"Hello, sign this message!"


def processes_mentioning(text):
    """(pid, command line) of every live process whose command line contains `text`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append((int(entry), cmdline))
    return found


def step_lines(output):
    return [line for line in output.splitlines() if line.startswith(("✓ ", "✗ "))]


class DemoTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        harness.binary("lockout-enclave")
        harness.binary("lockout-relay")

    def assert_nothing_left(self, within=10.0):
        # Children get SIGTERM and are reaped before the demo exits; allow the kernel a moment
        # only for the kill -9 case (PR_SET_PDEATHSIG), polling, never a timed assertion.
        deadline = time.monotonic() + within
        left = processes_mentioning(self.tmp)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = processes_mentioning(self.tmp)
        self.assertEqual(left, [], "processes left behind")

    def demo(self, *args, timeout=300):
        return subprocess.run([self.lockout, "demo", "--work-dir", self.tmp, *args],
                              capture_output=True, text=True, timeout=timeout)

    def start_demo(self, *args):
        proc = subprocess.Popen([self.lockout, "demo", "--work-dir", self.tmp, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        self._stops.append(stop)
        return proc

    def read_until(self, proc, needle, timeout=240.0):
        """Lines of proc's stdout up to and including the first containing `needle`."""
        lines = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if needle in line:
                return lines
        self.fail(f"{needle!r} never appeared; output so far:\n" + "\n".join(lines))

    def test_the_demo_passes_every_step_and_leaves_nothing_behind(self):
        r = self.demo()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        steps = step_lines(r.stdout)
        self.assertEqual(len(steps), STEP_COUNT, r.stdout)
        for line in steps:
            self.assertTrue(line.startswith("✓ "), line)
            self.assertIn(" — ", line)
        self.assertIn(f"demo: all {STEP_COUNT} steps passed — under the recommended policy",
                      r.stdout)
        self.assertIn("arn:aws:kms:", steps[1])
        enclave = harness.binary("lockout-enclave")
        with open(enclave, "rb") as f:
            pcr0 = hashlib.sha384(bytes(48) + hashlib.sha384(f.read()).digest()).hexdigest()
        self.assertIn(pcr0, steps[3])
        self.assertTrue(steps[4].startswith("✓ create an authorized client key"), steps[4])
        pcr16 = steps[4].split("seals into PCR16 ")[1][:16]
        self.assertIn("apply the seed tutorial's policy", steps[5])
        self.assertIn("seed policy", steps[5])
        # The four lines of the authenticated configuration.
        self.assertTrue(steps[7].startswith("✓ the seed's unauthenticated request is refused"),
                        steps[7])
        self.assertIn("unauthorized", steps[7])
        self.assertIn("rule unauthenticated", steps[7])
        self.assertTrue(steps[8].startswith("✓ an authorized client's request is signed"),
                        steps[8])
        self.assertIn("verified with OpenSSL", steps[8])
        self.assertTrue(steps[9].startswith("✓ a replay of that request is refused"), steps[9])
        self.assertIn('"unauthorized"', steps[9])
        self.assertIn("rule replayed_nonce", steps[9])
        # The seed's leak: the recovered key's public key is the one create-key made (the
        # enclave loaded that key); its SHA-256 prefix appears in both lines.
        spki_prefix = steps[2].split("SPKI SHA-256 ")[1][:16]
        self.assertIn("ReEncrypt", steps[11])
        self.assertIn(f"SHA-256 {spki_prefix}… = the enclave's", steps[11])
        self.assertIn("OPEN reencrypt", steps[11])
        self.assertIn("recommended policy", steps[12])
        self.assertIn(f"PCR16 {pcr16}", steps[12])
        self.assertIn("key loaded through attested KMS Decrypt", steps[13])
        for who, line in zip(("root", "the admin", "the instance role"), steps[14:17]):
            self.assertTrue(line.startswith(f"✓ {who}: every leak path"), line)
            self.assertIn(CLOSED_LEAK_PATHS, line)
            self.assertIn("nothing left behind, secret untouched", line)
        self.assertTrue(steps[17].startswith("✓ root adds a client of its own to the signing "
                                             "policy: KMS refuses the key"), steps[17])
        self.assertIn("kms access denied", steps[17])
        self.assertIn(f"≠ the sealed {pcr16}", steps[17])
        self.assertIn(pcr0[:16], steps[18])
        self.assertIn("kms access denied", steps[18])
        self.assertIn("kms access denied", steps[19])
        self.assertIn("0" * 16, steps[19])
        self.assertIn("verified with OpenSSL", steps[20])
        self.assertIn("an ephemeral secp256k1 key in a second lockout-enclave (not KMS-locked",
                      steps[21])
        self.assertRegex(steps[21], r"sender recovered from the raw tx = (0x[0-9a-fA-F]{40}) = "
                                    r"the enclave's eth_address$")
        self.assertNotIn("PRIVATE", r.stdout + r.stderr)
        self.assert_nothing_left(within=0)
        self.assertEqual([e for e in os.listdir(self.tmp) if e.startswith("lockout-demo-")], [],
                         "the demo's temporary directory was not removed")

    def test_seed_mode_reproduces_the_tutorial_and_says_it_leaks(self):
        r = self.demo("--policy-mode", "seed", "--key-type", "secp256k1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        steps = step_lines(r.stdout)
        self.assertEqual(len(steps), SEED_STEP_COUNT, r.stdout)
        self.assertTrue(all(line.startswith("✓ ") for line in steps), r.stdout)
        self.assertIn("secp256k1", steps[2])
        self.assertIn("address 0x", steps[2])
        self.assertIn("seed policy", steps[4])
        for line in steps[8:11]:
            self.assertIn("AccessDeniedException on kms:Decrypt without attestation", line)
        self.assertNotIn("OPEN", steps[8])  # root: no statement names it
        self.assertIn("OPEN: grant-decrypt, grant-reencrypt, put-key-policy", steps[9])
        self.assertIn("OPEN: reencrypt", steps[10])
        self.assertIn("= the enclave's", steps[11])
        address = steps[2].split("address ")[1][:42]
        self.assertIn("the KMS-locked secp256k1 key signed", steps[15])
        self.assertIn(f"sender recovered from the raw tx = {address} = the enclave's eth_address "
                      "= create-key's address", steps[15])
        self.assertIn("the key is NOT locked out", r.stdout.splitlines()[-1])
        self.assertNotIn("recommended policy", "\n".join(steps))
        self.assert_nothing_left(within=0)

    def test_serve_authenticated_names_the_client_key_and_refuses_the_seeds_request(self):
        ready_path = os.path.join(self.tmp, "demo-ready.json")
        proc = self.start_demo("--serve", "--ready-file", ready_path, "--key-type", "p256")
        lines = self.read_until(proc, "serving:")
        steps = step_lines("\n".join(lines))
        self.assertTrue(all(line.startswith("✓ ") for line in steps), "\n".join(lines))
        self.assertEqual(len(steps), 9, "\n".join(lines))
        with open(ready_path) as f:
            ready = json.load(f)
        key_file = ready["client_key"]
        self.assertEqual(stat.S_IMODE(os.stat(key_file).st_mode), 0o600)
        self.assertIn(key_file, lines[-1])
        self.assertTrue(os.path.exists(ready["signing_policy"]))
        # The seed's test client is refused; the authorized client signs, verified offline.
        self.assertEqual(harness.v1_sign(ready["enclave"], SEED_MESSAGE),
                         {"success": "False", "error": "Error: unauthorized"})
        signed = harness.run([self.lockout, "sign", "--enclave", ready["enclave"],
                              "--client-key", key_file, "--message", SEED_MESSAGE.decode()],
                             text=True)
        self.assertEqual(signed.returncode, 0, signed.stderr)
        pem = os.path.join(self.tmp, "pub.pem")
        with open(pem, "w") as f:
            f.write(ready["public_key_pem"])
        checked = harness.run([self.lockout, "verify", "--public-key", pem, "--message",
                               SEED_MESSAGE.decode(), "--signature",
                               json.loads(signed.stdout)["signature"]], text=True)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, rest)
        self.assert_nothing_left(within=0)

    def test_serve_seed_compatible_keeps_the_stack_up_for_clients_until_sigterm(self):
        ready_path = os.path.join(self.tmp, "demo-ready.json")
        proc = self.start_demo("--serve", "--seed-compatible", "--ready-file", ready_path,
                               "--key-type", "p256")
        lines = self.read_until(proc, "serving:")
        self.assertTrue(all(line.startswith("✓ ") for line in step_lines("\n".join(lines))))
        self.assertEqual(len(step_lines("\n".join(lines))), 7)
        self.assertEqual(stat.S_IMODE(os.stat(ready_path).st_mode), 0o600)
        with open(ready_path) as f:
            ready = json.load(f)
        for field in ("enclave", "relay", "public_key_pem", "key_type", "kms_key_arn",
                      "secret_name", "pcr0", "region", "kms_endpoint",
                      "secretsmanager_endpoint", "imds_endpoint", "nsm_socket", "principals"):
            self.assertIn(field, ready)
        self.assertEqual(ready["key_type"], "p256")
        self.assertNotIn("client_key", ready)
        self.assertIn(ready["enclave"], lines[-1])
        self.assertTrue(ready["enclave"].startswith("tcp://"))

        # Protocol v1, as the seed's test.py: a new connection, JSON + "$$$".
        v1 = harness.v1_sign(ready["enclave"], SEED_MESSAGE)
        self.assertEqual(v1["success"], "True", v1)
        pem = os.path.join(self.tmp, "pub.pem")
        sig = os.path.join(self.tmp, "sig.der")
        msg = os.path.join(self.tmp, "msg.bin")
        with open(pem, "w") as f:
            f.write(ready["public_key_pem"])
        with open(sig, "wb") as f:
            f.write(bytes.fromhex(v1["data"][2:]))
        with open(msg, "wb") as f:
            f.write(SEED_MESSAGE)
        verified = harness.run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig,
                                msg])
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        # Protocol v2 on the same port: the public key matches the ready file's.
        v2 = harness.v2_call(ready["enclave"], {"id": 7, "op": "public_key"})
        self.assertTrue(v2["ok"], v2)
        self.assertEqual(v2["id"], 7)
        self.assertEqual(v2["public_key_pem"], ready["public_key_pem"])

        # And with lockout's own client commands: sign over v2, verify offline.
        signed = harness.run([self.lockout, "sign", "--enclave", ready["enclave"], "--message",
                              SEED_MESSAGE.decode()])
        self.assertEqual(signed.returncode, 0, signed.stderr)
        signature = json.loads(signed.stdout)["signature"]
        checked = harness.run([self.lockout, "verify", "--public-key", pem, "--message",
                               SEED_MESSAGE.decode(), "--signature", signature])
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        tampered = harness.run([self.lockout, "verify", "--public-key", pem, "--message",
                                SEED_MESSAGE.decode() + "?", "--signature", signature])
        self.assertNotEqual(tampered.returncode, 0)

        self.assertNotEqual(processes_mentioning(self.tmp), [])
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, rest)
        self.assertIn("stopped", rest)
        self.assert_nothing_left(within=0)

    def test_sigint_in_the_middle_stops_everything(self):
        proc = self.start_demo()
        lines = self.read_until(proc, "start lockout-relay and lockout-enclave")
        self.assertTrue(lines[-1].startswith("✓ "), "\n".join(lines))
        self.assertNotEqual(processes_mentioning(self.tmp), [], "the children should be running")
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends (the demo's own process group)
        rest, _ = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 130, rest)
        self.assertIn("interrupted", rest)
        self.assertNotIn("demo: all", rest)
        self.assert_nothing_left(within=0)

    def test_children_die_with_the_demo_even_on_kill_9(self):
        proc = self.start_demo()
        self.read_until(proc, "start lockout-relay and lockout-enclave")
        proc.kill()
        proc.wait(timeout=30)
        self.assert_nothing_left(within=15)

    def test_a_failing_step_is_a_cross_a_nonzero_exit_and_stops_the_children(self):
        bin_dir = os.path.join(self.tmp, "bin")
        os.mkdir(bin_dir)
        os.symlink(harness.binary("lockout-relay"), os.path.join(bin_dir, "lockout-relay"))
        broken = os.path.join(bin_dir, "lockout-enclave")
        with open(broken, "w") as f:
            f.write("#!/bin/sh\necho 'lockout-enclave: broken on purpose' >&2\nexit 3\n")
        os.chmod(broken, 0o755)
        r = self.demo("--bin-dir", bin_dir)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        steps = step_lines(r.stdout)
        self.assertEqual(steps[-1].split(" — ")[0], "✗ start lockout-relay and lockout-enclave",
                         r.stdout)
        self.assertIn("broken on purpose", steps[-1])
        self.assertTrue(all(line.startswith("✓ ") for line in steps[:-1]), r.stdout)
        self.assertIn("1 of 7 steps failed", r.stdout)
        self.assertIn("logs and state kept in", r.stdout)
        self.assert_nothing_left(within=0)

    def test_a_missing_enclave_binary_fails_the_measurement(self):
        r = self.demo("--bin-dir", os.path.join(self.tmp, "nowhere"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        steps = step_lines(r.stdout)
        self.assertTrue(steps[-1].startswith("✗ measure lockout-enclave"), r.stdout)
        self.assert_nothing_left(within=0)


if __name__ == "__main__":
    unittest.main()
