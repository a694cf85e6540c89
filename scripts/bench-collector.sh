#!/usr/bin/env bash
# Benchmark of mochi-collector against nginx answering 204, with wrk
# posting realistic beacons over keep-alive connections (bench/collector/
# beacon.lua). Prints requests/s, p50/p99 latency and non-2xx counts per
# run and their medians, the ratio collector/nginx, the collector's peak
# RSS, and checks that every accepted beacon reached Kafka.
#
# It starts, all private and stopped on exit (also on Ctrl-C): a
# PostgreSQL server (scripts/pg-test-server) in a temp dir, migrated, with
# one site; one Kafka broker (--kafka dev: mochi-devkafka, librdkafka's
# mock cluster; --kafka apache: a single-node Apache Kafka from
# scripts/kafka-test-server, the topic made by mochictl topics ensure); the
# collector on a free loopback port; nginx in the foreground
# with its own conf/pid/logs in the temp dir. Traffic goes to 127.0.0.1 only.
#
# Usage: scripts/bench-collector.sh [OPTIONS]   (--help for the options)
# Not a timed test: it prints numbers. Exit status: 0 when every run was
# valid (collector: only 202s, no socket errors, every event acknowledged
# by Kafka), 1 when a run was void, 2 on bad usage or a setup failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=bench-collector
# shellcheck source=scripts/lib/bench-common.sh
source "$root/scripts/lib/bench-common.sh"
# shellcheck source=scripts/lib/bench-kafka.sh
source "$root/scripts/lib/bench-kafka.sh"
lua=$root/bench/collector/beacon.lua
nginx_conf_in=$root/bench/collector/nginx.conf.in

build_dir=${MOCHI_BENCH_BUILD_DIR:-}
duration=${BENCH_DURATION:-15}
runs=${BENCH_RUNS:-3}
warmup=${BENCH_WARMUP:-3}
wrk_threads=${BENCH_WRK_THREADS:-2}
connections=${BENCH_CONNECTIONS:-64}
server_threads=${BENCH_SERVER_THREADS:-$(nproc)}
perf_out=${BENCH_PERF:-}
kafka=${BENCH_KAFKA:-dev}
rss_target_mib=64
ratio_target=0.80

usage() {
  cat <<EOF
Usage: scripts/bench-collector.sh [OPTIONS]

Runs wrk against mochi-collector and against nginx (204) with the same
load, interleaved (collector, nginx, collector, nginx, ...), and prints
medians, the ratio collector/nginx, peak RSS and the Kafka check.

Options (environment variable in brackets):
  --kafka dev|apache    the broker: 'dev' (mochi-devkafka, librdkafka's mock) or
                        'apache' (single-node Apache Kafka from
                        scripts/kafka-test-server) [BENCH_KAFKA] (dev)
  --build-dir DIR       use the mochi binaries already built in DIR, do not
                        build [MOCHI_BENCH_BUILD_DIR]; default: configure and
                        build RelWithDebInfo in build-bench/ of the repo
  --duration SEC        length of each measured run, 1..60 [BENCH_DURATION] (15)
  --runs N              measured runs per server, 1..7 [BENCH_RUNS] (3)
  --warmup SEC          unmeasured run per server first, 0..30 [BENCH_WARMUP] (3)
  --wrk-threads N       wrk -t [BENCH_WRK_THREADS] (2)
  --connections N       wrk -c, keep-alive connections [BENCH_CONNECTIONS] (64)
  --server-threads N    collector --threads and nginx worker_processes
                        [BENCH_SERVER_THREADS] (nproc: $(nproc))
  --perf FILE           after the measured runs, one more collector run
                        (not counted) under 'perf record -g', written to FILE
                        [BENCH_PERF]
  --help                this text
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
  --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
  --duration) duration=${2:?--duration needs a value}; shift 2 ;;
  --runs) runs=${2:?--runs needs a value}; shift 2 ;;
  --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
  --wrk-threads) wrk_threads=${2:?--wrk-threads needs a value}; shift 2 ;;
  --connections) connections=${2:?--connections needs a value}; shift 2 ;;
  --server-threads) server_threads=${2:?--server-threads needs a value}; shift 2 ;;
  --perf) perf_out=${2:?--perf needs a value}; shift 2 ;;
  --kafka) kafka=${2:?--kafka needs a value}; shift 2 ;;
  --help | -h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
done

check_int duration "$duration" 1 60
check_int runs "$runs" 1 7
check_int warmup "$warmup" 0 30
check_int wrk-threads "$wrk_threads" 1 64
check_int connections "$connections" 1 10000
check_int server-threads "$server_threads" 1 256
[ "$connections" -ge "$wrk_threads" ] || die "--connections must be at least --wrk-threads"
case "$kafka" in dev | apache) ;; *) die "--kafka: expected dev or apache (got '$kafka')" ;; esac
need_tools wrk nginx curl jq kcat awk ss createdb
[ -x /usr/bin/time ] ||
  echo "bench-collector: /usr/bin/time is missing (package time): wrk's CPU is counted as other load" >&2
if [ -n "$perf_out" ]; then
  command -v perf >/dev/null || die "--perf: perf is not installed"
  perf_out=$(realpath -m "$perf_out")
fi

# ---------------------------------------------------------------- build
bench_build "$root/build-bench" mochi-collector mochi-devkafka mochictl

# ---------------------------------------------------------------- cleanup
wrk_pid='' perf_pid='' nginx_pid='' collector_pid=''
bench_stop_own() { # before the lib's cleanup stops the collector, the broker and PostgreSQL
  stop "$perf_pid" INT 10
  stop "$wrk_pid" TERM 2
  stop "$nginx_pid" TERM 5
}
bench_tmp mochi-bench

# ---------------------------------------------------------------- PostgreSQL
echo "== PostgreSQL (private, unix socket in $tmp/pg/sock)"
bench_pg_start
createdb -h "$sock" -U postgres mochi_bench || setup_fail "createdb failed"
admin_url="host=$sock user=postgres dbname=mochi_bench"
MOCHI_DATABASE_URL=$admin_url "$build_dir/mochictl" migrate >"$tmp/migrate.log" 2>&1 ||
  setup_fail "mochictl migrate failed" "$tmp/migrate.log"
site_json=$(MOCHI_DATABASE_URL=$admin_url "$build_dir/mochictl" sites add --name bench \
  --domain example.com --json 2>"$tmp/sites.log") || setup_fail "mochictl sites add failed" "$tmp/sites.log"
key=$(jq -r .tracking_key <<<"$site_json")
[ -n "$key" ] && [ "$key" != null ] || setup_fail "no tracking key in: $site_json"

# ---------------------------------------------------------------- Kafka
bench_kafka_start "$kafka" 1 mochi.pageviews

# ---------------------------------------------------------------- collector
echo "== mochi-collector ($server_threads HTTP threads)"
# Beacons on cport; /metrics and /healthz on mport (--metrics-listen).
start_daemon mochi-collector "$tmp/collector.log" --brokers "$brokers" \
  --database-url "host=$sock user=mochi_collector dbname=mochi_bench" \
  --trusted-proxies 127.0.0.1/32 --threads "$server_threads" --shutdown-timeout 5s
collector_pid=$daemon_pid cport=$daemon_port mport=$((daemon_port + 1))
curl_browser=(curl -s -o /dev/null -w '%{http_code}' --max-time 5
  -A 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0')
for ((i = 0; i < 150; i++)); do
  [ "$("${curl_browser[@]}" "http://127.0.0.1:$mport/healthz")" = 200 ] && break
  sleep 0.1
done
probe=$("${curl_browser[@]}" -H 'Content-Type: text/plain;charset=UTF-8' \
  --data "{\"k\":\"$key\",\"u\":\"https://example.com/\",\"r\":\"\"}" "http://127.0.0.1:$cport/api/event")
[ "$probe" = 202 ] || setup_fail "a probe beacon got $probe, not 202" "$tmp/collector.log"

# ---------------------------------------------------------------- nginx
mkdir -p "$tmp/nginx"
nport=''
for _ in 1 2 3 4 5; do
  p=$(pick_port) || setup_fail "no free port for nginx"
  sed -e "s|@WORKERS@|$server_threads|" -e "s|@DIR@|$tmp/nginx|g" -e "s|@PORT@|$p|" \
    "$nginx_conf_in" >"$tmp/nginx/nginx.conf"
  nginx -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" \
    </dev/null >/dev/null 2>>"$tmp/nginx/stderr.log" &
  nginx_pid=$!
  for ((i = 0; i < 50; i++)); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST -d x \
      "http://127.0.0.1:$p/api/event")" = 204 ] && { nport=$p; break; }
    sleep 0.1
  done
  [ -n "$nport" ] && break
  stop "$nginx_pid" TERM 5
  nginx_pid=''
done
[ -n "$nport" ] || setup_fail "nginx did not start" "$tmp/nginx/error.log"
echo "== nginx on 127.0.0.1:$nport (worker_processes $server_threads, answers 204)"

# ---------------------------------------------------------------- helpers
scrape() { curl -s --max-time 5 "http://127.0.0.1:$mport/metrics"; }
# metric FILE NAME{LABELS}: the value of that exact series, 0 when absent.
metric() { awk -v n="$2" '$1 == n { v = $2 } END { printf "%.0f\n", v + 0 }' "$1"; }
# Sum of the collector's /api/event answers other than 202.
event_non202() {
  awk '$1 ~ /^mochi_collector_http_requests_total\{route="event",/ && $1 !~ /status="202"/ \
       { s += $2 } END { printf "%.0f\n", s + 0 }' "$1"
}
# Beacons not published for any reason (bot, invalid, queue full, ...).
not_published() {
  awk '$1 ~ /^mochi_collector_events_total\{/ && $1 !~ /outcome="published"/ \
       { s += $2 } END { printf "%.0f\n", s + 0 }' "$1"
}
nginx_pids() { echo "$nginx_pid" $(pgrep -P "$nginx_pid" 2>/dev/null); }
# worker_ticks SERVER: "ID TICKS" per request-serving worker: the
# collector's libmicrohttpd threads, nginx's worker processes.
worker_ticks() {
  local f
  if [ "$1" = collector ]; then
    for f in /proc/"$collector_pid"/task/*; do
      # (not a && list: the last thread, say the metrics server's MHD-single,
      # would fail the pipeline under pipefail)
      if [ "$(cat "$f/comm" 2>/dev/null)" = MHD-worker ]; then echo "${f##*/} $(stat_ticks "$f/stat")"; fi
    done
  else
    for f in $(pgrep -P "$nginx_pid" 2>/dev/null); do echo "$f $(stat_ticks "/proc/$f/stat")"; done
  fi | sort
  return 0
}

# run_wrk LABEL PORT SECONDS: runs wrk; leaves its BENCH_RESULT line in
# $result and the CPU time wrk used, in clock ticks, in $wrk_ticks.
run_wrk() {
  local out=$tmp/wrk-$1.out cpu=$tmp/wrk-$1.cpu
  local timer=()
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%U %S' -o "$cpu")
  # timeout runs wrk in a process group of its own and passes a SIGTERM
  # from the cleanup on to the whole group.
  BENCH_KEY=$key timeout $(($3 + 30)) "${timer[@]}" wrk -t "$wrk_threads" -c "$connections" \
    -d "$3s" --timeout 5s -s "$lua" "http://127.0.0.1:$2/api/event" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || { wrk_pid=''; cat "$out" >&2; echo "bench-collector: wrk failed" >&2; exit 2; }
  wrk_pid=''
  result=$(grep '^BENCH_RESULT' "$out" || true)
  [ -n "$result" ] || { cat "$out" >&2; echo "bench-collector: wrk printed no result" >&2; exit 2; }
  wrk_ticks=$(awk -v hz="$hz" 'NF == 2 { printf "%.0f", ($1 + $2) * hz }' "$cpu" 2>/dev/null || true)
  wrk_ticks=${wrk_ticks:-0}
}

# measure SERVER RUN PORT PID...: one run against PORT; prints its table
# line and appends its figures to the SERVER's lists. CPU is read from
# /proc before and after: the server's processes, the Kafka broker, wrk,
# and the whole machine (whatever else ran is "other").
measure() {
  local server=$1 run=$2 port=$3
  shift 3
  local s0 s1 k0 k1 b0 b1 t0 t1 i0 i1
  worker_ticks "$server" >"$tmp/workers0"
  read -r b0 t0 i0 < <(machine_ticks)
  s0=$(cpu_ticks "$@") k0=$(cpu_ticks "$broker_pid")
  run_wrk "$server-$run" "$port" "$duration"
  s1=$(cpu_ticks "$@") k1=$(cpu_ticks "$broker_pid")
  read -r b1 t1 i1 < <(machine_ticks)
  worker_ticks "$server" >"$tmp/workers1"
  # The busiest worker's share of all workers' CPU: 100/N when the
  # connections are spread evenly, 100 when one worker got them all.
  local busiest
  busiest=$(join "$tmp/workers0" "$tmp/workers1" |
    awk '{ d = $3 - $2; s += d; if (d > m) m = d } END { printf "%.0f", (s ? 100 * m / s : 0) }')
  local r=$result req sockerr
  req=$(field "$r" requests)
  sockerr=$(($(field "$r" connect) + $(field "$r" read) + $(field "$r" write) + $(field "$r" timeout)))
  local per="awk -v hz=$hz -v n=$req"
  local srv_us
  srv_us=$($per -v t=$((s1 - s0)) 'BEGIN { printf "%.1f", (n ? t / hz * 1e6 / n : 0) }')
  local other_pct
  other_pct=$(awk -v o=$((b1 - b0 - (s1 - s0) - (k1 - k0) - wrk_ticks)) -v t=$((t1 - t0)) \
    'BEGIN { v = t ? 100 * o / t : 0; printf "%.0f", (v < 0 ? 0 : v) }')
  printf '%-10s %-4s %10.0f %9.3f %9.3f %8d %7d %7s %7s %7s %6s %5s %8s%s\n' "$server" "$run" \
    "$(field "$r" rps)" "$(awk -v u="$(field "$r" p50_us)" 'BEGIN { print u / 1000 }')" \
    "$(awk -v u="$(field "$r" p99_us)" 'BEGIN { print u / 1000 }')" "$(field "$r" non2xx)" "$sockerr" \
    "$srv_us" "$($per -v t=$((k1 - k0)) 'BEGIN { printf "%.1f", (n ? t / hz * 1e6 / n : 0) }')" \
    "$($per -v t="$wrk_ticks" 'BEGIN { printf "%.1f", (n ? t / hz * 1e6 / n : 0) }')" "$other_pct" \
    "$(awk -v b=$((t1 - t0)) -v i=$((i1 - i0)) 'BEGIN { printf "%.0f", (b ? 100 * i / b : 0) }')" \
    "$busiest" "$([ "$other_pct" -gt 10 ] && echo '  (noisy: other load)')"
  local -n rps_list=${server}_rps p50_list=${server}_p50 p99_list=${server}_p99 cpu_list=${server}_cpu
  rps_list+=("$(field "$r" rps)") p50_list+=("$(field "$r" p50_us)")
  p99_list+=("$(field "$r" p99_us)") cpu_list+=("$srv_us")
  [ "$other_pct" -gt 10 ] && noisy=$((noisy + 1))
  return 0
}

# delta NAME{LABELS}: how much that series grew during the last collector run.
delta() { echo $(($(metric "$tmp/after" "$1") - $(metric "$tmp/before" "$1"))); }

# Waits until the collector's producer has a delivery report for every
# beacon it enqueued (at most 20 s); leaves the last scrape in FILE.
wait_delivered() {
  local f=$1 i
  for ((i = 0; i < 200; i++)); do
    scrape >"$f"
    local enq del fail
    enq=$(metric "$f" 'mochi_collector_events_total{outcome="published"}')
    del=$(metric "$f" mochi_collector_events_published_total)
    fail=$(metric "$f" mochi_collector_delivery_failures_total)
    [ $((del + fail)) -ge "$enq" ] && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- runs
commit=$(bench_commit collector common)
echo
echo "Mochi collector benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "  machine:    $(bench_machine)"
echo "              wrk, the server under test and the Kafka broker share these cores"
echo "  build:      $build_dir ($build_type), commit $commit"
echo "  collector:  --threads $server_threads (libmicrohttpd thread pool, epoll); Kafka: $kafka_desc, $brokers"
echo "  nginx:      $(nginx -v 2>&1 | sed 's/^nginx version: //'), worker_processes $server_threads, return 204"
echo "  load:       wrk -t$wrk_threads -c$connections -d${duration}s --timeout 5s -s bench/collector/beacon.lua"
echo "              (keep-alive; distinct beacon per request), $runs runs per server, interleaved, after a ${warmup}s warm-up each"
echo

if [ "$warmup" -gt 0 ]; then
  echo "-- warm-up (${warmup}s each, not counted)"
  run_wrk warmup-collector "$cport" "$warmup"
  run_wrk warmup-nginx "$nport" "$warmup"
  wait_delivered "$tmp/m0" || true
fi

echo "CPU columns: CPU time per answered request in microseconds: srv (the server's processes),"
echo "kafka (the broker: $([ "$kafka" = dev ] && echo "mochi-devkafka" || echo "Apache Kafka's JVM")), wrk; other: share of the machine's CPU used by anything else (other"
echo "people's jobs: a run above 10% is marked noisy); idle: the machine's idle share; busiest:"
echo "the busiest HTTP worker's share of the workers' CPU ($((100 / server_threads))% = even spread of connections)."
printf '%-10s %-4s %10s %9s %9s %8s %7s %7s %7s %7s %6s %5s %8s\n' server run 'req/s' 'p50 ms' 'p99 ms' \
  non-2xx sockerr 'srv us' 'kafka' 'wrk us' 'other%' 'idle%' 'busiest%'
void=0 noisy=0
declare -a collector_rps=() collector_p50=() collector_p99=() collector_cpu=()
declare -a nginx_rps=() nginx_p50=() nginx_p99=() nginx_cpu=()
total_wrk_requests=0

for ((run = 1; run <= runs; run++)); do
  scrape >"$tmp/before"
  measure collector "$run" "$cport" "$collector_pid"
  wait_delivered "$tmp/after" ||
    { echo "  collector run $run: Kafka did not acknowledge everything within 20 s"; void=1; }
  req=$(field "$result" requests)
  total_wrk_requests=$((total_wrk_requests + req))
  non2xx=$(field "$result" non2xx)
  sockerr=$(($(field "$result" connect) + $(field "$result" read) + $(field "$result" write) +
    $(field "$result" timeout)))
  a202=$(delta 'mochi_collector_http_requests_total{route="event",status="202"}')
  bad=$(($(event_non202 "$tmp/after") - $(event_non202 "$tmp/before")))
  unpub=$(($(not_published "$tmp/after") - $(not_published "$tmp/before")))
  enq=$(delta 'mochi_collector_events_total{outcome="published"}')
  acked=$(delta mochi_collector_events_published_total)
  # wrk counts the answers it read; the collector also answered the
  # requests in flight when wrk stopped (at most one per connection).
  if [ "$non2xx" -ne 0 ] || [ "$sockerr" -ne 0 ] || [ "$bad" -ne 0 ] || [ "$unpub" -ne 0 ] ||
    [ "$a202" -lt "$req" ] || [ "$a202" -gt $((req + connections)) ] || [ "$acked" -ne "$enq" ] ||
    [ "$enq" -ne "$a202" ]; then
    echo "  VOID collector run $run: wrk non-2xx=$non2xx socket errors=$sockerr; collector: 202=$a202" \
      "other statuses=$bad not published=$unpub enqueued=$enq acked by Kafka=$acked (wrk requests=$req)"
    void=1
  fi

  # shellcheck disable=SC2046 # one argument per pid
  measure nginx "$run" "$nport" $(nginx_pids)
  sockerr=$(($(field "$result" connect) + $(field "$result" read) + $(field "$result" write) +
    $(field "$result" timeout)))
  if [ "$(field "$result" non2xx)" -ne 0 ] || [ "$sockerr" -ne 0 ]; then
    echo "  VOID nginx run $run: non-2xx=$(field "$result" non2xx) socket errors=$sockerr"
    void=1
  fi
done

mc_rps=$(med "${collector_rps[@]}") mc_p50=$(med "${collector_p50[@]}")
mc_p99=$(med "${collector_p99[@]}") mc_cpu=$(med "${collector_cpu[@]}")
mn_rps=$(med "${nginx_rps[@]}") mn_p50=$(med "${nginx_p50[@]}") mn_p99=$(med "${nginx_p99[@]}")
mn_cpu=$(med "${nginx_cpu[@]}")
ratio=$(awk -v c="$mc_rps" -v n="$mn_rps" 'BEGIN { printf "%.2f", (n > 0 ? c / n : 0) }')
cpu_ratio=$(awk -v c="$mc_cpu" -v n="$mn_cpu" 'BEGIN { printf "%.2f", (c > 0 ? n / c : 0) }')
hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$collector_pid/status")
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$collector_pid/status")
nthreads=$(ls "/proc/$collector_pid/task" | wc -l)

# Kafka: the topic's end offset must cover every acknowledged event.
scrape >"$tmp/final"
acked_total=$(metric "$tmp/final" mochi_collector_events_published_total)
failed_total=$(metric "$tmp/final" mochi_collector_delivery_failures_total)
end_offset=$(timeout 20 kcat -b "$brokers" -Q -t mochi.pageviews:0:-1 2>/dev/null |
  sed -n 's/.*offset \([0-9-]*\).*/\1/p' | head -n 1 || true)

echo
echo "Medians over $runs runs of ${duration}s (Kafka: $kafka_desc):"
printf '  collector  %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms\n' "$mc_rps" \
  "$(awk -v u="$mc_p50" 'BEGIN { print u / 1000 }')" "$(awk -v u="$mc_p99" 'BEGIN { print u / 1000 }')"
printf '  nginx 204  %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms\n' "$mn_rps" \
  "$(awk -v u="$mn_p50" 'BEGIN { print u / 1000 }')" "$(awk -v u="$mn_p99" 'BEGIN { print u / 1000 }')"
verdict=$(awk -v r="$ratio" -v t="$ratio_target" 'BEGIN { print (r >= t) ? "meets" : "BELOW" }')
echo "  ratio collector/nginx (median req/s): $ratio ($verdict the $ratio_target target)"
echo "  server CPU per request (median): collector $mc_cpu us, nginx $mn_cpu us; nginx/collector = $cpu_ratio"
echo "    (the req/s ratio the collector would reach if each server had the cores to itself)"
[ "$noisy" -eq 0 ] || echo "  note: $noisy run(s) shared the machine with other load (other% > 10): figures are noisy"
rss_verdict=$(awk -v k="$hwm_kb" -v t="$rss_target_mib" 'BEGIN { print (k < t * 1024) ? "under" : "OVER" }')
printf '  collector peak RSS (VmHWM): %.1f MiB (%s the %d MiB target); RSS now %.1f MiB; %d threads\n' \
  "$(awk -v k="$hwm_kb" 'BEGIN { print k / 1024 }')" "$rss_verdict" "$rss_target_mib" \
  "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')" "$nthreads"
echo "  Kafka: wrk counted $total_wrk_requests answered beacons in the measured runs; the collector's Kafka"
echo "         acknowledgements (mochi_collector_events_published_total, all runs + warm-up + probe):" \
  "$acked_total, delivery failures $failed_total; topic mochi.pageviews end offset: ${end_offset:-unknown}"
if [ -z "$end_offset" ] || [ "$end_offset" -lt "$acked_total" ]; then
  echo "  VOID: the topic holds fewer messages than the collector says Kafka acknowledged"
  void=1
fi
[ "$failed_total" -eq 0 ] || void=1
# One line for scripts/bench-pipeline.sh --from-collector (issue 15's table).
echo "BENCH_TABLE collector_cpu_us=$mc_cpu nginx_cpu_us=$mn_cpu collector_hwm_kib=$hwm_kb runs=$runs" \
  "noisy_runs=$noisy valid=$((void == 0)) kafka=$kafka commit=${commit// /_} date=$(date -u +%Y-%m-%dT%H:%MZ)"

if [ -n "$perf_out" ]; then
  echo
  echo "-- profile: one more collector run (${duration}s, not counted) under perf record -g -> $perf_out"
  perf record -q -F 499 -g -p "$collector_pid" -o "$perf_out" -- sleep "$duration" \
    >"$tmp/perf.log" 2>&1 &
  perf_pid=$!
  measure collector perf "$cport" "$collector_pid"
  wait "$perf_pid" 2>/dev/null || true
  perf_pid=''
  echo "   (the figures of this run are lowered by perf itself)"
  echo "   perf report -i $perf_out --no-children --sort dso,symbol"
fi

echo
if [ "$void" -ne 0 ]; then
  echo "RESULT: VOID (see the lines above); collector log: last lines"
  tail -n 5 "$tmp/collector.log"
  exit 1
fi
echo "RESULT: valid ($kafka broker); ratio $ratio, collector ${mc_rps%.*} req/s, nginx ${mn_rps%.*} req/s," \
  "peak RSS $((hwm_kb / 1024)) MiB"
