#!/usr/bin/env bash
# The one test command: installs what is needed, builds Mochi twice (a
# release build with -Werror, and an ASan+UBSan build), and runs the whole
# suite (ctest with cmocka) on both, then compiles everything with clang. The ctest fixture starts and stops the
# private PostgreSQL server. The release build's integration tests run on
# Apache Kafka (scripts/kafka-test-server, one cluster per test process),
# the sanitizer build's on the dev broker (mochi-devkafka, one per test):
# every Kafka-facing feature is tested on both. MOCHI_TEST_KAFKA=dev|apache
# before the command runs both builds on that one broker instead. Last,
# each libFuzzer target of tests/fuzz runs for 30 s (scripts/fuzz.sh: a
# clang build in build-fuzz/ and about 3 minutes in all).
# Exit status is non-zero when anything fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh

echo "== format check"
bash scripts/check-format.sh
echo "== ops check"
bash scripts/check-ops.sh

run_suite() {
  local dir=$1 kafka=$2; shift 2
  echo "== build $dir ($*)"
  cmake -S . -B "$dir" -DMOCHI_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir on Kafka: $kafka"
  MOCHI_TEST_KAFKA=$kafka ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900
}

run_suite build "${MOCHI_TEST_KAFKA:-apache}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite build-asan "${MOCHI_TEST_KAFKA:-dev}" -DCMAKE_BUILD_TYPE=Debug -DMOCHI_SANITIZE=ON
# Every target (tests and bench tools too) also compiles with clang and
# -Werror: its warnings differ from gcc's (-Wshadow sees libc's globals,
# -Wstring-concatenation), and the fuzz build compiles only what it links.
echo "== build build-clang (clang -Werror, compile only)"
cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang -DMOCHI_WERROR=ON >/dev/null
cmake --build build-clang -j "$jobs" >/dev/null
echo "== fuzz (30 s per target)"
bash scripts/fuzz.sh --seconds 30
echo "== all tests passed (release build on ${MOCHI_TEST_KAFKA:-apache} Kafka, sanitizer build on ${MOCHI_TEST_KAFKA:-dev} Kafka)"
