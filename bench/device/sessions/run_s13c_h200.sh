#!/bin/bash
# run_s13c_h200.sh - sm80's float32 backward under causal masks (from the repository root; .seed carried): a tuning
# build of head dims 32 / 64 / 96 / 128 (libjfa only), then bench_variants.py at D = 128 and 96, N = 1024 / 4096,
# causal and not, over its tile variants (JFA_TUNE_BWD: 1 four-warp tiles of 64 keys, 2 without SPLIT, 3 SPLIT 1),
# bench_lanes.py's float32 causal lanes against the Triton package, and test_gpu_f32_backward on variant 1's tiles
# (JFA_TUNE_BWD=1: every case, the causal ones among them). Logs in $OUT.
set -u
OUT=${OUT:-/tmp/jfa_s13c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-s13c
JFA_H200_TARGETS="jfa test_gpu_f32_backward" jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_HEAD_DIMS="32;64;96;128" ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
V=JFA_TUNE_BWD
timeout 150 python3 bench/bench_variants.py --iters 10 --dtype float32 \
  --rows bwd:1024:128:1:-,$V=1,$V=2,-,$V=1 --rows bwd:4096:128:1:-,$V=1,$V=2,-,$V=1 \
  --rows bwd:1024:128:0:-,$V=1,-,$V=1 --rows bwd:4096:128:0:-,$V=1,-,$V=1 \
  --rows bwd:1024:96:1:-,$V=1,-,$V=1 --rows bwd:4096:96:1:-,$V=1,-,$V=1 \
  --rows bwd:1024:32:1:-,$V=1,-,$V=1 2>&1 | tee "$OUT/variants_f32.log"
echo "t=$(( $(date +%s) - T0 ))"
timeout 150 python3 bench/bench_lanes.py --iters 8 --f32-precision highest --triton-path .seed \
  --lanes float32:128:1024:causal,float32:128:2048:causal,float32:32:1024:causal,float32:32:4096:causal,float32:64:1024:causal \
  2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && JFA_TUNE_BWD=1 timeout 120 tests/gpu/test_gpu_f32_backward > "$OUT/test_v1.log" 2>&1; echo "rc=$?" >> "$OUT/test_v1.log")
tail -3 "$OUT/test_v1.log"; grep -c PASS "$OUT/test_v1.log"; grep FAIL "$OUT/test_v1.log" | head
echo "t=$(( $(date +%s) - T0 ))"
