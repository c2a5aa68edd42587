#!/usr/bin/env bash
# Interim demo (until the full lock-out demo lands): verify a real AWS Nitro attestation document
# against the AWS Nitro Enclaves root G1 and pin its PCR0, with the release `lockout` binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vectors="${LOCKOUT_VECTORS_DIR:-$root/../shared/vectors}"
doc="$vectors/attestation/evervault-nondebug-2022-10-13.cbor"
if [ ! -f "$doc" ]; then
  echo "demo: real attestation document not found at $doc (set LOCKOUT_VECTORS_DIR)" >&2
  exit 1
fi
"$root/build/bin/lockout" attest verify "$doc" \
  --root "$vectors/attestation/aws-nitro-enclaves-root-g1.pem" \
  --at 2022-10-13T09:00:00Z
