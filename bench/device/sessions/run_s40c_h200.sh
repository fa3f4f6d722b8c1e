#!/bin/bash
# run_s40c_h200.sh - the fortieth session's last call (from the repository root; .seed carried): 16-bit dense masks at
# head dims below 64 on the D = 64 sm90 kernels (tiles.h kSm90PadDense), then the GPU suite on the same default build:
#   1. the new test_gpu_masks cases 103-108 (default, JFA_SM90_PAD_DENSE=0, JFA_KERNEL_PATH=sm80) and
#      test_gpu_blockmask's D = 32 boolean case (6);
#   2. compute-sanitizer memcheck of a padded call (jfa_bench --dense-full 2 256 32: forward, JVP, backward);
#   3. the A / B (jfa_bench --dense-full 16 1024 D, D = 32 and 16, JFA_SM90_PAD_DENSE=0 / 1, two rounds) and the
#      package's bf16 / fp16 D = 32 masked lanes (bench_vs_package.py);
#   4. the GPU suite but the test_gpu_masks family's switch entries (test_gpu_masks itself and _nopad run) until the
#      deadline.
#   DL=590 bash bench/device/sessions/run_s40c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s40c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
echo "== 1. the padded cases"
for env in "" JFA_SM90_PAD_DENSE=0 JFA_KERNEL_PATH=sm80; do
  for c in 103 104 105 106 107 108; do
    env $env timeout 60 $B/tests/gpu/test_gpu_masks $c > "$OUT/masks_${c}_${env%%=*}.log" 2>&1
    echo "masks case $c ${env:-default} rc=$? $(grep -cE '^\[FAIL\]' "$OUT/masks_${c}_${env%%=*}.log") failed; $(tail -1 "$OUT/masks_${c}_${env%%=*}.log")"
  done
done
timeout 60 $B/tests/gpu/test_gpu_blockmask 6 > "$OUT/blockmask_6.log" 2>&1
echo "blockmask case 6 rc=$? $(grep -cE '^\[FAIL\]' "$OUT/blockmask_6.log") failed; $(tail -1 "$OUT/blockmask_6.log")"
grep -hE '^\[FAIL\]' "$OUT"/masks_*.log "$OUT"/blockmask_6.log | head -20
echo "t=$(( $(date +%s) - T0 ))"
echo "== 2. memcheck"
JFA_BENCH_ITERS=1 timeout 90 compute-sanitizer --tool memcheck --error-exitcode 9 $B/bench/jfa_bench --dense-full 2 256 32 \
  > "$OUT/san_memcheck.log" 2>&1
echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|Invalid|sm90|sm80" "$OUT/san_memcheck.log" | sort | uniq -c | head -8
echo "t=$(( $(date +%s) - T0 ))"
echo "== 3. A / B (ms, TFLOP/s over the visible pairs)"
export JFA_BENCH_ITERS=20 JFA_BENCH_TIMEOUT=60
for r in 1 2; do
  for D in 32 16; do
    for p in 0 1; do
      JFA_SM90_PAD_DENSE=$p jfa_bench_rows --dense-full 16 1024 $D | sed "s/^/round $r D=$D pad=$p: /"
    done
  done
done
PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout 120 python3 bench/bench_vs_package.py --triton-path .seed \
  --lanes bfloat16:32:1024:dense,bfloat16:32:1024:bias,float16:32:1024:dense,bfloat16:32:1024:none \
  > "$OUT/vs_package.log" 2> "$OUT/vs_package.err"
grep -E "^\||^#" "$OUT/vs_package.log"
echo "t=$(( $(date +%s) - T0 ))"
echo "== 4. the suite"
(cd $B && timeout $(left 12) ctest -L gpu -j8 --timeout 500 --output-on-failure \
  -E '64bit|^test_gpu_masks_(sm80|nof32dense|nof32bwd_dense|nobiastiles|nosm90bias|ctas3|nofwdnc3|nocskip|nobwdband|bwdpersist|fwdband|nofwdband)$') \
  > "$OUT/suite.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite.log" | head -30
grep '^\[FAIL\]' "$OUT/suite.log" | sort | uniq -c | sort -rn | head -20
grep -E "^ *[0-9]+/[0-9]+ Test" "$OUT/suite.log" | wc -l
echo "t=$(( $(date +%s) - T0 ))"
