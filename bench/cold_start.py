#!/usr/bin/env python3
"""Cold start: lockout-enclave's process start to its first signature, against local-aws.

Sets up the stack as `lockout demo` wires it (local-aws, a KMS key locked by `lockout policy
--apply` to the PCR0 of this lockout-enclave, a p256 signing key stored as a SecretBinary,
lockout-relay on loopback TCP), then starts lockout-enclave RUNS times. Each time the clock runs
from just before the process is spawned until a v2 `sign` request is answered with a signature:
process start, relay round trip for credentials and the encrypted key, the RSA-2048 key pair for
the KMS recipient, the attestation document, the attested KMS Decrypt and the first signature.

Prints one JSON line: {"runs", "median_ms", "min_ms", "max_ms", "samples_ms"}.

  bench/cold_start.py --bin-dir build/release/bin --runs 20
"""

import argparse
import base64
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402  (the integration tests' process helpers)

SECRET = "lockout/cold-start-key"
POLL_S = 0.0005  # between attempts while the enclave is not yet listening or not yet loaded


def read_exactly(sock, n):
    """n bytes, or None if the peer closed first."""
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def v2_sign_once(port, message=b"cold start"):
    """One v2 sign request; the reply object, or None if nobody is listening yet."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return None
    with s:
        payload = json.dumps({"id": 1, "op": "sign",
                              "message": base64.b64encode(message).decode()}).encode()
        s.sendall(struct.pack(">I", len(payload)) + payload)
        head = read_exactly(s, 4)
        if head is None:
            return None
        body = read_exactly(s, struct.unpack(">I", head)[0])
        return json.loads(body) if body is not None else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True, help="directory with lockout, lockout-enclave, lockout-relay")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--cpus", default="", help="taskset CPU list for the enclave (default: any)")
    args = ap.parse_args()
    harness.BIN_DIR = os.path.abspath(args.bin_dir)
    lockout = harness.binary("lockout")
    enclave_bin = harness.binary("lockout-enclave")
    relay_bin = harness.binary("lockout-relay")

    tmp = tempfile.mkdtemp(prefix="lockout-cold-")
    stops = []
    try:
        la = harness.LocalAws(tmp)
        stops.append(la.stop)
        kms = la.boto3_client("kms", "admin")
        key_arn = kms.create_key(Description="cold start bench")["KeyMetadata"]["Arn"]

        def cli(principal, *a):
            r = subprocess.run([lockout, *a], env=la.env(principal), capture_output=True,
                               text=True, timeout=120)
            if r.returncode != 0:
                sys.exit(f"cold_start: lockout {a[0]} failed: {r.stderr.strip()}")
            return r.stdout

        cli("instance", "create-key", "--kms-key", key_arn, "--secret", SECRET, "--type", "p256")
        cli("admin", "policy", "--enclave-role", la.ready["instance_role_arn"], "--admin-role",
            "arn:aws:iam::111122223333:role/key-admin", "--enclave-binary", enclave_bin,
            "--apply", "--kms-key", key_arn)
        relay_ready = os.path.join(tmp, "relay.json")
        relay = harness.Process([relay_bin, "--listen", "tcp://127.0.0.1:0", "--allow-secret",
                                 SECRET, "--ready-file", relay_ready], tmp, "relay",
                                env=la.process_env(relay=True))
        stops.append(relay.stop)
        harness.wait_for_file(relay_ready, relay.proc, what="relay ready file")
        with open(relay_ready) as f:
            relay_uri = json.load(f)["listen"]

        samples = []
        for i in range(args.runs):
            port = harness.free_port()
            cmd = [enclave_bin, "--listen", f"tcp://127.0.0.1:{port}", "--relay", relay_uri,
                   "--nsm", "unix://" + la.ready["nsm_socket"], "--kms-endpoint",
                   la.ready["kms_endpoint"], "--region", la.ready["region"], "--secret", SECRET,
                   "--log-level", "warn"]
            if args.cpus:
                cmd = ["taskset", "-c", args.cpus] + cmd
            t0 = time.perf_counter()
            enclave = harness.Process(cmd, tmp, f"enclave-{i}", env=la.process_env())
            try:
                deadline = t0 + 30
                while True:
                    reply = v2_sign_once(port)
                    if reply is not None and reply.get("ok"):
                        samples.append((time.perf_counter() - t0) * 1000)
                        break
                    if enclave.proc.poll() is not None or time.perf_counter() > deadline:
                        sys.exit(f"cold_start: run {i}: no signature (last reply {reply}):\n"
                                 + enclave.log()[-2000:])
                    time.sleep(POLL_S)
            finally:
                enclave.stop()
        print(json.dumps({"runs": len(samples), "median_ms": round(statistics.median(samples), 1),
                          "min_ms": round(min(samples), 1), "max_ms": round(max(samples), 1),
                          "samples_ms": [round(s, 1) for s in samples]}))
    finally:
        for stop in reversed(stops):
            stop()


if __name__ == "__main__":
    main()
