#!/usr/bin/env bash
# scripts/test.sh: the README's test command. Installs what is missing, builds, and runs
# every test (unit and e2e) through CTest. `scripts/test.sh -L e2e` runs only the e2e ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${GRPO_BUILD_DIR:-build}"
ctest --output-on-failure -j 2 "$@"
