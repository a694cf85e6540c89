#!/usr/bin/env bash
# Where mochi-rollup's batch transaction spends its time and its WAL
# (issue 15): a topic preloaded with N synthetic events exactly as
# scripts/bench-pipeline.sh does, drained three times by one
# mochi-rollup, each time into a fresh database:
#   1. plain: nothing changed, for the rollup's events/s;
#   2. profiled: auto_explain (log_analyze, log_buffers, log_wal,
#      log_timing, log_triggers, JSON) and log_min_duration_statement = 0
#      for the mochi_rollup role in that database only (ALTER ROLE ... IN
#      DATABASE ... SET, session_preload_libraries = 'auto_explain');
#   3. plain again: a drain's rate depends on what ran before it (the first
#      one was the slowest in the first runs), so the profiled one is framed.
# Then scripts/lib/rollup-profile.py reads the server log of run 2 and
# prints, summed over the batches: each statement of the batch
# transactions; the apply statement (rollup/rollup.c's apply_sql) by CTE and
# by plan node, with exclusive times, shares, rows, WAL records, FPIs and
# bytes, per input event; and, after the run, pg_stat_user_tables,
# pg_statio_user_tables, the table and index sizes and pg_stat_wal per input
# event. EXPLAIN ANALYZE's timing inflates the times of run 2 (a clock read
# per row and node): its shares are what to read, and runs 1 and 3 say how
# much slower run 2 was.
#
# Everything runs private and on loopback, as in bench-pipeline.sh: its own
# PostgreSQL (scripts/pg-test-server in a temp dir, unix socket only), one
# broker (--kafka dev: mochi-devkafka; --kafka apache: scripts/kafka-test-server),
# the rollup on a free loopback port; all stopped on exit (also on Ctrl-C)
# and the temp dir removed.
#
# Usage: scripts/profile-rollup.sh [OPTIONS]   (--help for the options)
# Prints figures; not a test. Exit status 0 when both drains finished with
# lag 0, 1 when one did not, 2 on bad usage or a setup failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=profile-rollup
# shellcheck source=scripts/lib/bench-common.sh
source "$root/scripts/lib/bench-common.sh"
# shellcheck source=scripts/lib/bench-kafka.sh
source "$root/scripts/lib/bench-kafka.sh"
# shellcheck source=scripts/lib/bench-stream.sh
source "$root/scripts/lib/bench-stream.sh"

events=${BENCH_EVENTS:-300000}
kafka=${BENCH_KAFKA:-dev}
durability=${BENCH_DURABILITY:-full}
batch_size=${BENCH_BATCH_SIZE:-}
build_dir=${MOCHI_BENCH_BUILD_DIR:-}
plain=1
keep=0

usage() {
  cat <<EOF
Usage: scripts/profile-rollup.sh [OPTIONS]

Preloads a topic as scripts/bench-pipeline.sh does, drains it with one
mochi-rollup without and then with auto_explain, and prints where the batch
transaction's time and WAL go: by statement, by CTE and plan node of the
apply statement, and per table.

Options (environment variable in brackets):
  --kafka dev|apache  the broker: 'dev' (mochi-devkafka, librdkafka's mock) or 'apache'
                      (single-node Apache Kafka from scripts/kafka-test-server) [BENCH_KAFKA] (dev)
  --events N          events to preload, 10000..3000000 with the dev broker, up to
                      10000000 with Apache Kafka [BENCH_EVENTS] (300000)
  --durability MODE   PostgreSQL settings: 'full' (fsync, synchronous_commit and
                      full_page_writes on: the server defaults) or 'test' (all three
                      off) [BENCH_DURABILITY] (full)
  --batch-size N      pass --batch-size N to the rollup (default: its own) [BENCH_BATCH_SIZE]
  --no-plain          skip the two drains without auto_explain (their events/s are then not shown)
  --keep              keep the logs (the temp dir without the database), the server log included
  --build-dir DIR     use the binaries already built in DIR; default: configure
                      and build RelWithDebInfo in build-pbench/ [MOCHI_BENCH_BUILD_DIR]
  --help              this text
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
  --events) events=${2:?--events needs a value}; shift 2 ;;
  --kafka) kafka=${2:?--kafka needs a value}; shift 2 ;;
  --durability) durability=${2:?--durability needs a value}; shift 2 ;;
  --batch-size) batch_size=${2:?--batch-size needs a value}; shift 2 ;;
  --no-plain) plain=0; shift ;;
  --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
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
[ -z "$batch_size" ] || check_int batch-size "$batch_size" 1 100000
case "$durability" in
full) pg_durability=(fsync=on synchronous_commit=on full_page_writes=on) ;;
test) pg_durability=(fsync=off synchronous_commit=off full_page_writes=off) ;;
*) die "--durability: expected full or test (got '$durability')" ;;
esac
need_tools curl jq awk ss psql createdb python3

bench_build "$root/build-pbench" mochi-rollup mochi-devkafka mochictl mochi-bench-preload
bench_tmp prof-rollup
daemon_extra=()
[ -n "$batch_size" ] && daemon_extra=(--batch-size "$batch_size")

echo "== PostgreSQL (private, unix socket only, durability '$durability')"
bench_pg_start "${pg_durability[@]}" max_connections=100
server_log=$tmp/pg/server.log
[ -r "$pgbin/../lib/auto_explain.so" ] || [ -r "$("$pgbin/pg_config" --pkglibdir 2>/dev/null)/auto_explain.so" ] ||
  setup_fail "auto_explain is not installed beside $pgbin (the postgresql-contrib files)"
bench_sites "$events"
bench_template
topic=mochi.pageviews
bench_kafka_start "$kafka" "$partitions" "$topic"

commit=$(bench_commit rollup common stream sql scripts/profile-rollup.sh scripts/lib/rollup-profile.py)
echo
echo "Mochi rollup profile, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "  machine:     $(bench_machine), load average $(cut -d ' ' -f 1-3 /proc/loadavg) at start"
echo "  build:       $build_dir ($build_type), commit $commit"
echo "  PostgreSQL:  $pg_version, durability '$durability' (${pg_durability[*]}), shared_buffers=256MB, other settings default"
echo "  Kafka:       $kafka_desc"
echo "  rollup:      defaults${batch_size:+, --batch-size $batch_size} (batches of 10000 events or 100 ms unless set)"
echo

echo "== preload: $events events over $nsites sites (mochi-bench-preload)"
bench_preload "$topic"
echo "   preloaded in $preload_s s wall; $distinct distinct page views"

failures=0
fail() { echo "  FAILED: $*"; failures=$((failures + 1)); }
wal_now() { psql_do postgres "SELECT wal_records || ' ' || wal_fpi || ' ' || wal_bytes FROM pg_stat_wal"; }
checkpoints() { psql_do postgres "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"; }

# drain DB GROUP LABEL: one mochi-rollup (consumer group GROUP: each run its
# own, so that the dev broker's delay for a group whose member just left
# does not apply) drains the topic into DB, a fresh copy of the template,
# after a CHECKPOINT; it is stopped at lag 0. Sets drain_rate (events/s from
# the assignment to the last batch), drain_s, drain_wal ("records fpi
# bytes" of pg_stat_wal over the drain, the whole server) and
# drain_checkpoints (checkpoints that began during it).
drain() {
  local db=$1 group=$2 label=$3 log=$tmp/rollup-$1.log started pid port c0
  drain_rate='' drain_s='' drain_wal='' drain_checkpoints=''
  psql_do "$db" "CHECKPOINT" >/dev/null
  c0=$(checkpoints)
  psql_do postgres "SELECT pg_stat_reset_shared('wal')" >/dev/null
  echo "== $label: one mochi-rollup (group $group) drains the topic into empty database $db"
  started=$(now)
  start_daemon mochi-rollup "$log" --brokers "$brokers" --topic "$topic" --group "$group" \
    --database-url "$(url mochi_rollup "$db")" "${daemon_extra[@]}"
  pid=$daemon_pid port=$daemon_port
  wait_assigned "$log" "$pid" 60 || setup_fail "the rollup got no partitions" "$log"
  if wait_events "$port" rollup "$events" "$pid" "$(timeout_for)"; then
    drain_s=$(elapsed "$assigned_at" "$done_at")
    drain_rate=$(per_s "$events" "$drain_s")
    txn_stats "$port" rollup "$drain_s"
    wait_lag_zero "$group" "$topic" || fail "$label: lag not 0"
    echo "   $events events in $drain_s s (from assignment; $(elapsed "$started" "$assigned_at") s start-up and join before) = $drain_rate events/s"
  else
    fail "$label: the rollup did not finish"
    tail -n 5 "$log"
  fi
  stop_daemon "$pid"
  sleep 1 # the backend's statistics are flushed as it exits
  drain_wal=$(wal_now)
  drain_checkpoints=$(($(checkpoints) - c0))
  echo "   pg_stat_wal over the drain (records fpi bytes): $drain_wal; $drain_checkpoints checkpoint(s) began during it"
}

plain_rate='' plain_wal='' plain2_rate=''
if [ "$plain" = 1 ]; then
  fresh_db rollup_plain
  drain rollup_plain mochi-rollup-plain "1. plain"
  plain_rate=$drain_rate plain_wal=$drain_wal
  psql_do postgres "DROP DATABASE rollup_plain" >/dev/null # keep the disk small
fi

db=rollup_prof
fresh_db "$db"
# For the rollup's role in this database only; LOAD first so that the
# auto_explain settings are known (and checked) when they are stored.
psql -h "$sock" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 >/dev/null <<EOF || setup_fail "cannot set up auto_explain"
LOAD 'auto_explain';
ALTER ROLE mochi_rollup IN DATABASE $db SET session_preload_libraries = 'auto_explain';
ALTER ROLE mochi_rollup IN DATABASE $db SET auto_explain.log_min_duration = 0;
ALTER ROLE mochi_rollup IN DATABASE $db SET auto_explain.log_analyze = on;
ALTER ROLE mochi_rollup IN DATABASE $db SET auto_explain.log_buffers = on;
ALTER ROLE mochi_rollup IN DATABASE $db SET auto_explain.log_wal = on;
ALTER ROLE mochi_rollup IN DATABASE $db SET auto_explain.log_timing = on;
ALTER ROLE mochi_rollup IN DATABASE $db SET auto_explain.log_triggers = on;
ALTER ROLE mochi_rollup IN DATABASE $db SET auto_explain.log_nested_statements = off;
ALTER ROLE mochi_rollup IN DATABASE $db SET auto_explain.log_format = json;
ALTER ROLE mochi_rollup IN DATABASE $db SET log_min_duration_statement = 0;
EOF
log_from=$(($(stat -c %s "$server_log") + 1))
drain "$db" mochi-rollup-prof "2. profiled (auto_explain)"
prof_rate=$drain_rate prof_wal=$drain_wal
tail -c +"$log_from" "$server_log" >"$tmp/profiled.log"

psql_do "$db" "SELECT t.relname, t.n_tup_ins, t.n_tup_upd, t.n_tup_hot_upd,
    pg_table_size(t.relid), pg_indexes_size(t.relid),
    coalesce(io.heap_blks_hit, 0) + coalesce(io.idx_blks_hit, 0),
    coalesce(io.heap_blks_read, 0) + coalesce(io.idx_blks_read, 0)
  FROM pg_stat_user_tables t JOIN pg_statio_user_tables io USING (relid)
  WHERE t.schemaname = 'public' ORDER BY pg_table_size(t.relid) + pg_indexes_size(t.relid) DESC" |
  tr '|' '\t' >"$tmp/tables.tsv"
tr ' ' '\t' <<<"$prof_wal" >"$tmp/wal.tsv"
if [ "$plain" = 1 ]; then
  psql_do postgres "DROP DATABASE $db" >/dev/null
  fresh_db rollup_plain2
  drain rollup_plain2 mochi-rollup-plain2 "3. plain again"
  plain2_rate=$drain_rate
fi

echo
echo "== RESULTS: rollup profile, $events events ($distinct distinct page views), $([ "$kafka" = dev ] && echo "dev broker" || echo "Apache Kafka, 1 node"), durability '$durability', commit $commit, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d ' ' -f 1-3 /proc/loadavg) at end"
echo
if [ "$plain" = 1 ]; then
  echo "rollup events/s: without auto_explain ${plain_rate:-none} (run 1) and ${plain2_rate:-none} (run 3), with it ${prof_rate:-none} (run 2);" \
    "$([ -n "$plain_rate" ] && [ -n "$plain2_rate" ] && [ -n "$prof_rate" ] &&
      awk -v a="$prof_rate" -v b="$plain_rate" -v c="$plain2_rate" 'BEGIN { printf "run 2 took %.2fx as long as the mean of runs 1 and 3", (b + c) / 2 / a }')"
else
  echo "rollup events/s: with auto_explain ${prof_rate:-none} (without it: not measured, --no-plain)"
fi
[ -n "$plain_wal" ] && echo "pg_stat_wal per input event: without auto_explain $(awk -v n="$events" '{ printf "%.2f records, %.3f FPI, %.0f bytes", $1 / n, $2 / n, $3 / n }' <<<"$plain_wal");" \
  "with it $(awk -v n="$events" '{ printf "%.2f records, %.3f FPI, %.0f bytes", $1 / n, $2 / n, $3 / n }' <<<"$prof_wal")"
echo "NOTE: the times below come from the profiled run: EXPLAIN ANALYZE's per-node timing inflates them,"
echo "      cheap nodes that handle many rows the most; read the shares within this run, not the absolute times."
echo "      Rows, WAL and the tables' counters are not affected."
echo
python3 "$root/scripts/lib/rollup-profile.py" --log "$tmp/profiled.log" --events "$events" \
  --tables "$tmp/tables.tsv" --wal "$tmp/wal.tsv" || fail "no profile of the apply statement"

[ "$failures" -eq 0 ] || { echo "$failures check(s) FAILED"; exit 1; }
exit 0
