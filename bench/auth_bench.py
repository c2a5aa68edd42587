#!/usr/bin/env python3
"""The cost of authenticated requests (docs/PERFORMANCE.md, "Authenticated requests"), in one run.

Starts `lockout local-aws` (its NSM seals the signing policy into PCR16, as an enclave with a
policy must before it serves), then for each configuration one `lockout-enclave --ephemeral-key
p256 --threads 1` pinned to CPU 0 and `lockout bench` (one client thread) pinned to CPU 1:

  unauthenticated   no --signing-policy: the requests as before
  authenticated     --signing-policy with one ed25519 client; every request signed by
                    `lockout bench --client-key` (a fresh nonce each), verified by the enclave

Each configuration is measured with the same bench runs (closed loop, 1 and 8 connections x 64
in flight), so the ratios come from one run of this script on one machine state. Also records
the enclave's CPU seconds per run (/proc/PID/stat), hence signatures per enclave CPU-second.

Usage: bench/auth_bench.py [--bin build/bin] [--duration 5] [--warmup 1]
Prints a Markdown table (and the raw JSON lines with --raw).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def wait_for(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                return json.load(f)
        if proc.poll() is not None:
            raise SystemExit(f"process exited ({proc.returncode}) before writing {path}")
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
    ap.add_argument("--duration", default="5")
    ap.add_argument("--warmup", default="1")
    ap.add_argument("--raw", action="store_true")
    args = ap.parse_args()
    lockout = os.path.join(args.bin, "lockout")
    enclave_bin = os.path.join(args.bin, "lockout-enclave")
    work = tempfile.mkdtemp(prefix="lockout-auth-bench-")
    procs = []
    try:
        la_ready = os.path.join(work, "la.json")
        la = subprocess.Popen([lockout, "local-aws", "--state", os.path.join(work, "state"),
                               "--port", "0", "--ready-file", la_ready],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(la)
        nsm = "unix://" + wait_for(la_ready, la)["nsm_socket"]

        key_file = os.path.join(work, "bench.key")
        out = subprocess.run([lockout, "client-key", "create", "--out", key_file, "--name",
                              "bench", "--algorithm", "ed25519", "--json"],
                             check=True, capture_output=True, text=True).stdout
        entry = json.loads(out)
        entry["ops"] = ["public_key", "sign"]  # the bench fetches the public key first
        # A 10 s window: at tens of thousands of requests a second, rate x window nonces must
        # fit max_nonces (docs/PROTOCOL.md, "Replays").
        policy = {"version": 1, "clients": [entry], "replay_window_seconds": 10,
                  "max_nonces": 1 << 22}
        policy_file = os.path.join(work, "policy.json")
        with open(policy_file, "w") as f:
            json.dump(policy, f)

        configs = [("unauthenticated", [], []),
                   ("authenticated", ["--signing-policy", policy_file],
                    ["--client-key", key_file])]
        runs = [("1 connection x 64", ["--connections", "1", "--pipeline", "64"]),
                ("8 connections x 64", ["--connections", "8", "--pipeline", "64"])]
        results = []
        for n, (config, enclave_args, bench_args) in enumerate(configs):
            ready = os.path.join(work, f"enclave-{n}.json")
            enclave = subprocess.Popen(
                ["taskset", "-c", "0", enclave_bin, "--listen", "tcp://127.0.0.1:0",
                 "--ephemeral-key", "p256", "--threads", "1", "--nsm", nsm,
                 "--ready-file", ready, "--log-level", "error", *enclave_args],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(enclave)
            info = wait_for(ready, enclave)
            if info.get("status") != "ok":
                raise SystemExit(f"{config}: enclave not ready: {info}")
            for run, run_args in runs:
                t0 = cpu_seconds(enclave.pid)
                r = subprocess.run(
                    ["taskset", "-c", "1", lockout, "bench", "--connect", info["listen"],
                     "--duration", args.duration, "--warmup", args.warmup, "--json",
                     *run_args, *bench_args], capture_output=True, text=True, timeout=600)
                t1 = cpu_seconds(enclave.pid)
                if r.returncode != 0:
                    raise SystemExit(f"{config} {run}: bench failed: {r.stdout} {r.stderr}")
                report = json.loads(r.stdout)
                report.update(config=config, run=run, enclave_cpu_s=round(t1 - t0, 3))
                results.append(report)
            enclave.terminate()
            enclave.wait(timeout=10)
        if args.raw:
            for r in results:
                print(json.dumps(r))
        print_table(results)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


def print_table(results):
    by = {(r["config"], r["run"]): r for r in results}
    print("| run | unauthenticated signatures/s | authenticated signatures/s | ratio | "
          "p50 ms (unauth → auth) | p99 ms (unauth → auth) | signatures per enclave CPU-s "
          "(unauth → auth) |")
    print("|---|---:|---:|---:|---|---|---|")
    for run in dict.fromkeys(r["run"] for r in results):
        u, a = by[("unauthenticated", run)], by[("authenticated", run)]

        def per_cpu(r):
            return r["signatures_ok"] / r["enclave_cpu_s"] if r["enclave_cpu_s"] else 0

        def ms(r, q):
            return r["latency_ms"][q]

        print(f"| {run} | {u['throughput_per_s']:,.0f} | {a['throughput_per_s']:,.0f} | "
              f"{a['throughput_per_s'] / u['throughput_per_s']:.2f} | "
              f"{ms(u, 'p50'):.2f} → {ms(a, 'p50'):.2f} | {ms(u, 'p99'):.2f} → {ms(a, 'p99'):.2f} | "
              f"{per_cpu(u):,.0f} → {per_cpu(a):,.0f} |")
    for r in results:
        if r.get("error_count"):
            print(f"errors in {r['config']} {r['run']}: {r['errors']}", file=sys.stderr)


if __name__ == "__main__":
    main()
