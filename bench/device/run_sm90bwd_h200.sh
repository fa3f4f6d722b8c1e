#!/bin/bash
# run_sm90bwd_h200.sh - the first GPU run of the experimental Hopper backward (src/kernels/sm90/bwd.cuh,
# on only with JFA_SM90_BWD=1) on one H200 (from the repository root): build with the ptxas report,
# one small case under a short timeout first (a pipeline deadlock hangs: every step has a timeout),
# test_gpu_sm90_bwd, compute-sanitizer memcheck / racecheck / synccheck on small cases, the other
# suites once more with JFA_SM90_BWD=1, and jfa_bench's backward rows with and without it.
# Logs in $OUT; the summary is printed last.
#
#   bash bench/device/run_sm90bwd_h200.sh    default: JFA_HEAD_DIMS="64;128" (a short build);
#                                            test_gpu_sm90_bwd, modes, nan with JFA_SM90_BWD=1
#   FULL=1 ...                               every head dim, and every *_sm90bwd suite (attention,
#                                            masks too: their cases need the other head dims)
#   SKIP_SAN=1, SKIP_BENCH=1                 to shorten a run
set -u
OUT=${OUT:-/tmp/jfa_sm90bwd}
mkdir -p "$OUT"
. bench/device/h200_build.sh
START=$(date +%s)
B=build-h200
DIMS=()
[ -z "${FULL:-}" ] && DIMS=(-DJFA_HEAD_DIMS=64\;128)
export JFA_H200_TARGETS="jfa test_gpu_sm90_bwd test_gpu_attention test_gpu_modes test_gpu_nan test_gpu_masks jfa_bench"
jfa_h200_build $B "$OUT/build.log" "${DIMS[@]}" -DCMAKE_CUDA_FLAGS="-Xptxas -v" ||
  { echo "BUILD FAILED"; grep -E "error" "$OUT/build.log" | head -20; tail -40 "$OUT/build.log"; exit 1; }
# registers / spills of the backward kernels (sm90 and, to compare, sm80)
grep -E "Compiling entry|spill|Used" "$OUT/build.log" | grep -A2 -E "bwd_sm90a_kernel|bwd_tc_kernel" |
  grep -E "entry|spill|Used" > "$OUT/ptxas.log" || true

export JFA_SM90_BWD=1
T=$B/tests/gpu
# 1. one small case (N = 7, causal), then one with GQA: a hang here is a pipeline deadlock
{
  for c in 3 9; do
    echo "== test_gpu_sm90_bwd $c"
    timeout 60 $T/test_gpu_sm90_bwd $c | tail -6
    echo "rc=${PIPESTATUS[0]} (124: timeout, a deadlock)"
  done
} > "$OUT/first.log" 2>&1
# 2. every case
timeout 400 $T/test_gpu_sm90_bwd > "$OUT/test_sm90_bwd.log" 2>&1
echo "rc=$?" >> "$OUT/test_sm90_bwd.log"
# 3. compute-sanitizer on small cases: N = 1, 7, 129 x 200 bottom-right, GQA 8:1, positions with
#    fully masked rows (racecheck / synccheck: shared memory hazards and barrier misuse)
if [ -z "${SKIP_SAN:-}" ]; then
  {
    export JFA_SAN_TAIL=4
    for c in 1 3 5 9 18; do jfa_sanitize memcheck 180 test_gpu_sm90_bwd "$c"; done
    for c in 3 9; do jfa_sanitize racecheck 240 test_gpu_sm90_bwd "$c"; done
    for c in 3 9; do jfa_sanitize synccheck 240 test_gpu_sm90_bwd "$c"; done
  } > "$OUT/sanitizer.log" 2>&1
fi
# 4. the other suites with JFA_SM90_BWD=1 (accumulate + deterministic modes, NaN propagation, ...)
R="test_gpu_modes_sm90bwd|test_gpu_nan_sm90bwd"
[ -n "${FULL:-}" ] && R="_sm90bwd"
(cd $B && timeout 500 ctest -R "$R" --output-on-failure --timeout 450) > "$OUT/ctest.log" 2>&1
echo "ctest rc=$?" >> "$OUT/ctest.log"
# 5. the benchmark: the backward rows on sm90 (JFA_SM90_BWD=1) and on sm80
if [ -z "${SKIP_BENCH:-}" ]; then
  {
    for cs in "4096 128 0" "4096 128 1" "4096 64 0" "4096 64 1" "16384 128 0" "16384 64 1"; do
      JFA_SM90_BWD=1 jfa_bench_rows --case $cs | grep -E "^bwd"
      JFA_SM90_BWD=0 jfa_bench_rows --case $cs | grep -E "^bwd"
    done
  } > "$OUT/bench.log" 2>&1
fi

echo "==== summary ($(($(date +%s) - START)) s)"
echo "-- ptxas (bwd kernels)"; head -24 "$OUT/ptxas.log"
echo "-- first cases"; cat "$OUT/first.log"
echo "-- test_gpu_sm90_bwd"; grep -E "FAIL|ran on|rel err|passed|rc=" "$OUT/test_sm90_bwd.log" | grep -v "^  rel err" | tail -30
grep -E "rel err" "$OUT/test_sm90_bwd.log" | head -40
echo "-- sanitizer"; [ -f "$OUT/sanitizer.log" ] && grep -E "^==|rc=|ERROR SUMMARY|errors" "$OUT/sanitizer.log"
echo "-- ctest"; grep -E "tests passed|Failed|\*\*\*|rc=" "$OUT/ctest.log"
echo "-- bench (bwd: sm90 then sm80 per shape)"; [ -f "$OUT/bench.log" ] && cat "$OUT/bench.log"
