#!/usr/bin/env bash
# Unpacks Debian's cloud kernel package into DIR (default build/kernel) for `lockout local-blobs`
# (docs/RUN-ENCLAVE.md): the package linux-image-cloud-amd64 currently depends on, fetched with
# `apt-get download` and unpacked with `dpkg -x` -- nothing is installed and /boot is not touched.
# Does nothing if DIR already holds a kernel. Needs Debian's archive (apt) only.
set -euo pipefail
dir=${1:-build/kernel}
if compgen -G "$dir/boot/vmlinuz-*" > /dev/null; then
  exit 0
fi
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
meta=linux-image-cloud-amd64
if ! apt-cache show "$meta" > /dev/null 2>&1; then
  $SUDO apt-get update -qq
fi
pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-/ { print $2; exit }')
if [ -z "$pkg" ]; then
  echo "fetch-kernel: cannot tell which kernel package $meta depends on" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$dir.partial"' EXIT
(cd "$tmp" && apt-get download -q "$pkg")
rm -rf "$dir.partial"
mkdir -p "$dir.partial"
dpkg -x "$tmp"/*.deb "$dir.partial"
mkdir -p "$(dirname "$dir")"
rm -rf "$dir"
mv "$dir.partial" "$dir"
echo "fetch-kernel: $pkg unpacked in $dir"
