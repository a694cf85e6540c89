#!/usr/bin/env bash
# Instructions per request of mochi-collector, counted by valgrind's
# callgrind: repeatable on a shared, noisy machine, where CPU time is not.
#
# Starts, all private and stopped on exit: a PostgreSQL server
# (scripts/pg-test-server) with one site, one mochi-devkafka broker, and
# for each of two request counts a collector under
# `valgrind --tool=callgrind --separate-threads=yes`, loaded by wrk with
# the benchmark's beacons (bench/collector/beacon.lua through
# beacon-count.lua: a fixed seed, so both runs send the same beacons, and
# a fixed number of answers). The collector's own /metrics says how many
# beacons it answered with 202. Start-up and shutdown cost the same in
# both runs, so the difference of the two runs' instructions over the
# difference of their answered beacons is the cost of one request:
#
#   all threads   every thread of the process (HTTP workers, librdkafka's
#                 threads, the poll loop and delivery reports, the caches)
#   HTTP workers  the libmicrohttpd worker threads only
#
# and, per function, its inclusive cost in the HTTP workers (the top
# ones, and the functions named with --function).
#
# How far to trust them: the HTTP workers' figure moves by about 150
# instructions from run to run (how the connections fall on the workers,
# how many of them each epoll_wait returns). "All threads" also holds work
# done per second rather than per beacon (librdkafka's statistics every
# second and the collector's reading of them, timers), which a run under
# valgrind, some fifty times slower, spreads over fewer beacons: it moves
# by a couple of thousand. Callgrind counts instructions, not time: a
# `rep stosb` counts once per byte, so libmicrohttpd's zeroing of its
# connection pool (memset, about 24 KB per request) weighs more in these
# counts than in CPU time; cache misses and contended cache lines weigh
# nothing here.
#
# Usage: scripts/callgrind-collector.sh [OPTIONS]   (--help for the options)
# Exit status: 0 when both runs answered only 202s, 1 when not, 2 on bad
# usage or a setup failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=callgrind-collector
# shellcheck source=scripts/lib/bench-common.sh
source "$root/scripts/lib/bench-common.sh"
# shellcheck source=scripts/lib/bench-kafka.sh
source "$root/scripts/lib/bench-kafka.sh"

build_dir=${MOCHI_BENCH_BUILD_DIR:-}
small=${CALLGRIND_SMALL:-2000}
large=${CALLGRIND_LARGE:-8000}
connections=${CALLGRIND_CONNECTIONS:-4}
threads=${CALLGRIND_THREADS:-2}
out_dir=${CALLGRIND_OUT:-}
top=${CALLGRIND_TOP:-40}
linger_ms=${CALLGRIND_LINGER_MS:-500}
functions=()
kafka_props=()

usage() {
  cat <<EOF
Usage: scripts/callgrind-collector.sh [OPTIONS]

Counts mochi-collector's instructions per beacon under callgrind (two runs,
SMALL and LARGE answers, the difference over the difference) and prints
them for all threads, for the HTTP workers, and per function.

Options (environment variable in brackets):
  --build-dir DIR     use the binaries already built in DIR [MOCHI_BENCH_BUILD_DIR];
                      default: configure and build RelWithDebInfo in build-bench/
  --small N           answers in the first run [CALLGRIND_SMALL] (2000)
  --large N           answers in the second run [CALLGRIND_LARGE] (8000)
  --connections N     wrk -c, keep-alive connections, one wrk thread [CALLGRIND_CONNECTIONS] (4)
  --threads N         collector --threads [CALLGRIND_THREADS] (2)
  --top N             functions listed, by inclusive cost in the workers [CALLGRIND_TOP] (40)
  --linger-ms N       the collector's -X linger.ms [CALLGRIND_LINGER_MS] (500): under
                      valgrind it serves a few hundred beacons per second, so with
                      its default of 5 ms a batch would hold a few messages where the
                      benchmark's (tens of thousands per second) hold hundreds, and
                      the per-batch work (LZ4 context, request, response) would weigh
                      far more per beacon; 500 ms gives batches of the benchmark's size
  --function NAME     also list this function (repeatable)
  --out DIR           keep the callgrind files there [CALLGRIND_OUT]
  -X KEY=VALUE        another librdkafka property for the collector (repeatable)
  --help              this text
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
  --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
  --small) small=${2:?--small needs a value}; shift 2 ;;
  --large) large=${2:?--large needs a value}; shift 2 ;;
  --connections) connections=${2:?--connections needs a value}; shift 2 ;;
  --threads) threads=${2:?--threads needs a value}; shift 2 ;;
  --top) top=${2:?--top needs a value}; shift 2 ;;
  --linger-ms) linger_ms=${2:?--linger-ms needs a value}; shift 2 ;;
  --function) functions+=("${2:?--function needs a value}"); shift 2 ;;
  --out) out_dir=${2:?--out needs a value}; shift 2 ;;
  -X) kafka_props+=(-X "${2:?-X needs a value}"); shift 2 ;;
  --help | -h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
done
check_int small "$small" 100 1000000
check_int large "$large" 200 1000000
check_int connections "$connections" 1 1000
check_int threads "$threads" 1 64
check_int top "$top" 0 1000
check_int linger-ms "$linger_ms" 0 60000
[ "$large" -gt "$small" ] || die "--large must be more than --small"
need_tools valgrind callgrind_annotate wrk curl jq createdb python3

bench_build "$root/build-bench" mochi-collector mochi-devkafka mochictl

collector_pid='' wrk_pid=''
bench_stop_own() {
  stop "$wrk_pid" TERM 2
  stop "$collector_pid" TERM 60
}
bench_tmp mochi-callgrind
[ -n "$out_dir" ] || out_dir=$tmp/out
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)

echo "== PostgreSQL (private, unix socket in $tmp/pg/sock)"
bench_pg_start
createdb -h "$sock" -U postgres mochi_bench || setup_fail "createdb failed"
admin_url="host=$sock user=postgres dbname=mochi_bench"
MOCHI_DATABASE_URL=$admin_url "$build_dir/mochictl" migrate >"$tmp/migrate.log" 2>&1 ||
  setup_fail "mochictl migrate failed" "$tmp/migrate.log"
site_json=$(MOCHI_DATABASE_URL=$admin_url "$build_dir/mochictl" sites add --name bench \
  --domain example.com --json 2>"$tmp/sites.log") || setup_fail "mochictl sites add failed" "$tmp/sites.log"
key=$(jq -r .tracking_key <<<"$site_json")
bench_kafka_start dev 1 mochi.pageviews

# metric FILE NAME{LABELS}: the value of that exact series, 0 when absent.
metric() { awk -v n="$2" '$1 == n { v = $2 } END { printf "%.0f\n", v + 0 }' "$1"; }

# run N: one collector under callgrind answering N beacons (per wrk
# thread: one thread); leaves its 202 count in $answered and its
# callgrind files as $out_dir/N.out-*.
run() {
  local n=$1 port mport log=$tmp/collector-$1.log i
  port=$(pick_port) || setup_fail "no free port"
  mport=$((port + 1))
  rm -f "$out_dir/$n.out"*
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out_dir/$n.out" \
    "$build_dir/mochi-collector" --brokers "$brokers" \
    --database-url "host=$sock user=mochi_collector dbname=mochi_bench" \
    --trusted-proxies 127.0.0.1/32 --threads "$threads" --shutdown-timeout 10s -X "linger.ms=$linger_ms" "${kafka_props[@]}" \
    --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$mport" </dev/null 2>"$log" &
  collector_pid=$!
  for ((i = 0; i < 1200; i++)); do
    grep -qs 'msg="started"' "$log" && break
    kill -0 "$collector_pid" 2>/dev/null || setup_fail "the collector exited" "$log"
    sleep 0.05
  done
  grep -qs 'msg="started"' "$log" || setup_fail "the collector did not start" "$log"
  for ((i = 0; i < 300; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$mport/healthz")" = 200 ] && break
    sleep 0.1
  done
  rm -f "$tmp/done-$n"
  BENCH_KEY=$key BENCH_SEED=1 BENCH_COUNT=$n BENCH_SCRIPT_DIR=$root/bench/collector \
    BENCH_DONE_FILE=$tmp/done-$n timeout 600 wrk -t1 -c "$connections" -d 600s --timeout 30s \
    -s "$root/bench/collector/beacon-count.lua" "http://127.0.0.1:$port/api/event" \
    >"$tmp/wrk-$n.out" 2>&1 &
  wrk_pid=$!
  # (its one thread stops at N answers; wrk then waits for --duration)
  while kill -0 "$wrk_pid" 2>/dev/null && [ ! -s "$tmp/done-$n" ]; do sleep 0.1; done
  kill -INT "$wrk_pid" 2>/dev/null || true
  wait "$wrk_pid" || { cat "$tmp/wrk-$n.out" >&2; setup_fail "wrk failed"; }
  wrk_pid=''
  curl -s --max-time 30 "http://127.0.0.1:$mport/metrics" >"$tmp/metrics-$n"
  answered=$(metric "$tmp/metrics-$n" 'mochi_collector_http_requests_total{route="event",status="202"}')
  local all
  all=$(awk '$1 ~ /^mochi_collector_http_requests_total\{route="event",/ { s += $2 } END { printf "%.0f", s }' \
    "$tmp/metrics-$n")
  [ "$all" = "$answered" ] || { echo "$bench_name: run $n: $((all - answered)) answers were not 202" >&2; void=1; }
  stop "$collector_pid" TERM 60
  collector_pid=''
}

void=0
echo "== collector under callgrind: $small then $large beacons (wrk -t1 -c$connections, --threads $threads," \
  "linger.ms=$linger_ms)"
run "$small"
small_answered=$answered
run "$large"
large_answered=$answered
echo "   answered: $small_answered and $large_answered"

# Per run: the total of all threads, of the HTTP workers (the threads that
# ran on_request), and the workers' inclusive cost per function.
python3 - "$out_dir" "$small" "$large" "$small_answered" "$large_answered" "$top" "${functions[@]}" <<'EOF'
import glob, re, subprocess, sys
out_dir, small, large = sys.argv[1], sys.argv[2], sys.argv[3]
n_small, n_large, top = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
wanted = sys.argv[7:]

def totals(path):
    with open(path, errors="replace") as f:
        text = f.read()
    m = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    return int(m.group(1)) if m else 0, "on_request" in text

line = re.compile(r"^\s*([\d,]+) \([^)]*\)\s+(?:\* )?\s*(.+?)(?: \[[^\]]*\])?$")
def inclusive(path):
    res = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--auto=no", "--threshold=100", path],
                         capture_output=True, text=True).stdout
    costs = {}
    in_list = False
    for l in res.splitlines():
        in_list = in_list or l.endswith("file:function")
        if not in_list:
            continue
        m = line.match(l)
        if not m:
            continue
        name = m.group(2).split(":", 1)[-1] if ":" in m.group(2) else m.group(2)
        name = re.sub(r" \([\d,]+x\)$", "", name)  # the call count, when shown
        if name in ("PROGRAM TOTALS", "events annotated"):
            continue
        # (a function can be listed twice, by its path and by its inline
        # file: the same cost)
        costs[name] = max(costs.get(name, 0), int(m.group(1).replace(",", "")))
    return costs

def run(n):
    total = workers = 0
    funcs = {}
    for path in sorted(glob.glob(f"{out_dir}/{n}.out-*")):
        t, is_worker = totals(path)
        total += t
        if is_worker:
            workers += t
            for k, v in inclusive(path).items():
                funcs[k] = funcs.get(k, 0) + v
    return total, workers, funcs

ts, ws, fs = run(small)
tl, wl, fl = run(large)
d = n_large - n_small
print()
print(f"Instructions per request (callgrind Ir; runs of {n_small} and {n_large} answered beacons,")
print(f"difference over difference):")
print(f"  all threads   {(tl - ts) / d:10.0f}")
print(f"  HTTP workers  {(wl - ws) / d:10.0f}")
per = {k: (fl.get(k, 0) - fs.get(k, 0)) / d for k in set(fl) | set(fs)}
rows = sorted(per.items(), key=lambda kv: -kv[1])[:top]
names = {k for k, _ in rows}
rows += [(k, per[k]) for k in per if k not in names and any(w == k for w in wanted)]
if rows:
    print()
    print("Inclusive instructions per request in the HTTP workers, by function:")
    for k, v in rows:
        print(f"  {v:10.0f}  {k}")
EOF
exit "$void"
