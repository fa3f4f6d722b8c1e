#!/bin/bash
# run_s34b_h200.sh - the thirty-fourth session's suite call (from the repository root): the default build of every
# head dim (-Werror) and the whole GPU suite (`ctest -L gpu -E 64bit`, 8 at once) at HEAD, the first run on a GPU
# of the thirty-third session's review mends (sm90_fwd_band's order, gb_snapshot / gb_same), test_compile's varlen
# test under mode="reduce-overhead" (in test_python_gpu) and test_gpu_varlen_device since them; then, in the
# deadline's reserve, the boolean block map's new build (four rows a warp, four loads in flight) at bench_lanes.py's
# dense lane shape (jfa_bench --dense-full: a (4, 16, 4096, 4096) mask; the old kernel took 0.462 ms of it) with ncu of
# the map kernel, and ncu of the dense-mask forward (run_s34a's first profile: where its time goes).
#   DL=590 bash bench/device/run_s34b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s34b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-s34
# APPLY=1: on bench/device/s34_bmap_rows.patch's boolean map build (reverted until it runs)
[ "${APPLY:-0}" = 1 ] && { git apply bench/device/s34_bmap_rows.patch && echo "s34_bmap_rows.patch applied" || exit 1; }
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/suite.log" 70
grep -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: " "$OUT/suite.log" | sed 's/^ *//' > "$OUT/suite_results.txt"
grep -E "compile|varlen" "$OUT/suite.log" | grep -E "PASS|FAIL|SKIP|passed|failed" | head -8
echo "t=$(( $(date +%s) - T0 ))"
JFA_BENCH_TIMEOUT=$(left 10) jfa_bench_rows --dense-full 4 4096 128 --nomask 4096 128
[ "$(left 10)" -gt 30 ] && jfa_ncu bmap bmap_rows_bool --dense-full 4 4096 128
[ "$(left 10)" -gt 40 ] && jfa_ncu dense_fwd fwd_sm90a --dense 4096 128
echo "t=$(( $(date +%s) - T0 ))"
