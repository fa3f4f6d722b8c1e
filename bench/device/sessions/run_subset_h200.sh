#!/bin/bash
# run_subset_h200.sh - the tenth session's last device call (from the repository root; one H200): a default build
# of head dims 64 and 128 only, then
#   1. the suites whose cases span every head dim (test_gpu_masks, _blockmask, _sm90_bwd, _attention, _modes): the
#      head dims left out must be expected on simt (tests/gpu/gpu_test.c row_built), every check passing;
#   2. ncu of the default sm90 backward at D = 64 and 128 (N = 4096): pipes, issue slots, eligible warps.
# Logs in $OUT.   bash bench/device/run_subset_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_subset}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-subset
JFA_H200_TARGETS="jfa jfa_bench test_gpu_masks test_gpu_blockmask test_gpu_sm90_bwd test_gpu_attention test_gpu_modes" \
  jfa_h200_build $B "$OUT/build.log" -DJFA_HEAD_DIMS="64;128" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 200 ctest -R "^test_gpu_(masks|blockmask|sm90_bwd|attention|modes)$" -j5 --timeout 190 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|\*\*\*|passed, " "$OUT/ctest.log" | head -20; grep "FAIL" "$OUT/ctest.log" | head; echo "t=$(( $(date +%s) - T0 ))"
for D in 64 128; do
  timeout 60 ncu --kernel-name-base demangled -k "regex:bwd_sm90a_kernel<__nv_bfloat16, (\(int\))?$D," \
    --launch-count 1 --metrics gpu__time_duration.sum,smsp__inst_executed.sum,sm__inst_executed_pipe_alu.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_fma.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_lsu.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__pipe_shared_cycles_active.avg.pct_of_peak_sustained_active,sm__issue_active.avg.pct_of_peak_sustained_active,smsp__warps_eligible.avg.per_cycle_active,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum \
    $B/bench/jfa_bench --case 4096 $D 0 2>&1 | grep -E "^ +[a-z]|bwd_sm90a" | sed "s/^/D$D /" | tee -a "$OUT/ncu.log"
done
echo "t=$(( $(date +%s) - T0 ))"
