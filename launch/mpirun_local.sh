#!/usr/bin/env bash
# mpirun_local.sh - runs a jfa program on the ranks of ONE node with Open MPI.
#
#   launch/mpirun_local.sh -np P <program> [args...]
#
# - exports NCCL_NVLS_ENABLE=0 to every rank (always; NVLink multicast stays off);
# - rank -> GPU by OMPI_COMM_WORLD_LOCAL_RANK: jfa_ring picks GPU (local rank mod
#   #GPUs) itself; with JFA_BIND_GPU=1 this script instead restricts each rank to
#   that one GPU with CUDA_VISIBLE_DEVICES (then every rank sees device 0);
# - adds --allow-run-as-root when run as root, and --oversubscribe when P exceeds
#   the cores (CPU ranks, or several ranks sharing one GPU).
# Extra mpirun options: JFA_MPIRUN_ARGS (e.g. "--bind-to none").
set -euo pipefail

if [ "${1:-}" = "--rank" ]; then  # per-rank trampoline (inside mpirun)
  shift
  if [ "${JFA_BIND_GPU:-0}" = "1" ] && command -v nvidia-smi >/dev/null 2>&1; then
    ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
    if [ "${ngpu:-0}" -gt 0 ]; then
      export CUDA_VISIBLE_DEVICES=$(( ${OMPI_COMM_WORLD_LOCAL_RANK:-0} % ngpu ))
    fi
  fi
  exec "$@"
fi

np=1
if [ "${1:-}" = "-np" ] || [ "${1:-}" = "-n" ]; then np="$2"; shift 2; fi
if [ $# -lt 1 ]; then
  echo "usage: $0 -np P <program> [args...]" >&2
  exit 2
fi

flags=(-np "$np" -x NCCL_NVLS_ENABLE=0 -x OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}")
[ -n "${JFA_BIND_GPU:-}" ] && flags+=(-x JFA_BIND_GPU)
[ -n "${JFA_MPI_CUDA_AWARE:-}" ] && flags+=(-x JFA_MPI_CUDA_AWARE)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
cores=$(nproc 2>/dev/null || echo 1)
[ "$np" -gt "$cores" ] && flags+=(--oversubscribe)
export NCCL_NVLS_ENABLE=0
# shellcheck disable=SC2086
exec mpirun "${flags[@]}" ${JFA_MPIRUN_ARGS:-} "$0" --rank "$@"
