#!/bin/bash
# run_ovl_h200.sh - the H200 checks of branch ovl (the sm90 forward's PVLAG variants at D = 128,
# JFA_TUNE_SM90A=3, 4, 5 in a tuning build; bench/RESULTS.md "2026-12-02 (fourth session)"), in
# stages that each fit one device call (from the repository root; a warm machine keeps the build):
#   bash bench/device/run_ovl_h200.sh build   # build-ovl (-DJFA_TUNING=ON, the targets below only)
#   bash bench/device/run_ovl_h200.sh test    # test_gpu_sm90_variants; attention, modes, nan, masks
#                                             # under JFA_TUNE_SM90A=3, 4, 5
#   bash bench/device/run_ovl_h200.sh san     # memcheck, racecheck, synccheck of test_gpu_sm90_variants
#                                             # on small cases (every variant runs in each)
#   bash bench/device/run_ovl_h200.sh bench   # jfa_bench D = 128, N = 4096 / 16384, causal 0 / 1,
#                                             # variants 0 (default), 1 (the old OVERLAP), 3, 4, 5
# Every stage writes its whole output to $OUT/<stage>.log and prints its summary lines.
set -u
OUT=${OUT:-/tmp/jfa_ovl}
mkdir -p "$OUT"
. bench/device/h200_build.sh
B=build-ovl
T=$B/tests/gpu
stage=${1:-}
export LIMIT=${LIMIT:-300} # jfa_run's time limit
case "$stage" in
  build)
    JFA_H200_TARGETS="jfa_bench test_gpu_sm90_variants test_gpu_attention test_gpu_modes test_gpu_nan test_gpu_masks" \
      jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_HEAD_DIMS="64;128" -DCMAKE_CUDA_FLAGS="-Xptxas -v" ||
      { tail -40 "$OUT/build.log"; exit 1; }
    grep -E "BUILD_WALL|C751|[1-9][0-9]* bytes spill" "$OUT/build.log" | sort | uniq -c
    ;;
  test)
    {
      jfa_run "$T/test_gpu_sm90_variants"
      for v in 3 4 5; do
        for t in test_gpu_attention test_gpu_modes test_gpu_nan test_gpu_masks; do
          JFA_TUNE_SM90A=$v jfa_run "$T/$t"
        done
      done
    } > "$OUT/test.log" 2>&1
    grep -E "^== |seed|\[FAIL\]|passed, [0-9]+ failed|^rc=" "$OUT/test.log"
    ;;
  san)
    {
      for tool in memcheck racecheck synccheck; do
        for c in 5 6 7; do jfa_sanitize $tool 300 test_gpu_sm90_variants $c; done
      done
    } > "$OUT/san.log" 2>&1
    cat "$OUT/san.log"
    ;;
  bench)
    {
      for v in 0 1 3 4 5; do
        for n in 4096 16384; do
          for c in 0 1; do
            echo "# JFA_TUNE_SM90A=$v --case $n 128 $c"
            JFA_TUNE_SM90A=$v jfa_bench_rows --case $n 128 $c | grep "^fwd"
          done
        done
      done
    } > "$OUT/bench.log" 2>&1
    cat "$OUT/bench.log"
    ;;
  *)
    echo "usage: $0 build|test|san|bench" >&2
    exit 2
    ;;
esac
