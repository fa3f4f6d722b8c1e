#!/bin/bash
# run_s13d_h200.sh - the float32 backward's causal choices (from the repository root; .seed carried): a tuning build
# of head dims 64 / 128 (libjfa, test_gpu_f32_backward), then
#   1. bench_variants.py, float32: the sm90 D = 64 backward under the CTA order (default) against head after head
#      (JFA_TUNE_SM80_F32_BWD_HG=-1), N = 1024 / 4096 causal; sm80's D = 128 causal backward at N = 1024 on variant 1
#      (the new default there) against row 0 (JFA_TUNE_SM80_F32_BWD_CAUSAL=0);
#   2. test_gpu_f32_backward in the default dispatch (its causal D = 128 cases at Nk <= 1024 on variant 1; the cases
#      of head dims outside the build expected on simt);
#   3. bench_lanes.py's float32 causal lanes at N = 1024 against the Triton package.
# Logs in $OUT.
set -u
OUT=${OUT:-/tmp/jfa_s13d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-s13d
JFA_H200_TARGETS="jfa test_gpu_f32_backward" jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON \
  -DJFA_HEAD_DIMS="64;128" || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
H=JFA_TUNE_SM80_F32_BWD_HG; C=JFA_TUNE_SM80_F32_BWD_CAUSAL
timeout 100 python3 bench/bench_variants.py --iters 10 --dtype float32 \
  --rows bwd:1024:64:1:-,$H=-1,-,$H=-1 --rows bwd:4096:64:1:-,$H=-1,-,$H=-1 \
  --rows bwd:1024:128:1:-,$C=0,-,$C=0 2>&1 | tee "$OUT/variants_f32.log"
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 100 tests/gpu/test_gpu_f32_backward > "$OUT/test.log" 2>&1; echo "rc=$?" >> "$OUT/test.log")
tail -2 "$OUT/test.log"; echo "failures other than the left-out head dims on simt:"
grep FAIL "$OUT/test.log" | grep -v "ran on simt" | head
echo "t=$(( $(date +%s) - T0 ))"
timeout 90 python3 bench/bench_lanes.py --iters 8 --f32-precision highest --triton-path .seed \
  --lanes float32:64:1024:causal,float32:128:1024:causal 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
