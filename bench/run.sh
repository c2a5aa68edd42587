#!/usr/bin/env bash
# The performance figures of docs/PERFORMANCE.md ("Figures from one run"), measured in one run:
#   raw       in-process single-thread sign rate (lockout_sign_bench raw; again with the
#             enclave's OpenSSL secure heap)
#   v2        `lockout bench`, one pipelined connection and many, against lockout-enclave with
#             --threads 1 and --threads 2
#   v1        the seed's protocol (a connection per request)
#   open      v2 latency at a fixed arrival rate of half the measured peak (open loop)
#   cold      process start to first signature against local-aws, median of COLD_RUNS
#             (bench/cold_start.py: relay, RSA key pair, attestation, attested KMS Decrypt)
#   rss       the enclave's peak resident memory (VmHWM) after all of the above
#   eif       the enclave image `lockout build-eif` writes (AWS blobs if installed, else the
#             machine's /boot kernel, else a synthetic one; synthetic init and nsm.ko)
# Each load run also records the enclave's CPU time (/proc/PID/stat), so "per worker" figures are
# signatures per enclave CPU-second: on a machine shared with the load generator (or neighbours)
# that is what one dedicated core would do.
#
# Where the machine has more CPUs than the enclave has workers, the enclave is pinned to the first
# THREADS CPUs and the load generator to the others (taskset), as the issue's many-core figures
# were measured; otherwise neither is pinned and they share the CPUs.
#
# Environment: KEY_TYPE (p256), DURATION (5 s per run), WARMUP (1), CONNECTIONS (8),
# PIPELINE (64), V1_CONNECTIONS (4), COLD_RUNS (20), BUILD_DIR (build/bench: a release build of
# its own). `--no-doc` prints the figures without writing docs/PERFORMANCE.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/bench}"
KEY_TYPE="${KEY_TYPE:-p256}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
CONNECTIONS="${CONNECTIONS:-8}"
PIPELINE="${PIPELINE:-64}"
V1_CONNECTIONS="${V1_CONNECTIONS:-4}"
COLD_RUNS="${COLD_RUNS:-20}"
PINNING="unpinned"
[[ $(nproc) -gt 1 ]] && PINNING="1 worker pinned to CPU 0 and the load generator to the others; 2 workers $([[ $(nproc) -gt 2 ]] && echo "pinned to CPUs 0-1" || echo "unpinned, sharing the CPUs with the load generator")"
WRITE_DOC=1
[[ "${1:-}" == "--no-doc" ]] && WRITE_DOC=0
NCPU="$(nproc)"

cd "$ROOT"
cmake --preset release -B "$BUILD_DIR" -DLOCKOUT_BIN_DIR="$BUILD_DIR/bin" >/dev/null
cmake --build "$BUILD_DIR" -j"$NCPU" --target lockout lockout-enclave lockout-relay lockout_sign_bench >/dev/null
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

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# record NAME JSON: one line of results, tagged.
record() { python3 -c 'import json,sys; r=json.loads(sys.argv[2]); r["run"]=sys.argv[1]; print(json.dumps(r))' "$1" "$2" >>"$RESULTS"; }

# bench_run NAME ARGS...: one `lockout bench --json` run against the current enclave, with the
# enclave's CPU seconds for it.
bench_run() {
  local name="$1"; shift
  local t0 t1 out
  t0=$(cpu_ticks "$ENCLAVE_PID")
  out=$($CLIENT_PIN "$BIN/lockout" bench --connect "$URI" --duration "$DURATION" --warmup "$WARMUP" --json "$@")
  t1=$(cpu_ticks "$ENCLAVE_PID")
  record "$name" "$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["enclave_cpu_s"]=(int(sys.argv[3])-int(sys.argv[2]))/int(sys.argv[4]); print(json.dumps(r))' "$out" "$t0" "$t1" "$(getconf CLK_TCK)")"
}

start_enclave() {
  local threads="$1"
  rm -f "$WORK/ready.json"
  ENCLAVE_PIN=() CLIENT_PIN=""
  if [[ $threads -lt $NCPU ]]; then
    ENCLAVE_PIN=(taskset -c "0-$((threads - 1))")
    CLIENT_PIN="taskset -c $threads-$((NCPU - 1))"
  fi
  "${ENCLAVE_PIN[@]}" "$BIN/lockout-enclave" --ephemeral-key "$KEY_TYPE" --nsm "" --listen tcp://127.0.0.1:0 \
    --threads "$threads" --ready-file "$WORK/ready.json" --log-level warn 2>"$WORK/enclave-$threads.log" &
  ENCLAVE_PID=$!
  for _ in $(seq 1 100); do [[ -s "$WORK/ready.json" ]] && break; sleep 0.1; done
  [[ -s "$WORK/ready.json" ]] || { echo "enclave did not start" >&2; cat "$WORK/enclave-$threads.log" >&2; exit 1; }
  URI="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$WORK/ready.json")"
}

stop_enclave() {
  record "rss-$1" "{\"vmhwm_kib\": $(awk '/^VmHWM/ {print $2}' "/proc/$ENCLAVE_PID/status")}"
  kill "$ENCLAVE_PID"; wait "$ENCLAVE_PID" 2>/dev/null || true; ENCLAVE_PID=""
}

echo "raw single-thread sign rate..." >&2
record raw "$("$BIN/lockout_sign_bench" raw --key-type "$KEY_TYPE" --seconds "$DURATION")"
record raw-secure-heap "$("$BIN/lockout_sign_bench" raw --key-type "$KEY_TYPE" --seconds "$DURATION" --secure-heap)"

for THREADS in 1 2; do
  [[ $THREADS -le $NCPU ]] || continue
  echo "enclave --threads $THREADS..." >&2
  start_enclave "$THREADS"
  bench_run "v2-1conn-t$THREADS" --connections 1 --pipeline "$PIPELINE"
  bench_run "v2-many-t$THREADS" --connections "$CONNECTIONS" --pipeline "$PIPELINE" --threads "$THREADS"
  bench_run "v1-t$THREADS" --protocol v1 --connections "$V1_CONNECTIONS"
  # Half of the best closed-loop rate of this enclave, open loop.
  PEAK=$(python3 -c '
import json, sys
rates = [json.loads(l)["throughput_per_s"] for l in open(sys.argv[1])
         if json.loads(l)["run"] in ("v2-1conn-t" + sys.argv[2], "v2-many-t" + sys.argv[2])]
print(int(max(rates)))' "$RESULTS" "$THREADS")
  bench_run "open-t$THREADS" --connections "$CONNECTIONS" --pipeline "$PIPELINE" --rate $((PEAK / 2))
  stop_enclave "t$THREADS"
done

echo "cold start ($COLD_RUNS runs)..." >&2
record cold "$(python3 "$ROOT/bench/cold_start.py" --bin-dir "$BIN" --runs "$COLD_RUNS")"

# The enclave image, built as the tutorial builds it (docs/ENCLAVE-IMAGE.md).
echo "enclave image..." >&2
record eif "$(python3 - "$BIN" "$WORK/eif" <<'PY'
import glob, json, os, struct, subprocess, sys
bin_dir, work = sys.argv[1], sys.argv[2]
blobs = os.path.join(work, "blobs")
os.makedirs(blobs)
aws = "/usr/share/nitro_enclaves/blobs"
kernels = sorted(glob.glob("/boot/vmlinuz-*"))
if os.path.exists(os.path.join(aws, "bzImage")):
    kind, blobs = "aws", aws
else:
    if kernels:
        kind, kernel = "boot", open(kernels[-1], "rb").read()
    else:  # a setup header only: enough to measure, not to boot
        kind, kernel = "synthetic", bytearray(4096)
        kernel[0x1FE:0x200], kernel[0x202:0x206] = b"\x55\xaa", b"HdrS"
        kernel[0x206:0x208] = struct.pack("<H", 0x20F)
    for name, data in (("bzImage", bytes(kernel)), ("init", b"#!init\n"), ("nsm.ko", b"nsm\n"),
                       ("cmdline", b"reboot=k panic=30 pci=off nomodules console=ttyS0\n")):
        open(os.path.join(blobs, name), "wb").write(data)
eif = os.path.join(work, "lockout.eif")
out = subprocess.run([os.path.join(bin_dir, "lockout"), "build-eif", "--blobs", blobs,
                      "--output", eif, "--json", "--", "/lockout-enclave"],
                     capture_output=True, text=True, check=True).stdout
meta = json.loads(out)["Metadata"]["LockoutInputs"]
size = os.path.getsize(eif)
print(json.dumps({"built": True, "eif_bytes": size, "blobs": kind,
                  "kernel_bytes": next(f["Size"] for f in meta if f["Role"] == "kernel"),
                  "image_files": sum(1 for f in meta if f["Name"].startswith("/")),
                  "min_memory_mib": -(-4 * size // 2**20)}))
PY
)"

python3 "$ROOT/bench/report.py" "$RESULTS" "$ROOT/docs/PERFORMANCE.md" "$WRITE_DOC" \
  "duration=$DURATION warmup=$WARMUP connections=$CONNECTIONS pipeline=$PIPELINE v1_connections=$V1_CONNECTIONS cold_runs=$COLD_RUNS key_type=$KEY_TYPE; $PINNING"
