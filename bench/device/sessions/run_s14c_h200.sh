#!/bin/bash
# run_s14c_h200.sh - the sm90 backwards' dK / dV stores through shared memory as 16-byte pieces (fourteenth session,
# after call 2's probe: the bf16 kernel's per-fragment 2-byte stores took ~21000 cycles a CTA at D = 128) on one H200
# (from the repository root). One tuning build of the sm90 backward's head dims (-Werror; the library and the backward's tests; every step
# bounded by the deadline DL, seconds from the start, default 300), then
#   1. the backward's GPU tests: every head dim of the sm90 backward, masks, modes, NaN, the backward-JVP's first-order
#      outputs, float32, on the default dispatch and with JFA_TUNE_BWD_OLD=1;
#   2. bench_variants.py: the new default ("-") against JFA_TUNE_BWD_OLD=1 (the code before this session: also the
#      prologue and the last reduce-adds' wait), alternating in one process, bf16 at D = 64 / 128 / 256 and float32
#      at D = 64;
#   3. bench/probe_bwd.py: the per-CTA stamps again (the epilogue's cycles).
# Logs in $OUT.   bash bench/device/run_s14c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s14c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
left() { local x=$(( DL - ($(date +%s) - T0) - $1 )); [ $x -lt 1 ] && x=1; echo $x; }
B=build-s14c
JFA_H200_TARGETS="jfa test_gpu_sm90_bwd test_gpu_f32_backward test_gpu_attention test_gpu_masks test_gpu_modes test_gpu_nan test_gpu_backward_jvp test_gpu_blockmask" \
  jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_HEAD_DIMS="${HD:-64;96;128;192;256}" || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
(cd $B && timeout $(left 50) ctest -R "test_gpu_(sm90_bwd|f32_backward|attention|masks|modes|nan|backward_jvp|blockmask)" \
  -E "64bit|_tune[0-9]|_sm80|nosm90bwd|_simt|_nowide|_hg|_causal0|bandall|noband|nompass|_bm32|_ss$|_atomic" \
  -j8 --timeout 140 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|passed, [0-9]+ failed" "$OUT/ctest.log" | head -30; echo "t=$(( $(date +%s) - T0 ))"
O=JFA_TUNE_BWD_OLD=1
V=-,$O,-,$O
timeout $(left 20) python3 bench/bench_variants.py --iters 10 \
  --rows bwd:4096:128:0:$V --rows bwd:4096:128:1:$V --rows bwd:16384:128:w2048:$V --rows bwd:4096:64:0:$V \
  --rows bwd:4096:256:0:$V 2>&1 | tee "$OUT/variants_bf16.log"
timeout $(left 10) python3 bench/bench_variants.py --iters 10 --dtype float32 \
  --rows bwd:1024:64:1:$V --rows bwd:512:64:1:$V 2>&1 | tee "$OUT/variants_f32.log"
echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 5) python3 bench/probe_bwd.py --rows 4096:128:0 --rows 4096:128:1 2>&1 | tee "$OUT/probe_bf16.log"
timeout $(left 0) python3 bench/probe_bwd.py --dtype float32 --rows 1024:64:1 2>&1 | tee "$OUT/probe_f32.log"
echo "t=$(( $(date +%s) - T0 ))"
