#!/bin/bash
# run_s13b_h200.sh - the causal calls' CTA order (common/cta_order.h: longest first in groups of heads that share
# L2) measured and checked on one H200 (from the repository root; .seed carried). One tuning build of every head
# dim (-Werror), then
#   1. bench_variants.py: each causal row under the new default order ("-") and the old one (HG=-1: head after
#      head), alternating, plus one other group size: the sm90 forward / JVP (JFA_TUNE_SM90_FWD_HG), the sm90
#      backward (JFA_TUNE_SM90_BWD_HG), the float32 backward on sm80 at D = 128 (JFA_TUNE_SM80_F32_BWD_HG) and the
#      sm90 float32 forward / JVP;
#   2. bench_lanes.py: the float32 lanes against the Triton package where jfa was at parity (D = 128 causal
#      backward, D = 64 JVP);
#   3. the default GPU suite (ctest -L gpu without the 64-bit and tuning entries).
# Logs in $OUT.   bash bench/device/run_s13b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s13b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-s13b
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
F=JFA_TUNE_SM90_FWD_HG; W=JFA_TUNE_SM90_BWD_HG; S=JFA_TUNE_SM80_F32_BWD_HG
timeout 150 python3 bench/bench_variants.py --iters 20 \
  --rows fwd:4096:64:1:-,$F=-1,-,$F=-1,$F=128 --rows fwd:16384:64:1:-,$F=-1,-,$F=-1 \
  --rows fwd:4096:256:1:-,$F=-1,-,$F=-1 --rows jvp:4096:128:1:-,$F=-1,-,$F=-1,$F=8 \
  --rows jvp:4096:64:1:-,$F=-1,-,$F=-1 --rows jvp:16384:128:1:-,$F=-1,-,$F=-1 \
  --rows bwd:4096:128:1:-,$W=-1,-,$W=-1,$W=8 --rows bwd:4096:64:1:-,$W=-1,-,$W=-1 \
  --rows bwd:16384:128:1:-,$W=-1,-,$W=-1 --rows bwd:16384:64:1:-,$W=-1,-,$W=-1 2>&1 | tee "$OUT/variants.log"
timeout 120 python3 bench/bench_variants.py --iters 10 --dtype float32 \
  --rows bwd:4096:128:1:-,$S=-1,-,$S=-1,$S=64 --rows bwd:1024:128:1:-,$S=-1,-,$S=-1 \
  --rows jvp:4096:64:1:-,$F=-1,-,$F=-1 --rows fwd:4096:64:1:-,$F=-1,-,$F=-1 2>&1 | tee "$OUT/variants_f32.log"
echo "t=$(( $(date +%s) - T0 ))"
timeout 90 python3 bench/bench_lanes.py --iters 8 --f32-precision highest --triton-path .seed \
  --lanes float32:128:4096:causal,float32:64:4096:none,float32:128:1024:causal 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
L=$(( 590 - ($(date +%s) - T0) ))
(cd $B && timeout $L ctest -L gpu -E "64bit|_tune|variants|_noband|_nompass|_hg3" -j8 --timeout 220 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
