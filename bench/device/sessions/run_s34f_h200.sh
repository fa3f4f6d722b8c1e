#!/bin/bash
# run_s34f_h200.sh - the last minutes of the thirty-fourth session's device time (from the repository root): on
# bench/device/s34_bmap_rows.patch's boolean map build, a build of the two GPU tests of the block map only, then
# test_gpu_blockmask and test_gpu_masks (its caller-map pass) until the deadline.
#   DL=120 bash bench/device/run_s34f_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s34f}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-120}
git apply bench/device/s34_bmap_rows.patch && echo "s34_bmap_rows.patch applied" || exit 1
JFA_H200_TARGETS="test_gpu_blockmask test_gpu_masks" jfa_build_step build-s34f "$OUT/build.log" -DJFA_HEAD_DIMS="64;128"
for t in test_gpu_blockmask test_gpu_masks; do
  LIMIT=$(left 2) jfa_run build-s34f/tests/gpu/$t > "$OUT/$t.log" 2>&1
  grep -E "^\[FAIL\]" "$OUT/$t.log" | head -8; tail -2 "$OUT/$t.log"
done
echo "t=$(( $(date +%s) - T0 ))"
