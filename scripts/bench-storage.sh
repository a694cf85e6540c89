#!/usr/bin/env bash
# What PostgreSQL writes and keeps per event (docs/scaling.md): a topic
# preloaded with N synthetic events (bench/pipeline/preload.c, as
# scripts/bench-pipeline.sh does) is drained once by one mochi-consumer and
# once by one mochi-rollup, each into a fresh database on a private
# PostgreSQL with full durability. For each drain it prints the CPU per
# event (daemon, PostgreSQL, broker, as bench-pipeline.sh counts it), the
# WAL the cluster wrote (pg_current_wal_lsn() before and after, and
# pg_stat_wal: records, full-page images, writes and fsyncs), the commits,
# and per table the rows inserted and updated and the bytes on disk (heap
# and indexes, summed over the day partitions) per row and per event. With
# --kafka apache it also prints the topic's bytes on the broker's disk per
# event and the broker's CPU per event while the preload produced. With
# --redo, after each drain it stops PostgreSQL as a crash would (pg_ctl -m
# immediate) and starts it again, and prints how fast the startup process
# replayed that drain's WAL: one process, as on a streaming replica.
#
# Usage: scripts/bench-storage.sh [OPTIONS]   (--help for the options)
# Not a timed test: it prints numbers. Exit status: 0 when both drains ran
# and stored what they should, 1 when a check failed, 2 on bad usage or a
# failed setup. Everything it starts is private and on loopback, and is
# stopped on exit (also on Ctrl-C); the temp dir is removed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=bench-storage
# shellcheck source=scripts/lib/bench-common.sh
source "$root/scripts/lib/bench-common.sh"
# shellcheck source=scripts/lib/bench-kafka.sh
source "$root/scripts/lib/bench-kafka.sh"

events=${BENCH_EVENTS:-300000}
kafka=${BENCH_KAFKA:-dev}
build_dir=${MOCHI_BENCH_BUILD_DIR:-}
keep=0
redo=0
sites=${BENCH_SITES:-}
template_sql=${BENCH_TEMPLATE_SQL:-}

usage() {
  cat <<EOF
Usage: scripts/bench-storage.sh [OPTIONS]

Drains a preloaded topic with one mochi-consumer, then with one mochi-rollup,
each into a fresh database (full durability), and prints per event: CPU,
WAL bytes, full-page images, fsyncs, commits, rows and bytes on disk per table.

Options (environment variable in brackets):
  --kafka dev|apache  the broker: 'dev' (mochi-devkafka) or 'apache' (single-node
                      Apache Kafka from scripts/kafka-test-server) [BENCH_KAFKA] (dev)
  --events N          events to preload, 10000..3000000 with the dev broker,
                      up to 10000000 with Apache Kafka [BENCH_EVENTS] (300000)
  --sites N           sites the events are spread over, 1..1000 (default: one per
                      5000 events, at least 64, as bench-pipeline.sh); 1 puts
                      every event in one partition (one busy site) [BENCH_SITES]
  --redo              after each drain, crash PostgreSQL (pg_ctl -m immediate), start
                      it again and time the replay of the drain's WAL [BENCH_REDO]
  --template-sql FILE run FILE with psql on the migrated database the drains start
                      from: a schema change measured before it is a migration
                      [BENCH_TEMPLATE_SQL]
  --keep              keep the logs (not the database)
  --build-dir DIR     use the binaries already built in DIR; default: configure
                      and build RelWithDebInfo in build-pbench/ [MOCHI_BENCH_BUILD_DIR]
  --help              this text
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
  --events) events=${2:?--events needs a value}; shift 2 ;;
  --kafka) kafka=${2:?--kafka needs a value}; shift 2 ;;
  --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
  --sites) sites=${2:?--sites needs a value}; shift 2 ;;
  --redo) redo=1; shift ;;
  --template-sql) template_sql=${2:?--template-sql needs a value}; shift 2 ;;
  --keep) keep=1; shift ;;
  --help | -h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
done
case "$kafka" in
dev) check_int events "$events" 10000 3000000 ;;
apache) check_int events "$events" 10000 10000000 ;;
*) die "--kafka: expected dev or apache (got '$kafka')" ;;
esac
[ "${BENCH_REDO:-0}" = 1 ] && redo=1
[ -z "$sites" ] || check_int sites "$sites" 1 1000
[ -z "$template_sql" ] || [ -r "$template_sql" ] || die "--template-sql: cannot read '$template_sql'"
need_tools curl jq awk ss psql createdb

bench_build "$root/build-pbench" mochi-consumer mochi-rollup mochi-devkafka mochictl mochi-bench-preload
bench_tmp mochi-sbench

failures=0
fail() { echo "  FAILED: $*"; failures=$((failures + 1)); }
now() { echo "$EPOCHREALTIME"; }
per() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN { printf f, (b > 0 ? a / b : 0) }'; } # A B [FORMAT]

# ---------------------------------------------------------------- PostgreSQL
echo "== PostgreSQL (private, unix socket only, full durability)"
# No checkpoint within a drain (one is taken before each): the WAL of a
# drain is then one checkpoint cycle's, and all of it is replayed by --redo.
pg_settings=(fsync=on synchronous_commit=on full_page_writes=on max_connections=100
  checkpoint_timeout=1h max_wal_size=32GB)
bench_pg_start "${pg_settings[@]}"
psql_do() { psql -h "$sock" -U postgres -d "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
url() { echo "host=$sock user=$1 dbname=$2"; } # ROLE DB

# PostgreSQL's CPU: the postmaster, its live children and those it reaped
# (as scripts/bench-pipeline.sh counts it).
pg_ticks() {
  local pids own
  read -r -a pids <<<"$(pgrep -P "$postmaster_pid" 2>/dev/null | tr '\n' ' ')"
  own=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$postmaster_pid/stat")
  echo $((own + $(cpu_ticks "${pids[@]}")))
}

# The preload's sites, as scripts/bench-pipeline.sh picks them.
nsites=$((events / 5000)); [ "$nsites" -lt 64 ] && nsites=64; [ "$nsites" -gt 1000 ] && nsites=1000
[ -n "$sites" ] && nsites=$sites
partitions=$(((events + 999999) / 1000000 * 128)); [ "$partitions" -gt 256 ] && partitions=256
: >"$tmp/sites.tsv"
for ((i = 0; i < nsites; i++)); do
  printf '%s\tbench %d\tsite%d.example\tbenchsitekey%06d\n' "$(cat /proc/sys/kernel/random/uuid)" \
    "$i" "$i" "$i" >>"$tmp/sites.tsv"
done
cut -f 1 "$tmp/sites.tsv" >"$tmp/preload-sites"
createdb -h "$sock" -U postgres mochi_tpl || setup_fail "createdb failed"
MOCHI_DATABASE_URL=$(url postgres mochi_tpl) "$build_dir/mochictl" migrate >"$tmp/migrate.log" 2>&1 ||
  setup_fail "mochictl migrate failed" "$tmp/migrate.log"
psql -h "$sock" -U postgres -d mochi_tpl -XAtq -v ON_ERROR_STOP=1 \
  -c "\\copy sites (id, name, domain, tracking_key) FROM '$tmp/sites.tsv'" ||
  setup_fail "cannot insert the sites"
if [ -n "$template_sql" ]; then
  psql -h "$sock" -U postgres -d mochi_tpl -Xq -v ON_ERROR_STOP=1 -f "$template_sql" >"$tmp/template.log" 2>&1 ||
    setup_fail "--template-sql $template_sql failed" "$tmp/template.log"
fi

# ---------------------------------------------------------------- Kafka and preload
topic=mochi.pageviews
bench_kafka_start "$kafka" "$partitions" "$topic"
echo
echo "Mochi storage benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "  machine:     $(bench_machine), load average $(cut -d ' ' -f 1-3 /proc/loadavg) at start"
echo "  build:       $build_dir ($build_type), commit $(bench_commit consumer rollup common stream sql)"
echo "  PostgreSQL:  $pg_version, ${pg_settings[*]}, shared_buffers=256MB, other settings default"
echo "  Kafka:       $kafka_desc"
echo "  daemons:     defaults (batch 10000 events or 100 ms)"
[ -n "$template_sql" ] && echo "  schema:      migrations, then $template_sql"
echo
echo "== preload: $events events over $nsites sites (mochi-bench-preload)"
k0=$(cpu_ticks "$broker_pid")
pre=$("$build_dir/mochi-bench-preload" --brokers "$brokers" --topic "$topic" --sites "$tmp/preload-sites" \
  --count "$events" 2>"$tmp/preload.log") || setup_fail "preload failed" "$tmp/preload.log"
k1=$(cpu_ticks "$broker_pid")
distinct=$(field "$pre" distinct)
echo "   $pre"
echo "   Avro message values: $(per "$(field "$pre" avro_bytes)" "$events") bytes per event"
if [ "$kafka" = apache ]; then
  sleep 2 # let the broker finish its appends before measuring its log
  log_bytes=$(du -cb "$tmp"/kafka/node1/data/"$topic"-*/*.log | tail -n 1 | cut -f 1)
  echo "   broker: $(awk -v t=$((k1 - k0)) -v hz="$hz" -v n="$events" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }') us CPU per event produced;" \
    "topic log segments $((log_bytes / 1048576)) MiB = $(per "$log_bytes" "$events") bytes per event on disk (one replica)"
fi

# ---------------------------------------------------------------- the drains
wait_assigned() { # LOG PID SECONDS
  local i
  for ((i = 0; i < $3 * 50; i++)); do
    grep -q 'msg="partitions assigned"' "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}
events_done() { # PORT COMPONENT
  curl -s --max-time 2 "http://127.0.0.1:$1/metrics" |
    awk -v m="mochi_$2_events_total{" 'index($1, m) == 1 { s += $2 } END { printf "%.0f\n", s + 0 }'
}
wait_events() { # PORT COMPONENT PID
  local deadline=$((EPOCHSECONDS + 120 + events / 2000)) n
  while :; do
    n=$(events_done "$1" "$2")
    [ "${n:-0}" -ge "$events" ] && return 0
    kill -0 "$3" 2>/dev/null || { echo "  $2 exited"; return 1; }
    [ "$EPOCHSECONDS" -lt "$deadline" ] || { echo "  $2: only $n of $events events"; return 1; }
    sleep 0.1
  done
}
wal_stats() { # prints: lsn records fpi bytes writes syncs checkpoints
  psql_do postgres "SELECT pg_current_wal_lsn(), w.wal_records, w.wal_fpi, w.wal_bytes, w.wal_write, w.wal_sync,
                           b.checkpoints_timed + b.checkpoints_req
                    FROM pg_stat_wal w, pg_stat_bgwriter b" | tr '|' ' '
}
commits() { psql_do postgres "SELECT xact_commit FROM pg_stat_database WHERE datname = '$1'"; }

# drain NAME ROLE TABLE_EXPECTED: one daemon drains the topic into a fresh
# database; prints its figures.
drain() {
  local name=$1 db=$1 role=$2 log=$tmp/$1.log pid port n
  local lsn0 r0 f0 b0 w0 s0 c0 lsn1 r1 f1 b1 w1 s1 c1 x0 x1 p0 p1 d0 d1 k0 k1 m0 m1 t0 t1
  createdb -h "$sock" -U postgres -T mochi_tpl "$db" || setup_fail "createdb $db failed"
  psql_do "$db" "CHECKPOINT" >/dev/null
  n=$(pgrep -c -P "$postmaster_pid" || true)
  psql_do postgres "SELECT pg_stat_reset_shared('wal')" >/dev/null
  read -r lsn0 r0 f0 b0 w0 s0 c0 < <(wal_stats)
  x0=$(commits "$db")
  echo "== $name: one $role drains the topic into empty database $db"
  start_daemon "$role" "$log" --brokers "$brokers" --topic "$topic" --database-url "$(url "${role//-/_}" "$db")"
  pid=$daemon_pid port=$daemon_port
  wait_assigned "$log" "$pid" 60 || setup_fail "$role got no partitions" "$log"
  d0=$(cpu_ticks "$pid") p0=$(pg_ticks) k0=$(cpu_ticks "$broker_pid") t0=$(now)
  read -r m0 _ _ < <(machine_ticks)
  if ! wait_events "$port" "${role#mochi-}" "$pid"; then
    fail "$role did not drain the topic"
    tail -n 5 "$log"
    stop_daemon "$pid"
    return
  fi
  d1=$(cpu_ticks "$pid") p1=$(pg_ticks) k1=$(cpu_ticks "$broker_pid") t1=$(now)
  read -r m1 _ _ < <(machine_ticks)
  stop_daemon "$pid"
  # the backend's statistics are flushed when it exits
  for ((i = 0; i < 40; i++)); do [ "$(pgrep -c -P "$postmaster_pid" || true)" -le "$n" ] && break; sleep 0.05; done
  sleep 0.6
  read -r lsn1 r1 f1 b1 w1 s1 c1 < <(wal_stats)
  x1=$(commits "$db")
  local wal drain_s other
  wal=$(psql_do postgres "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')::bigint")
  drain_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  other=$(awk -v m=$((m1 - m0)) -v s=$((d1 - d0 + p1 - p0 + k1 - k0)) -v w="$drain_s" -v hz="$hz" \
    'BEGIN { o = (m - s) / hz / w; printf "%.2f", (o < 0 ? 0 : o) }')
  us() { awk -v t="$1" -v hz="$hz" -v n="$events" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }'; }
  echo "   drained $events events ($distinct distinct page views) in $drain_s s; other processes $other cores of $ncpu$(awk -v o="$other" 'BEGIN { if (o > 0.3) print "  NOISY: other load" }')"
  echo "   CPU per event: postgres $(us $((p1 - p0))) us, ${role#mochi-} $(us $((d1 - d0))) us, broker $(us $((k1 - k0))) us"
  echo "   WAL: $((wal / 1048576)) MiB = $(per "$wal" "$events" "%.0f") bytes per event ($(per "$wal" "$distinct" "%.0f") per distinct page view);" \
    "$(per $((r1 - r0)) "$events" "%.2f") WAL records per event, $(per $(((f1 - f0) * 1000)) "$events" "%.1f") full-page images per 1000 events;" \
    "pg_stat_wal bytes $(per $((b1 - b0)) "$events" "%.0f") per event"
  echo "   commits $((x1 - x0)) (in $db), WAL writes $((w1 - w0)), WAL fsyncs $((s1 - s0)), checkpoints during the drain $((c1 - c0))"
  echo "   per table (rows inserted / updated (HOT) over the drain; bytes on disk now, heap + indexes, day partitions summed):"
  psql -h "$sock" -U postgres -d "$db" -XAqt -F ' ' -v ON_ERROR_STOP=1 -c "
    SELECT c.relname, sum(s.n_tup_ins), sum(s.n_tup_upd), sum(s.n_tup_hot_upd), sum(s.n_live_tup),
           sum(pg_relation_size(s.relid)), sum(pg_indexes_size(s.relid)), sum(pg_total_relation_size(s.relid))
    FROM pg_class c
    LEFT JOIN LATERAL pg_partition_tree(c.oid) l ON l.isleaf
    JOIN pg_stat_user_tables s ON s.relid = coalesce(l.relid, c.oid)
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    GROUP BY c.relname
    HAVING sum(s.n_tup_ins) + sum(s.n_tup_upd) > 0
    ORDER BY c.relname" |
    awk -v n="$events" '
      BEGIN { printf "     %-27s %10s %10s %9s %10s %9s %9s %9s %9s\n", "table", "inserted", "updated", "(HOT)",
              "rows/event", "heap B/r", "index B/r", "total MiB", "B/event" }
      { rows = ($5 > $2 ? $5 : $2); if (rows < 1) rows = 1
        printf "     %-27s %10d %10d %9d %10.3f %9.0f %9.0f %9.1f %9.0f\n", $1, $2, $3, $4, $2 / n,
               $6 / rows, $7 / rows, $8 / 1048576, $8 / n; tb += $8 }
      END { printf "     %-27s %10s %10s %9s %10s %9s %9s %9.1f %9.0f\n", "all", "", "", "", "", "", "", tb / 1048576, tb / n }'
  [ "$redo" = 1 ] && replay_wal
  return 0
}

# replay_wal: crash PostgreSQL and start it again; prints what its startup
# process reports of the replay (PostgreSQL 15: "redo starts at", "redo done
# at ... system usage: CPU: user: U s, system: S s, elapsed: E s").
replay_wal() {
  local log=$tmp/pg/server.log data from to usage bytes cpu elapsed
  data=$(sed -n 's/^MOCHI_TEST_PG_DATA=//p' "$tmp/pg/env")
  : >"$log"
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
  else
    "$pgbin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
  fi
  bench_pg_start "${pg_settings[@]}"
  from=$(sed -n 's/.*redo starts at \([0-9A-F]*\/[0-9A-F]*\).*/\1/p' "$log" | tail -n 1)
  to=$(sed -n 's/.*redo done at \([0-9A-F]*\/[0-9A-F]*\).*/\1/p' "$log" | tail -n 1)
  usage=$(grep 'redo done at' "$log" | tail -n 1 | sed 's/.*system usage: //')
  if [ -z "$from" ] || [ -z "$to" ]; then
    fail "no redo in the server log after the crash"
    return
  fi
  bytes=$(psql_do postgres "SELECT pg_wal_lsn_diff('$to', '$from')::bigint")
  cpu=$(awk -v u="$usage" 'BEGIN { n = split(u, a, /[ ,]+/); for (i = 1; i <= n; i++) {
          if (a[i] == "user:") s += a[i + 1]; if (a[i] == "system:") s += a[i + 1] } printf "%.2f", s }')
  elapsed=$(sed -n 's/.*elapsed: \([0-9.]*\) s.*/\1/p' <<<"$usage")
  echo "   redo after a crash: $((bytes / 1048576)) MiB of WAL replayed in $elapsed s, $cpu s of CPU" \
    "(startup process) = $(per "$bytes" "$(awk -v c="$cpu" 'BEGIN { print c * 1048576 }')" "%.0f") MiB per CPU-second," \
    "$(per "$events" "$cpu" "%.0f") events per CPU-second"
}

drain consumer mochi-consumer
stored=$(psql_do consumer "SELECT count(*) FROM page_view_events")
[ "$stored" = "$distinct" ] || fail "consumer: page_view_events holds $stored rows, expected $distinct"
drain rollup mochi-rollup
counted=$(psql_do rollup "SELECT coalesce(sum(page_views), 0) FROM daily_site_metrics")
[ "$counted" = "$distinct" ] || fail "rollup: daily_site_metrics counts $counted page views, expected $distinct"
echo
echo "load average at end: $(cut -d ' ' -f 1-3 /proc/loadavg)"
[ "$failures" -eq 0 ] || { echo "$failures check(s) FAILED"; exit 1; }
exit 0
