#!/usr/bin/env bash
# The one test command: installs what is needed, builds Mochi twice (a
# release build with -Werror, and an ASan+UBSan build), and runs the whole
# suite (ctest with cmocka) on both. The ctest fixture starts and stops the
# private PostgreSQL server. The release build's integration tests run on
# Apache Kafka (scripts/kafka-test-server, one cluster per test process),
# the sanitizer build's on the dev broker (mochi-devkafka, one per test):
# every Kafka-facing feature is tested on both. MOCHI_TEST_KAFKA=dev|apache
# before the command runs both builds on that one broker instead.
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
echo "== all tests passed (release build on ${MOCHI_TEST_KAFKA:-apache} Kafka, sanitizer build on ${MOCHI_TEST_KAFKA:-dev} Kafka)"
