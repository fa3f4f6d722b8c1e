#!/bin/bash
# run_s41d_h200.sh - the forty-first session's fourth call (from the repository root; .seed carried): sm80's float32
# backward with dQ added straight into dq (sm80/tiles.h kSm80BwdF32DqDirect): its tests, then its A / B against the
# workspace path (JFA_SM80_F32_DQ_DIRECT=0) with the C call alone (probe_host_bwd.py) and through jfa.torch against
# the Triton package (bench_vs_package.py, the float32 N = 256 lanes; bench_lanes.py's D = 128 N = 4096 lane).
#   DL=420 bash bench/device/sessions/run_s41d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s41d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 150) ctest -L gpu -j8 --timeout 300 --output-on-failure \
  -R 'test_gpu_f32|test_gpu_nan$|test_gpu_nan_f32sm80|test_gpu_modes$|test_gpu_modes_sm80|test_ring_gpu|test_python_gpu$') \
  > "$OUT/tests.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/tests.log" | head -30
grep '^\[FAIL\]' "$OUT/tests.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
for r in 1 2; do
  for e in 1 0; do
    for c in "128 1" "128 0" "96 1"; do
      set -- $c
      JFA_SM80_F32_DQ_DIRECT=$e timeout 40 python3 bench/probe_host_bwd.py --d $1 --causal $2 2>&1 | grep backward |
        sed "s/^/direct=$e /"
    done
  done
done
echo "t=$(( $(date +%s) - T0 ))"
for e in 1 0; do
  JFA_SM80_F32_DQ_DIRECT=$e timeout $(left 40) python3 bench/bench_vs_package.py --triton-path .seed --iters 9 \
    --lanes float32:128:256:causal,float32:128:256:none,float32:96:1024:none 2>/dev/null |
    grep -E "^\| float|^# jfa|^#   float" | sed "s/^/direct=$e /"
  echo "t=$(( $(date +%s) - T0 ))"
done
for e in 1 0; do
  JFA_SM80_F32_DQ_DIRECT=$e timeout $(left 5) python3 bench/bench_lanes.py --iters 5 --lanes float32:128:4096:none \
    2>/dev/null | grep -E "^\| float" | sed "s/^/direct=$e /"
done
echo "t=$(( $(date +%s) - T0 ))"
