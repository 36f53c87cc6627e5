#!/usr/bin/env bash
# scripts/build.sh: configures and builds grpo into build/ (ccache, -j2 by default).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${GRPO_BUILD_DIR:-build}
JOBS=${GRPO_JOBS:-2}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/grpo-ccache}
# Paths relative to the checkout, so a fresh clone elsewhere still hits the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)}
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
ccache -M 10G >/dev/null 2>&1 || true
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${GRPO_CMAKE_ARGS:-} >"$BUILD_DIR.configure.log" 2>&1 \
    || { cat "$BUILD_DIR.configure.log"; exit 1; }
fi
# Progress lines are dropped; warnings and errors stay. pipefail keeps the build's status.
cmake --build "$BUILD_DIR" -j "$JOBS" -- --no-print-directory 2>&1 \
  | { grep -v -E '^\[ *[0-9]+%\] (Building|Linking|Built|Generating|Automatic)' || true; }
