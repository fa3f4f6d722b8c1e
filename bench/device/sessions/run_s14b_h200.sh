#!/bin/bash
# run_s14b_h200.sh - the sm90 backwards' prologue and end (fourteenth session: the stage's TMA before the stats'
# writes, the stats one block ahead in the float32 kernel, the last dQ reduce-adds waited for their reads only, the
# float32 kernel's dK / dV stored by both consumers) on one H200 (from the repository root; .seed carried). One tuning
# build of head dims 32 / 64 / 128 (-Werror), then
#   1. bench_variants.py: the new default ("-") against JFA_TUNE_BWD_OLD=1 (the code before), alternating in one
#      process: the float32 D = 64 backward (sm90) at N = 512..4096, the bf16 backward at D = 64 / 128;
#   2. bench/probe_bwd.py: the per-CTA clock stamps of both kernels (prologue, loop, epilogue, gaps between CTAs);
#   3. the backward's GPU tests (float32, sm90 bf16, attention, masks, modes, nan) and compute-sanitizer racecheck /
#      synccheck / memcheck on one small case of each kernel;
#   4. bench_lanes.py: small-N lanes against the Triton package (float32 D = 32 / 64 / 128 and bf16 D = 64 / 128 at
#      N = 256 / 512, causal and not), the audit of "never slower than the package" below N = 1024.
# Logs in $OUT.   bash bench/device/run_s14b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s14b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-s14b
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_HEAD_DIMS="32;64;128" ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
O=JFA_TUNE_BWD_OLD=1
V=-,$O,-,$O
timeout 100 python3 bench/bench_variants.py --iters 10 --dtype float32 \
  --rows bwd:512:64:1:$V --rows bwd:1024:64:1:$V --rows bwd:2048:64:1:$V --rows bwd:1024:64:0:$V \
  --rows bwd:4096:64:0:$V 2>&1 | tee "$OUT/variants_f32.log"
timeout 100 python3 bench/bench_variants.py --iters 20 \
  --rows bwd:4096:128:0:$V --rows bwd:4096:64:0:$V --rows bwd:4096:128:1:$V --rows bwd:4096:64:1:$V \
  --rows bwd:16384:128:w2048:$V --rows bwd:1024:64:1:$V --rows jvp:4096:128:1:-,- 2>&1 | tee "$OUT/variants_bf16.log"
timeout 60 python3 bench/probe_bwd.py --dtype float32 --rows 1024:64:1 --rows 1024:64:1:$O --rows 1024:64:0 \
  --rows 4096:64:0 2>&1 | tee "$OUT/probe_f32.log"
timeout 60 python3 bench/probe_bwd.py --rows 4096:128:0 --rows 16384:128:0 --rows 4096:64:0 --rows 4096:128:1 \
  --rows 16384:128:w2048 2>&1 | tee "$OUT/probe_bf16.log"
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 200 ctest -R "test_gpu_(f32_backward|sm90_bwd|attention|masks|modes|nan)" -E "64bit|_tune[0-9]" \
  -j8 --timeout 190 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
{
  jfa_sanitize racecheck 60 test_gpu_f32_backward 27
  jfa_sanitize synccheck 60 test_gpu_f32_backward 28
  jfa_sanitize memcheck 60 test_gpu_f32_backward 27
  jfa_sanitize racecheck 60 test_gpu_sm90_bwd 9
  jfa_sanitize synccheck 60 test_gpu_sm90_bwd 5
  jfa_sanitize memcheck 60 test_gpu_sm90_bwd 5
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
LN=float32:64:512:causal,float32:64:256:causal,float32:64:512:none,float32:128:512:causal,float32:128:256:none
LN=$LN,float32:32:512:causal,float32:32:256:none,bfloat16:64:512:causal,bfloat16:64:256:none,bfloat16:128:256:causal
L=$(( 580 - ($(date +%s) - T0) ))
timeout $L python3 bench/bench_lanes.py --iters 8 --f32-precision highest --triton-path .seed --lanes $LN 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
