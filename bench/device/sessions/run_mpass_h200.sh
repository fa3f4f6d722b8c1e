#!/bin/bash
# run_mpass_h200.sh - MPASS (the softmax's per-element mask as a pass of its own: common/softmax.cuh, tiles.h), left
# compiled-not-run by the ninth session of 2026-12-02 (from the repository root; one H200). A tuning build of every
# head dim, then
#   1. its tests: test_gpu_sm90_variants (forward variants 23, 24 at D = 64, 13 at D = 128: bitwise their bases),
#      test_gpu_sm90_jvp_variants (JVP variant 1 at D = 64 / 128: bitwise variant 0) and test_gpu_sm90_f32_variants
#      (the float32 JVP's variant 3 at D = 64, both precisions: bitwise variant 0);
#   2. timing in one process (bench/bench_variants.py): D = 64 forward 0 / 23 and 22 / 24, D = 128 0 / 13, the JVP
#      0 / 1 at D = 64 / 128, N = 4096 / 16384, causal and not; a causal window (masked calls) 22 / 24 at D = 64,
#      0 / 13 at D = 128; the float32 JVP at D = 64, 0 / 3 (3xTF32); the backward's MP (JFA_TUNE_SM90_BWD_MPASS=1)
#      on a dense mask and a window on the MASKED kernel (D = 128), D = 192, a window at D = 256 (rel: 0 expected);
#   3. ncu's executed instructions of the D = 64 forward, variant 0 against 23 (the prediction: about 5 fewer a
#      score in unmasked blocks).
# Logs in $OUT.   bash bench/device/run_mpass_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_mpass}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-mpass
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_HEAD_DIMS="64;128;192;256" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 240 ctest -R "sm90_variants|sm90_jvp_variants|sm90_f32_variants|_sm90bwd_mpass" -j4 --timeout 230 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|FAIL" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 150 python3 bench/bench_variants.py --iters 15 \
  --rows fwd:4096:64:0:0,23,22,24 --rows fwd:16384:64:0:0,23,22,24 --rows fwd:4096:64:1:0,23,22,24 \
  --rows fwd:16384:64:1:0,23,22,24 --rows fwd:16384:64:w2048:22,24 \
  --rows fwd:4096:128:0:0,13 --rows fwd:16384:128:1:0,13 --rows fwd:16384:128:w2048:0,13 \
  --rows jvp:4096:64:0:0,1 --rows jvp:16384:64:1:0,1 --rows jvp:4096:128:0:0,1 --rows jvp:16384:128:1:0,1 \
  > "$OUT/bench.log" 2>&1
timeout 60 python3 bench/bench_variants.py --iters 10 --dtype float32 --rows jvp:4096:64:0:0,3 --rows jvp:8192:64:1:0,3 \
  >> "$OUT/bench.log" 2>&1
timeout 90 python3 bench/bench_variants.py --iters 10 --rows bwd:4096:128:d:-,JFA_TUNE_SM90_BWD_MPASS=1 \
  --rows bwd:16384:128:w2048:JFA_TUNE_SM90_BWD_NOBAND=1,JFA_TUNE_SM90_BWD_NOBAND=1+JFA_TUNE_SM90_BWD_MPASS=1 \
  --rows bwd:4096:192:0:-,JFA_TUNE_SM90_BWD_MPASS=1 --rows bwd:16384:256:w2048:-,JFA_TUNE_SM90_BWD_MPASS=1 \
  >> "$OUT/bench.log" 2>&1
cat "$OUT/bench.log"; echo "t=$(( $(date +%s) - T0 ))"
for v in 0 23; do
  JFA_TUNE_SM90A=$v timeout 60 ncu --kernel-name-base demangled -k "regex:fwd_sm90a_kernel<__nv_bfloat16, \(int\)64" \
    --launch-count 1 --metrics smsp__inst_executed.sum,gpu__time_duration.sum,sm__inst_executed_pipe_alu.avg.pct_of_peak_sustained_active \
    $B/bench/jfa_bench --case 4096 64 0 2>&1 | grep -E "inst_executed|duration|pipe_alu" | sed "s/^/v$v /"
done
echo "t=$(( $(date +%s) - T0 ))"
