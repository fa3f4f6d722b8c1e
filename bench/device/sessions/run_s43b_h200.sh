#!/bin/bash
# run_s43b_h200.sh - the forty-third session's second call (from the repository root; .seed carried; on the warm
# machine of run_s42a_h200.sh, whose build-suite it reuses): issues 17 / 18's tables from one process
# (run_s41a_h200.sh's bench_lanes step: jfa against the Triton package and SDPA), then the finfo.min rows through
# jfa.torch.attention against SDPA in float64 (check_s43_finfo.py).
#   DL=590 bash bench/device/sessions/run_s43b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s43b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv,noheader
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 90 python3 bench/device/sessions/check_s43_finfo.py > "$OUT/finfo.log" 2>&1
echo "finfo rc=$?"; cat "$OUT/finfo.log"; echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 5) python3 bench/bench_lanes.py --iters 7 --triton-path .seed --lanes \
bfloat16:256:4096:none,bfloat16:192:4096:none,bfloat16:128:4096:none,bfloat16:96:4096:none,bfloat16:64:4096:none,\
bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:64:16384:window2048,\
bfloat16:64:16384:causal,float32:64:2048:none,float32:128:2048:none,float32:64:4096:none,float32:128:4096:none,\
float32:64:8192:none,float32:128:8192:none > "$OUT/lanes.log" 2>&1
echo "lanes rc=$?"
grep -E "^\||^#" "$OUT/lanes.log"; echo "t=$(( $(date +%s) - T0 ))"
