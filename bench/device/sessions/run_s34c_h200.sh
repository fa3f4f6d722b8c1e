#!/bin/bash
# run_s34c_h200.sh - the thirty-fourth session's tables call (from the repository root; .seed carried: the Triton
# package): a build of libjfa (every head dim), then issues 17 / 18's lanes through jfa.torch against the Triton
# package and SDPA in one process (bench/bench_lanes.py): bf16 D = 64 / 96 / 128 / 192 / 256 at N = 4096, the
# random half boolean mask, causal windows of 2048 and plain causal at N = 16384 (D = 64, 128),
# and float32 D = 64 / 128 at N = 4096 in both precisions; the dense lane again with JFA_MASK_MAP_CACHE=1 (the
# block map kept on the mask tensor; by default each call builds its own); then the dense
# lane under torch.profiler (the map's kernel time inside the lane).
#   DL=590 bash bench/device/run_s34c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s34c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-s34c
# APPLY=1: on bench/device/s34_bmap_rows.patch's boolean map build (reverted until it runs)
[ "${APPLY:-0}" = 1 ] && { git apply bench/device/s34_bmap_rows.patch && echo "s34_bmap_rows.patch applied" || exit 1; }
JFA_H200_TARGETS="jfa jfa_bench" jfa_build_step $B "$OUT/build.log" -DJFA_BUILD_TESTS=OFF
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 60) python3 bench/bench_lanes.py --iters 7 --triton-path .seed --lanes \
bfloat16:256:4096:none,bfloat16:192:4096:none,bfloat16:128:4096:none,bfloat16:96:4096:none,bfloat16:64:4096:none,\
bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:64:16384:window2048,\
bfloat16:64:16384:causal,float32:64:4096:none,float32:128:4096:none > "$OUT/lanes.log" 2>&1
cat "$OUT/lanes.log"; echo "t=$(( $(date +%s) - T0 ))"
JFA_MASK_MAP_CACHE=1 timeout $(left 40) python3 bench/bench_lanes.py --iters 7 --triton-path .seed --lanes \
bfloat16:128:4096:dense > "$OUT/lanes_nocache.log" 2>&1
grep -E "jfa|dense" "$OUT/lanes_nocache.log" | tail -4; echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 5) python3 bench/bench_lanes.py --iters 3 --profile --lanes bfloat16:128:4096:dense > "$OUT/dense_prof.log" 2>&1
grep -iE "bmap|fwd|bwd|jvp" "$OUT/dense_prof.log" | head -30; echo "t=$(( $(date +%s) - T0 ))"
