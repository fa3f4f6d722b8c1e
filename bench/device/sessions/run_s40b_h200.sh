#!/bin/bash
# run_s40b_h200.sh - the fortieth session's second call (from the repository root): why jfa was slower than the Triton
# package in call 1's sweep (bench_vs_package.py), on a tuning build of head dims 32, 64 and 128 (jfa, jfa_bench):
#   1. the float32 backward at N = 256 (B = 64): the default (sm90 at D = 64, sm80 at 128) against sm80's tuning rows
#      (JFA_SM90_F32_BWD=0, JFA_TUNE_BWD=1..3), 3xTF32 and TF32, causal or not;
#   2. where that backward's time goes (trace_call.py: its kernels, the host's part);
#   3. the bf16 D = 32 dense-mask forward (sm80's masked kernel) beside D = 64 on sm80 and sm90, unmasked and causal;
#   4. ncu of the D = 32 dense forward's kernel and of the float32 D = 128 N = 256 causal backward's.
#   DL=330 bash bench/device/sessions/run_s40b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s40b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-330}
B=build-tune
JFA_H200_TARGETS="jfa jfa_bench" \
  jfa_build_step $B "$OUT/build.log" -DJFA_TUNING=ON "-DJFA_HEAD_DIMS=32;64;128"
export JFA_BENCH_ITERS=30 JFA_BENCH_TIMEOUT=60
echo "== 1. float32 N = 256 (B = 64, H = 2048 / D), rows fwd / jvp / bwd: variant, TFLOP/s"
for D in 64 128; do
  for c in 0 1; do
    for tf in "" --tf32; do
      jfa_bench_rows $tf --case 256 $D $c fp32 | sed "s/^/D=$D c=$c ${tf:-3x} default: /"
      [ $D = 64 ] && JFA_SM90_F32_BWD=0 jfa_bench_rows $tf --case 256 $D $c fp32 | grep bwd | sed "s/^/D=$D c=$c ${tf:-3x} sm80 v0: /"
      [ $D = 128 ] && [ $c = 1 ] && JFA_TUNE_SM80_F32_BWD_CAUSAL=0 jfa_bench_rows $tf --case 256 $D $c fp32 | grep bwd |
        sed "s/^/D=$D c=$c ${tf:-3x} row 0: /"
      for v in 1 2 3; do
        JFA_SM90_F32_BWD=0 JFA_TUNE_BWD=$v jfa_bench_rows $tf --case 256 $D $c fp32 | grep bwd |
          sed "s/^/D=$D c=$c ${tf:-3x} sm80 v$v: /"
      done
    done
  done
done
echo "t=$(( $(date +%s) - T0 ))"
echo "== 2. the backward's kernels (float32 3xTF32, N = 256, B = 64, width 1024)"
for D in 128 64; do
  PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout 60 python3 bench/trace_call.py --dtype float32 --n 256 --d $D \
    --tokens 16384 --width 1024 --causal $(( D == 128 )) --ops bwd --calls 8 2>&1 | tail -22
done
echo "t=$(( $(date +%s) - T0 ))"
echo "== 3. bf16 dense masks (B = 16, N = 1024, H = 2048 / D): D = 32 sm80, D = 64 sm80 / sm90"
jfa_bench_rows --dense-full 16 1024 32 | sed "s/^/D=32 dense default: /"
JFA_KERNEL_PATH=sm80 jfa_bench_rows --dense-full 16 1024 64 | sed "s/^/D=64 dense sm80: /"
jfa_bench_rows --dense-full 16 1024 64 | sed "s/^/D=64 dense default: /"
for D in 32 64; do jfa_bench_rows --case 1024 $D 0 | sed "s/^/D=$D none default: /"; done
JFA_KERNEL_PATH=sm80 jfa_bench_rows --case 1024 64 0 | sed "s/^/D=64 none sm80: /"
echo "t=$(( $(date +%s) - T0 ))"
echo "== 4. ncu"
[ "$(left 10)" -gt 50 ] && jfa_ncu dense32_fwd fwd_tc_kernel --dense-full 16 1024 32
[ "$(left 10)" -gt 50 ] && jfa_ncu f32bwd128 bwd_f32_kernel --case 256 128 1 fp32
[ "$(left 10)" -gt 50 ] && JFA_SM90_F32_BWD=1 jfa_ncu f32bwd64 bwd_f32 --case 256 64 0 fp32
echo "t=$(( $(date +%s) - T0 ))"
