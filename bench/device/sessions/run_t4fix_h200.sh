#!/bin/bash
# run_t4fix_h200.sh - the H200 checks of branch t4fix (t4 = main + densemask: the seed-dependent
# failure of test_gpu_sm90_bwd 53 and the 11 racecheck hazards of test_gpu_blockmask 1), in stages
# that each fit one device call (from the repository root; a warm machine keeps the builds):
#   bash bench/device/run_t4fix_h200.sh build   # build-h200 (-lineinfo, so that racecheck names lines)
#   bash bench/device/run_t4fix_h200.sh case53  # case 53 x 8 seeds, 3 seeds with the old and the new
#                                               # reference, the fixed Nq = 1 cases of both tests
#   bash bench/device/run_t4fix_h200.sh race    # racecheck (--print-limit 20): blockmask 1, 32, sm90_bwd 53
#   bash bench/device/run_t4fix_h200.sh race2   # racecheck per kernel (blockmask 1), sm90_bwd 49; memcheck
#   bash bench/device/run_t4fix_h200.sh wait 1  # build-wait1 (-DJFA_SM90_FWD_CPASYNC_WAIT=1) + racecheck
#   bash bench/device/run_t4fix_h200.sh wait 2  # build-wait2 (=2: the arrival without .noinc) + racecheck
#   bash bench/device/run_t4fix_h200.sh ctest   # ctest -L gpu (without the 64-bit, Python, torchrun ones)
# Every stage writes its whole output to $OUT/<stage>.log (nothing cut) and prints its summary lines.
set -u
OUT=${OUT:-/tmp/jfa_t4fix}
mkdir -p "$OUT"
. bench/device/h200_build.sh
B=build-h200
T=$B/tests/gpu
stage=${1:-}
# jfa_run (h200_build.sh) runs each command under timeout $LIMIT (180 s here unless set)
export LIMIT=${LIMIT:-180}
san() {
  jfa_run compute-sanitizer --tool racecheck --racecheck-report all --print-limit 20 --error-exitcode 9 "$@"
}
case "$stage" in
  build)
    jfa_h200_build $B "$OUT/build.log" -DCMAKE_CUDA_FLAGS=-lineinfo || { tail -40 "$OUT/build.log"; exit 1; }
    grep BUILD_WALL "$OUT/build.log"
    ;;
  case53)
    {
      for _ in 1 2 3 4 5 6 7 8; do LIMIT=60 jfa_run "$T/test_gpu_sm90_bwd" 53; done
      # seeds whose dQ / dK a CPU model of case 53 puts at 0.17-0.32 relative error with the old
      # reference (the CPU forward's own O, lse): expected FAIL with JFA_TEST_OWN_REF=1 (the sm80
      # context's printed error as high), PASS with the new one
      for s in 312 1987 1155; do
        for own in 1 0; do JFA_TEST_SEED=$s JFA_TEST_OWN_REF=$own LIMIT=60 jfa_run "$T/test_gpu_sm90_bwd" 53; done
      done
      for c in 58 59 60 61 62 63 64; do jfa_run "$T/test_gpu_sm90_bwd" $c; done
      for c in 29 30 31 32 33 34 35; do jfa_run "$T/test_gpu_blockmask" $c; done
    } > "$OUT/case53.log" 2>&1
    grep -E "^== |seed|\[FAIL\]|passed, [0-9]+ failed|^rc=" "$OUT/case53.log"
    ;;
  race)
    {
      compute-sanitizer --version
      compute-sanitizer --help | grep -i -E -A1 "racecheck|kernel-name|kernel-regex"
      san "$T/test_gpu_blockmask" 1
      san "$T/test_gpu_blockmask" 32
      san "$T/test_gpu_sm90_bwd" 53
    } > "$OUT/race.log" 2>&1
    grep -E "^== |RACECHECK SUMMARY|ERROR SUMMARY|hazard|Race reported|__shared__|^rc=" "$OUT/race.log" | head -200
    ;;
  race2)
    {
      san --kernel-name kns=fwd_sm90a_kernel "$T/test_gpu_blockmask" 1
      san --kernel-name kns=bwd_sm90a_kernel "$T/test_gpu_blockmask" 1
      san "$T/test_gpu_sm90_bwd" 49
      LIMIT=120 jfa_run compute-sanitizer --tool memcheck --error-exitcode 9 "$T/test_gpu_blockmask" 32
    } > "$OUT/race2.log" 2>&1
    grep -E "^== |RACECHECK SUMMARY|ERROR SUMMARY|hazard|Race reported|__shared__|^rc=" "$OUT/race2.log" | head -200
    ;;
  wait)
    # the diagnostic builds of the forward's copy arrivals (fwd.cuh, cp_async_mbar_arrive): $2 = 1
    # (cp.async.wait_all and a plain arrival) or 2 (cp.async.mbarrier.arrive without .noinc)
    W=${2:-1}
    JFA_H200_TARGETS="test_gpu_blockmask" jfa_h200_build "build-wait$W" "$OUT/build-wait$W.log" \
      "-DJFA_HEAD_DIMS=64;128" "-DCMAKE_CUDA_FLAGS=-lineinfo -DJFA_SM90_FWD_CPASYNC_WAIT=$W" ||
      { tail -40 "$OUT/build-wait$W.log"; exit 1; }
    {
      san "build-wait$W/tests/gpu/test_gpu_blockmask" 1
      san "build-wait$W/tests/gpu/test_gpu_blockmask" 32
      jfa_run "build-wait$W/tests/gpu/test_gpu_blockmask" 1
      jfa_run "build-wait$W/tests/gpu/test_gpu_blockmask" 32
    } > "$OUT/wait$W.log" 2>&1
    grep -E "^== |RACECHECK SUMMARY|ERROR SUMMARY|hazard|Race reported|__shared__|\[FAIL\]|passed, [0-9]+ failed|^rc=" \
      "$OUT/wait$W.log" | head -120
    ;;
  ctest)
    (cd $B && timeout 580 ctest -L gpu -E "64bit|python|torchrun" -j4 --output-on-failure --timeout 400) \
      > "$OUT/ctest.log" 2>&1
    echo "ctest rc=$?" >> "$OUT/ctest.log"
    grep -E "Test +#|tests passed|tests failed|ctest rc|\[FAIL\]" "$OUT/ctest.log"
    ;;
  *)
    echo "usage: $0 build|case53|race|race2|wait 1|wait 2|ctest"
    exit 2
    ;;
esac
