#!/bin/bash
# run_s26f_h200.sh - the twenty-sixth session's sixth call (from the repository root; ~400 s of device time left): a
# build of head dims 64, 96 and 128 (-Werror; libjfa, jfa_bench, test_gpu_fwd_cskip, test_gpu_attention, test_gpu_masks,
# test_gpu_nan), then
#   1. test_gpu_fwd_cskip (its new cases on the non-persistent three consumers: D = 64 unmasked and causal beyond 4096
#      keys, D = 96), test_gpu_attention, _nocskip, test_gpu_masks, test_gpu_nan (D = 64 / 96 cases on sm90; the others
#      on their families as the build's head dims say); memcheck of test_gpu_fwd_cskip case 12 (D = 64 unmasked);
#   2. A / B, forward, JFA_SM90_FWD_CSKIP=0 against the default: D = 64 unmasked N = 1024 (B = 16) and 4096 (B = 1),
#      D = 96 N = 4096 unmasked and causal, D = 64 causal 2 x 8192.
# DL: the deadline (default 330). Logs in $OUT.   DL=330 bash bench/device/run_s26f_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s26f}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-330}
B=build-s26f
JFA_H200_TARGETS="jfa jfa_bench test_gpu_fwd_cskip test_gpu_attention test_gpu_masks test_gpu_nan" \
  jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON "-DJFA_HEAD_DIMS=64;96;128"
(cd $B && timeout $(left 200) ctest -R "^test_gpu_(fwd_cskip|fwd_cskip_fwdband|attention|attention_nocskip|masks|nan)$" \
  -j6 --timeout 150 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Passed" "$OUT/ctest.log" | head -10; grep '^\[FAIL\]' "$OUT/ctest.log" | head
jfa_sanitize memcheck $(left 180) test_gpu_fwd_cskip 12 2>&1 | tee "$OUT/sanitize.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  for r in 1 2; do
    for e in "JFA_SM90_FWD_CSKIP=0" "JFA_X=0"; do
      env $e timeout $(left 10) $JFA_BENCH --case 1024 64 0 | grep -e ^fwd | sed "s/^/[$e] /"
      env $e timeout $(left 10) $JFA_BENCH --nomask 4096 64 | grep -e ^fwd | sed "s/^/[$e] /"
      env $e timeout $(left 10) $JFA_BENCH --case 4096 96 0 | grep -e ^fwd | sed "s/^/[$e] /"
      env $e timeout $(left 10) $JFA_BENCH --case 4096 96 1 | grep -e ^fwd | sed "s/^/[$e] /"
      env $e timeout $(left 10) $JFA_BENCH --causal 2 8192 64 | grep -e ^fwd | sed "s/^/[$e] /"
    done
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
