#!/usr/bin/env bash
# The one-command demo: installs what is needed, builds, starts PostgreSQL
# and Kafka, migrates, creates a demo site, starts one collector, two
# consumers, one rollup and the dashboard (mochi-web), drives realistic
# traffic with mochi-loadgen, then prints the lag of both groups, the
# site's stats, and the dashboard's URL with a demo user's e-mail and a
# new random password. Everything keeps running until `bash scripts/demo.sh stop`.
#
#   bash scripts/demo.sh                  start on the dev broker (stops a previous demo first)
#   bash scripts/demo.sh --kafka apache   the same on Apache Kafka (scripts/kafka-test-server)
#   bash scripts/demo.sh stop             stop everything the demo started
#
# The dev broker (mochi-devkafka, librdkafka's mock cluster) starts in
# milliseconds and needs nothing else; Apache Kafka (KRaft, one node, topics
# created with `mochictl topics ensure`) is what production runs, takes
# about 10 s to start and 0.5 GiB of memory.
#
# Settings (environment): MOCHI_DEMO_DIR (state, default .demo), MOCHI_DEMO_SECONDS
# (traffic, 20), MOCHI_DEMO_RATE (beacons/s, 300), MOCHI_DEMO_PORT (collector,
# 8080), MOCHI_DEMO_PAGE_PORT (demo page, 8000), MOCHI_DEMO_WEB_PORT (dashboard,
# 8090), MOCHI_DEMO_METRICS_PORT (first of five /metrics ports, 9101: consumer,
# rollup, consumer, collector, mochi-web), MOCHI_DEMO_BUILD_DIR (build), and
# MOCHI_DEMO_SKIP_INSTALL=1 / MOCHI_DEMO_SKIP_BUILD=1 to reuse what is there,
# MOCHI_DEMO_KAFKA (dev or apache, as --kafka).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${MOCHI_DEMO_DIR:-$root/.demo}
build=${MOCHI_DEMO_BUILD_DIR:-$root/build}
port=${MOCHI_DEMO_PORT:-8080}
page_port=${MOCHI_DEMO_PAGE_PORT:-8000}
web_port=${MOCHI_DEMO_WEB_PORT:-8090}
demo_email=demo@mochi.example
mport=${MOCHI_DEMO_METRICS_PORT:-9101}
seconds=${MOCHI_DEMO_SECONDS:-20}
rate=${MOCHI_DEMO_RATE:-300}
kafka=${MOCHI_DEMO_KAFKA:-dev}

action=start
while [ $# -gt 0 ]; do
  case "$1" in
  start | stop) action=$1; shift ;;
  --kafka) kafka=${2:-}; shift 2 || true ;;
  *) echo "usage: scripts/demo.sh [start|stop] [--kafka dev|apache]" >&2; exit 2 ;;
  esac
done
case "$kafka" in dev | apache) ;; *) echo "demo: --kafka must be dev or apache" >&2; exit 2 ;; esac

say() { printf '\n== %s\n' "$*"; }

stop_all() {
  local pids=() f pid
  if [ -d "$state/pids" ]; then
    for f in "$state"/pids/*.pid; do
      [ -e "$f" ] || continue
      pid=$(cat "$f")
      if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
      rm -f "$f"
    done
  fi
  # wait for a clean drain, then insist
  for _ in $(seq 1 150); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ -d "$state/kafka" ]; then
    bash "$root/scripts/kafka-test-server" stop --dir "$state/kafka" 2>/dev/null
  fi
  if [ -f "$state/pg/data/postmaster.pid" ]; then
    bash "$root/scripts/pg-test-server" stop "$state/pg" >/dev/null
  fi
}

# start NAME COMMAND...: runs in the background, logs to $state/logs/NAME.log
start() {
  local name=$1; shift
  setsid "$@" >"$state/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$state/pids/$name.pid"
}

wait_http() {
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "demo: $1 did not answer; see $state/logs/" >&2
  return 1
}

if [ "$action" = stop ]; then
  stop_all
  echo "demo stopped"
  exit 0
fi

stop_all
mkdir -p "$state/logs" "$state/pids" "$state/www"
trap 'echo "demo: failed; logs in $state/logs; stopping what was started" >&2; stop_all' ERR

if [ "${MOCHI_DEMO_SKIP_INSTALL:-0}" != 1 ]; then
  say "installing packages"
  bash "$root/scripts/install-deps.sh"
fi
if [ "${MOCHI_DEMO_SKIP_BUILD:-0}" != 1 ]; then
  say "building"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc)" >/dev/null
fi

say "starting PostgreSQL and Kafka ($kafka)"
bash "$root/scripts/pg-test-server" start "$state/pg" >/dev/null
sock=$state/pg/sock
admin="host=$sock user=postgres dbname=postgres"
psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = 'mochi'" | grep -q 1 \
  || psql "$admin" -qc "CREATE DATABASE mochi"
rm -f "$state/bootstrap"
if [ "$kafka" = apache ]; then
  brokers=$(bash "$root/scripts/kafka-test-server" start --nodes 1 --dir "$state/kafka" | head -n 1)
  export MOCHI_KAFKA_BROKERS=$brokers
  # Auto-creation is off, as in production: the topics are made explicitly.
  "$build/mochictl" topics ensure --partitions 6 --replication-factor 1
else
  start devkafka "$build/mochi-devkafka" --brokers 3 --partitions 6 --bootstrap-file "$state/bootstrap"
  for _ in $(seq 1 100); do [ -s "$state/bootstrap" ] && break; sleep 0.1; done
  brokers=$(cat "$state/bootstrap")
  export MOCHI_KAFKA_BROKERS=$brokers
fi
export MOCHI_DATABASE_URL="host=$sock user=postgres dbname=mochi"

say "migrating and creating the demo site"
"$build/mochictl" migrate
# The tracker page runs on localhost; loadgen's traffic spreads over three
# sites, so that the two consumers share the partitions.
site_key() {
  "$build/mochictl" sites list --json | python3 -c '
import json, sys
print(next((s["tracking_key"] for s in json.load(sys.stdin) if s["domain"] == sys.argv[1]), ""))' "$1"
}
sites=""
for domain in localhost blog.example shop.example; do
  k=$(site_key "$domain")
  if [ -z "$k" ]; then
    k=$("$build/mochictl" sites add --name "Demo $domain" --domain "$domain" --json \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["tracking_key"])')
  fi
  sites="$sites${sites:+,}$k=$domain"
  [ "$domain" = localhost ] && key=$k
done
echo "demo sites: $sites"

say "starting one collector, two consumers and one rollup"
role() { echo "host=$sock user=$1 dbname=mochi"; }
start collector env MOCHI_DATABASE_URL="$(role mochi_collector)" "$build/mochi-collector" \
  --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$((mport + 3))" \
  --trusted-proxies 127.0.0.1/32 --refresh-interval 2s
# A low session timeout lets a restarted member rejoin the dev broker's group quickly.
start consumer-1 env MOCHI_DATABASE_URL="$(role mochi_consumer)" "$build/mochi-consumer" \
  --metrics-listen "127.0.0.1:$mport" -X session.timeout.ms=6000
start rollup env MOCHI_DATABASE_URL="$(role mochi_rollup)" "$build/mochi-rollup" \
  --metrics-listen "127.0.0.1:$((mport + 1))" -X session.timeout.ms=6000
start consumer-2 env MOCHI_DATABASE_URL="$(role mochi_consumer)" "$build/mochi-consumer" \
  --metrics-listen "127.0.0.1:$((mport + 2))" -X session.timeout.ms=6000
for p in "$mport" $((mport + 1)) $((mport + 2)) $((mport + 3)); do wait_http "http://127.0.0.1:$p/healthz"; done

say "starting the dashboard (mochi-web) and its demo user"
# On http, so the session cookie goes without Secure; with the brokers, the
# freshness line asks Kafka for the log ends.
start web env MOCHI_DATABASE_URL="$(role mochi_web)" "$build/mochi-web" \
  --listen "127.0.0.1:$web_port" --metrics-listen "127.0.0.1:$((mport + 4))" \
  --secure-cookie false --brokers "$brokers"
wait_http "http://127.0.0.1:$((mport + 4))/healthz"
# A new random password each run, shown once below; the user sees the demo sites.
demo_password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
if "$build/mochictl" users list --json | python3 -c '
import json, sys
sys.exit(0 if any(u["email"] == sys.argv[1] for u in json.load(sys.stdin)) else 1)' "$demo_email"; then
  printf '%s\n' "$demo_password" | "$build/mochictl" users passwd --email "$demo_email" >/dev/null
else
  printf '%s\n' "$demo_password" | "$build/mochictl" users add --email "$demo_email" >/dev/null
fi
for domain in localhost blog.example shop.example; do
  "$build/mochictl" users grant --email "$demo_email" --site "$(site_key "$domain")" --role admin >/dev/null
done

cat >"$state/www/index.html" <<HTML
<!doctype html>
<html><head><meta charset="utf-8"><title>Mochi demo</title>
<script defer src="http://localhost:$port/mochi.js" data-key="$key"></script></head>
<body><h1>Mochi demo page</h1>
<p>This page sends one beacon per view. <a href="#" onclick="history.pushState({}, '', '/app/' + Date.now()); return false;">Navigate (pushState)</a></p>
</body></html>
HTML
start page python3 -m http.server --bind 127.0.0.1 --directory "$state/www" "$page_port"

say "driving ${seconds}s of traffic at ${rate} beacons/s with mochi-loadgen"
"$build/mochi-loadgen" --url "http://127.0.0.1:$port" --sites "$sites" \
  --duration "${seconds}s" --rate "$rate" --connections 8 --expect "$state/expected.json"

say "waiting for both groups to catch up"
for _ in $(seq 1 120); do
  "$build/mochictl" lag --max-lag 0 >/dev/null 2>&1 && break
  sleep 0.5
done
"$build/mochictl" lag || true

say "stats of the demo site (today, UTC)"
"$build/mochictl" stats --site "$key" --from "$(date -u +%F)" --to "$(date -u +%F)" --top 5
trap - ERR

cat <<TEXT

Mochi is running (state and logs in $state).
  Tracker demo page:  http://localhost:$page_port/   (open it in a browser; each view and
                      each "Navigate" click is one page view)
  Dashboard:          http://127.0.0.1:$web_port/   (log in as $demo_email, password $demo_password)
  Collector:          http://127.0.0.1:$port/mochi.js   (metrics: http://127.0.0.1:$((mport + 3))/metrics, /healthz)
  Consumers, rollup:  http://127.0.0.1:$mport/metrics, :$((mport + 2))/metrics, rollup :$((mport + 1))/metrics
  Stats again:        MOCHI_DATABASE_URL="$MOCHI_DATABASE_URL" $build/mochictl stats --site $key
  Kafka:              $kafka, bootstrap $brokers
  Stop everything:    bash scripts/demo.sh stop
TEXT
