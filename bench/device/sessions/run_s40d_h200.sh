#!/bin/bash
# run_s40d_h200.sh - the fortieth session's fourth call (from the repository root; .seed carried), in the device time
# left: the float32 N = 256 backward against the Triton package each call alone and with 10 calls a timing
# (bench_vs_package.py --batch), on a build of head dims 64 and 128 (the lanes' kernels are the default build's).
#   DL=170 bash bench/device/sessions/run_s40d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s40d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-170}
B=build-f32
JFA_H200_TARGETS="jfa" jfa_build_step $B "$OUT/build.log" "-DJFA_HEAD_DIMS=64;128" -DJFA_BUILD_TESTS=OFF
for bt in 10 1; do
  PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout $(left 5) python3 bench/bench_vs_package.py --triton-path .seed \
    --batch $bt --iters 7 --lanes float32:128:256:causal,float32:64:256:none 2>/dev/null | grep -E "^\| float|^# jfa|^#   float"
  echo "t=$(( $(date +%s) - T0 ))"
done
