"""`lockout run-enclave` boots a real EIF under QEMU (issue 11, acceptance item 4).

Local blobs (Debian's cloud kernel from build/kernel, lockout-init, the virtio NIC modules) and the
lockout-enclave beside lockout (debug info stripped, which changes nothing it runs) make an EIF
whose enclave reaches the relay and local KMS on the host (10.0.2.2) and the local NSM through
QEMU (tcp://10.0.2.100:9000). The KMS key's policy pins the PCR0 `describe-eif` reports. Then:
the image boots, the enclave loads its key through the relay and the attested KMS path, a client
on the host signs through the forwarded port and the signature verifies; the NSM log shows the
guest got the EIF's PCR0. A copy of the EIF that differs in one byte of its customer ramdisk
(an mtime digit of rootfs/etc/hosts, CRC fixed up so it is a valid EIF that boots the same way)
has another PCR0, and KMS refuses its Decrypt (AccessDenied).

Needs qemu-system-x86 and an unpacked kernel package (`make deps kernel`); skips without them
unless LOCKOUT_REQUIRE_QEMU=1 (CI sets it).
"""

import glob
import json
import os
import shutil
import struct
import subprocess
import time
import unittest
import zlib

import harness

QEMU = "/usr/bin/qemu-system-x86_64"
KERNEL_DIR = os.environ.get("LOCKOUT_KERNEL_DIR") or os.path.join(harness.SOURCE_DIR, "build",
                                                                      "kernel")
SECRET = "lockout/qemu-key"
GUEST_PORT = 5010


def require_qemu():
    missing = []
    if not os.access(QEMU, os.X_OK):
        missing.append(f"{QEMU} (apt-get install qemu-system-x86)")
    if not glob.glob(os.path.join(KERNEL_DIR, "boot", "vmlinuz-*")):
        missing.append(f"a kernel in {KERNEL_DIR} (scripts/fetch-kernel.sh {KERNEL_DIR})")
    if missing:
        msg = "*** run-enclave needs " + " and ".join(missing)
        if os.environ.get("LOCKOUT_REQUIRE_QEMU") == "1":
            raise AssertionError(msg)
        print(msg)
        raise unittest.SkipTest(msg)


def ramdisks(data):
    """(offset, size) of each ramdisk section's data, from the file format."""
    pos, out = 548, []
    while pos < len(data):
        stype, _flags, size = struct.unpack(">HHQ", data[pos:pos + 12])
        if stype == 3:
            out.append((pos + 12, size))
        pos += 12 + size
    return out


def flip_one_byte_in_customer_ramdisk(data):
    """The last mtime digit of rootfs/etc/hosts's cpio header, and the EIF CRC fixed up."""
    data = bytearray(data)
    offset, size = ramdisks(data)[1]
    name = data.find(b"rootfs/etc/hosts\0", offset, offset + size)
    assert name > 0, "no rootfs/etc/hosts in the customer ramdisk"
    header = name - 110
    assert data[header:header + 6] == b"070701"
    digit = header + 46 + 7  # mtime is the 7th 8-hex-digit field
    data[digit] = ord("1") if data[digit] != ord("1") else ord("2")
    crc = zlib.crc32(bytes(data[:544]) + bytes(data[548:]))
    data[544:548] = struct.pack(">I", crc)
    return bytes(data)


class RunEnclaveTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        require_qemu()
        self.lockout = harness.binary("lockout")
        harness.binary("lockout-relay")
        self.la = self.local_aws()

    def cli(self, principal, *args, check=True, timeout=120):
        env = self.la.env(principal) if principal else None
        r = subprocess.run([self.lockout, *args], env=env, capture_output=True, text=True,
                           timeout=timeout)
        if check:
            self.assertEqual(r.returncode, 0, f"lockout {args[0]}: {r.stdout}\n{r.stderr}")
        return r

    def build_eif(self, blobs, enclave, relay_port, output):
        kms = self.la.ready["kms_endpoint"].replace("127.0.0.1", "10.0.2.2")
        self.assertIn("10.0.2.2", kms)
        r = self.cli(None, "build-eif", "--blobs", blobs, "--output", output, "--enclave-binary",
                     enclave, "--env", "ASAN_OPTIONS=detect_leaks=0", "--env",
                     "TZ=UTC", "--json", "--",
                     "/lockout-enclave", "--listen", f"tcp://0.0.0.0:{GUEST_PORT}",
                     "--region", self.la.ready["region"], "--kms-endpoint", kms,
                     "--relay", f"tcp://10.0.2.2:{relay_port}", "--nsm", "tcp://10.0.2.100:9000",
                     "--secret", SECRET, "--threads", "1")
        return json.loads(r.stdout)["Measurements"]

    def boot(self, eif, host_port, name, *extra):
        p = harness.Process([self.lockout, "run-enclave", "--eif", eif, "--forward",
                             f"{host_port}:{GUEST_PORT}", "--nsm-socket",
                             self.la.ready["nsm_socket"], *extra], self.tmp, name)
        self._stops.append(p.stop)
        return p

    def test_boots_loads_its_key_signs_and_a_one_byte_change_is_refused(self):
        started = time.monotonic()
        blobs = os.path.join(self.tmp, "blobs")
        r = self.cli(None, "local-blobs", "--kernel", KERNEL_DIR, "--output", blobs)
        self.assertIn("virtio_net", r.stdout)
        enclave = os.path.join(self.tmp, "lockout-enclave")
        shutil.copy(harness.binary("lockout-enclave"), enclave)
        if shutil.which("objcopy"):
            subprocess.run(["objcopy", "--strip-debug", enclave], check=True)

        relay_port = harness.free_port()
        eif = os.path.join(self.tmp, "local.eif")
        pcrs = self.build_eif(blobs, enclave, relay_port, eif)
        described = json.loads(self.cli(None, "describe-eif", eif).stdout)["Measurements"]
        self.assertEqual(described, pcrs)
        pcr0 = described["PCR0"]

        admin_arn = self.la.ready["principals"]["admin"]["arn"]
        role_arn = self.la.ready["instance_role_arn"]
        key_arn = self.la.boto3_client("kms", "admin").create_key(
            Description="run-enclave")["KeyMetadata"]["Arn"]
        self.cli("admin", "policy", "--kms-key", key_arn, "--apply", "--enclave-role", role_arn,
                 "--admin-role", admin_arn, "--pcr0", pcr0)
        created = self.cli("instance", "create-key", "--kms-key", key_arn, "--secret", SECRET,
                           "--type", "p256").stdout
        public = os.path.join(self.tmp, "public.pem")
        with open(public, "w") as f:
            f.write(created[created.index("-----BEGIN PUBLIC KEY-----"):
                            created.index("-----END PUBLIC KEY-----") + 24] + "\n")

        relay_ready = os.path.join(self.tmp, "relay.json")
        relay = harness.Process([harness.binary("lockout-relay"), "--listen",
                                 f"tcp://127.0.0.1:{relay_port}", "--allow-secret", SECRET,
                                 "--ready-file", relay_ready], self.tmp, "relay",
                                env=self.la.process_env(relay=True))
        self._stops.append(relay.stop)
        harness.wait_for_file(relay_ready, relay.proc)

        # The image as built: boots, loads its key through KMS, signs for a host client.
        host_port = harness.free_port()
        booting = time.monotonic()
        vm = self.boot(eif, host_port, "run-enclave")
        message = "signed inside QEMU"

        def signed():
            if vm.proc.poll() is not None:
                raise AssertionError("run-enclave ended early:\n" + vm.log()[-6000:])
            s = subprocess.run([self.lockout, "sign", "--enclave",
                                f"tcp://127.0.0.1:{host_port}", "--message", message],
                               capture_output=True, text=True, timeout=60)
            return s.stdout if s.returncode == 0 else None

        out = harness.wait_until(signed, "a signature from the booted enclave", timeout=150,
                                 detail=lambda: vm.log()[-6000:] + "\n--- relay\n"
                                 + relay.log()[-3000:] + "\n--- local-aws\n"
                                 + self.la.process.log()[-3000:])
        signed_after = time.monotonic() - booting
        signature = json.loads(out)["signature"]
        v = self.cli(None, "verify", "--public-key", public, "--message", message,
                     "--signature", signature)
        self.assertIn("signature OK", v.stdout + v.stderr)
        self.assertIn(f"PCR0 {pcr0}", vm.log())
        la_log = self.la.process.log()
        guest_lines = [json.loads(line) for line in la_log.splitlines()
                       if '"nsm_connection"' in line and '"guest":true' in line]
        self.assertTrue(guest_lines, la_log[-3000:])
        self.assertEqual(guest_lines[-1]["pcr0"], pcr0)
        self.assertEqual(vm.stop(), 0, vm.log()[-3000:])

        # One byte of the customer ramdisk changed: a valid EIF with another PCR0 and PCR2, the
        # same PCR1; it boots, and KMS refuses it the key.
        with open(eif, "rb") as f:
            changed = flip_one_byte_in_customer_ramdisk(f.read())
        bad = os.path.join(self.tmp, "changed.eif")
        with open(bad, "wb") as f:
            f.write(changed)
        bad_pcrs = json.loads(self.cli(None, "describe-eif", bad).stdout)["Measurements"]
        self.assertNotEqual(bad_pcrs["PCR0"], pcr0)
        self.assertNotEqual(bad_pcrs["PCR2"], described["PCR2"])
        self.assertEqual(bad_pcrs["PCR1"], described["PCR1"])
        bad_vm = self.boot(bad, harness.free_port(), "run-enclave-changed", "--forward",
                           f"{harness.free_port()}:22")
        harness.wait_until(lambda: "AccessDenied" in bad_vm.log(),
                           "the changed image's enclave reporting AccessDenied", timeout=150,
                           detail=lambda: bad_vm.log()[-6000:] + "\n--- local-aws\n"
                           + self.la.process.log()[-3000:])
        self.assertNotIn("key_loaded", bad_vm.log())
        bad_vm.stop()
        # Both guests' documents verified; KMS allowed the image the policy pins and denied the
        # changed one; the NSM gave each QEMU its own EIF's PCR0.
        events = [json.loads(line) for line in self.la.process.log().splitlines()
                  if line.startswith("{")]
        decrypts = [e for e in events if e.get("event") == "kms_authorization"
                    and e.get("action") == "kms:Decrypt"]
        self.assertEqual([(e["outcome"], e["attestation"]) for e in decrypts],
                         [("allow", "verified"), ("explicit_deny", "verified")])
        self.assertEqual([e["pcr0"] for e in events
                          if e.get("event") == "nsm_connection" and e.get("guest")],
                         [pcr0, bad_pcrs["PCR0"]])
        print(f"\nrun-enclave: signed {signed_after:.1f} s after boot began; "
              f"test {time.monotonic() - started:.1f} s")

    def test_a_qemu_not_started_by_run_enclave_gets_no_pcrs(self):
        """A QEMU on the NSM socket with one option run-enclave never writes (a gdb stub, which
        could rewrite guest memory) is refused before it is answered anything."""
        sock = self.la.ready["nsm_socket"]
        qemu = harness.Process([QEMU, "-S", "-gdb", "tcp:127.0.0.1:0", "-nodefaults",
                                "-no-user-config", "-display", "none", "-accel", "tcg",
                                "-chardev", f"socket,id=nsm,path={sock},reconnect=1", "-netdev",
                                "user,id=net0,guestfwd=tcp:10.0.2.100:9000-chardev:nsm"],
                               self.tmp, "qemu-by-hand")
        self._stops.append(qemu.stop)
        harness.wait_until(lambda: '"nsm_connection_refused"' in self.la.process.log(),
                           "the NSM refusing the hand-started QEMU", timeout=60,
                           detail=lambda: qemu.log() + self.la.process.log()[-3000:])
        refused = [json.loads(line) for line in self.la.process.log().splitlines()
                   if '"nsm_connection_refused"' in line]
        self.assertTrue(refused[0]["guest"])
        self.assertEqual(refused[0]["pid"], qemu.proc.pid)
        self.assertIn("not started by lockout run-enclave", refused[0]["error"])
        self.assertNotIn('"event":"nsm_connection",', self.la.process.log())

    def test_usage_and_input_errors(self):
        run = lambda *a: subprocess.run([self.lockout, "run-enclave", *a], capture_output=True,
                                        text=True, timeout=60)
        r = run("--no-nsm")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--eif FILE", r.stderr)
        r = run("--eif", os.path.join(self.tmp, "x.eif"), "--no-nsm", "--forward", "5010")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("HOSTPORT:GUESTPORT", r.stderr)
        r = run("--eif", os.path.join(self.tmp, "missing.eif"), "--no-nsm")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("missing.eif", r.stderr)
        garbage = os.path.join(self.tmp, "garbage.eif")
        with open(garbage, "wb") as f:
            f.write(b"not an eif" * 100)
        r = run("--eif", garbage, "--no-nsm")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("garbage.eif", r.stderr)
        env = {k: v for k, v in os.environ.items() if k != "LOCKOUT_NSM_SOCKET"}
        r = subprocess.run([self.lockout, "run-enclave", "--eif", garbage], capture_output=True,
                           text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--nsm-socket", r.stderr)


if __name__ == "__main__":
    unittest.main()
