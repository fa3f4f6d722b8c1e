#!/bin/bash
# run_s40e_h200.sh - the fortieth session's fifth call (from the repository root; .seed carried), in the device time
# left: the padded dense-mask lanes (bf16 D = 32 boolean and additive, fp16 D = 32 boolean) through jfa.torch against
# the Triton package and SDPA in one process (bench_lanes.py), on a build of head dims 32 and 64 (the padded calls'
# D = 64 sm90 kernels; sm80's D = 32 row for the rest).
#   DL=100 bash bench/device/sessions/run_s40e_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s40e}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-100}
B=build-pad
JFA_H200_TARGETS="jfa" jfa_build_step $B "$OUT/build.log" "-DJFA_HEAD_DIMS=32;64" -DJFA_BUILD_TESTS=OFF
PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout $(left 3) python3 bench/bench_lanes.py --iters 5 --triton-path .seed \
  --width 1024 --lanes bfloat16:32:1024:dense,bfloat16:32:1024:bias,float16:32:1024:dense 2>/dev/null | grep -E "^\||^#"
echo "t=$(( $(date +%s) - T0 ))"
