#!/usr/bin/env bash
# build.sh - installs missing build dependencies and builds jfa. Idempotent.
#
#   launch/build.sh [extra cmake args...]
#
# Env: JFA_BUILD_DIR (default: build), CI (set: warnings are errors, and the tensor-core
#        kernels of head dims $JFA_CI_HEAD_DIMS only, default "64;256": every kernel family and
#        op compiles, the column-sliced D > 128 and float32 D = 256 rows included, in a third of
#        the time of all seven head dims; an explicit -DJFA_HEAD_DIMS=... wins),
#      JFA_BUILD_JOBS (default: all cores),
#      JFA_BUILD_MAIN=cpu|gpu: build only the main job's program (apps/jfa_ring and what it
#        links; no tests): cpu also leaves the CUDA kernels out (launch/run_main.sh sets it).
#        Unset: everything (tests on, CUDA on when nvcc is found), as CI and tests/run.sh want.
# Installs cmake, ninja-build, Open MPI, and PyTorch + pytest for the Python
# binding's tests (Debian's python3-torch, python3-pytest; JFA_NO_PYTHON_DEPS=1 skips
# them) with apt-get when they are missing
# (needs root or sudo), configures into $JFA_BUILD_DIR (Ninja when available),
# passing "$@" to cmake, and builds. CUDA/NCCL are used when nvcc is found.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${JFA_BUILD_DIR:-build}"
case "$build_dir" in /*) ;; *) build_dir="$here/$build_dir" ;; esac

# --- dependencies ---------------------------------------------------------------
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v ninja >/dev/null 2>&1 || missing+=(ninja-build)
{ command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1; } || missing+=(openmpi-bin libopenmpi-dev)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
# the Python binding's tests need an interpreter with PyTorch and pytest (Debian: python3-torch)
have_torch=0
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c "import torch, pytest" >/dev/null 2>&1; then have_torch=1; break; fi
done
if [ "$have_torch" -eq 0 ] && [ -z "${JFA_NO_PYTHON_DEPS:-}" ] && [ -z "${JFA_BUILD_MAIN:-}" ]; then missing+=(python3-torch python3-pytest); fi
# the install test builds a virtual environment with the system's site packages (Debian: python3-venv)
if [ -z "${JFA_NO_PYTHON_DEPS:-}" ] && [ -z "${JFA_BUILD_MAIN:-}" ] && [ -x /usr/bin/python3 ] &&
  ! /usr/bin/python3 -c "import ensurepip" >/dev/null 2>&1; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "build.sh: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
      echo "build.sh: need root or sudo to install ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" apt-get install -y "${missing[@]}"
fi

# nvcc is often installed but not on PATH
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

# --- configure and build ------------------------------------------------------
gen=() # an existing build dir keeps its generator; a new one uses Ninja when available
if [ ! -f "$build_dir/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
werror=()
hdims=()
if [ -n "${CI:-}" ]; then
  werror=(-DJFA_WARNINGS_AS_ERRORS=ON)
  case " $* " in *JFA_HEAD_DIMS*) ;; *) hdims=("-DJFA_HEAD_DIMS=${JFA_CI_HEAD_DIMS:-64;256}") ;; esac
fi

# what to build: everything, or the main job's program only (explicit options, so that a
# build dir shared by both modes never keeps the other mode's choice in its cache)
have_nvcc=OFF
if command -v nvcc >/dev/null 2>&1; then have_nvcc=ON; fi
mode=(-DJFA_BUILD_TESTS=ON "-DJFA_ENABLE_CUDA=$have_nvcc")
target=()
case "${JFA_BUILD_MAIN:-}" in
  "") ;;
  # the main job needs MPI: forced on (a build dir configured before Open MPI was installed keeps it off otherwise)
  cpu) mode=(-DJFA_BUILD_TESTS=OFF -DJFA_ENABLE_CUDA=OFF -DJFA_ENABLE_MPI=ON); target=(--target jfa_ring) ;;
  gpu) mode=(-DJFA_BUILD_TESTS=OFF "-DJFA_ENABLE_CUDA=$have_nvcc" -DJFA_ENABLE_MPI=ON); target=(--target jfa_ring) ;;
  *) echo "build.sh: JFA_BUILD_MAIN must be cpu or gpu" >&2; exit 2 ;;
esac

jobs="${JFA_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
echo "build.sh: configuring $build_dir"
cmake -S "$here" -B "$build_dir" "${gen[@]}" "${werror[@]}" "${hdims[@]}" "${mode[@]}" "$@"
echo "build.sh: building ${target[*]:-everything} with $jobs jobs"
cmake --build "$build_dir" -j "$jobs" "${target[@]}"
