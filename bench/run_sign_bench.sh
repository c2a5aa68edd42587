#!/usr/bin/env bash
# Measures, in one run, for one key type:
#   raw  in-process single-thread sign rate (lockout_sign_bench raw, pinned to ENCLAVE_CPU)
#   v2   pipelined signatures/s over loopback, lockout-enclave --threads 1 pinned to ENCLAVE_CPU
#   v1   the seed's protocol (a connection per request) against the same enclave
# and writes the figures, with the machine description, between the sign-bench markers of
# docs/PERFORMANCE.md (use --no-doc to only print them).
#
# Environment: KEY_TYPES (default "p256 secp256k1 ed25519 p521"), SECONDS_PER (1), ROUNDS (7),
# WINDOW (64), V1_CLIENTS (4), ENCLAVE_CPU (0), CLIENT_CPU (1),
# BUILD_DIR (build/sign-bench: a release build of its own).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/sign-bench}"
KEY_TYPES="${KEY_TYPES:-p256 secp256k1 ed25519 p521}"
SECONDS_PER="${SECONDS_PER:-1}"
ROUNDS="${ROUNDS:-7}"
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

  # Rounds alternate raw, v2 and v1 so that a slow spell of the (shared) machine hits all three;
  # the tables report the median of the rounds.
  for ROUND in $(seq 1 "$ROUNDS"); do
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
  done

  kill "$ENCLAVE_PID"; wait "$ENCLAVE_PID" 2>/dev/null || true; ENCLAVE_PID=""
done

python3 - "$RESULTS" "$ROOT/docs/PERFORMANCE.md" "$WRITE_DOC" "$SECONDS_PER" "$WINDOW" "$V1_CLIENTS" "$ROUNDS" <<'PY'
import json, os, platform, re, statistics, subprocess, sys, datetime
results_path, doc_path, write_doc, secs, window, clients, rounds = sys.argv[1:8]
# wall[kt][mode] and cpu[kt][mode]: one figure per round. A v2/v1 line is followed by the
# enclave's CPU time for that run.
wall, cpu, last = {}, {}, {}
for line in open(results_path):
    r = json.loads(line)
    kt, mode = r["key_type"], r["mode"]
    if mode.endswith("-enclave-cpu"):
        base = mode[:-len("-enclave-cpu")]
        if r["cpu_seconds"]:
            cpu.setdefault(kt, {}).setdefault(base, []).append(last[(kt, base)] / r["cpu_seconds"])
        continue
    wall.setdefault(kt, {}).setdefault(mode, []).append(r["per_second"])
    last[(kt, mode)] = r["signatures"]
    if mode == "raw" and r.get("cpu_seconds"):
        cpu.setdefault(kt, {}).setdefault("raw", []).append(r["signatures"] / r["cpu_seconds"])
def median(table, kt, mode):
    values = table.get(kt, {}).get(mode, [])
    return statistics.median(values) if values else 0
def ratios(table, kt, mode):
    """mode/raw in each round: raw and mode ran back to back, so a slow spell hits both."""
    raws, others = table.get(kt, {}).get("raw", []), table.get(kt, {}).get(mode, [])
    return [o / r for r, o in zip(raws, others) if r]
def ratio(table, kt, mode):
    values = ratios(table, kt, mode)
    return f"{statistics.median(values):.2f}" if values else "-"
def spread(kt):
    values = ratios(cpu, kt, "v2")
    return f"{min(values):.2f}–{max(values):.2f}" if values else "-"
def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
load = open("/proc/loadavg").read().split()[:3]
lines = []
lines.append(f"Measured {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')} by `bench/run_sign_bench.sh` "
             f"({rounds} rounds alternating raw, v2 and v1, {secs} s each; rates are medians, ratios the "
             f"median of the per-round ratios; v2 window {window}, "
             f"v1 with {clients} client threads).")
lines.append("")
lines.append(f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, Linux {platform.release()}, {openssl}; "
             f"load average at the end of the run {' '.join(load)}.")
lines.append("")
lines.append("Signatures per wall-clock second:")
lines.append("")
lines.append("| key type | raw in-process, 1 thread | v2 pipelined, enclave on 1 core | v2 / raw | v1, connection per request |")
lines.append("|---|---:|---:|---:|---:|")
for kt in wall:
    raw, v2, v1 = (median(wall, kt, m) for m in ("raw", "v2", "v1"))
    lines.append(f"| {kt} | {raw:,.0f} | {v2:,.0f} | {ratio(wall, kt, 'v2')} | {v1:,.0f} |")
lines.append("")
lines.append("Signatures per CPU-second of the signing process (raw: the benchmark thread; v2/v1: the "
             "enclave process, from /proc/PID/stat) — what one dedicated core would do:")
lines.append("")
lines.append("| key type | raw | v2 | v2 / raw | v2 / raw, per round | v1 | v1 / raw |")
lines.append("|---|---:|---:|---:|---:|---:|---:|")
for kt in wall:
    raw, v2, v1 = (median(cpu, kt, m) for m in ("raw", "v2", "v1"))
    lines.append(f"| {kt} | {raw:,.0f} | {v2:,.0f} | {ratio(cpu, kt, 'v2')} | {spread(kt)} "
                 f"| {v1:,.0f} | {ratio(cpu, kt, 'v1')} |")
table = "\n".join(lines)
print(table)
if write_doc == "1" and os.path.exists(doc_path):
    text = open(doc_path).read()
    new = re.sub(r"(<!-- sign-bench:begin -->\n).*?(<!-- sign-bench:end -->)",
                 lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
    open(doc_path, "w").write(new)
PY
