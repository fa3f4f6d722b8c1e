#!/usr/bin/env bash
# run.sh - builds jfa (launch/build.sh) and runs every test (all labels: cpu, mpi,
# gpu; GPU tests report "Not Run" without a GPU). Exits non-zero on any failure.
#
#   ./tests/run.sh [extra cmake args...]      (env JFA_BUILD_DIR, default build)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${JFA_BUILD_DIR:-build}"
case "$build_dir" in /*) ;; *) build_dir="$here/$build_dir" ;; esac
export JFA_BUILD_DIR="$build_dir"

# Open MPI refuses to run as root unless told
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

"$here/launch/build.sh" "$@"
ctest --test-dir "$build_dir" --output-on-failure
