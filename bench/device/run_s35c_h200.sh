#!/bin/bash
# run_s35c_h200.sh - which kernels make test_gpu_masks case 79's deterministic outputs differ between runs (run_s35a:
# od differed in 176 of 614400 elements between two identical forward+JVP calls, 1 run in 10; from the repository
# root): a D = 256 build of libjfa and test_gpu_masks, then case 79 N times under each of the default routing, every
# call on sm80 (JFA_KERNEL_PATH=sm80), the 16-bit bias off the sm90 kernels (JFA_SM90_BIAS=0 JFA_SM90_BWD_BIAS=0) and
# sm80 without its bias tiles (JFA_SM80_BIAS_TILES=0): the failing runs and what differed.
# Then racecheck of case 79 with the hazards' source lines (-lineinfo), the whole report kept in $OUT/race.log.
#   N=25 DL=300 bash bench/device/run_s35c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s35c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
N=${N:-25}
B=build-s35c
JFA_H200_TARGETS="jfa test_gpu_masks" jfa_build_step $B "$OUT/build.log" -DJFA_HEAD_DIMS=256 -DCMAKE_CUDA_FLAGS=-lineinfo
T=$B/tests/gpu/test_gpu_masks
$T 79 > "$OUT/first.log" 2>&1; grep -E "ran on|^\[FAIL\]" "$OUT/first.log" | cut -c1-120
for cfg in "X=1" "JFA_KERNEL_PATH=sm80" "JFA_SM90_BIAS=0 JFA_SM90_BWD_BIAS=0" "JFA_SM80_BIAS_TILES=0"; do
  nf=0
  for i in $(seq 1 $N); do
    env $cfg timeout $(left 5) $T 79 > "$OUT/run.log" 2>&1 || { nf=$((nf + 1)); grep -E "^\[FAIL\]" "$OUT/run.log" | cut -c1-170; }
  done
  echo "== $cfg: $nf of $N runs failed; t=$(( $(date +%s) - T0 ))"
done
timeout $(left 5) compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 40 $T 79 > "$OUT/race.log" 2>&1
grep -E "RACECHECK SUMMARY|Race reported|at .*\.cuh?:[0-9]+" "$OUT/race.log" | sed 's/fwd_sm90a_kernel<[^(]*(FwdArgs[^)]*)/fwd_sm90a_kernel<..>/' |
  sort | uniq -c | sort -rn | head -40
echo "t=$(( $(date +%s) - T0 ))"
