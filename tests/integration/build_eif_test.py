"""`lockout build-eif` as a real process: reproducible bytes, describe-eif agreement, what the
image's root filesystem holds (its loader finds every library inside it, without ld.so.cache),
and the errors a user meets first.

The blobs are synthetic (a fake bzImage whose setup header carries a version string: measuring
an image does not need a bootable kernel), unless the machine has /boot/vmlinuz-*; the enclave
binary is the lockout-enclave beside lockout.
"""

import glob
import json
import os
import shutil
import struct
import subprocess
import unittest

import harness

AWS_CMDLINE = ("reboot=k panic=30 pci=off nomodules console=ttyS0 i8042.noaux i8042.nomux "
               "i8042.nopnp i8042.dumbkbd random.trust_cpu=on\n")
ARGV = ["/lockout-enclave", "--listen", "vsock://ANY:5010", "--relay", "vsock://3:5011",
        "--secret", "lockout/signing-key", "--key-type", "p521"]


def fake_bzimage(version=b"6.1.0-lockout-test (test@lockout) #1 SMP"):
    k = bytearray(4096)
    k[0x1FE:0x200] = b"\x55\xaa"
    k[0x202:0x206] = b"HdrS"
    k[0x206:0x208] = struct.pack("<H", 0x020F)
    k[0x20E:0x210] = struct.pack("<H", 0x300)
    k[0x500:0x500 + len(version)] = version
    return bytes(k)


def write_blobs(directory):
    os.makedirs(directory)
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    kernel = read(kernels[-1]) if kernels else fake_bzimage()
    for name, data in (("bzImage", kernel), ("cmdline", AWS_CMDLINE.encode()),
                       ("init", b"#!init\n"), ("nsm.ko", b"nsm\n")):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def chroot_binary():
    return shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")


def eif_sections(data):
    """(type, body) of every section, read straight from the file format."""
    assert data[:4] == b".eif", data[:4]
    pos, out = 548, []
    while pos < len(data):
        stype, _flags, size = struct.unpack(">HHQ", data[pos:pos + 12])
        out.append((stype, data[pos + 12:pos + 12 + size]))
        pos += 12 + size
    return out


def newc_entries(archive):
    """(name, mode, data) of every newc entry before the trailer."""
    pos, out = 0, []
    while True:
        h = archive[pos:pos + 110]
        assert h[:6] == b"070701", (pos, h[:6])
        fields = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = archive[pos + 110:pos + 110 + namesize - 1].decode()
        data_at = (pos + 110 + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out.append((name, mode, archive[data_at:data_at + size]))
        pos = (data_at + size + 3) & ~3


def unpack(archive, root):
    """Writes a newc archive's directories, files and symlinks under root (like the kernel)."""
    for name, mode, data in newc_entries(archive):
        path = os.path.join(root, name.rstrip("/"))
        kind = mode & 0o170000
        if kind == 0o040000:
            os.makedirs(path, exist_ok=True)
        elif kind == 0o120000:
            if not os.path.lexists(path):
                os.symlink(data.decode(), path)
        else:
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, mode & 0o7777)


class BuildEifTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.enclave = harness.binary("lockout-enclave")
        self.blobs = os.path.join(self.tmp, "blobs")
        write_blobs(self.blobs)

    def build(self, *args, cwd=None, check=True):
        r = harness.run([self.lockout, "build-eif", *args], cwd=cwd or self.tmp, timeout=240)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertEqual(r.stderr, b"")
        return r

    def test_two_checkouts_in_different_directories_give_identical_files(self):
        outputs = []
        for i, name in enumerate(("checkout-a", "another/checkout-bbbb")):
            root = os.path.join(self.tmp, name)
            os.makedirs(os.path.join(root, "bin"))
            shutil.copytree(self.blobs, os.path.join(root, "blobs"))
            shutil.copy(self.enclave, os.path.join(root, "bin", "lockout-enclave"))
            shutil.copy("/etc/ssl/certs/ca-certificates.crt", os.path.join(root, "ca.crt"))
            # Different owners' habits: modes and times must not reach the image.
            for dirpath, _dirs, files in os.walk(root):
                for f in files:
                    p = os.path.join(dirpath, f)
                    os.chmod(p, 0o700 if i == 0 else 0o755)
                    os.utime(p, (1_000_000_000 + i * 7_000_000, 1_000_000_000 + i * 7_000_000))
            out = os.path.join(root, "lockout.eif")
            r = self.build("--blobs", "blobs", "--output", "lockout.eif",
                           "--enclave-binary", "bin/lockout-enclave", "--ca-bundle", "ca.crt",
                           "--env", "AWS_REGION=us-east-1", "--json", "--", *ARGV, cwd=root)
            outputs.append((out, r.stdout))
        first, second = (read(o) for o, _ in outputs)
        self.assertEqual(len(first), len(second))
        self.assertTrue(first == second, "the EIF depends on where its inputs were")
        # build-eif's JSON is exactly what describe-eif prints for the file.
        for out, printed in outputs:
            d = harness.run([self.lockout, "describe-eif", out])
            self.assertEqual(d.returncode, 0, d.stderr)
            self.assertEqual(d.stdout, printed)
        described = json.loads(outputs[0][1])
        self.assertEqual(described["ImageName"], "lockout-enclave")
        self.assertEqual(described["Metadata"]["BuildTime"], "1970-01-01T00:00:00+00:00")
        self.assertEqual(described["Metadata"]["Cmd"], ARGV)
        self.assertNotIn(self.tmp.encode(), first)

    def test_image_rootfs_is_self_contained_and_laid_out_for_the_aws_init(self):
        out = os.path.join(self.tmp, "lockout.eif")
        r = self.build("--blobs", self.blobs, "--output", out, "--", *ARGV)
        text = r.stdout.decode()
        self.assertIn("enclave memory: at least", text)
        described = json.loads(text[text.index("{"):])
        data = read(out)
        self.assertIn(f"wrote {out}: {len(data)} bytes", text)
        sections = eif_sections(data)
        self.assertEqual([t for t, _ in sections], [1, 2, 5, 3, 3])  # kernel cmdline meta rd rd
        self.assertEqual(sections[1][1], AWS_CMDLINE.strip().encode())
        bootstrap = newc_entries(sections[3][1])
        self.assertEqual([n for n, _, _ in bootstrap], ["dev", "init", "nsm.ko"])
        customer = sections[4][1]
        names = [n for n, _, _ in newc_entries(customer)]
        self.assertEqual(names[-2:], ["cmd", "env"])
        for d in ("dev", "proc", "run", "sys", "tmp", "var"):
            self.assertIn(f"rootfs/{d}", names)
        entries = {n: (m, d) for n, m, d in newc_entries(customer)}
        self.assertEqual(entries["cmd"][1].decode(), "".join(a + "\n" for a in ARGV))
        self.assertEqual(entries["env"][1], b"")
        self.assertEqual(entries["rootfs/lockout-enclave"][1], read(self.enclave))
        self.assertEqual(entries["rootfs/etc/ssl/certs/ca-certificates.crt"][1],
                         read("/etc/ssl/certs/ca-certificates.crt"))
        # Every image file is listed in the metadata with its SHA-384.
        listed = {f["Name"] for f in described["Metadata"]["LockoutInputs"]}
        for n, (mode, _) in entries.items():
            if n.startswith("rootfs/") and mode & 0o170000 == 0o100000 and \
                    n not in ("rootfs/etc/hosts",):
                self.assertIn(n[len("rootfs"):], listed)

        # The loader inside the image, with no ld.so.cache, finds every library inside it.
        root = os.path.join(self.tmp, "unpacked")
        unpack(customer, root)
        if chroot_binary() is None or (os.geteuid() != 0 and shutil.which("unshare") is None):
            self.skipTest("*** no chroot, or neither root nor unshare: the chroot check did not run")
        chroot = [] if os.geteuid() == 0 else ["unshare", "-r"]
        rootfs = os.path.join(root, "rootfs")
        listing = harness.run([*chroot, chroot_binary(), rootfs, "/lib64/ld-linux-x86-64.so.2",
                               "--list", "/lockout-enclave"], env={})
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertNotIn(b"not found", listing.stdout)
        self.assertIn(b"libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6", listing.stdout)
        # And the binary runs there (--help needs no device, key or network).
        ran = harness.run(["unshare", "-m", "--", "sh", "-c",
                           f"mount -t proc proc '{rootfs}/proc' && "
                           f"exec {chroot_binary()} '{rootfs}' /lockout-enclave --help"]
                          if os.geteuid() == 0 else
                          [*chroot, chroot_binary(), rootfs, "/lockout-enclave", "--help"], env={})
        self.assertEqual(ran.returncode, 0, ran.stderr)
        self.assertIn(b"lockout-enclave: the signing service", ran.stdout)

    def test_help_teaches_with_an_example_that_runs(self):
        r = harness.run([self.lockout, "build-eif", "--help"])
        self.assertEqual(r.returncode, 0)
        text = r.stdout.decode()
        self.assertIn("Example", text)
        example = text[text.index("  lockout build-eif"):text.index("  lockout describe-eif")]
        args = example.replace("\\\n", " ").split()[1:]
        # A small stand-in for the enclave binary keeps this quick (the ASan build is 130 MB).
        args = [self.blobs if a == "/usr/share/nitro_enclaves/blobs" else
                "/usr/bin/true" if a == "build/bin/lockout-enclave" else a for a in args]
        self.assertIn("--output", args)
        ran = harness.run([self.lockout, *args], cwd=self.tmp, timeout=240)
        self.assertEqual(ran.returncode, 0, ran.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "lockout.eif")))

    def test_clear_errors_for_the_usual_mistakes(self):
        out = os.path.join(self.tmp, "x.eif")
        incomplete = os.path.join(self.tmp, "incomplete")
        os.makedirs(incomplete)
        shutil.copy(os.path.join(self.blobs, "bzImage"), incomplete)
        cases = [
            (["--blobs", os.path.join(self.tmp, "nope"), "--output", out, "--", *ARGV],
             "does not exist"),
            (["--blobs", incomplete, "--output", out, "--", *ARGV],
             "has no cmdline, init, nsm.ko"),
            (["--blobs", self.blobs, "--output", out, "--enclave-binary",
              os.path.join(self.tmp, "missing"), "--", *ARGV], "is not a file"),
            (["--blobs", self.blobs, "--output", out, "--env", "1BAD=x", "--", *ARGV],
             "--env: env items are NAME=VALUE"),
            (["--blobs", self.blobs, "--output", out, "--env", "NOVALUE", "--", *ARGV],
             "--env: env items are NAME=VALUE"),
            (["--blobs", self.blobs, "--output", out], "no enclave argv"),
            (["--blobs", self.blobs, "--output", out, "--", "/not-in-image"],
             "is not a file in the image"),
            (["--blobs", self.blobs, "--output", out, "--ca-bundle",
              os.path.join(self.tmp, "none.crt"), "--", *ARGV], "CA bundle"),
        ]
        for args, message in cases:
            with self.subTest(message=message):
                r = self.build(*args, check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                err = r.stderr.decode()
                self.assertTrue(err.startswith("lockout: build-eif: "), err)
                self.assertIn(message, err)
                self.assertEqual(err.count("\n"), 1, err)
                self.assertFalse(os.path.exists(out))
        for args, message in (
                (["--output", out, "--", *ARGV], "--blobs DIR and --output FILE go together"),
                (["--", *ARGV], "nothing to write")):
            r = self.build(*args, check=False)
            self.assertEqual(r.returncode, 2, r.stderr)  # flags that do not go together
            self.assertIn(message, r.stderr.decode())
        # Usage errors are exit 2, like every command's.
        self.assertEqual(self.build("--bogus", "--", *ARGV, check=False).returncode, 2)

    def test_rootfs_dir_writes_the_images_files_for_the_docker_path(self):
        rootfs = os.path.join(self.tmp, "rootfs")
        out = os.path.join(self.tmp, "lockout.eif")
        self.build("--rootfs-dir", rootfs, "--blobs", self.blobs, "--output", out, "--", *ARGV)
        files = {}
        for dirpath, dirs, names in os.walk(rootfs):
            for d in dirs:
                st = os.lstat(os.path.join(dirpath, d))
                self.assertEqual((st.st_mode & 0o7777, int(st.st_mtime)), (0o755, 0), d)
            for n in names:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                self.assertEqual(int(st.st_mtime), 0, p)
                files["/" + os.path.relpath(p, rootfs)] = (st.st_mode & 0o7777, read(p))
        # Exactly the files, modes and contents of the EIF's customer ramdisk.
        customer = eif_sections(read(out))[4][1]
        in_eif = {n[len("rootfs"):]: (m & 0o7777, d) for n, m, d in newc_entries(customer)
                  if n.startswith("rootfs/") and m & 0o170000 == 0o100000
                  and n != "rootfs/etc/hosts"}
        self.assertEqual(sorted(files), sorted(in_eif))
        self.assertTrue(files == in_eif)
        # The directory must be new or empty: nothing is overwritten.
        r = self.build("--rootfs-dir", rootfs, "--", *ARGV, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("new or empty directory", r.stderr.decode())


    def test_dockerfile_built_by_buildah_holds_the_same_rootfs(self):
        """Item 5: deploy/Dockerfile + the --rootfs-dir tree, built offline by buildah."""
        buildah = shutil.which("buildah")
        if buildah is None:
            self.skipTest("*** buildah is not installed (apt-get install buildah): Docker path "
                          "not checked")
        dockerfile = os.path.join(harness.SOURCE_DIR, "deploy", "Dockerfile")
        with open(dockerfile) as f:
            joined = f.read().replace("\\\n", " ")
        cmd = json.loads(next(line for line in joined.splitlines()
                              if line.startswith("CMD "))[4:])
        rootfs = os.path.join(self.tmp, "rootfs")
        # A small stand-in keeps the vfs copies quick; the tree's shape is the same.
        self.build("--rootfs-dir", rootfs, "--enclave-binary", "/usr/bin/true", "--", *cmd)
        store = ["--root", os.path.join(self.tmp, "storage"),
                 "--runroot", os.path.join(self.tmp, "run"), "--storage-driver", "vfs"]
        # chroot isolation allows no --network setting; the Dockerfile has no RUN to use one.
        r = harness.run([buildah, *store, "bud", "--isolation", "chroot", "--timestamp", "0",
                         "-f", dockerfile, "-t", "lockout-enclave-test", rootfs], timeout=240)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        r = harness.run([buildah, *store, "from", "lockout-enclave-test"], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        container = r.stdout.decode().strip()
        self._stops.append(lambda: harness.run([buildah, *store, "rm", container]))
        r = harness.run([buildah, *store, "mount", container], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        mounted = r.stdout.decode().strip()

        def tree(root):
            out = {}
            for dirpath, dirs, names in os.walk(root):
                for n in dirs + names:
                    p = os.path.join(dirpath, n)
                    st = os.lstat(p)
                    data = read(p) if os.path.isfile(p) and not os.path.islink(p) else None
                    out[os.path.relpath(p, root)] = (st.st_mode, int(st.st_mtime), data)
            return out

        self.assertEqual(tree(mounted), tree(rootfs))
        inspect = harness.run([buildah, *store, "inspect", "--type", "image",
                               "lockout-enclave-test"], timeout=60)
        config = json.loads(inspect.stdout)["OCIv1"]["config"]
        self.assertEqual(config["Cmd"], cmd)
        self.assertFalse(config.get("Entrypoint"))
        self.assertIn("AWS_REGION=us-east-1", config["Env"])


if __name__ == "__main__":
    unittest.main()
