#!/usr/bin/env bash
# Runs libFuzzer targets for SECONDS each (default 60) on their committed corpora, FUZZ_JOBS
# (default 2) at a time, under ASan/UBSan (preset `fuzz`). New inputs go to a scratch corpus
# (build/fuzz/work/TARGET), not the committed one; crash inputs to fuzz/artifacts/. Exits non-zero
# if any target finds a crash; prints each target's exec count.
#   fuzz/run.sh 300                                # every target (every fuzz/*_fuzzer.cc)
#   fuzz/run.sh 600 kms_reply_fuzzer               # just this one
#   FUZZ_JOBS=1 nice -n 10 fuzz/run.sh 600         # one at a time, on a shared machine
set -euo pipefail
seconds=${1:-60}
jobs=${FUZZ_JOBS:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Targets: the arguments after SECONDS, else every fuzz/*_fuzzer.cc.
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/fuzz/*_fuzzer.cc; do targets+=("$(basename "$f" .cc)"); done
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j2 --target "${targets[@]}"
bin="$root/build/fuzz/bin"
work="$root/build/fuzz/work"
mkdir -p "$work" "$root/fuzz/artifacts"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_one() {
  local t=$1
  mkdir -p "$work/$t"
  local log="$work/$t.log"
  if "$bin/$t" -print_final_stats=1 -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$root/fuzz/artifacts/$t-" "$work/$t" "$root/fuzz/corpus/$t" >"$log" 2>&1; then
    local execs
    execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+' || true)
    [ -n "$execs" ] || execs=$(grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#')
    echo "$t: clean, $execs execs in ${seconds}s"
  else
    echo "$t: FAILED (see $log and fuzz/artifacts/)"; tail -30 "$log"; return 1
  fi
}
status=0
pids=()
names=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!); names+=("$t")
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
