#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (-DMOCHI_FUZZ=ON)
# and runs each for a while on a copy of its checked-in seed corpus, one
# after the other. Fails on any crash, leak, sanitizer report or property
# violation and prints the path of the input that caused it.
#
#   scripts/fuzz.sh [--seconds N] [--build-dir D] [TARGET...]
#
# N defaults to 60 seconds per target, D to build-fuzz/, TARGET to every
# tests/fuzz/fuzz_<target>.c (beacon, forwarded, settings, avro). New inputs
# and crashes go under D/fuzz-runs/<target>/; the checked-in corpus is never
# changed. A longer run: scripts/fuzz.sh --seconds 3600. See docs/fuzzing.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=60
build=build-fuzz
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --build-dir) build=${2:?--build-dir needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: --seconds takes a whole number of seconds" >&2
  exit 2
fi
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    targets+=("${t#fuzz_}")
  done
fi
for t in "${targets[@]}"; do
  if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then
    echo "fuzz.sh: no target $t (tests/fuzz/fuzz_$t.c)" >&2
    exit 2
  fi
done
if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang is missing (scripts/install-deps.sh installs it)" >&2
  exit 2
fi

# The largest input each target reads: a beacon body (4 KiB) or three query
# values; an X-Forwarded-For as the collector joins it (1 KiB); one setting;
# one wire message (MOCHI_PAGEVIEW_WIRE_MAX).
max_len() {
  case $1 in
    beacon) echo 4200 ;;
    forwarded) echo 1100 ;;
    settings) echo 512 ;;
    avro) echo 2100 ;;
    *) echo 4096 ;;
  esac
}

echo "fuzz: building ${targets[*]} in $build"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DMOCHI_FUZZ=ON -DMOCHI_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j 2 --target "${targets[@]/#/fuzz_}" >/dev/null

failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  run="$build/fuzz-runs/$t"
  rm -rf "$run/corpus"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$run/corpus/"
  log="$run/fuzz.log"
  echo "fuzz: $t for ${seconds}s (log: $log)"
  status=0
  # One process, one job: the machine is shared; -timeout catches hangs.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$run/artifacts/" "$run/corpus" >"$log" 2>&1 || status=$?
  final=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $status); the end of its log:"
    grep -vE '^#[0-9]+[[:space:]]' "$log" | tail -40
    for a in "$run"/artifacts/*; do
      [ -e "$a" ] && echo "fuzz: $t: failing input $a (rerun: $bin $a)"
    done
    failed+=("$t")
  else
    echo "fuzz: $t ok: ${execs:-?} runs; ${final:-no final line}"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
