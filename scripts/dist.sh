#!/usr/bin/env bash
# `make dist`: the portable bundle (docs/DIST.md) — lockout, lockout-relay and lockout-enclave with
# exactly the shared libraries they load, the loader, a CA bundle, deploy/ and docs/, as one
# reproducible tarball that runs on any x86-64 Linux (Amazon Linux has none of the Debian
# packages the binaries were built against).
#
#   scripts/dist.sh [--bin-dir DIR] [--out FILE] [--gzip-level N]
#
# --bin-dir   where the three binaries are (default: build/bin, the release preset's; `make dist`
#             builds it first). The tests pass the ASan build's directory.
# --out       the tarball (default: dist/lockout-<version>-<commit12>-x86_64-linux.tar.gz, version
#             and commit as `lockout --version` prints them).
# --gzip-level  1-9 (default 9); the tests use 1 for the ASan binaries (the same tar, faster).
# Prints the tarball's path and SHA-256. Non-zero exit with one line on stderr on any failure.
#
# The bundle is a root filesystem: bin/<binary> are the build's own files, byte for byte (so
# bin/lockout-enclave is the file build-eif measures into PCR0), at the paths their PT_INTERP and
# the loader's built-in search expect (/lib64/ld-linux-x86-64.so.2, /lib/x86_64-linux-gnu/...).
# The library list is not computed here: `lockout build-eif --rootfs-dir` writes each binary's
# loader, libraries and the CA bundle exactly as it does for the enclave image, and this script
# takes the union. host/<binary> are POSIX sh wrappers that run bin/<binary> through the bundled
# loader on a host whose own libc is different.
set -euo pipefail
export LC_ALL=C
umask 022

root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir="$root/build/bin"
out=""
gzip_level=9
die() { echo "dist: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) [ $# -ge 2 ] || die "--bin-dir needs a directory"; bin_dir=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a file name"; out=$2; shift 2 ;;
    --gzip-level)
      case "${2:-}" in [1-9]) gzip_level=$2; shift 2 ;; *) die "--gzip-level needs 1-9" ;; esac ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "dist: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
binaries="lockout lockout-relay lockout-enclave"
for b in $binaries; do
  [ -x "$bin_dir/$b" ] || die "$bin_dir/$b not found (run \`make build\`, or pass --bin-dir)"
done
for tool in tar gzip sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

# "lockout 0.1.0 (commit 3f9c...)" -> 0.1.0, 3f9c2a4d5e6f
version_line=$("$bin_dir/lockout" --version) || die "$bin_dir/lockout --version failed"
version=$(printf '%s\n' "$version_line" | sed -n 's/^lockout \([^ ]*\) (commit \([^)]*\)).*/\1/p')
commit=$(printf '%s\n' "$version_line" | sed -n 's/^lockout \([^ ]*\) (commit \([^)]*\)).*/\2/p')
[ -n "$version" ] && [ -n "$commit" ] || die "cannot read the version from: $version_line"
name="lockout-$version-${commit:0:12}-x86_64-linux"
[ -n "$out" ] || out="$root/dist/$name.tar.gz"

stage=$(mktemp -d "${TMPDIR:-/tmp}/lockout-dist-XXXXXX")
trap 'rm -rf "$stage"' EXIT
tree="$stage/tree"
mkdir -m 0755 "$tree"

# 1. Each binary's loader, libraries and the CA bundle, as build-eif lays them out.
for b in $binaries; do
  "$bin_dir/lockout" build-eif --rootfs-dir "$stage/$b" --enclave-binary "$bin_dir/$b" \
      >/dev/null || die "lockout build-eif --rootfs-dir failed for $b"
  (cd "$stage/$b" && find . -type f ! -path ./lockout-enclave | sed 's|^\./||') |
  while IFS= read -r f; do
    if [ -e "$tree/$f" ]; then
      cmp -s "$stage/$b/$f" "$tree/$f" || die "$f differs between the binaries' trees"
    else
      mkdir -p "$tree/$(dirname "$f")"
      cp -p "$stage/$b/$f" "$tree/$f"
    fi
  done
  mkdir -p "$tree/bin"
  mv "$stage/$b/lockout-enclave" "$tree/bin/$b"
  cmp -s "$bin_dir/$b" "$tree/bin/$b" || die "$b changed while it was packed"
  rm -rf "${stage:?}/$b"
done
interp=lib64/ld-linux-x86-64.so.2
[ -f "$tree/$interp" ] || die "the binaries' loader is not /$interp (not x86-64 glibc?)"

# 2. Mount points for a chroot (the demo needs /proc, /dev and /tmp).
mkdir -m 0755 "$tree/proc" "$tree/dev"
mkdir -m 1777 "$tree/tmp"

# 3. Wrappers for running on the host, outside a chroot.
lib_roots=lib
[ -d "$tree/usr" ] && lib_roots="lib usr"
library_path=$(cd "$tree" && find $lib_roots -name '*.so*' -type f -printf '%h\n' |
               sort -u | sed 's|^|$root/|' | paste -sd: -)
mkdir -p "$tree/host"
for b in $binaries; do
  cat >"$tree/host/$b" <<EOF
#!/bin/sh
# Runs the bundle's bin/$b on this host through the bundle's own loader and libraries, so
# the host's C library and packages do not matter (docs/DIST.md). Link or copy this file anywhere.
self=\$(readlink -f "\$0" 2>/dev/null || printf '%s' "\$0")
root=\$(cd "\$(dirname "\$self")/.." && pwd -P) || exit 1
# TLS to AWS: the host's /etc/ssl/certs/ca-certificates.crt if it has one, else the bundle's.
if [ -z "\${AWS_CA_BUNDLE:-}" ] && [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
  AWS_CA_BUNDLE=\$root/etc/ssl/certs/ca-certificates.crt
  export AWS_CA_BUNDLE
fi
exec "\$root/$interp" --inhibit-cache --library-path "$library_path" \\
  --argv0 "\$0" "\$root/bin/$b" "\$@"
EOF
done

# 4. Deploy files, docs, README.txt.
mkdir -p "$tree/deploy" "$tree/docs"
cp "$root"/deploy/* "$tree/deploy/"
cp "$root"/docs/*.md "$tree/docs/"
cp "$root/README.md" "$tree/docs/README.md"
libs=$(cd "$tree" && find $lib_roots -name '*.so*' -type f | wc -l)
cat >"$tree/README.txt" <<EOF
$name

lockout $version (commit $commit): lockout, lockout-relay and lockout-enclave with every
shared library they load ($libs libraries and the loader, from the Debian 12 build host), for any
x86-64 Linux. Unpack into a directory of its own (the archive has no top-level directory):

  sudo mkdir /opt/lockout && sudo tar -C /opt/lockout -xzf $name.tar.gz
  cd /opt/lockout && sha256sum -c SHA256SUMS

Run on the host (POSIX sh wrappers, the bundle's own loader and libraries):

  /opt/lockout/host/lockout --help
  /opt/lockout/host/lockout build-eif --enclave-binary /opt/lockout/bin/lockout-enclave ...
  /opt/lockout/host/lockout-relay --help        (deploy/lockout-relay.service: ExecStart)

Run the local demo (root; the bundle is also a root filesystem):

  cd /opt/lockout && sudo mount -t proc proc proc && sudo mount --bind /dev dev
  sudo chroot /opt/lockout /bin/lockout demo
  sudo umount /opt/lockout/proc /opt/lockout/dev

Layout:
  bin/         the build's binaries, unmodified (bin/lockout-enclave is what build-eif measures)
  lib64/, lib/ the loader and the libraries, at the paths the binaries' loader opens them from
  etc/ssl/certs/ca-certificates.crt  CA bundle (used when the host has none at that path)
  host/        wrappers: bin/<name> through lib64/ld-linux-x86-64.so.2 --library-path
  proc/ dev/ tmp/  mount points for the chroot
  deploy/      systemd unit, allocator and enclave config, vsock-proxy config, Dockerfile
  docs/        the documentation; docs/DIST.md describes this bundle
  SHA256SUMS   every other file
EOF

# 5. Fixed modes; SHA256SUMS; the tarball with fixed owner, times and order.
find "$tree" -type d -exec chmod 0755 {} +
chmod 1777 "$tree/tmp"
find "$tree" -type f -exec chmod 0644 {} +
chmod 0755 "$tree"/bin/* "$tree"/host/* "$tree/$interp"
(cd "$tree" && find . -type f | sed 's|^\./||' | sort | xargs -d '\n' sha256sum) \
  >"$stage/SHA256SUMS"
mv "$stage/SHA256SUMS" "$tree/SHA256SUMS"
mkdir -p "$(dirname "$out")"
tmp_out="$out.tmp.$$"
(cd "$tree" && ls -A | sort | tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
   --format=gnu -cf - -T - | gzip -n "-$gzip_level") >"$tmp_out" ||
  { rm -f "$tmp_out"; die "tar failed"; }
mv "$tmp_out" "$out"
echo "$out"
sha256sum "$out" | cut -d' ' -f1
