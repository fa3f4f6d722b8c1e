#!/bin/bash
# run_s15b_h200.sh - the float32 backward's small-N costs (fifteenth session) on one H200 (from the repository root;
# .seed carried): the element-wise delta / scale-add read 16 bytes at a time (the float32 scale-add split every
# element with 64-bit divisions), the sm90 float32 kernel's prologue (the consumers split K / V and convert their
# stages' first uses; tensor maps prefetched, also in the 16-bit backward) and its dQ reduce-added into dq itself.
# One tuning build of every head dim (-Werror), then, each step bounded by the deadline DL (seconds from the start,
# default 540):
#   1. the default GPU suite plus the tuning entries (ctest -L gpu without the 64-bit, numbered-tuning, variants,
#      noband and nompass entries);
#   2. bench_variants.py, float32 D = 64 backward: the default against JFA_TUNE_BWD_OLD=2 (this session's element-wise
#      kernels only) and the code before this session (JFA_TUNE_BWD_OLD=2 + JFA_TUNE_EW_OLD=1 +
#      JFA_TUNE_SM90_F32_BWD_EPI=0), alternating in one process; float32 D = 128 (sm80 kernel) against
#      JFA_TUNE_EW_OLD=1; bf16 against JFA_TUNE_BWD_OLD=2 (the prefetch);
#   3. bench_lanes.py: the float32 small-N lanes against the Triton package (3xTF32), with --profile (stderr);
#   4. bench/probe_bwd.py float32 N = 512 causal; compute-sanitizer on test_gpu_f32_backward 25 (accumulate mode:
#      dQ into dq) / 27 / 24 (one block a CTA: racecheck).
# Logs in $OUT.   bash bench/device/run_s15b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s15b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-540}
left() { local x=$(( DL - ($(date +%s) - T0) - $1 )); [ $x -lt 1 ] && x=1; echo $x; }
B=build-s15b
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 200) ctest -L gpu -E "64bit|_tune[0-9]|variants|_noband|_nompass" -j8 --timeout 200 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
OLD=JFA_TUNE_BWD_OLD=2+JFA_TUNE_EW_OLD=1+JFA_TUNE_SM90_F32_BWD_EPI=0
MID=JFA_TUNE_BWD_OLD=2
V=-,$MID,$OLD,-,$MID,$OLD
timeout $(left 120) python3 bench/bench_variants.py --iters 10 --dtype float32 \
  --rows bwd:512:64:1:$V --rows bwd:256:64:1:$V --rows bwd:512:64:0:$V --rows bwd:1024:64:1:$V \
  --rows bwd:4096:64:0:$V --rows bwd:512:128:1:-,JFA_TUNE_EW_OLD=1,-,JFA_TUNE_EW_OLD=1 2>&1 | tee "$OUT/variants_f32.log"
echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 90) python3 bench/bench_variants.py --iters 10 \
  --rows bwd:4096:128:0:-,$MID,-,$MID --rows bwd:4096:64:1:-,$MID,-,$MID 2>&1 | tee "$OUT/variants_bf16.log"
echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 30) python3 bench/bench_lanes.py --iters 8 --triton-path .seed --f32-precision highest --profile \
  --lanes float32:64:256:causal,float32:64:512:causal,float32:64:512:none,float32:128:512:causal,float32:64:1024:causal \
  > "$OUT/lanes.log" 2> "$OUT/lanes_profile.log"
cat "$OUT/lanes.log"; grep -E "^# profile|^#  " "$OUT/lanes_profile.log" | head -60
echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 20) python3 bench/probe_bwd.py --dtype float32 --rows 512:64:1 --rows 512:64:1:JFA_TUNE_BWD_OLD=2 2>&1 | tee "$OUT/probe_f32.log"
{
  jfa_sanitize memcheck $(left 10) test_gpu_f32_backward 25
  jfa_sanitize synccheck $(left 5) test_gpu_f32_backward 27
  jfa_sanitize racecheck $(left 0) test_gpu_f32_backward 24
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
