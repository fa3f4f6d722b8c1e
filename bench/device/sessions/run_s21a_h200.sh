#!/bin/bash
# run_s21a_h200.sh - written at the end of the twentieth session for the next one's first call (from the repository
# root): issue 19's closing evidence at HEAD, from one build and one process each. One default build of every head dim
# (-Werror), then
#   1. the whole GPU suite (ctest -L gpu -E 64bit);
#   2. issue 19's table (bench/compare_torch.py: jfa against cuDNN and flash, bf16, B N = 16384, H D = 2048, N >= 4096,
#      D = 64 / 128, causal and not; no math-backend JVP);
#   3. ncu of the D = 128 and D = 64 forward, JVP and backward kernels at N = 4096 (jfa_bench --case, one launch each
#      after two): duration, the tensor pipe's share of peak (the fraction of the ~790 TFLOP/s ceiling each kernel
#      reaches) and the warp states (what limits it), in the time left.
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s21a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s21a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s21a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 300; echo "t=$(( $(date +%s) - T0 ))"
(cd bench && timeout $(left 120) python3 compare_torch.py ../$B/bench/jfa_bench --iters 10 --min-n 4096 --no-math \
  > "$OUT/compare.log" 2>&1)
cat "$OUT/compare.log"; echo "t=$(( $(date +%s) - T0 ))"
for D in 128 64; do
  echo "== ncu D = $D, N = 4096, non-causal (forward, JVP, backward kernels)"
  JFA_BENCH_ITERS=1 timeout $(left 5) ncu --kernel-name-base demangled --launch-skip 2 --launch-count 3 \
    -k "regex:(fwd_sm90a|fwd_persist|jvp_persist|bwd_sm90a)_kernel<[^,]+, \(int\)$D" \
    --section SpeedOfLight --section WarpStateStats \
    --metrics "regex:sm__pipe_tensor.*_cycles_active\.avg\.pct_of_peak_sustained_active" \
    $B/bench/jfa_bench --case 4096 $D 0 > "$OUT/ncu_d$D.log" 2>&1
  grep -E "  (void|fwd|bwd|jvp)|pct_of_peak|Duration|Stall|No Eligible" "$OUT/ncu_d$D.log" | head -40
done 2>&1 | tee "$OUT/ncu.log"
echo "t=$(( $(date +%s) - T0 ))"
