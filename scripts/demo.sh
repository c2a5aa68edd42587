#!/usr/bin/env bash
# `make demo` (after `make build`): the complete local lock-out story with the release binaries.
# Starts local-aws in a temporary directory, creates the KMS key and the signing key, measures
# lockout-enclave, makes a client key and a signing policy (authenticated requests, the default),
# applies the seed tutorial's policy, starts lockout-relay and lockout-enclave, shows the seed's
# unauthenticated request refused, an authorized client's signature verified and its replay
# refused, shows the seed policy leaking the key through ReEncrypt, then applies the recommended
# policy (pinning PCR0 and the signing policy's PCR16), shows every leak path closed for root, the
# admin and the instance role, and root adding a client of its own refused the key by KMS.
# --seed-compatible runs the seed's unauthenticated protocol instead.
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
