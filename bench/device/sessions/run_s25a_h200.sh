#!/bin/bash
# run_s25a_h200.sh - written at the end of the twenty-fourth session for the next one's first call (from the repository
# root): one tuning build of every head dim (-Werror; its default routes are the default build's; ~195 s in the
# twenty-fourth session's call 3, 110 s before variant 34), then
#   0. test_gpu_sm90_variants (never run yet with D = 64's variant 34, the persistent forward with three consumer
#      warpgroups: bitwise row 0 at its grid and at 7 CTAs on every case), and memcheck of it on packed sequences
#      with a window (case 21, JFA_TEST_SM90_ONLY=34);
#   1. the default build's GPU suite entries (the 56 of `ctest -L gpu -E 64bit` in a default configure), here: the
#      twenty-fourth session's call 3 ran 27 of them before its deadline (the rest last passed at 5e4a1a5 and in
#      call 1 / 2's tuning suites at 0f0dbe6 / ff9df83);
#   2. the D = 64 window forward's A / B once more, row 0 / 34 (ncu of 34 on it, its tensor pipe against 29's 38.9%,
#      is for a later call).
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s25a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s25a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s25a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON
(cd $B && timeout $(left 120) ctest -R "^test_gpu_sm90_variants$" --timeout 150 --output-on-failure) > "$OUT/ctest_var.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Passed|Timeout" "$OUT/ctest_var.log" | head -5; grep '^\[FAIL\]' "$OUT/ctest_var.log" | head
JFA_TEST_SM90_ONLY=34 JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 300) test_gpu_sm90_variants 21 2>&1 | tee "$OUT/memcheck.log"
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 45) ctest -R "^(test_gpu_attention|test_gpu_attention_sm80|test_gpu_modes|test_gpu_modes_sm80|test_gpu_tangent|test_gpu_tangent_sm80|test_gpu_masks|test_gpu_masks_sm80|test_gpu_blockmask|test_gpu_blockmask_sm80|test_gpu_nan|test_gpu_nan_sm80|test_gpu_backward_jvp|test_gpu_backward_jvp_sm80|test_gpu_scale|test_gpu_scale_sm80|test_gpu_f32|test_gpu_f32_sm80|test_gpu_masks_nof32dense|test_gpu_masks_nof32bwd_dense|test_gpu_masks_nobiastiles|test_gpu_masks_nosm90bias|test_gpu_sm90_bwd|test_gpu_exp2_poly|test_gpu_attention_nosm90bwd|test_gpu_modes_nosm90bwd|test_gpu_nan_nosm90bwd|test_gpu_jvp_persist|test_gpu_attention_jvppersist|test_gpu_nan_jvppersist|test_gpu_masks_ctas3|test_gpu_nan_ctas3|test_gpu_masks_fwdband|test_gpu_masks_nofwdband|test_gpu_jvp_persist_fwdband|test_gpu_jvp_persist_nofwdband|test_gpu_backward_jvp_sm90|test_gpu_backward_jvp_sm90_nosm90bwd|test_gpu_f32_simt|test_gpu_f32_backward|test_gpu_f32_backward_simt|test_gpu_f32_backward_sm80|test_gpu_f32_backward_nosm90bwd|test_gpu_f32_backward_nof32bwd_dense|test_gpu_nan_f32sm80|test_gpu_f32_backward_nowide|test_gpu_app_fill|test_gpu_attention_mma_alias|test_ring_gpu|test_comm_gpu|test_ring_gpu_np1_generic|test_ring_gpu_np1_accumulate|test_ring_bwd_jvp_gpu|test_python_gpu|test_python_torchrun_nccl_p1|test_python_torchrun_nccl_p2)$" -j8 --timeout 200 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30; grep '^\[FAIL\]' "$OUT/ctest.log" | head -20
echo "t=$(( $(date +%s) - T0 ))"
for v in 0 34 0 34; do
  JFA_TUNE_SM90A=$v timeout $(left 3) $JFA_BENCH --window 16384 64 2048 | grep ^fwd | sed "s/^/v$v /"
done 2>&1 | tee "$OUT/d64.log"
echo "t=$(( $(date +%s) - T0 ))"
