#!/bin/bash
# run_s33b_h200.sh - the thirty-third session's second call (from the repository root): the default build (-Werror)
# and the whole GPU suite again after the session's changes (device packed-sequence offsets, JFA_PARAMS_SEQLENS_DEVICE:
# test_gpu_varlen_device, test_python_gpu's test_varlen_cuda_graph; the clamps in mask_row_keys / mask_query_range that
# every masked kernel inlines; the device input fill's rounding; the review's simt NaN entries), then, with the time
# left, run_s31a's rates (dense / unmasked / key-padding / float32) and the persistent causal tile orders.
#   DL=585 bash bench/device/run_s33b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s33b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-585}
B=build-s33
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/suite.log" 100
grep -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: " "$OUT/suite.log" | sed 's/^ *//' > "$OUT/suite_results.txt"
(cd $B && ctest -R "^test_cpu_band\$" --output-on-failure | tail -3) > "$OUT/band.log" 2>&1
grep -E "passed|Failed" "$OUT/band.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  $JFA_BENCH --dense 4096 128
  $JFA_BENCH --nomask 4096 128
  $JFA_BENCH --keypad 4 4096 128 --keypad-full 4 4096 128
  $JFA_BENCH --case 4096 128 0 fp32 --case 4096 64 0 fp32
} 2>&1 | grep -v "^#" > "$OUT/rates.log"
cat "$OUT/rates.log" | head -30
for shape in "4 4096 128" "8 2048 64"; do
  for o in 0 1 2; do
    JFA_TUNE_SM90_ORDER=$o timeout $(left 5) $JFA_BENCH --causal $shape | grep -E "^(fwd|jvp) " | sed "s/^/[order $o] /"
  done
done 2>&1 | tee "$OUT/order.log"
echo "t=$(( $(date +%s) - T0 ))"
