#!/bin/bash
# run_s15a_h200.sh - the first call after the fourteenth session (from the repository root; .seed carried): the
# fourteenth session's kernels (the backwards' prologue / end, the bf16 epilogue through shared memory) have not had
# the whole GPU suite. One tuning build of every head dim (-Werror), then
#   1. the default GPU suite plus the tuning entries (ctest -L gpu without the 64-bit, numbered-tuning, variants,
#      noband and nompass entries: test_gpu_sm90_bwd, _attention, _backward_jvp_sm90 on the new epilogue,
#      test_gpu_f32_backward_tune_epi on the float32 one, the _tune_old entries on the code before);
#   2. compute-sanitizer memcheck / synccheck on test_gpu_sm90_bwd 0 (one block a CTA: racecheck too) and 13;
#   3. issue 19's table (bench/compare_torch.py, N >= 4096, no math-backend JVP) in the time left.
# Logs in $OUT.   bash bench/device/run_s15a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s15a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-s15a
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 300 ctest -L gpu -E "64bit|_tune[0-9]|variants|_noband|_nompass" -j8 --timeout 240 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30; echo "t=$(( $(date +%s) - T0 ))"
{
  for c in 0 13; do jfa_sanitize memcheck 40 test_gpu_sm90_bwd $c; jfa_sanitize synccheck 40 test_gpu_sm90_bwd $c; done
  jfa_sanitize racecheck 40 test_gpu_sm90_bwd 0
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
L=$(( 585 - ($(date +%s) - T0) ))
[ $L -gt 30 ] && (cd bench && timeout $L python3 compare_torch.py ../$B/bench/jfa_bench --iters 10 --min-n 4096 \
  --no-math > "$OUT/compare.log" 2>&1)
cat "$OUT/compare.log" 2>/dev/null; echo "t=$(( $(date +%s) - T0 ))"
