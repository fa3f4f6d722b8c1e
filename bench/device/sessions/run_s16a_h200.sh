#!/bin/bash
# run_s16a_h200.sh - the first call after the fifteenth session (from the repository root; .seed carried): the GPU
# suite on its code, with the float32 backward's new prologue and dQ into dq (off by default: tiles.h
# kSm90BwdF32Pro, kSm90BwdF32DqDirect) through their _tune_pro entries, its persistent form (kSm90BwdF32Persist,
# _tune_persist) and the 16-bit backward's accumulate-mode epilogue (kSm90BwdAccVec, _tune_accv). One tuning build of every head dim (-Werror;
# ~125-140 s), then, each step bounded by the deadline DL (seconds from the start, default 560):
#   1. ctest -L gpu without the 64-bit, numbered-tuning, variants, noband and nompass entries (~200-230 s at -j8):
#      the default suite, the tuning entries, test_gpu_{f32_backward,attention,modes,nan}_tune_pro among them;
#   2. compute-sanitizer on test_gpu_f32_backward 28 (TF32 not asked: the default's 3xTF32) with the new code on;
#   3. bench_variants.py: the float32 D = 64 small-N backward on the default, with the new code, persistent
#      (JFA_TUNE_SM90_F32_BWD_PERSIST=1, tiles.h kSm90BwdF32Persist; its tests are in step 1), on sm80's 4-warp tiles;
#   4. jfa_ring at P = 1 in accumulate mode (JFA_RING_GENERIC=2), bf16 D = 128 causal N = 16384: the backward without
#      and with the accumulate-mode epilogue through shared memory (JFA_TUNE_SM90_BWD_ACCV=1; its tests are in step 1);
#   5. bench_lanes.py, the float32 small-N lanes against the Triton package: the default, then with the new code.
# Logs in $OUT.   bash bench/device/run_s16a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s16a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-560}
B=build-s16a
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 90) ctest -L gpu -E "64bit|_tune[0-9]|variants|_noband|_nompass" -j8 --timeout 240 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -10; echo "t=$(( $(date +%s) - T0 ))"
NEW="JFA_TUNE_SM90_F32_BWD_PRO=1 JFA_TUNE_SM90_F32_BWD_DQD=1"
export $NEW
jfa_sanitize synccheck $(left 75) test_gpu_f32_backward 28 2>&1 | tee "$OUT/san.log"
unset JFA_TUNE_SM90_F32_BWD_PRO JFA_TUNE_SM90_F32_BWD_DQD
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
# the float32 D = 64 small-N backward on its kernels: the default (sm90, old prologue), sm90 with the new code, sm90
# persistent (with dQ into dq), sm80's 4-warp tiles (two CTAs an SM: JFA_SM90_F32_BWD=0 + JFA_TUNE_BWD=1)
V=-,JFA_TUNE_SM90_F32_BWD_PRO=1+JFA_TUNE_SM90_F32_BWD_DQD=1,JFA_TUNE_SM90_F32_BWD_PERSIST=1+JFA_TUNE_SM90_F32_BWD_DQD=1,JFA_SM90_F32_BWD=0+JFA_TUNE_BWD=1
timeout $(left 70) python3 bench/bench_variants.py --iters 8 --dtype float32 \
  --rows bwd:256:64:1:$V,$V --rows bwd:512:64:1:$V,$V --rows bwd:512:64:0:$V 2>&1 | tee "$OUT/variants_f32.log"
# the 16-bit backward's accumulate mode (the ring's) through shared memory (tiles.h kSm90BwdAccVec, off by default):
# jfa_ring at P = 1 with JFA_RING_GENERIC=2 (every call in accumulate mode), without and with it
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for accv in 0 1 0 1; do
  [ $(left 60) -gt 12 ] || break
  env JFA_RING_GENERIC=2 JFA_TUNE_SM90_BWD_ACCV=$accv timeout $(left 60) mpirun -np 1 $B/apps/jfa_ring --device cuda \
    --comm mpi --dtype bf16 --batch 1 --heads 16 --kv-heads 16 --dim 128 --seq 16384 --layout zigzag --causal \
    --iters 6 --warmup 2 --timer events 2>&1 | grep -E "^  backward |PASSED|FAILED" | sed "s/^/accv=$accv /"
done 2>&1 | tee "$OUT/ring_accv.log"
L=float32:64:512:causal,float32:64:256:causal,float32:64:512:none,float32:64:1024:causal
timeout $(left 40) python3 bench/bench_lanes.py --iters 8 --triton-path .seed --f32-precision highest --lanes $L \
  2>&1 | tee "$OUT/lanes_default.log"
timeout $(left 0) env $NEW python3 bench/bench_lanes.py --iters 8 --f32-precision highest --lanes $L \
  2>&1 | tee "$OUT/lanes_new.log"
echo "t=$(( $(date +%s) - T0 ))"
