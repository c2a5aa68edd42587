"""Issue 11 item 6: the portable bundle (scripts/dist.sh, `make dist`, docs/DIST.md).

The bundle is built once from this build's binaries (the ASan ones under ctest; `make dist` uses
the release build), unpacked into an empty directory, and `lockout demo` runs chrooted inside it
with a clean environment and nothing from the host but /proc (a fresh procfs), /dev and /tmp (an
empty scratch directory of this test). That is the Amazon Linux case: none of the Debian packages
the binaries were built against are visible. chroot and mount need root; CI runs as root.

Cleanup unmounts before anything is removed, and removes nothing while a mount is left: a
recursive delete through a bind-mounted /dev would delete the host's device nodes.
"""

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

import harness

DIST_SCRIPT = os.path.join(harness.SOURCE_DIR, "scripts", "dist.sh")
BINARIES = ("lockout", "lockout-relay", "lockout-enclave")
DEMO_STEPS = 22  # demo_test.STEP_COUNT: the recommended, authenticated demo
TOP_LEVEL = {"README.txt", "SHA256SUMS", "bin", "deploy", "dev", "docs", "etc", "host", "lib",
             "lib64", "proc", "tmp"}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def start_bundle(out, tmpdir, umask=0o022):
    """Starts scripts/dist.sh on this build's binaries; finish_bundle() waits for it."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": tmpdir}
    return subprocess.Popen(
        [DIST_SCRIPT, "--bin-dir", harness.BIN_DIR, "--out", out, "--gzip-level", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: os.umask(umask))


def finish_bundle(proc):
    """(path, the sha256 it printed) of a start_bundle() run."""
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise AssertionError(f"dist.sh failed ({proc.returncode}): {stderr}")
    lines = stdout.split()
    return lines[0], lines[1]


class DistTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("dist_test needs root: the bundle's demo runs under chroot(2) "
                                    "with mounted /proc and /dev (CI runs as root)")
        for b in BINARIES:
            harness.binary(b)
        cls.chroot = shutil.which("chroot") or "/usr/sbin/chroot"
        cls.work = tempfile.mkdtemp(prefix="lockout-dist-test-")
        for stage in ("stage-a", "stage-b"):
            os.makedirs(os.path.join(cls.work, stage))
        cls.tarball, cls.printed_sha = finish_bundle(start_bundle(
            os.path.join(cls.work, "a", "lockout.tar.gz"), os.path.join(cls.work, "stage-a")))
        # The reproducibility check's second build (another staging directory and name, umask
        # 077) runs while the other tests do; test_tarball_is_reproducible_and_fixed collects it.
        cls.second = start_bundle(os.path.join(cls.work, "b", "other-name.tar.gz"),
                                  os.path.join(cls.work, "stage-b"), umask=0o077)
        # Unpacked once, as root (owner 0 and modes kept), into an empty directory; the tests
        # only read it, and the demo writes only below its mounts.
        cls.root = os.path.join(cls.work, "root")
        os.makedirs(cls.root)
        subprocess.run(["tar", "-C", cls.root, "-xzf", cls.tarball], check=True)

    @classmethod
    def tearDownClass(cls):
        if cls.second.poll() is None:
            cls.second.kill()
        cls.second.communicate()
        # Never delete through a mount (it could be the host's /dev).
        left = [m for m in ("proc", "dev", "tmp") if os.path.ismount(os.path.join(cls.root, m))]
        if left:
            raise AssertionError(f"could not unmount {left}; {cls.work} left in place")
        shutil.rmtree(cls.work, ignore_errors=True)

    def mount(self, *args):
        """mount ARGS...; unmounted when the test ends (lazily if busy)."""
        target = args[-1]
        proc = subprocess.run(["mount", *args], capture_output=True, text=True)
        if proc.returncode != 0:
            self.skipTest(f"mount {' '.join(args)} failed (no CAP_SYS_ADMIN?): {proc.stderr}")

        def unmount():
            if subprocess.run(["umount", target], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", target], capture_output=True)
            self.assertFalse(os.path.ismount(target), f"{target} is still mounted")
        self.addCleanup(unmount)

    def test_tarball_is_reproducible_and_fixed(self):
        self.assertEqual(sha256_file(self.tarball), self.printed_sha)
        # The second build, from another staging directory with another umask: the same bytes.
        _, sha_b = finish_bundle(self.second)
        self.assertEqual(sha_b, self.printed_sha)
        with tarfile.open(self.tarball) as tar:
            members = tar.getmembers()
        names = [m.name for m in members]
        self.assertEqual({n.split("/")[0] for n in names}, TOP_LEVEL, "no top-level directory")
        self.assertEqual(names, sorted(names, key=lambda n: n.split("/")))
        for m in members:
            self.assertEqual((m.uid, m.gid, m.uname, m.gname, m.mtime), (0, 0, "", "", 0), m.name)
            self.assertTrue(m.isdir() or m.isfile(), f"{m.name}: only files and directories")
            self.assertFalse(m.mode & 0o022 and m.name != "tmp", f"{m.name}: mode {m.mode:o}")
        self.assertEqual(next(m.mode for m in members if m.name == "tmp"), 0o1777)

    def test_contents_binaries_unmodified_libraries_exact(self):
        root = self.root
        for b in BINARIES:
            self.assertEqual(sha256_file(os.path.join(root, "bin", b)),
                             sha256_file(os.path.join(harness.BIN_DIR, b)),
                             f"bin/{b} must be the build's file, byte for byte (PCR0)")
        subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, check=True,
                       capture_output=True)
        with open(os.path.join(root, "SHA256SUMS")) as f:
            listed = f.read().splitlines()
        files = sorted(os.path.relpath(os.path.join(d, f), root)
                       for d, _, fs in os.walk(root) for f in fs if f != "SHA256SUMS")
        self.assertEqual(os.listdir(os.path.join(root, "proc")), [], "run before the demo's mounts")
        self.assertEqual(sorted(line.split("  ", 1)[1] for line in listed), files)
        for f in ("deploy/lockout-relay.service", "deploy/enclave-config.json", "docs/DIST.md",
                  "docs/README.md", "README.txt", "etc/ssl/certs/ca-certificates.crt"):
            self.assertTrue(os.path.isfile(os.path.join(root, f)), f)
        # The bundle's own loader, inside the bundle (nothing else mounted): every library each
        # binary needs is there, and every library shipped is needed by one of them.
        loaded = set()
        for b in BINARIES:
            out = subprocess.run([self.chroot, root, "/lib64/ld-linux-x86-64.so.2", "--inhibit-cache",
                                  "--list", f"/bin/{b}"], capture_output=True, text=True,
                                 env={}, check=True).stdout
            self.assertNotIn("not found", out)
            for line in out.splitlines():
                if "=>" in line:
                    loaded.add(os.path.normpath(line.split("=>")[1].split("(")[0].strip()))
        shipped = {"/" + os.path.relpath(os.path.join(d, f), root)
                   for d, _, fs in os.walk(os.path.join(root, "lib")) for f in fs}
        self.assertEqual(shipped, loaded)
        self.assertEqual(os.listdir(os.path.join(root, "lib64")), ["ld-linux-x86-64.so.2"])

    def test_demo_runs_chrooted_in_the_bundle(self):
        root = self.root
        scratch = tempfile.mkdtemp(prefix="tmp-", dir=self.work)
        self.mount("-t", "proc", "proc", os.path.join(root, "proc"))
        self.mount("--bind", "/dev", os.path.join(root, "dev"))
        self.mount("--bind", scratch, os.path.join(root, "tmp"))
        proc = subprocess.run([self.chroot, root, "/bin/lockout", "demo"], env={}, cwd="/",
                              capture_output=True, text=True, timeout=100)
        output = proc.stdout + proc.stderr
        self.assertEqual(proc.returncode, 0, output)
        steps = [line for line in proc.stdout.splitlines() if line.startswith(("✓ ", "✗ "))]
        self.assertEqual(len(steps), DEMO_STEPS, output)
        self.assertTrue(all(line.startswith("✓ ") for line in steps), output)
        self.assertIn(f"demo: all {DEMO_STEPS} steps passed", proc.stdout)
        self.assertIn("✓ start lockout-relay and lockout-enclave", proc.stdout)
        self.assertIn("✓ a modified enclave binary is refused", proc.stdout)
        # The demo cleaned up its work directory inside the chroot's /tmp.
        self.assertEqual(os.listdir(scratch), [])

    def test_host_wrappers_run_outside_a_chroot(self):
        root = self.root
        # Through a symlink elsewhere, from another directory, with an empty environment.
        links = tempfile.mkdtemp(prefix="links-", dir=self.work)
        for b in BINARIES:
            link = os.path.join(links, b)
            os.symlink(os.path.join(root, "host", b), link)
            out = subprocess.run([link, "--version"], env={}, cwd="/", capture_output=True,
                                 text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertRegex(out.stdout, rf"^{b} \d+\.\d+\.\d+ \(commit ([0-9a-f]+|unknown)\)")
        with open(os.path.join(root, "host", "lockout")) as f:
            wrapper = f.read()
        self.assertTrue(wrapper.startswith("#!/bin/sh\n"))
        self.assertIn('--library-path "$root/lib/x86_64-linux-gnu"', wrapper)


if __name__ == "__main__":
    unittest.main()
