#!/usr/bin/env bash
# run_main.sh - the main job: builds jfa (launch/build.sh, into ${JFA_BUILD_DIR:-build})
# and runs ring attention (forward, JVP, backward, with timings, memory and a
# float64 check) on this node with launch/mpirun_local.sh.
#
#   launch/run_main.sh [jfa_ring args...]        e.g. launch/run_main.sh --seq 65536
#
# Ranks: JFA_NP, default the number of GPUs (one rank per GPU, NCCL), or 4 CPU
# ranks on a machine without a GPU (with the program's small CPU default size).
# It builds only the program (JFA_BUILD_MAIN, see build.sh), and without a GPU leaves the
# CUDA kernels out. Extra cmake arguments for the build: JFA_CMAKE_ARGS.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${JFA_BUILD_DIR:-build}"
case "$build_dir" in /*) ;; *) build_dir="$here/$build_dir" ;; esac

# GPUs: nvidia-smi's list (no nvidia-smi, or no GPU in it: none)
ngpu=0
if command -v nvidia-smi >/dev/null 2>&1; then
  ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
fi
main=cpu
if [ "${ngpu:-0}" -gt 0 ]; then main=gpu; fi

# shellcheck disable=SC2086
JFA_BUILD_MAIN="$main" JFA_BUILD_DIR="$build_dir" "$here/launch/build.sh" ${JFA_CMAKE_ARGS:-}

prog="$build_dir/apps/jfa_ring"
if [ ! -x "$prog" ]; then
  echo "run_main.sh: $prog was not built (jfa_ring needs MPI: is JFA_ENABLE_MPI on?)" >&2
  exit 1
fi

if [ "${ngpu:-0}" -gt 0 ]; then
  np="${JFA_NP:-$ngpu}"
  echo "run_main.sh: $np rank(s) on $ngpu GPU(s)"
  set -- --device cuda "$@" # a build without CUDA (no nvcc) exits 77 rather than running a CPU job unannounced
else
  np="${JFA_NP:-4}"
  echo "run_main.sh: no GPU, $np CPU ranks (small default size)"
  set -- --device cpu "$@"
fi
exec "$here/launch/mpirun_local.sh" -np "$np" "$prog" "$@"
