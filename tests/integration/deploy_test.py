"""Issue 5 item 6: the deployment kit in deploy/ is consistent with the binaries we build.

There is no Docker engine or Nitro hardware here, so the image itself is not built; what can be
checked is checked:
* the Dockerfile's CMD is the whole argv (nitro-cli ignores ENTRYPOINT when CMD is set), a command
  line lockout-enclave accepts (it gets as far as opening /dev/nsm, which is absent here), and the
  image is FROM scratch + the tree `lockout build-eif --rootfs-dir` writes;
* the systemd unit passes `systemd-analyze verify`, and its ExecStart (with the tutorial's
  relay.env) is a command line lockout-relay accepts and serves with;
* enclave-config.json asks for no more than allocator.yaml reserves, runs without debug mode, on
  the CID the clients default to; vsock-proxy.yaml lets the enclave reach exactly KMS in the
  image's region.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import unittest

import harness

DEPLOY = os.path.join(harness.SOURCE_DIR, "deploy")


def read(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return f.read()


def simple_yaml(text):
    """The flat `key: value` pairs of a small YAML file (comments stripped)."""
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].rstrip()
        m = re.match(r"^(\w+):\s*(\S.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def dockerfile_instruction(text, name):
    """The JSON-array form of the last `name` instruction (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = [line for line in joined.splitlines() if line.startswith(name + " ")]
    if not found:
        raise AssertionError(f"no {name} in the Dockerfile")
    return json.loads(found[-1][len(name) + 1:])


class DeployKitTest(harness.TempDirTestCase):
    def test_the_image_entrypoint_is_a_command_line_lockout_enclave_accepts(self):
        enclave = harness.binary("lockout-enclave")
        dockerfile = read("Dockerfile")
        # nitro-cli writes CMD alone into /cmd: an ENTRYPOINT would be lost (issue 11).
        self.assertNotRegex(dockerfile, r"(?m)^ENTRYPOINT")
        cmd = dockerfile_instruction(dockerfile, "CMD")
        self.assertEqual(cmd[0], "/lockout-enclave")
        args = cmd[1:]
        # The seed's wiring, as issue 4 item 1 defines the defaults.
        for flag, value in (("--listen", "vsock://ANY:5010"), ("--relay", "vsock://3:5011"),
                            ("--kms-via", "vsock://3:8000"), ("--nsm", "/dev/nsm")):
            self.assertEqual(args[args.index(flag) + 1], value)
        self.assertFalse(os.path.exists("/dev/nsm"), "this test expects no NSM device")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_REGION"] = "us-east-1"
        r = subprocess.run([enclave, *args], env=env, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        # Every flag parsed: the first thing that fails is the missing NSM device.
        self.assertIn("cannot open the NSM (--nsm /dev/nsm)", r.stdout + r.stderr)
        # The image is the rootfs tree build-eif writes, which holds the CA bundle the argv names.
        self.assertIn("/etc/ssl/certs/ca-certificates.crt", args)
        self.assertRegex(dockerfile, r"(?m)^FROM scratch$")
        self.assertRegex(dockerfile, r"(?m)^COPY \. /$")
        self.assertNotRegex(dockerfile, r"(?m)^RUN ")
        rootfs = os.path.join(self.tmp, "rootfs")
        r = harness.run([harness.binary("lockout"), "build-eif", "--rootfs-dir", rootfs,
                         "--enclave-binary", enclave, "--", *cmd], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        for path in ("lockout-enclave", "etc/ssl/certs/ca-certificates.crt",
                     "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6"):
            self.assertTrue(os.path.isfile(os.path.join(rootfs, path)), path)

    def test_the_enclave_config_fits_the_allocator_and_the_client_defaults(self):
        config = json.loads(read("enclave-config.json"))
        allocator = simple_yaml(read("allocator.yaml"))
        self.assertFalse(config["debug_mode"], "debug mode zeroes PCR0: KMS would refuse it")
        self.assertLessEqual(config["memory_mib"], int(allocator["memory_mib"]))
        self.assertLessEqual(config["cpu_count"], int(allocator["cpu_count"]))
        self.assertEqual(config["cpu_count"] % 2, 0, "enclaves get whole cores (2 vCPUs each)")
        # The operator CLI's default enclave address is this CID.
        r = harness.run([harness.binary("lockout"), "doctor", "--help"], text=True)
        self.assertIn(f"vsock://{config['enclave_cid']}:5010", r.stdout)

    def test_the_vsock_proxy_reaches_exactly_kms_in_the_image_region(self):
        region = re.search(r"^ARG REGION=(\S+)$", read("Dockerfile"), re.M).group(1)
        allow = re.findall(r"\{address:\s*([^,\s]+),\s*port:\s*(\d+)\}", read("vsock-proxy.yaml"))
        self.assertEqual(allow, [(f"kms.{region}.amazonaws.com", "443")])

    def test_the_relay_unit_verifies_and_its_command_line_serves(self):
        relay = harness.binary("lockout-relay")
        unit = read("lockout-relay.service")
        exec_start = re.search(r"^ExecStart=(.*?)(?<!\\)$", re.sub(r"\\\n\s*", " ", unit), re.M)
        argv = shlex.split(exec_start.group(1))
        self.assertEqual(argv[0], "/usr/local/bin/lockout-relay")
        # The tutorial's relay.env supplies $LOCKOUT_RELAY_ARGS.
        with open(os.path.join(harness.SOURCE_DIR, "docs", "TUTORIAL-AWS.md")) as f:
            tutorial = f.read()
        relay_env = re.search(r"echo 'LOCKOUT_RELAY_ARGS=\"([^\"]*)\"'", tutorial).group(1)
        self.assertIn("$LOCKOUT_RELAY_ARGS", argv)
        i = argv.index("$LOCKOUT_RELAY_ARGS")
        argv[i:i + 1] = shlex.split(relay_env)

        if shutil.which("systemd-analyze"):
            # verify needs the executable to exist: point a copy of the unit at the built one.
            path = os.path.join(self.tmp, "lockout-relay.service")
            with open(path, "w") as f:
                f.write(unit.replace("/usr/local/bin/lockout-relay", relay)
                        .replace("EnvironmentFile=/etc/", "EnvironmentFile=-/etc/"))
            r = harness.run(["systemd-analyze", "verify", path], text=True)
            # verify exits 0 on many problems ("Failed to parse ..., ignoring"): none may appear.
            self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        else:
            print("*** systemd-analyze not installed: unit file syntax not verified")

        # Run that command line (vsock and the fixed metrics port swapped for loopback port 0,
        # AWS from local-aws): it starts, serves the allowed secret name and refuses others.
        la = self.local_aws()
        argv = [relay] + argv[1:]
        argv[argv.index("--listen") + 1] = "tcp://127.0.0.1:0"
        argv[argv.index("--metrics") + 1] = "tcp://127.0.0.1:0"
        ready = os.path.join(self.tmp, "relay.json")
        p = harness.Process(argv + ["--ready-file", ready], self.tmp, "relay",
                            env=la.process_env(relay=True))
        self._stops.append(p.stop)
        harness.wait_for_file(ready, p.proc, what="relay ready file")
        with open(ready) as f:
            info = json.load(f)
        self.assertTrue(info["metrics"])
        reply = harness.v1_request(info["listen"], json.dumps(
            {"request_type": "get_secret", "payload": {"secret_name": "other"}}).encode() + b"$$$")
        self.assertEqual(reply, b'{"error":"secret not allowed"}$$$')
        reply = harness.v1_request(info["listen"], json.dumps(
            {"request_type": "get_secret",
             "payload": {"secret_name": "lockout/signing-key"}}).encode() + b"$$$")
        # Allowed, but this local-aws has no such secret yet.
        self.assertEqual(reply, b'{"error":"secret unavailable"}$$$')


if __name__ == "__main__":
    unittest.main()
