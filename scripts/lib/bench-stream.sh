# Sourced by scripts/bench-pipeline.sh and scripts/profile-rollup.sh, after
# scripts/lib/bench-common.sh and scripts/lib/bench-kafka.sh: the preloaded
# topic, the migrated template database and the timing of a daemon's drain,
# done the same way by both. Uses their globals: tmp, sock, build_dir,
# brokers, events.
#
#   Times:    now, elapsed T0 T1, per_s N SECONDS, log_time FILE PATTERN
#   Database: psql_do DB SQL, url ROLE DB, bench_sites EVENTS, bench_template,
#             fresh_db DB
#   Preload:  bench_preload TOPIC PRELOAD_ARG...
#   Drains:   wait_assigned, events_done, txn_stats, wait_events, group_lag,
#             wait_lag_zero, stable_count, timeout_for

# ---------------------------------------------------------------- times
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
# Log timestamp (ts=...Z) of the first line of FILE matching PATTERN, as Unix seconds.
log_time() {
  local ts
  ts=$(grep -m 1 -- "$2" "$1" | sed -n 's/^ts=\([^ ]*\) .*/\1/p')
  [ -n "$ts" ] && date -u -d "$ts" +%s.%N
}

# ---------------------------------------------------------------- database
psql_do() { psql -h "$sock" -U postgres -d "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
url() { echo "host=$sock user=$1 dbname=$2"; } # ROLE DB

# bench_sites EVENTS: the sites of a run, in $tmp/sites.tsv (id, name,
# domain, tracking key): the preload's (more for bigger topics, so that the
# dev broker's ~5 MiB per partition holds each site's share; their ids in
# $tmp/preload-sites), loadgen's and the probe's. Sets nsites, partitions
# (per topic), probe_id and loadgen_sites.
bench_sites() { # EVENTS
  local i id
  nsites=$(($1 / 5000)); [ "$nsites" -lt 64 ] && nsites=64; [ "$nsites" -gt 1000 ] && nsites=1000
  partitions=$((($1 + 999999) / 1000000 * 128)); [ "$partitions" -gt 256 ] && partitions=256
  : >"$tmp/sites.tsv"
  for ((i = 0; i < nsites + 5; i++)); do
    id=$(cat /proc/sys/kernel/random/uuid)
    if [ "$i" -lt "$nsites" ]; then
      printf '%s\tbench %d\tsite%d.example\tbenchsitekey%06d\n' "$id" "$i" "$i" "$i" >>"$tmp/sites.tsv"
    elif [ "$i" -lt $((nsites + 4)) ]; then
      printf '%s\tload %d\tload%d.example.org\tloadgensitekey%04d\n' "$id" "$i" "$i" "$i" >>"$tmp/sites.tsv"
    else
      printf '%s\tprobe\tprobe.example.net\tprobesitekey0000001\n' "$id" >>"$tmp/sites.tsv"
    fi
  done
  head -n "$nsites" "$tmp/sites.tsv" | cut -f 1 >"$tmp/preload-sites"
  probe_id=$(tail -n 1 "$tmp/sites.tsv" | cut -f 1)
  loadgen_sites=$(sed -n "$((nsites + 1)),$((nsites + 4))p" "$tmp/sites.tsv" | awk -F '\t' '{ printf "%s%s=%s", (NR > 1 ? "," : ""), $4, $3 }')
}

# bench_template: one migrated template database (mochi_tpl) with every site
# of $tmp/sites.tsv; fresh_db DB makes a copy of it for each phase.
bench_template() {
  createdb -h "$sock" -U postgres mochi_tpl || setup_fail "createdb failed"
  MOCHI_DATABASE_URL=$(url postgres mochi_tpl) "$build_dir/mochictl" migrate >"$tmp/migrate.log" 2>&1 ||
    setup_fail "mochictl migrate failed" "$tmp/migrate.log"
  psql -h "$sock" -U postgres -d mochi_tpl -XAtq -v ON_ERROR_STOP=1 \
    -c "\\copy sites (id, name, domain, tracking_key) FROM '$tmp/sites.tsv'" ||
    setup_fail "cannot insert the sites"
}
fresh_db() { createdb -h "$sock" -U postgres -T mochi_tpl "$1" || setup_fail "createdb $1 failed"; }

# ---------------------------------------------------------------- preload
# bench_preload TOPIC PRELOAD_ARG...: mochi-bench-preload of $events events
# over the sites of $tmp/preload-sites into TOPIC (with the extra arguments,
# such as --copy-out), then checks that the topic holds them
# all. Sets pre (its output line), distinct, first_day and preload_s.
bench_preload() { # TOPIC PRELOAD_ARG...
  local t0 t1 low_ok
  t0=$(now)
  pre=$("$build_dir/mochi-bench-preload" --brokers "$brokers" --topic "$1" --sites "$tmp/preload-sites" \
    --count "$events" "${@:2}" 2>"$tmp/preload.log") ||
    setup_fail "preload failed" "$tmp/preload.log"
  t1=$(now)
  distinct=$(field "$pre" distinct)
  first_day=$(field "$pre" first_day)
  echo "   $pre"
  low_ok=$("$build_dir/mochictl" lag --brokers "$brokers" --topic "$1" --group mochi-ingest --json |
    jq '[.groups[0].partitions[] | .log_end] | add')
  [ "$low_ok" = "$events" ] || setup_fail "the topic holds $low_ok messages, not $events"
  preload_s=$(elapsed "$t0" "$t1")
}

# ---------------------------------------------------------------- drains
# Waits until LOG says the member got its partitions; sets assigned_at.
wait_assigned() { # LOG PID SECONDS
  local i
  for ((i = 0; i < $3 * 50; i++)); do
    assigned_at=$(log_time "$1" 'msg="partitions assigned"' || true)
    [ -n "$assigned_at" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}
# Waits until each daemon of PIDS (the k-th, from 1, logging to
# PREFIX-k.log) has got partitions; sets assigned_at to the earliest of
# their assignments. Returns 1, with unassigned set to that k, when one
# got none.
wait_all_assigned() { # PREFIX "PID..." SECONDS
  local k=0 pid first=''
  for pid in $2; do
    k=$((k + 1))
    wait_assigned "$1-$k.log" "$pid" "$3" || { unassigned=$k; return 1; }
    if [ -z "$first" ] || awk -v a="$assigned_at" -v b="$first" 'BEGIN { exit !(a < b) }'; then
      first=$assigned_at
    fi
  done
  assigned_at=$first
}
# Sum of a daemon's events_total over all outcomes (each is counted once
# its batch's transaction has committed).
events_done() { # "PORT..." COMPONENT: summed over the instances
  local port
  for port in $1; do curl -s --max-time 2 "http://127.0.0.1:$port/metrics"; done |
    awk -v m="mochi_$2_events_total{" 'index($1, m) == 1 { s += $2 } END { printf "%.0f\n", s + 0 }'
}
# Batches applied and the time spent in their PostgreSQL transactions,
# from the daemons' histograms: sets txn_line.
txn_stats() { # "PORT..." COMPONENT DRAIN_SECONDS
  local port
  txn_line=$(for port in $1; do curl -s --max-time 2 "http://127.0.0.1:$port/metrics"; done |
    awk -v c="mochi_$2" -v wall="$3" -v k="$(wc -w <<<"$1")" '
    $1 == c "_batch_events_count" { n += $2 } $1 == c "_batch_events_sum" { ev += $2 }
    $1 == c "_transaction_seconds_sum" { t += $2 }
    index($1, c "_careful_batches_total{") == 1 { careful += $2; has_careful = 1 }
    END { printf "%d batches of %.0f events on average; %.1f s inside PostgreSQL transactions = %.0f%% of the drain%s%s",
          n, (n ? ev / n : 0), t, (wall > 0 ? 100 * t / wall / k : 0), (k > 1 ? " per instance" : ""),
          (has_careful ? sprintf("; %d careful batches (every page view looked up)", careful) : "") }')
  echo "      batches: $txn_line"
}
# Waits until the daemons report N events applied in all; sets done_at.
# 100 ms resolution (one scrape of /metrics each).
wait_events() { # "PORT..." COMPONENT N "PID..." TIMEOUT_S
  local deadline n pid
  deadline=$(awk -v t="$(now)" -v s="$5" 'BEGIN { printf "%.0f", t + s }')
  while :; do
    n=$(events_done "$1" "$2")
    if [ "${n:-0}" -ge "$3" ]; then done_at=$(now); return 0; fi
    for pid in $4; do kill -0 "$pid" 2>/dev/null || { echo "  $2 exited"; return 1; }; done
    [ "${EPOCHSECONDS}" -lt "$deadline" ] || { echo "  $2: only $n of $3 events after $5 s"; return 1; }
    sleep 0.1
  done
}
group_lag() { # GROUP TOPIC: total lag, or 'error'
  "$build_dir/mochictl" lag --brokers "$brokers" --topic "$2" --group "$1" --json 2>/dev/null |
    jq -r '.groups[0].total_lag' 2>/dev/null || echo error
}
wait_lag_zero() { # GROUP TOPIC: up to 15 s (commits are asynchronous)
  local i l
  for ((i = 0; i < 30; i++)); do
    l=$(group_lag "$1" "$2")
    [ "$l" = 0 ] && return 0
    sleep 0.5
  done
  echo "  lag of $1 is $l, not 0"
  return 1
}
# count(*) twice, one second apart: prints it when stable.
stable_count() { # DB TABLE
  local a b
  a=$(psql_do "$1" "SELECT count(*) FROM $2")
  sleep 1
  b=$(psql_do "$1" "SELECT count(*) FROM $2")
  [ "$a" = "$b" ] && echo "$a" || echo "unstable($a,$b)"
}
timeout_for() { awk -v n="$events" 'BEGIN { printf "%.0f", 120 + n / 2000 }'; } # generous: 2000 ev/s
