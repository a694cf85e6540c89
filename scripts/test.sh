#!/usr/bin/env bash
# The one test command: installs what is needed, builds Mochi twice (a
# release build with -Werror, and an ASan+UBSan build), and runs the whole
# suite (ctest with cmocka) on both. The ctest fixture starts and stops the
# private PostgreSQL server; each integration test starts its own dev Kafka
# broker. Exit status is non-zero when anything fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh

echo "== format check"
bash scripts/check-format.sh

run_suite() {
  local dir=$1; shift
  echo "== build $dir ($*)"
  cmake -S . -B "$dir" -DMOCHI_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DMOCHI_SANITIZE=ON
echo "== all tests passed (release and sanitizer builds)"
