#!/usr/bin/env bash
# Measures, in one run, for one key type:
#   raw  in-process single-thread sign rate (lockout_sign_bench raw, pinned to ENCLAVE_CPU)
#   v2   pipelined signatures/s over loopback, lockout-enclave --threads 1 pinned to ENCLAVE_CPU
#   v1   the seed's protocol (a connection per request) against the same enclave
# and writes the figures, with the machine description, between the sign-bench markers of
# docs/PERFORMANCE.md (use --no-doc to only print them).
#
# Environment: KEY_TYPES (default "p256 secp256k1 ed25519 p521"), SECONDS_PER (5),
# WINDOW (64), V1_CLIENTS (4), ENCLAVE_CPU (0), CLIENT_CPU (1),
# BUILD_DIR (build/sign-bench: a release build of its own).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/sign-bench}"
KEY_TYPES="${KEY_TYPES:-p256 secp256k1 ed25519 p521}"
SECONDS_PER="${SECONDS_PER:-5}"
WINDOW="${WINDOW:-64}"
V1_CLIENTS="${V1_CLIENTS:-4}"
ENCLAVE_CPU="${ENCLAVE_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
WRITE_DOC=1
[[ "${1:-}" == "--no-doc" ]] && WRITE_DOC=0

cd "$ROOT"
cmake --preset release -B "$BUILD_DIR" -DLOCKOUT_BIN_DIR="$BUILD_DIR/bin" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target lockout-enclave lockout_sign_bench >/dev/null
BIN="$BUILD_DIR/bin"

WORK="$(mktemp -d)"
ENCLAVE_PID=""
cleanup() {
  if [[ -n "$ENCLAVE_PID" ]]; then kill "$ENCLAVE_PID" 2>/dev/null || true; wait "$ENCLAVE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
for KT in $KEY_TYPES; do
  rm -f "$WORK/ready.json"
  taskset -c "$ENCLAVE_CPU" "$BIN/lockout-enclave" --ephemeral-key "$KT" --nsm "" \
    --listen tcp://127.0.0.1:0 --threads 1 --ready-file "$WORK/ready.json" --log-level warn \
    2>"$WORK/enclave-$KT.log" &
  ENCLAVE_PID=$!
  for _ in $(seq 1 100); do [[ -s "$WORK/ready.json" ]] && break; sleep 0.1; done
  [[ -s "$WORK/ready.json" ]] || { echo "enclave did not start" >&2; cat "$WORK/enclave-$KT.log" >&2; exit 1; }
  URI="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$WORK/ready.json")"

  # raw runs on the enclave's core while the enclave idles (its loop wakes 4 times a second).
  taskset -c "$ENCLAVE_CPU" "$BIN/lockout_sign_bench" raw --key-type "$KT" --seconds "$SECONDS_PER" >>"$RESULTS"
  # The enclave's own CPU time (utime + stime, in clock ticks) around each network run: on a
  # shared machine, signatures per enclave CPU-second are steadier than per wall-clock second.
  for MODE in v2 v1; do
    T0=$(awk '{print $14 + $15}' "/proc/$ENCLAVE_PID/stat")
    if [[ $MODE == v2 ]]; then
      taskset -c "$CLIENT_CPU" "$BIN/lockout_sign_bench" v2 --connect "$URI" --seconds "$SECONDS_PER" --window "$WINDOW" >>"$RESULTS"
    else
      taskset -c "$CLIENT_CPU" "$BIN/lockout_sign_bench" v1 --connect "$URI" --seconds "$SECONDS_PER" --clients "$V1_CLIENTS" >>"$RESULTS"
    fi
    T1=$(awk '{print $14 + $15}' "/proc/$ENCLAVE_PID/stat")
    echo "{\"mode\": \"$MODE-enclave-cpu\", \"key_type\": \"$KT\", \"cpu_seconds\": $(python3 -c "print(($T1 - $T0) / $(getconf CLK_TCK))")}" >>"$RESULTS"
  done

  kill "$ENCLAVE_PID"; wait "$ENCLAVE_PID" 2>/dev/null || true; ENCLAVE_PID=""
done

python3 - "$RESULTS" "$ROOT/docs/PERFORMANCE.md" "$WRITE_DOC" "$SECONDS_PER" "$WINDOW" "$V1_CLIENTS" <<'PY'
import json, os, platform, re, subprocess, sys, datetime
results_path, doc_path, write_doc, secs, window, clients = sys.argv[1:7]
rows, runs = {}, {}
for line in open(results_path):
    r = json.loads(line)
    runs.setdefault(r["key_type"], {})[r["mode"]] = r
    if "per_second" in r:
        rows.setdefault(r["key_type"], {})[r["mode"]] = r["per_second"]
def per_cpu(kt, mode):
    m = runs.get(kt, {})
    if mode == "raw":
        r = m.get("raw", {})
        return r["signatures"] / r["cpu_seconds"] if r.get("cpu_seconds") else 0
    r, c = m.get(mode, {}), m.get(mode + "-enclave-cpu", {})
    return r["signatures"] / c["cpu_seconds"] if r and c.get("cpu_seconds") else 0
def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
load = open("/proc/loadavg").read().split()[:3]
lines = []
lines.append(f"Measured {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')} by `bench/run_sign_bench.sh` "
             f"({secs} s per figure, v2 window {window}, v1 with {clients} client threads).")
lines.append("")
lines.append(f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, Linux {platform.release()}, {openssl}; "
             f"load average at the end of the run {' '.join(load)}.")
lines.append("")
lines.append("Signatures per wall-clock second:")
lines.append("")
lines.append("| key type | raw in-process, 1 thread | v2 pipelined, enclave on 1 core | v2 / raw | v1, connection per request |")
lines.append("|---|---:|---:|---:|---:|")
for kt, m in rows.items():
    raw, v2, v1 = m.get("raw", 0), m.get("v2", 0), m.get("v1", 0)
    ratio = f"{v2 / raw:.2f}" if raw else "-"
    lines.append(f"| {kt} | {raw:,.0f} | {v2:,.0f} | {ratio} | {v1:,.0f} |")
lines.append("")
lines.append("Signatures per CPU-second of the signing process (raw: the benchmark thread; v2/v1: the "
             "enclave process, from /proc/PID/stat) — what one dedicated core would do:")
lines.append("")
lines.append("| key type | raw | v2 | v2 / raw | v1 | v1 / raw |")
lines.append("|---|---:|---:|---:|---:|---:|")
for kt in rows:
    raw, v2, v1 = per_cpu(kt, "raw"), per_cpu(kt, "v2"), per_cpu(kt, "v1")
    r2 = f"{v2 / raw:.2f}" if raw else "-"
    r1 = f"{v1 / raw:.2f}" if raw else "-"
    lines.append(f"| {kt} | {raw:,.0f} | {v2:,.0f} | {r2} | {v1:,.0f} | {r1} |")
table = "\n".join(lines)
print(table)
if write_doc == "1" and os.path.exists(doc_path):
    text = open(doc_path).read()
    new = re.sub(r"(<!-- sign-bench:begin -->\n).*?(<!-- sign-bench:end -->)",
                 lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
    open(doc_path, "w").write(new)
PY
