#!/bin/bash
# run_s29a_h200.sh - written in the twenty-eighth session (no device lent to it) for the next session's first call
# (from the repository root; .seed carried): one default build of every head dim (-Werror), then
#   1. the persistent 16-bit backward's tests (bwd.cuh PERSIST, written without a GPU, never run): test_gpu_bwd_persist
#      and test_gpu_sm90_bwd_bwdpersist first (a failure there decides the rest of the session), with the NaN, modes and
#      P = 1 accumulate ring tests (the twenty-eighth session changed every forward's accumulate-mode merge and the
#      merge kernels: an underflowed weight no longer drops a NaN partial; not yet run on a GPU), then memcheck and
#      racecheck of test_gpu_bwd_persist's case 0 (3 CTAs walking 32 tiles: the epilogue over the dS / dQ staging
#      buffers while the next tile's K / V land) and case 5 (packed sequences as a band);
#   2. A / B at kernel level, JFA_SM90_BWD_PERSIST=0 / 1 alternating, two rounds (bwd rows): causal 16 x 1024, 8 x 2048,
#      4 x 4096, 1 x 16384, packed 8 x 2048, a causal window of 2048 at 16384, at D = 64 and 128 (D = 96: 8 x 2048);
#   3. the whole GPU suite (`ctest -L gpu -E 64bit`, the new entries included) with the time left.
# The twenty-ninth session (no device either) added, run in step 1 too: test_gpu_attention's and test_gpu_masks'
# batches above 65535 (core/dispatch.c's chunks; test_gpu_attention's cases 47-48, test_gpu_masks' 72-74), the sm80 bwd-JVP's
# bias tiles (no case on an H200: its limit is an A100's), and test_sdpa_edges.py's test_zero_stride_inputs on CUDA
# (stride-0 q / K / V / mask rows: does the driver take a TMA map with a zero stride?), and the binding's CPU tests
# under torch 2.11 (the forward-AD level token under torch.func).
# The prediction is in bench/RESULTS.md (twenty-eighth session). DL: the deadline (default 570). Logs in $OUT.
#   DL=570 bash bench/device/run_s29a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s29a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s29a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
{
  (cd $B && timeout $(left 400) ctest -R "^(test_gpu_bwd_persist|test_gpu_sm90_bwd_bwdpersist|test_gpu_nan|test_gpu_modes|test_ring_gpu_np1_accumulate)$" \
    -j2 --timeout 240 --output-on-failure) | grep -E "tests passed|Failed|\*\*\*|Not Run|FAIL"
  # the twenty-ninth session's GPU cases: batch chunks (B = 65540 to 66000) and stride-0 inputs
  for ci in 47 48; do timeout $(left 380) "$JFA_BUILD_DIR/tests/gpu/test_gpu_attention" $ci 2>&1 | tail -2; done
  for ci in 72 73 74; do timeout $(left 380) "$JFA_BUILD_DIR/tests/gpu/test_gpu_masks" $ci 2>&1 | tail -2; done
  (cd tests/python && PYTHONPATH=$PWD/../../python JFA_LIBRARY=$PWD/../../$JFA_BUILD_DIR/libjfa.so timeout $(left 380) \
    python3 -m pytest -q -x test_sdpa_edges.py -k zero_stride 2>&1 | tail -3)
  # torch 2.11's transforms over the binding's twenty-ninth-session changes (the forward-AD level token under
  # torch.func.jvp / grad / vmap, the older vmap's forward-mode jacobian): the CPU tests this machine's torch 1.13 skips
  (cd tests/python && PYTHONPATH=$PWD/../../python JFA_LIBRARY=$PWD/../../$JFA_BUILD_DIR/libjfa.so timeout $(left 360) \
    python3 -m pytest -q -p no:cacheprovider -m "not gpu" test_second_order.py test_vmap.py test_sdpa_edges.py \
    test_host_paths.py test_attention.py 2>&1 | tail -6)
  # memcheck of case 0 (3 CTAs walking 32 tiles) and 5 (packed sequences as a band); racecheck and synccheck of case 2
  # (one CTA walking 12 tiles, D = 96): racecheck does not follow mbarrier ordering (the twenty-sixth session's
  # calls 4 / 5: false WAR hazards on mbarrier-ordered buffers), so its hazards are printed by kernel, the
  # non-persistent kernel's (the same case's first run) beside the persistent one's
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 380) test_gpu_bwd_persist 0
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 380) test_gpu_bwd_persist 5
  JFA_SAN_TAIL=3 jfa_sanitize synccheck $(left 380) test_gpu_bwd_persist 2
  echo "== racecheck test_gpu_bwd_persist 2 (hazards by kernel)"
  timeout $(left 380) compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 400 \
    "$JFA_BUILD_DIR/tests/gpu/test_gpu_bwd_persist" 2 > "$OUT/racecheck2.log" 2>&1
  echo "rc=$?"
  grep -o "bwd_sm90a_kernel[^ ]*" "$OUT/racecheck2.log" | sort | uniq -c | head
  tail -3 "$OUT/racecheck2.log"
} 2>&1 | tee "$OUT/persist_tests.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  for round in 1 2; do
    for d in 64 128; do
      for pe in 0 1; do
        for shape in "--causal 16 1024" "--causal 8 2048" "--causal 4 4096" "--causal 1 16384" "--varlen 8 2048" \
          "--window 16384"; do
          set -- $shape
          if [ "$1" = "--window" ]; then args="$1 $2 $d 2048"; else args="$1 $2 $3 $d"; fi
          JFA_SM90_BWD_PERSIST=$pe timeout $(left 260) $JFA_BENCH $args | grep -e ^bwd |
            sed "s/^/[r$round persist=$pe $shape D=$d] /"
        done
      done
    done
    for pe in 0 1; do
      JFA_SM90_BWD_PERSIST=$pe timeout $(left 260) $JFA_BENCH --causal 8 2048 96 | grep -e ^bwd |
        sed "s/^/[r$round persist=$pe --causal 8 2048 D=96] /"
    done
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
jfa_gpu_suite $B "$OUT/ctest.log" 10
echo "t=$(( $(date +%s) - T0 ))"
