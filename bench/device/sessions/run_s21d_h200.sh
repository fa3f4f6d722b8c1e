#!/bin/bash
# run_s21d_h200.sh - the twenty-first session's call 4: what call 3's suite left (test_python_gpu, cut by the script's
# own deadline while running) and compute-sanitizer memcheck of a band case (test_gpu_masks 46: fp16 D = 64, a
# two-sided window at positions with rows past every key, the forward and the JVP both on the band). One default
# build of libjfa and test_gpu_masks (-Werror). DL: the deadline (default 260). Logs in $OUT.
#   DL=260 bash bench/device/run_s21d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s21d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-260}
B=build-s21d
JFA_H200_TARGETS="jfa test_gpu_masks" jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 70) ctest --output-on-failure -R "^test_python_gpu$") > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Passed" "$OUT/ctest.log" | head; echo "t=$(( $(date +%s) - T0 ))"
JFA_SM90_FWD_BAND=1 JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 3) test_gpu_masks 46 2>&1 | tee "$OUT/memcheck.log"
echo "t=$(( $(date +%s) - T0 ))"
