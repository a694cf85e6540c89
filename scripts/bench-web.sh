#!/usr/bin/env bash
# Benchmark of mochi-web (issue 14): how fast the JSON API answers, and how
# soon the dashboard's chart is drawn, over a seeded database as large as a
# busy installation:
#   - 1,000 sites, each with two years of daily_site_metrics and a few
#     pages a day (--other-paths);
#   - one large site (Europe/Berlin) with two years of days, 5,000
#     distinct paths a day (daily_page_metrics), 300 sources a day
#     (daily_source_metrics) and 2,000 entry pages a day
#     (daily_entry_page_metrics); all made by generate_series in SQL, and
#     the monthly tables (sql/010) summed from them.
# Then, for the large site, every API endpoint over a 30-day and a
# 12-month range, --requests times each on one keep-alive connection
# (curl), reporting p50 and p95 in milliseconds; and the dashboard in
# headless Chromium (bench/web/chart.mjs, playwright-core): the time from
# navigation start to app.js's "mochi-chart-drawn" performance mark.
# Targets (issue 14): 30-day p95 < 50 ms, 12-month p95 < 300 ms, chart <
# 500 ms; each line says whether it meets its target.
#
# Private and on loopback: its own PostgreSQL (scripts/pg-test-server in a
# temp dir, unix socket only), mochi-web on a free loopback port, no Kafka
# (the freshness endpoint then reads rollup_progress alone). Everything is
# stopped on exit and the temp dir removed (--keep keeps the logs).
#
# Usage: scripts/bench-web.sh [--build-dir DIR] [--requests N] [--chart-runs N]
#        [--other-paths N] [--keep]
# Not a timed test: it prints numbers. Exit status 0 when it ran (whether
# or not a target was met), 2 on bad usage or a setup failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=bench-web
# shellcheck source=scripts/lib/bench-common.sh
source "$root/scripts/lib/bench-common.sh"
# shellcheck source=scripts/lib/bench-kafka.sh
source "$root/scripts/lib/bench-kafka.sh"

build_dir=${MOCHI_BENCH_BUILD_DIR:-}
requests=${BENCH_REQUESTS:-200}
chart_runs=${BENCH_CHART_RUNS:-15}
other_paths=${BENCH_OTHER_PATHS:-5}
keep=0

usage() {
  cat <<EOF
Usage: scripts/bench-web.sh [OPTIONS]

Seeds a database (1,000 sites; one with 2 years x 5,000 paths, 300 sources
and 2,000 entry pages a day), then times every mochi-web API endpoint for a
30-day and a 12-month range, and the dashboard's chart in Chromium.

Options (environment variable in brackets):
  --build-dir DIR     a build tree holding mochi-web and mochictl [MOCHI_BENCH_BUILD_DIR]
                      (default: configure and build them in build-bench/)
  --requests N        requests per endpoint and range, 10..5000 [BENCH_REQUESTS] (200)
  --chart-runs N      dashboard loads per range in Chromium, 1..100 [BENCH_CHART_RUNS] (15)
  --other-paths N     paths a day of each of the 999 other sites, 0..50 [BENCH_OTHER_PATHS] (5)
  --keep              keep the logs (in /tmp/bench-web.*)
  --help              this text
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
  --build-dir) build_dir=${2:-}; shift 2 ;;
  --requests) requests=${2:-}; shift 2 ;;
  --chart-runs) chart_runs=${2:-}; shift 2 ;;
  --other-paths) other_paths=${2:-}; shift 2 ;;
  --keep) keep=1; shift ;;
  --help | -h) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
done
check_int requests "$requests" 10 5000
check_int chart-runs "$chart_runs" 1 100
check_int other-paths "$other_paths" 0 50
need_tools curl python3 node
[ -f "$root/node_modules/playwright-core/package.json" ] ||
  die "node_modules/playwright-core is missing: run 'npm ci' at the repository root (scripts/install-deps.sh does)"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing (apt-get install chromium)"

bench_build "$root/build-bench" mochi-web mochictl
bench_tmp bench-web

echo "== PostgreSQL"
bench_pg_start
admin="host=$sock user=postgres dbname=postgres"
psql "$admin" -qc "CREATE DATABASE mochi_bench" >/dev/null
db="host=$sock user=postgres dbname=mochi_bench"
MOCHI_DATABASE_URL=$db "$build_dir/mochictl" migrate >"$tmp/migrate.log" 2>&1 ||
  setup_fail "mochictl migrate failed" "$tmp/migrate.log"

echo "== seeding (generate_series; a few minutes on 2 cores)"
seed_start=$(date +%s)
psql "$db" -v ON_ERROR_STOP=1 -q -v other_paths="$other_paths" >"$tmp/seed.log" 2>&1 <<'SQL' ||
\set days 730
SET synchronous_commit = off;
INSERT INTO sites (name, domain, tracking_key, timezone)
SELECT CASE WHEN i = 1 THEN 'Large site' ELSE 'Site ' || i END,
       'site' || i || '.example', 'benchWebSiteKey_' || lpad(i::text, 6, '0'),
       CASE WHEN i = 1 THEN 'Europe/Berlin' ELSE 'UTC' END
FROM generate_series(1, 1000) AS i;
CREATE TEMP TABLE big AS SELECT id FROM sites WHERE tracking_key = 'benchWebSiteKey_000001';
CREATE TEMP TABLE span AS
SELECT (now() AT TIME ZONE 'Europe/Berlin')::date - d AS date, d FROM generate_series(0, :days - 1) AS d;

-- every site: one row a day
INSERT INTO daily_site_metrics (site_id, date, page_views, unique_visitors)
SELECT s.id, span.date,
       CASE WHEN s.id = (SELECT id FROM big) THEN 250000 + (span.d * 37) % 20000
            ELSE 100 + (abs(hashtext(s.id::text)) + span.d * 13) % 900 END,
       CASE WHEN s.id = (SELECT id FROM big) THEN 60000 + (span.d * 17) % 5000
            ELSE 40 + (abs(hashtext(s.id::text)) + span.d * 7) % 300 END
FROM sites s CROSS JOIN span;

-- the large site: 5,000 paths a day, Zipf-like views
INSERT INTO daily_page_metrics (site_id, date, path, page_views)
SELECT (SELECT id FROM big), span.date, '/section-' || (p % 40) || '/page-' || p,
       1 + 50000 / p + (p + span.d) % 7
FROM span CROSS JOIN generate_series(1, 5000) AS p;

-- 300 sources a day ('' is Direct / none)
INSERT INTO daily_source_metrics (site_id, date, source, entries, visitors)
SELECT (SELECT id FROM big), span.date, CASE WHEN k = 1 THEN '' ELSE 'source-' || k || '.example' END,
       1 + 20000 / k + (k + span.d) % 5, 1 + 15000 / k + (k + span.d) % 3
FROM span CROSS JOIN generate_series(1, 300) AS k;

-- 2,000 entry pages a day
INSERT INTO daily_entry_page_metrics (site_id, date, path, entries)
SELECT (SELECT id FROM big), span.date, '/section-' || (p % 40) || '/page-' || p, 1 + 20000 / p
FROM span CROSS JOIN generate_series(1, 2000) AS p;

-- the 999 others: a few pages a day each
INSERT INTO daily_page_metrics (site_id, date, path, page_views)
SELECT s.id, span.date, '/p' || p, 1 + (p * 31 + span.d) % 50
FROM sites s CROSS JOIN span CROSS JOIN generate_series(1, :other_paths) AS p
WHERE s.id <> (SELECT id FROM big);

-- the monthly lists (sql/010_monthly.sql), as the rollup keeps them: the
-- sums of their months' daily rows
INSERT INTO monthly_page_metrics (site_id, month, path, page_views)
SELECT site_id, date_trunc('month', date)::date, path, sum(page_views)
FROM daily_page_metrics GROUP BY 1, 2, 3;
INSERT INTO monthly_entry_page_metrics (site_id, month, path, entries)
SELECT site_id, date_trunc('month', date)::date, path, sum(entries)
FROM daily_entry_page_metrics GROUP BY 1, 2, 3;
INSERT INTO monthly_source_metrics (site_id, month, source, entries, visitors)
SELECT site_id, date_trunc('month', date)::date, source, sum(entries), sum(visitors)
FROM daily_source_metrics GROUP BY 1, 2, 3;

VACUUM (ANALYZE) daily_site_metrics, daily_page_metrics, daily_source_metrics,
    daily_entry_page_metrics, monthly_page_metrics, monthly_entry_page_metrics,
    monthly_source_metrics, sites;
SQL
  setup_fail "seeding failed" "$tmp/seed.log"
rows=$(psql "$db" -tAc "SELECT (SELECT count(*) FROM daily_site_metrics) || ' site-days, ' ||
  (SELECT count(*) FROM daily_page_metrics) || ' page rows, ' || (SELECT count(*) FROM daily_source_metrics)
  || ' source rows, ' || (SELECT count(*) FROM daily_entry_page_metrics) || ' entry-page rows, ' ||
  pg_size_pretty(pg_database_size(current_database()))")
echo "   $rows in $(($(date +%s) - seed_start)) s"

# A user with access to the large site (for the dashboard) and an API
# token of it (for curl): the token is stored as BLAKE2b-256 of its text.
site_id=$(psql "$db" -tAc "SELECT id FROM sites WHERE tracking_key = 'benchWebSiteKey_000001'")
password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
read -r token token_hash < <(python3 <<'PY'
import base64, hashlib, os
token = "mochi_" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
print(token, hashlib.blake2b(token.encode(), digest_size=32).hexdigest())
PY
)
psql "$db" -v ON_ERROR_STOP=1 -q >"$tmp/accounts.log" 2>&1 <<SQL || setup_fail "accounts failed" "$tmp/accounts.log"
INSERT INTO api_tokens (site_id, name, token_hash) VALUES ('$site_id', 'bench', '\\x$token_hash');
SQL
# The user's password hash: Argon2id by mochictl when it has 'users',
# otherwise no dashboard login (the chart timing needs it).
if printf '%s\n' "$password" | MOCHI_DATABASE_URL=$db "$build_dir/mochictl" users add --email bench@mochi.example \
     >"$tmp/users.log" 2>&1 &&
   MOCHI_DATABASE_URL=$db "$build_dir/mochictl" users grant --email bench@mochi.example --site "$site_id" --role viewer \
     >>"$tmp/users.log" 2>&1; then
  have_user=1
else
  have_user=0
  echo "   (mochictl users failed, see below: no chart timing)"; tail -n 3 "$tmp/users.log"
fi

echo "== mochi-web"
web_pid='' port=''
for _ in 1 2 3 4 5; do
  p=$(pick_port) || setup_fail "no free port"
  MOCHI_DATABASE_URL="host=$sock user=mochi_web dbname=mochi_bench" MOCHI_WEB_SECURE_COOKIE=false \
    "$build_dir/mochi-web" --listen "127.0.0.1:$p" --metrics-listen "127.0.0.1:$((p + 1))" \
    </dev/null 2>"$tmp/web.log" &
  web_pid=$!
  for ((i = 0; i < 300; i++)); do
    curl -fs -o /dev/null "http://127.0.0.1:$((p + 1))/healthz" 2>/dev/null && { port=$p; break; }
    kill -0 "$web_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] && break
  stop "$web_pid" TERM 5
done
[ -n "$port" ] || setup_fail "mochi-web did not start" "$tmp/web.log"
daemon_pids+=("$web_pid")
base="http://127.0.0.1:$port"
api="$base/api/v1/sites/$site_id"

# One curl, one keep-alive connection, N requests of one URL: prints each
# request's time_total in ms, or fails on any answer but 200.
time_url() { # URL N
  local cfg=$tmp/curl.cfg i
  : >"$cfg"
  for ((i = 0; i < $2; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$1" >>"$cfg"; done
  curl -s -K "$cfg" -H "Authorization: Bearer $token" -w '%{http_code} %{time_total}\n' |
    awk '$1 != 200 { bad = 1 } { printf "%.3f\n", $2 * 1000 } END { exit bad }' ||
    { echo "bench-web: $1 did not answer 200" >&2; return 1; }
}

pct() { # P: the P-th percentile (nearest rank) of the numbers on stdin
  sort -g | awk -v p="$1" '{ a[NR] = $1 } END { i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; printf "%.1f", a[i] }'
}

echo "== API: p50 / p95 in ms over $requests requests each (one keep-alive connection)"
printf '   %-14s %-8s %8s %8s  %s\n' endpoint range p50 p95 target
misses=0
for range in 30d 12mo; do
  target=50
  [ "$range" = 12mo ] && target=300
  for ep in summary timeseries pages sources entry-pages realtime freshness export.csv; do
    q="range=$range"
    case "$ep" in summary | timeseries) q="$q&compare=previous" ;; esac
    # warm: the first request of a URL pays for a cold cache
    time_url "$api/$ep?$q" 3 >/dev/null
    times=$(time_url "$api/$ep?$q" "$requests")
    p50=$(pct 50 <<<"$times")
    p95=$(pct 95 <<<"$times")
    verdict="ok (< $target)"
    if awk -v a="$p95" -v t="$target" 'BEGIN { exit !(a >= t) }'; then
      verdict="MISSED (< $target, $(awk -v a="$p95" -v t="$target" 'BEGIN { printf "%.1fx", a / t }'))"
      misses=$((misses + 1))
    fi
    printf '   %-14s %-8s %8s %8s  %s\n' "$ep" "$range" "$p50" "$p95" "$verdict"
  done
done

if [ "$have_user" = 1 ]; then
  echo "== dashboard in Chromium: navigation start to the chart drawn, $chart_runs loads per range"
  node "$root/bench/web/chart.mjs" "$base" bench@mochi.example "$password" "$site_id" "$chart_runs" "$tmp" ||
    setup_fail "chart timing failed"
fi

echo "== plans of the 12-month queries (EXPLAIN ANALYZE, as mochi-web's role would run them)"
# as web/stats.c reads the 12-month range: its whole months from
# monthly_page_metrics (from <= month < m1), this month's days from
# daily_page_metrics (the range starts on a month's first day)
read -r today from m1 < <(psql "$db" -tA -F ' ' -c "SELECT d, (date_trunc('month', d) -
  interval '11 months')::date, date_trunc('month', d)::date FROM (SELECT (now() AT TIME ZONE
  'Europe/Berlin')::date AS d) x") || true
psql "$db" -tA >"$tmp/explain.txt" 2>&1 <<SQL || true
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT path, sum(page_views) AS v FROM (
 SELECT path, page_views FROM daily_page_metrics WHERE site_id = '$site_id' AND date >= '$from' AND date < '$from'
 UNION ALL SELECT path, page_views FROM monthly_page_metrics WHERE site_id = '$site_id' AND month >= '$from' AND month < '$m1'
 UNION ALL SELECT path, page_views FROM daily_page_metrics WHERE site_id = '$site_id' AND date >= '$m1' AND date <= '$today'
) r GROUP BY path ORDER BY v DESC, path LIMIT 10;
SQL
grep -E 'Execution Time|Planning Time|Scan|Sort Method|HashAggregate|GroupAggregate' "$tmp/explain.txt" | sed 's/^/   /'
echo "== $misses endpoint/range pairs missed their target (commit $(bench_commit web sql), $(bench_machine))"
