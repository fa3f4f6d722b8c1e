#!/bin/bash
# run_mpdef_h200.sh - the tenth session's first change, on one H200 (from the repository root): MPASS on every 16-bit
# forward / JVP row 0 and the float32 JVP at D = 64, MP on the sm90 backward's softmax_ds routes (tiles.h). A tuning
# build of every head dim, then
#   1. the default GPU suite on its default dispatch (ctest -L gpu without the tuning entries) and the tuning entries
#      of this change: test_gpu_sm90_variants (25 at D = 96 / 192 / 256 bitwise row 0; EXPF 26 / 27 at D = 64, 14 /
#      15 at 128), test_gpu_sm90_jvp_variants (6 at D = 96 / 192 / 256, 1 at 64 / 128: bitwise row 0),
#      test_gpu_sm90_f32_variants, test_gpu_*_sm90bwd_nompass (the backward without MP);
#   2. timing in one process (bench/bench_variants.py): D = 96 / 192 / 256 forward and JVP with / without MPASS (0 /
#      25, 0 / 6), EXPF over MPASS (D = 64: 0 / 26 / 27, D = 128: 0 / 14 / 15); the backward with / without MP, the
#      default twice (its dQ reduce-adds' order: the run-to-run difference);
#   3. ncu of the D = 64 forward's row 0 (pipes: tensor, MUFU (XU), ALU, FMA; issue slots).
# Logs in $OUT.   bash bench/device/run_mpdef_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_mpdef}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-mpdef
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 280 ctest -L gpu -E "64bit|_tune|_noband|_bandall|_sm90bwd_|variants" -j8 --timeout 250 \
  --output-on-failure) > "$OUT/ctest_default.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run" "$OUT/ctest_default.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 200 ctest -R "sm90_variants|sm90_jvp_variants|sm90_f32_variants|_sm90bwd_nompass" -j6 --timeout 190 \
  --output-on-failure) > "$OUT/ctest_variants.log" 2>&1
grep -E "tests passed|\*\*\*" "$OUT/ctest_variants.log" | head -20
grep "FAIL" "$OUT/ctest_variants.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 120 python3 bench/bench_variants.py --iters 15 \
  --rows fwd:4096:96:0:0,25 --rows fwd:4096:192:0:0,25 --rows fwd:4096:256:0:0,25 --rows fwd:16384:256:1:0,25 \
  --rows jvp:4096:96:0:0,6 --rows jvp:4096:192:0:0,6 --rows jvp:4096:256:0:0,6 \
  --rows fwd:4096:64:0:0,26,27 --rows fwd:16384:64:1:0,26,27 --rows fwd:4096:128:0:0,14,15 \
  --rows fwd:16384:128:1:0,14,15 > "$OUT/bench.log" 2>&1
timeout 60 python3 bench/bench_variants.py --iters 10 --rows bwd:4096:192:0:-,-,JFA_TUNE_SM90_BWD_MPASS=0 \
  --rows bwd:4096:128:w1024:JFA_TUNE_SM90_BWD_NOBAND=1,JFA_TUNE_SM90_BWD_NOBAND=1,JFA_TUNE_SM90_BWD_NOBAND=1+JFA_TUNE_SM90_BWD_MPASS=0 \
  >> "$OUT/bench.log" 2>&1
cat "$OUT/bench.log"; echo "t=$(( $(date +%s) - T0 ))"
timeout 60 ncu --kernel-name-base demangled -k "regex:fwd_sm90a_kernel<__nv_bfloat16, \(int\)64" --launch-count 1 \
  --metrics gpu__time_duration.sum,smsp__inst_executed.sum,sm__inst_executed_pipe_alu.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_fma.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__issue_active.avg.pct_of_peak_sustained_active,smsp__warps_eligible.avg.per_cycle_active \
  $B/bench/jfa_bench --case 4096 64 0 2>&1 | grep -E "^ +[a-z]" | tee "$OUT/ncu.log"
echo "t=$(( $(date +%s) - T0 ))"
