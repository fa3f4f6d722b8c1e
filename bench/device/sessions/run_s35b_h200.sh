#!/bin/bash
# run_s35b_h200.sh - the thirty-fifth session's tables call (from the repository root; .seed carried: the Triton
# package): run_s34c's lanes (issues 17 / 18 through jfa.torch against the Triton package and SDPA, one process; the
# dense lane again with JFA_MASK_MAP_CACHE=1), then where the windows' binding rate goes: the causal window and
# plain causal lanes (D = 128, N = 16384) with 10 calls between a timing's events (--batch 10: the host's time
# before each launch overlapped by the queue, as in training) beside bench_lanes' single calls, and their GPU
# kernels per call under torch.profiler, and where a single call's time goes before its first kernel (bench/trace_call.py:
# the window, plain causal and D = 256 lanes); then the binding's host time of a causal and a window call on tiny tensors (bench_host.py --window).
#   DL=590 bash bench/device/run_s35b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s35b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-s35b
# OLD=1: on the boolean map build before the thirty-fifth session (bench/device/s35_bmap_rows_old.patch), for A / B
[ "${OLD:-0}" = 1 ] && { git apply bench/device/s35_bmap_rows_old.patch && echo "s35_bmap_rows_old.patch applied" || exit 1; }
JFA_H200_TARGETS="jfa jfa_bench" jfa_build_step $B "$OUT/build.log" -DJFA_BUILD_TESTS=OFF
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 150) python3 bench/bench_lanes.py --iters 7 --triton-path .seed --lanes \
bfloat16:256:4096:none,bfloat16:192:4096:none,bfloat16:128:4096:none,bfloat16:96:4096:none,bfloat16:64:4096:none,\
bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:64:16384:window2048,\
bfloat16:64:16384:causal,float32:64:4096:none,float32:128:4096:none > "$OUT/lanes.log" 2>&1
cat "$OUT/lanes.log"; echo "t=$(( $(date +%s) - T0 ))"
JFA_MASK_MAP_CACHE=1 timeout $(left 120) python3 bench/bench_lanes.py --iters 7 --lanes \
bfloat16:128:4096:dense > "$OUT/lanes_cache.log" 2>&1
grep -E "^\|" "$OUT/lanes_cache.log" | tail -3; echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 60) python3 bench/bench_lanes.py --iters 7 --batch 10 --lanes \
bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:64:16384:window2048,bfloat16:64:16384:causal \
> "$OUT/lanes_batch10.log" 2>&1
grep -E "^\|" "$OUT/lanes_batch10.log" | tail -6; echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 30) python3 bench/bench_lanes.py --iters 3 --profile --lanes bfloat16:128:16384:window2048,\
bfloat16:128:16384:causal > "$OUT/window_prof.log" 2>&1
grep -E "^# profile|^#  " "$OUT/window_prof.log" | head -40; echo "t=$(( $(date +%s) - T0 ))"
for lane in "--d 128 --window 2048" "--d 128" "--d 256 --n 4096 --causal 0"; do
  timeout $(left 20) python3 bench/trace_call.py $lane --calls 10 2>&1 | grep -v "^#" | head -40
done
echo "t=$(( $(date +%s) - T0 ))"
for w in -1 32; do
  timeout $(left 5) python3 bench/bench_host.py --device cuda --dtype bfloat16 --shape 1,1,256,64 --window $w \
    --iters 7 --batch 50 2>&1 | head -9
done
echo "t=$(( $(date +%s) - T0 ))"
