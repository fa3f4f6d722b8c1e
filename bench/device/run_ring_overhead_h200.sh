#!/bin/bash
# run_ring_overhead_h200.sh - the ring machinery's cost at P = 1 on one H200 (from the
# repository root): builds jfa_ring through h200_build.sh (cmake -G Ninja, sm_90, NCCL from
# the nvidia.nccl package when present) and runs apps/jfa_ring with one
# rank, bf16, B = 1, H = 16, D = 128, N = 32768, causal (zigzag) and non-causal, timed with
# CUDA events (--timer events: warm-up calls, then the median of ITERS):
#   direct   the default at P = 1: the ring's calls go straight to the single-device kernels
#   generic  JFA_RING_GENERIC=1: the ring code with one rank (fills, in-place or buffered
#            accumulators, per-pair block calls over the key halves, converts, syncs)
# Each run prints forward, forward+JVP and backward times, and (P = 1) the single-device API
# on the same problem and ring/direct: the generic run's ratio is the machinery's overhead.
# Logs (one per run, plus build.log and summary.log) go to $OUT.
#
#   bash bench/device/run_ring_overhead_h200.sh   (ITERS=20 WARMUP=3 N=32768 by default)
set -u
OUT=${OUT:-/tmp/jfa_ring_overhead}
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
N=${N:-32768}
ITERS=${ITERS:-20}
WARMUP=${WARMUP:-3}
. bench/device/h200_build.sh
B=build-h200
JFA_H200_TARGETS=jfa_ring jfa_h200_build $B "$OUT/build.log" || { echo "BUILD FAILED"; tail -40 "$OUT/build.log"; exit 1; }
[ -x $B/apps/jfa_ring ] || { echo "jfa_ring was not built (MPI missing?)"; tail -20 "$OUT/build.log"; exit 1; }

COMM=mpi # one rank: the communicator carries nothing; nccl when built, else mpi
grep -q "JFA_ENABLE_NCCL:BOOL=ON" $B/CMakeCache.txt 2>/dev/null && COMM=nccl
: > "$OUT/summary.log"
for mask in causal no-causal; do
  for mode in direct generic; do
    log="$OUT/ring_p1_${mode}_${mask}.log"
    env_generic=""
    [ "$mode" = generic ] && env_generic="JFA_RING_GENERIC=1"
    # shellcheck disable=SC2086
    env $env_generic timeout 500 mpirun -np 1 $B/apps/jfa_ring --device cuda --comm $COMM --dtype bf16 \
      --batch 1 --heads 16 --kv-heads 16 --dim 128 --seq "$N" --layout zigzag --$mask \
      --iters "$ITERS" --warmup "$WARMUP" --timer events > "$log" 2>&1
    rc=$?
    {
      echo "== P=1 $mode $mask (rc=$rc)"
      grep -E "^  (forward|forward\+JVP|backward) |ring/direct|memory per rank|jfa_ring: (PASSED|FAILED)" "$log"
    } >> "$OUT/summary.log"
  done
done
cat "$OUT/summary.log"
