#!/usr/bin/env bash
# `make demo` (after `make build`): the complete local lock-out story with the release binaries.
# Starts local-aws in a temporary directory, creates the KMS key and the signing key, measures
# lockout-enclave, applies the seed tutorial's policy, starts lockout-relay and lockout-enclave,
# signs and verifies, shows the seed policy leaking the key through ReEncrypt, then applies the
# recommended policy and shows every leak path closed for root, the admin and the instance role.
# One line per step; non-zero exit if any failed. Extra arguments go to `lockout demo` (e.g.
# scripts/demo.sh --key-type ed25519 --policy-mode seed, or --serve --ready-file FILE). Ctrl-C
# stops everything it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="${LOCKOUT_BIN_DIR:-$root/build/bin}"
for b in lockout lockout-enclave lockout-relay; do
  if [ ! -x "$bin/$b" ]; then
    echo "demo: $bin/$b not found; run \`make build\` first (or set LOCKOUT_BIN_DIR)" >&2
    exit 1
  fi
done
exec "$bin/lockout" demo "$@"
