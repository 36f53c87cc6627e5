#!/usr/bin/env bash
# scripts/gpu_check.sh: the one command that checks the CUDA kernels on a GPU machine.
# Configures a build with GRPO_CUDA=ON (sm_90 + PTX), builds the kernel tests and the
# benchmark, runs the CPU reference tests, the GPU-vs-reference test (which must not
# skip: GRPO_REQUIRE_GPU=1) and the benchmark, and writes everything to a Markdown file
# ready to paste into bench/RESULTS.md.
# Usage: scripts/gpu_check.sh [OUTPUT.md] [--quick]   (env: GRPO_BUILD_DIR, GRPO_JOBS)
# Exit status: non-zero when a test fails or the build does; the file is written anyway.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=""
QUICK=""
for a in "$@"; do
  case "$a" in
    --quick) QUICK=--quick ;;
    *) OUT=$a ;;
  esac
done
OUT=${OUT:-bench/gpu_check_$(date -u +%Y%m%d_%H%M).md}
BUILD_DIR=${GRPO_BUILD_DIR:-build-gpu}
JOBS=${GRPO_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/grpo-ccache}
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU visible (nvidia-smi -L failed); nothing to check here" >&2
  exit 2
fi
[ -x scripts/setup.sh ] && scripts/setup.sh

set -e
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRPO_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="90-real;90-virtual" >"$BUILD_DIR.configure.log" 2>&1 \
  || { tail -40 "$BUILD_DIR.configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j "$JOBS" --target kernels_test kernels_gpu_test kernels_bench
set +e

status=0
tmp=$(mktemp -d)
"$BUILD_DIR/tests/kernels/kernels_test" --gtest_brief=1 >"$tmp/cpu.txt" 2>&1 || status=1
GRPO_REQUIRE_GPU=1 "$BUILD_DIR/tests/kernels/kernels_gpu_test" >"$tmp/gpu.txt" 2>&1 || status=1
"$BUILD_DIR/bench/kernels_bench" $QUICK >"$tmp/bench.txt" 2>&1 || status=1
{
  echo "## Kernels on $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), $(date -u +%F)"
  echo
  echo "Driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1);" \
       "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  echo "### CPU reference tests"
  echo '```'
  tail -5 "$tmp/cpu.txt"
  echo '```'
  echo "### GPU kernels vs CPU reference"
  echo '```'
  grep -vE '^\[ RUN|^\[       OK' "$tmp/gpu.txt"
  echo '```'
  echo
  cat "$tmp/bench.txt"
} | tee "$OUT"
rm -rf "$tmp"
echo "gpu_check: results in $OUT (status $status)"
exit $status
