#!/bin/bash
# run_s24c_h200.sh - the twenty-fourth session's last call (from the repository root): one tuning build of every head
# dim (-Werror; its default routes are the default build's), then
#   0. test_gpu_sm90_variants (new: D = 64's variant 34, the persistent forward with three consumer warpgroups,
#      bitwise row 0, at its grid and at 7 CTAs; row 0's masked calls run it now (MASKP); D = 256's row 0 at 80 keys
#      a block); should it fail, the rest runs with JFA_SM90_FWD_NC3=0 (the masked route before);
#   1. A / B of the D = 64 forward's masked calls, JFA_SM90_FWD_NC3 unset (three consumers) / 0 (two, the route
#      before), in alternation: a causal window of 2048 at N = 16384 (issue 18: 69% of causal), 8 packed sequences of
#      2048; once each, row 0 / JFA_TUNE_SM90A=34 (the three-consumer persistent kernel on unmasked and causal calls):
#      causal N = 16384 and 4096 (B = 4);
#   ncu of the D = 64 window forward (its tensor pipe, against call 1's 38.9% on 29's kernel);
#   2. the default build's GPU suite entries (the 58 of `ctest -L gpu -E 64bit` in a default configure, with this
#      session's _nofwdnc3 pair), here;
#   3. issue 18's lanes from one process against the Triton package (.seed, carried) and SDPA, in the time left.
# DL: the deadline (default 520). Logs in $OUT.   DL=520 bash bench/device/run_s24c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s24c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-520}
B=build-s24c
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON
(cd $B && timeout $(left 380) ctest -R "^test_gpu_sm90_variants$" --timeout 150 --output-on-failure) > "$OUT/ctest_var.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Passed|Timeout" "$OUT/ctest_var.log" | head -5; grep '^\[FAIL\]' "$OUT/ctest_var.log" | head
if ! grep -q "100% tests passed" "$OUT/ctest_var.log"; then
  echo "test_gpu_sm90_variants did not pass: the rest with JFA_SM90_FWD_NC3=0"; export JFA_SM90_FWD_NC3=0
fi
echo "t=$(( $(date +%s) - T0 ))"
{
  for v in 1 0 1 0; do
    echo "== D = 64, JFA_SM90_FWD_NC3=$v"
    JFA_SM90_FWD_NC3=$v jfa_bench_rows --window 16384 64 2048 | grep ^fwd
    JFA_SM90_FWD_NC3=$v jfa_bench_rows --varlen 8 2048 64 | grep ^fwd
  done
  for v in 0 34; do
    echo "== D = 64, JFA_TUNE_SM90A=$v"
    JFA_TUNE_SM90A=$v jfa_bench_rows --causal 1 16384 64 | grep ^fwd
    JFA_TUNE_SM90A=$v jfa_bench_rows --causal 4 4096 64 | grep ^fwd
  done
} 2>&1 | tee "$OUT/d64.log"
echo "t=$(( $(date +%s) - T0 ))"
echo "== ncu D = 64 window forward (the default route)"
JFA_BENCH_ITERS=1 timeout $(left 330) ncu --launch-skip 2 --launch-count 1 -k "regex:fwd.*sm90a" \
  --section SpeedOfLight --section WarpStateStats --section LaunchStats \
  --metrics "regex:sm__pipe_tensor_cycles_active\.avg\.pct_of_peak_sustained_active" \
  $B/bench/jfa_bench --window 16384 64 2048 > "$OUT/ncu_window.txt" 2>&1
grep -E "Duration|pct_of_peak|Warp Cycles Per Issued|Grid Size|Registers|fwd_persist" "$OUT/ncu_window.txt" | head -8
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 75) ctest -R "^(test_gpu_attention|test_gpu_attention_sm80|test_gpu_modes|test_gpu_modes_sm80|test_gpu_tangent|test_gpu_tangent_sm80|test_gpu_masks|test_gpu_masks_sm80|test_gpu_blockmask|test_gpu_blockmask_sm80|test_gpu_nan|test_gpu_nan_sm80|test_gpu_backward_jvp|test_gpu_backward_jvp_sm80|test_gpu_scale|test_gpu_scale_sm80|test_gpu_f32|test_gpu_f32_sm80|test_gpu_masks_nof32dense|test_gpu_masks_nof32bwd_dense|test_gpu_masks_nobiastiles|test_gpu_masks_nofwdnc3|test_gpu_nan_nofwdnc3|test_gpu_masks_nosm90bias|test_gpu_sm90_bwd|test_gpu_exp2_poly|test_gpu_attention_nosm90bwd|test_gpu_modes_nosm90bwd|test_gpu_nan_nosm90bwd|test_gpu_jvp_persist|test_gpu_attention_jvppersist|test_gpu_nan_jvppersist|test_gpu_masks_ctas3|test_gpu_nan_ctas3|test_gpu_masks_fwdband|test_gpu_masks_nofwdband|test_gpu_jvp_persist_fwdband|test_gpu_jvp_persist_nofwdband|test_gpu_backward_jvp_sm90|test_gpu_backward_jvp_sm90_nosm90bwd|test_gpu_f32_simt|test_gpu_f32_backward|test_gpu_f32_backward_simt|test_gpu_f32_backward_sm80|test_gpu_f32_backward_nosm90bwd|test_gpu_f32_backward_nof32bwd_dense|test_gpu_nan_f32sm80|test_gpu_f32_backward_nowide|test_gpu_app_fill|test_gpu_attention_mma_alias|test_ring_gpu|test_comm_gpu|test_ring_gpu_np1_generic|test_ring_gpu_np1_accumulate|test_ring_bwd_jvp_gpu|test_python_gpu|test_python_torchrun_nccl_p1|test_python_torchrun_nccl_p2)$" -j8 --timeout 200 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30; grep '^\[FAIL\]' "$OUT/ctest.log" | head -20
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:none,bfloat16:192:4096:none,bfloat16:256:4096:none"
L="$L,bfloat16:128:4096:dense,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:64:16384:causal,bfloat16:64:16384:window2048"
timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --lanes $L --triton-path .seed > "$OUT/lanes18.log" 2>&1
grep -v Warning "$OUT/lanes18.log" | grep -v "^#   " | tail -45; echo "t=$(( $(date +%s) - T0 ))"
