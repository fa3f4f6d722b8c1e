#!/bin/bash
# run_s35d_h200.sh - where a single call's time goes (issue 18's windows through the binding at 78% of plain causal
# against 84-89% at kernel level; from the repository root): a build of libjfa, then bench/trace_call.py (host time,
# the first kernel's start, the kernels, the CUDA API calls inside the call) on the causal window, plain causal and
# D = 256 lanes; bench_lanes' window and causal lanes with 10 calls between a timing's events (--batch 10) and with
# single calls; bench_host.py's host time per call (tiny tensors, causal and a window); the dense lane with and
# without JFA_MASK_MAP_CACHE=1 (jfa only); jfa_bench --dense-full and ncu of the boolean map build kernel.
#   DL=560 bash bench/device/run_s35d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s35d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-560}
B=build-s35b
# OLD=1: on the boolean map build before the thirty-fifth session (bench/device/s35_bmap_rows_old.patch), for A / B
[ "${OLD:-0}" = 1 ] && { git apply bench/device/s35_bmap_rows_old.patch && echo "s35_bmap_rows_old.patch applied" || exit 1; }
JFA_H200_TARGETS="jfa jfa_bench" jfa_build_step $B "$OUT/build.log" -DJFA_BUILD_TESTS=OFF
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
for lane in "--d 128 --window 2048" "--d 128" "--d 64 --window 2048" "--d 256 --n 4096 --causal 0"; do
  timeout $(left 300) python3 bench/trace_call.py $lane --calls 10 > "$OUT/trace.log" 2>&1
  grep -v "^# " "$OUT/trace.log" | head -40
done
echo "t=$(( $(date +%s) - T0 ))"
for b in 1 10; do
  timeout $(left 150) python3 bench/bench_lanes.py --iters 7 --batch $b --lanes \
bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:64:16384:window2048,bfloat16:64:16384:causal \
  > "$OUT/lanes_batch$b.log" 2>&1
  echo "batch $b"; grep -E "^\|" "$OUT/lanes_batch$b.log" | tail -4
done
echo "t=$(( $(date +%s) - T0 ))"
for w in -1 32; do
  timeout $(left 100) python3 bench/bench_host.py --device cuda --dtype bfloat16 --shape 1,1,256,64 --window $w \
    --iters 7 --batch 50 2>&1 | head -9
done
echo "t=$(( $(date +%s) - T0 ))"
for c in 0 1; do
  JFA_MASK_MAP_CACHE=$c timeout $(left 5) python3 bench/bench_lanes.py --iters 7 --lanes bfloat16:128:4096:dense \
    > "$OUT/dense_cache$c.log" 2>&1
  echo "JFA_MASK_MAP_CACHE=$c"; grep -E "^\|" "$OUT/dense_cache$c.log" | tail -1
done
echo "t=$(( $(date +%s) - T0 ))"
# the boolean map's build kernel alone (four rows a warp since the thirty-fifth session; the old kernel took 0.462 ms of
# the ninth session's dense lane on the H200): its ncu duration, and the dense lane's rows at kernel level
JFA_BENCH_TIMEOUT=$(left 60) jfa_bench_rows --dense-full 4 4096 128 --nomask 4096 128
[ "$(left 5)" -gt 40 ] && jfa_ncu bmap bmap_rows_bool --dense-full 4 4096 128
echo "t=$(( $(date +%s) - T0 ))"
