#!/bin/bash
# run_s19f_h200.sh - the nineteenth session's sixth call (from the repository root): the forward / JVP's bias pass
# without the visibility pass in blocks inside the intervals. A default build of libjfa and three GPU tests (every head
# dim, -Werror), test_gpu_masks, test_gpu_nan, test_gpu_blockmask, then the bias lanes (jfa and SDPA). DL: the deadline
# (default 190). Logs in $OUT.   DL=190 bash bench/device/run_s19f_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s19f}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-190}
B=build-s19f
JFA_H200_TARGETS="jfa test_gpu_masks test_gpu_nan test_gpu_blockmask" jfa_build_step $B "$OUT/build.log" \
  -DJFA_WARNINGS_AS_ERRORS=ON
# the three at once (their float64 CPU references dominate; 16 cores)
L=$(left 25)
for t in test_gpu_masks test_gpu_nan test_gpu_blockmask; do LIMIT=$L jfa_run $B/tests/gpu/$t > "$OUT/$t.log" & done
wait
for t in test_gpu_masks test_gpu_nan test_gpu_blockmask; do
  echo "$t: $(grep -E 'passed, .* failed' "$OUT/$t.log" | tail -1) $(tail -1 "$OUT/$t.log")"
  grep '^\[FAIL\]' "$OUT/$t.log" | head -5
done
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 2) python3 bench/bench_lanes.py --iters 5 \
  --lanes bfloat16:64:4096:bias,bfloat16:128:4096:bias 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
