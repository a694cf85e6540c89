# Sourced by scripts/bench-collector.sh and scripts/bench-pipeline.sh: what
# both do the same way. The caller sets root (the repository) and bench_name
# (the prefix of its messages) before sourcing, and sources
# scripts/lib/bench-kafka.sh too.
#
#   Usage:    die MSG, check_int NAME VALUE MIN MAX, need_tools TOOL...
#   Build:    bench_build DEFAULT_DIR TARGET...   (sets build_dir, build_type)
#   Services: bench_tmp PREFIX (temp dir and the cleanup trap), setup_fail,
#             pick_port, bench_pg_start/bench_pg_stop, start_daemon/stop_daemon,
#             stop PID SIGNAL SECONDS
#   CPU:      hz, ncpu, cpu_ticks PID..., stat_ticks FILE, machine_ticks
#   Figures:  median, med, field, bench_commit, bench_machine

# ---------------------------------------------------------------- usage
die() { echo "$bench_name: $*" >&2; exit 2; }

check_int() { # NAME VALUE MIN MAX
  [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
    die "--$1: '$2' is not an integer in $3..$4"
}

need_tools() { # TOOL...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is not installed (see docs/benchmarks*.md)"
  done
}

# ---------------------------------------------------------------- build
# bench_build DEFAULT_DIR TARGET...: with build_dir empty, configures
# (RelWithDebInfo, no tests) and builds the TARGETs in DEFAULT_DIR; then
# checks that build_dir holds every TARGET. Sets build_dir (absolute) and
# build_type; warns about a sanitizer build.
bench_build() {
  local default=$1 t sanitize
  shift
  if [ -z "$build_dir" ]; then
    build_dir=$default
    echo "== build (RelWithDebInfo) in $build_dir"
    mkdir -p "$build_dir"
    if [ ! -f "$build_dir/CMakeCache.txt" ]; then
      cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOCHI_TESTS=OFF \
        >"$build_dir/cmake.log" 2>&1 || { cat "$build_dir/cmake.log" >&2; die "cmake failed"; }
    fi
    cmake --build "$build_dir" -j "$(nproc)" --target "$@" >"$build_dir/bench-build.log" 2>&1 ||
      { tail -n 30 "$build_dir/bench-build.log" >&2; die "build failed (log: $build_dir/bench-build.log)"; }
  fi
  build_dir=$(cd "$build_dir" 2>/dev/null && pwd) || die "--build-dir: no such directory"
  for t in "$@"; do
    [ -x "$build_dir/$t" ] || die "$build_dir/$t is missing: build it first"
  done
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
  # (CMakeLists.txt picks RelWithDebInfo when the cache leaves it empty)
  build_type=${build_type:-RelWithDebInfo}
  sanitize=$(sed -n 's/^MOCHI_SANITIZE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
  if [ "$sanitize" = ON ]; then
    echo "$bench_name: warning: $build_dir is a sanitizer build; figures are not meaningful" >&2
  fi
  return 0
}

# ---------------------------------------------------------------- processes
# stop PID SIGNAL SECONDS: signal, wait up to SECONDS, then SIGKILL; reaps it.
stop() {
  local pid=$1 sig=$2 secs=$3 i
  [ -n "$pid" ] || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# bench_tmp PREFIX: makes the temp dir $tmp (/tmp/PREFIX.XXXXXX) and sets
# the traps that stop everything on exit, also on Ctrl-C. The caller may
# define bench_stop_own to stop its own processes first (load generators,
# nginx, ...); with keep=1 the logs stay (not the database, the broker's
# data or the files named in keep_drop).
bench_tmp() {
  tmp=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$tmp" # the postgres user owns $tmp/pg and reads files in $tmp
  pg_started=0 devkafka_pid='' apache_started=0 broker_pid='' daemon_pids=() keep_drop=()
  trap bench_cleanup EXIT
  trap 'echo "$bench_name: interrupted" >&2; exit 130' INT
  trap 'exit 143' TERM
}

bench_cleanup() {
  local rc=$? p
  set +e
  trap - EXIT INT TERM
  declare -F bench_stop_own >/dev/null && bench_stop_own
  for p in "${daemon_pids[@]}"; do stop "$p" TERM 15; done
  bench_kafka_stop
  bench_pg_stop
  if [ "${keep:-0}" = 1 ]; then
    rm -rf "$tmp/pg" "$tmp"/kafka/node*/data "${keep_drop[@]}"
    echo "$bench_name: logs kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}

setup_fail() { # MSG [LOGFILE]: print the log's tail and exit 2
  echo "$bench_name: $1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 20 "$2" >&2
  exit 2
}

# A loopback TCP port nobody listens on (a race with other programs is
# possible; start_daemon retries on another port).
pick_port() {
  local p i
  for ((i = 0; i < 50; i++)); do
    p=$((20000 + RANDOM % 40000))
    [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
  return 1
}

# start_daemon NAME LOG ARGS...: starts build_dir/NAME ARGS --metrics-listen
# on a free loopback port (retrying on a taken one) and waits up to 30 s
# for its "started" line; sets daemon_pid and daemon_port, and adds the pid
# to daemon_pids, which the cleanup stops. The collector takes beacons on
# daemon_port and serves /metrics and /healthz on daemon_port + 1.
start_daemon() {
  local name=$1 log=$2 p i _
  shift 2
  daemon_pid='' daemon_port=''
  for _ in 1 2 3 4 5; do
    p=$(pick_port) || setup_fail "no free port"
    local listen=(--metrics-listen "127.0.0.1:$p")
    # (taken or not, a clash on p + 1 only costs a retry on another port)
    [ "$name" = mochi-collector ] && listen=(--listen "127.0.0.1:$p" --metrics-listen "127.0.0.1:$((p + 1))")
    "$build_dir/$name" "$@" "${listen[@]}" </dev/null 2>"$log" &
    daemon_pid=$!
    for ((i = 0; i < 600; i++)); do
      grep -qs 'msg="started"' "$log" && { daemon_port=$p; break; }
      kill -0 "$daemon_pid" 2>/dev/null || break
      sleep 0.05
    done
    if [ -n "$daemon_port" ]; then
      daemon_pids+=("$daemon_pid")
      return 0
    fi
    stop "$daemon_pid" TERM 5
    grep -q -i 'in use\|cannot' "$log" || setup_fail "$name did not start" "$log"
  done
  setup_fail "$name did not start" "$log"
}

stop_daemon() { # PID: SIGTERM (it drains and exits 0), forget it
  local pid=$1 p rest=()
  stop "$pid" TERM 30
  for p in "${daemon_pids[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  daemon_pids=("${rest[@]}")
}

# ---------------------------------------------------------------- PostgreSQL
# bench_pg_start [NAME=VALUE...]: a private server by scripts/pg-test-server
# (as the tests use) in $tmp/pg, unix socket only, with the given settings
# over the test server's. Sets sock, pgbin, pg_version and postmaster_pid.
bench_pg_start() {
  "$root/scripts/pg-test-server" start "$tmp/pg" "$@" >"$tmp/pg-start.log" 2>&1 ||
    setup_fail "PostgreSQL did not start" "$tmp/pg-start.log"
  pg_started=1
  sock=$(sed -n 's/^MOCHI_TEST_PG_HOST=//p' "$tmp/pg/env")
  pgbin=$(sed -n 's/^MOCHI_TEST_PG_BIN=//p' "$tmp/pg/env")
  postmaster_pid=$(head -n 1 "$(sed -n 's/^MOCHI_TEST_PG_DATA=//p' "$tmp/pg/env")/postmaster.pid")
  pg_version=$("$pgbin/postgres" --version | sed 's/^postgres (PostgreSQL) //')
}

bench_pg_stop() {
  [ "$pg_started" = 1 ] && "$root/scripts/pg-test-server" stop "$tmp/pg" >/dev/null 2>&1
  pg_started=0
}

# ---------------------------------------------------------------- CPU
# One way for both benchmarks. A process's CPU is its utime + stime from
# /proc/PID/stat. The machine's, from the cpu line of /proc/stat (user nice
# system idle iowait irq softirq steal): busy is user + nice + system + irq
# + softirq, total is all eight, so that total / ncpu is the wall time and
# busy minus the processes we know is the CPU of processes we do not know
# (other people's jobs). irq and softirq count as busy because with
# tick-based accounting (CONFIG_TICK_CPU_ACCOUNTING without
# CONFIG_IRQ_TIME_ACCOUNTING: the development VM's kernel, see
# /proc/config.gz) a tick that lands in an interrupt is charged both to
# irq/softirq and to the stime of the process it interrupted: left out of
# busy, that time would be subtracted without having been added, and other
# load underestimated. (With CONFIG_IRQ_TIME_ACCOUNTING the loopback's
# softirq work counts as "other" instead: the noisy mark errs towards
# caution.) Idle is idle + iowait; steal is neither.
hz=$(getconf CLK_TCK)
ncpu=$(nproc)

stat_ticks() { # FILE: utime + stime of a /proc/.../stat file, 0 when gone
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$1" 2>/dev/null || echo 0
}

cpu_ticks() { # PID...: utime + stime of those processes, in clock ticks
  local t=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    t=$((t + $(stat_ticks "/proc/$pid/stat")))
  done
  echo "$t"
}

machine_ticks() { # prints "BUSY TOTAL IDLE" ticks of the whole machine
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}

# ---------------------------------------------------------------- figures
# median: the median of the numbers on stdin (the mean of the middle two
# for an even count), with up to 10 significant digits.
median() {
  sort -g | awk '{ a[NR] = $1 } END {
    if (NR) printf "%.10g\n", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
med() { printf '%s\n' "$@" | median; } # VALUE...

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; } # "k=v k=v ..." KEY

bench_commit() { # PATH...: the short commit, marked when those paths have changes
  local c
  c=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [ -n "$(git -C "$root" status --porcelain -- "$@" 2>/dev/null)" ] && c="$c+uncommitted changes"
  echo "$c"
}

bench_machine() { # "N cores (model), kernel"
  echo "$ncpu cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(uname -r)"
}
