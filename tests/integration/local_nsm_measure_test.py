"""The local NSM measures what runs (issue 10, item 7).

`lockout local-aws`'s NSM service gives a process a document carrying the PCR0 of its executable
only if nothing else can run in it. These tests start real processes against a real local-aws and
play each way of running attacker code under a genuine binary's measurement:

  - the genuine `lockout` binary with LD_PRELOAD, LD_AUDIT or LD_LIBRARY_PATH,
  - a preloaded library that erases the LD_* variables from its environment before the request,
  - a genuine binary that connects, is measured, then exec()s another binary that asks,
  - a genuine binary that connects, is measured, then fork()s a child that asks,
  - a traced (strace) genuine binary;

and the controls: the same binaries, run plainly (or exec()ing themselves), get a document whose
PCR0 is the binary's. The genuine client of the exec and fork cases is tests/localaws/
nsm_measure_probe.cc; the attacker's library is tests/localaws/nsm_measure_preload.cc.
"""

import hashlib
import json
import os
import shutil
import subprocess
import unittest

import harness

ATTACKER_KEY_HEX = "a77ac3e5" * 8  # the public key the attacker wants bound to a document


def local_pcr0(path):
    """SHA384(0^48 || SHA384(file)): src/measure/local_pcr0.h."""
    with open(path, "rb") as f:
        file_hash = hashlib.sha384(f.read()).digest()
    return hashlib.sha384(b"\0" * 48 + file_hash).hexdigest()


def test_helper(name):
    # Built next to the binaries (tests/localaws/CMakeLists.txt).
    return harness.binary(name)


class LocalNsmMeasureTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.probe = test_helper("nsm_measure_probe")
        self.preload = test_helper("libnsm_measure_preload.so")
        self.la = self.local_aws()
        self.socket = self.la.ready["nsm_socket"]
        self.root_pem = os.path.join(self.la.state_dir, "nsm", "root-cert.pem")
        self.pub_der = os.path.join(self.tmp, "pub.der")
        key_pem = os.path.join(self.tmp, "key.pem")
        harness.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", key_pem], check=True)
        harness.run(["openssl", "pkey", "-in", key_pem, "-pubout", "-outform", "DER",
                     "-out", self.pub_der], check=True)

    # ---- helpers ----

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("LD_") and k != "GCONV_PATH"}
        # A preload ahead of an ASan runtime is what an attacker would do too.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        env.update(extra)
        return env

    def lockout_attest(self, env):
        """`lockout nsm attest` (the genuine binary); returns (returncode, output, document)."""
        out = os.path.join(self.tmp, "doc.cbor")
        if os.path.exists(out):
            os.unlink(out)
        r = harness.run([self.lockout, "nsm", "attest", "--nsm", "unix://" + self.socket,
                         "--public-key-der", self.pub_der, "--out", out], env=env, text=True)
        doc = None
        if os.path.exists(out):
            with open(out, "rb") as f:
                doc = f.read()
        return r.returncode, r.stdout + r.stderr, doc

    def verify_pcr0(self, doc, exe):
        path = os.path.join(self.tmp, "verify.cbor")
        with open(path, "wb") as f:
            f.write(doc)
        r = harness.run([self.lockout, "attest", "verify", path, "--root", self.root_pem,
                         "--expect-pcr", "0=" + local_pcr0(exe)], text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def probe_run(self, *args, env=None):
        r = harness.run([self.probe, "--socket", self.socket, *args], env=env or self.env(),
                        text=True, timeout=60)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        self.assertTrue(lines, f"probe printed nothing (rc {r.returncode}): {r.stdout}{r.stderr}")
        return r.returncode, json.loads(lines[-1])

    def assert_refused(self, returncode, output, doc, reason):
        self.assertNotEqual(returncode, 0, output)
        self.assertIsNone(doc, "a refused process got a document")
        self.assertIn("InvalidOperation", output)
        harness.wait_until(lambda: reason in self.la.process.log(), f"the refusal logged ({reason})",
                           timeout=10, detail=self.la.process.log)

    def service_log_lines(self, event):
        out = []
        for line in self.la.process.log().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event in json.dumps(entry):
                out.append(entry)
        return out

    # ---- controls ----

    def test_the_genuine_binary_run_plainly_gets_its_pcr0(self):
        rc, output, doc = self.lockout_attest(self.env())
        self.assertEqual(rc, 0, output)
        self.verify_pcr0(doc, self.lockout)

    def test_the_probe_run_plainly_gets_its_pcr0_for_the_key_it_asked(self):
        rc, out = self.probe_run("attest", ATTACKER_KEY_HEX)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out["pcr0"], local_pcr0(self.probe))
        self.assertEqual(out["public_key"], ATTACKER_KEY_HEX)

    def test_a_genuine_binary_execing_itself_is_still_vouched_for(self):
        # The exec path works: only a change of binary is refused below.
        rc, out = self.probe_run("then-exec", self.probe, "--fd", "{fd}", "attest",
                                 ATTACKER_KEY_HEX)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out["pcr0"], local_pcr0(self.probe))

    # ---- loader variables ----

    def test_ld_preload_gets_no_document(self):
        rc, output, doc = self.lockout_attest(self.env(LD_PRELOAD=self.preload))
        self.assert_refused(rc, output, doc, "LD_PRELOAD")

    def test_ld_audit_gets_no_document(self):
        rc, output, doc = self.lockout_attest(self.env(LD_AUDIT=self.preload))
        self.assert_refused(rc, output, doc, "LD_AUDIT")

    def test_ld_library_path_gets_no_document(self):
        # A directory holding a copy of a library the binary needs: the copy is what runs.
        libdir = os.path.join(self.tmp, "libs")
        os.mkdir(libdir)
        ldd = harness.run(["ldd", self.lockout], text=True).stdout
        libc = next(l.split("=>")[1].split()[0] for l in ldd.splitlines() if "libc.so" in l)
        shutil.copy(libc, libdir)
        rc, output, doc = self.lockout_attest(self.env(LD_LIBRARY_PATH=libdir))
        self.assert_refused(rc, output, doc, "LD_LIBRARY_PATH")

    def test_a_preload_that_erases_its_environment_is_seen_in_the_mappings(self):
        for variable in ("LD_PRELOAD", "LD_AUDIT"):
            with self.subTest(variable=variable):
                env = self.env(NSM_MEASURE_PRELOAD_SCRUB="1", **{variable: self.preload})
                rc, output, doc = self.lockout_attest(env)
                # Refused for the library it mapped, not for an environment it no longer has.
                self.assert_refused(rc, output, doc, "libnsm_measure_preload.so")
                refusals = self.service_log_lines("nsm_connection_refused")
                self.assertTrue(refusals)
                self.assertNotIn("environment sets", json.dumps(refusals[-1]))

    def test_the_scrubbing_preload_really_hides_its_variable_but_not_its_mapping(self):
        # The premise of the test above: /proc/PID/environ no longer shows LD_PRELOAD while the
        # library is still mapped.
        env = self.env(NSM_MEASURE_PRELOAD_SCRUB="1", LD_PRELOAD=self.preload)
        p = subprocess.Popen(["/bin/sleep", "10"], env=env)
        self._stops.append(lambda: (p.kill(), p.wait()))

        def maps_show_preload():
            with open(f"/proc/{p.pid}/maps") as f:
                return "libnsm_measure_preload.so" in f.read()

        def environ():
            with open(f"/proc/{p.pid}/environ", "rb") as f:
                return f.read()

        harness.wait_until(maps_show_preload, "the preload mapped", timeout=10)
        # The library is mapped before its constructor runs: wait for the erasure.
        harness.wait_until(lambda: b"LD_PRELOAD" not in environ(), "LD_PRELOAD erased",
                           timeout=10, detail=environ)
        self.assertIn(b"PATH=", environ())
        self.assertNotIn(b"NSM_MEASURE_PRELOAD_SCRUB", environ())
        self.assertTrue(maps_show_preload())

    # ---- connect, then hand over ----

    def test_connect_then_exec_another_binary_gets_no_document(self):
        other = os.path.join(self.tmp, "attacker-probe")
        shutil.copy(self.probe, other)
        with open(other, "ab") as f:
            f.write(b"\0")  # another binary that speaks the same protocol
        rc, out = self.probe_run("then-exec", other, "--fd", "{fd}", "attest", ATTACKER_KEY_HEX)
        self.assertEqual((rc, out), (3, {"error": "InvalidOperation"}))
        harness.wait_until(lambda: "not the executable measured at connect" in self.la.process.log(),
                           "the exec refusal logged", timeout=10, detail=self.la.process.log)

    def test_a_fork_inheriting_the_connection_gets_no_document(self):
        rc, out = self.probe_run("fork-attest", ATTACKER_KEY_HEX)
        self.assertEqual((rc, out), (3, {"error": "InvalidOperation"}))
        harness.wait_until(lambda: "an inherited or passed connection" in self.la.process.log(),
                           "the fork refusal logged", timeout=10, detail=self.la.process.log)

    def test_a_traced_genuine_binary_gets_no_document(self):
        strace = shutil.which("strace")
        if strace is None:
            self.skipTest("strace is not installed")
        # LeakSanitizer cannot run under ptrace; the measurement does not care either way.
        env = self.env()
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
        r = harness.run([strace, "-f", "-qq", "-o", "/dev/null", self.probe, "--socket",
                         self.socket, "attest", ATTACKER_KEY_HEX], env=env, text=True)
        if "Operation not permitted" in r.stderr and "ptrace" in r.stderr:
            self.skipTest("ptrace is not permitted here: " + r.stderr.strip())
        self.assertIn('{"error": "InvalidOperation"}', r.stdout, r.stdout + r.stderr)
        harness.wait_until(lambda: "is traced by pid" in self.la.process.log(),
                           "the tracing refusal logged", timeout=10, detail=self.la.process.log)

    def test_refusals_never_log_environment_values(self):
        canary = "canary-value-0f7e2d"
        self.lockout_attest(self.env(LD_LIBRARY_PATH="/nonexistent/" + canary))
        harness.wait_until(lambda: "LD_LIBRARY_PATH" in self.la.process.log(), "the refusal",
                           timeout=10, detail=self.la.process.log)
        self.assertNotIn(canary, self.la.process.log())


if __name__ == "__main__":
    unittest.main()
