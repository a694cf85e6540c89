#!/usr/bin/env bash
# Installs every Debian package Mochi needs to build, test and run locally,
# then resolves the Apache Kafka broker's jars with Maven (the first time
# about 56 MiB, 10 s on a good connection; cached after that).
# Idempotent; as root or through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
  librdkafka-dev libavro-dev libsodium-dev libcmocka-dev
  libmicrohttpd-dev libjansson-dev libpq-dev libcurl4-openssl-dev
  postgresql postgresql-contrib
  kcat wrk nginx-light curl jq time faketime python3 python3-yaml chromium
  default-jdk-headless maven
  prometheus
)

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js and npm run the browser tests (playwright-core drives Debian's
# chromium): Debian's nodejs and npm unless a node is there already (a
# NodeSource nodejs carries its own npm and conflicts with Debian's).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  for p in nodejs npm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
fi
fetch_kafka() {
  # The broker for tests, benchmarks and `demo.sh --kafka apache`.
  bash "$(dirname "$0")/kafka-test-server" fetch >/dev/null
}
npm_ci() {
  # The versions package-lock.json pins (uplot, playwright-core), into
  # node_modules/ at the root; skipped when they are there already.
  local root
  root=$(cd "$(dirname "$0")/.." && pwd)
  if ! cmp -s "$root/package-lock.json" "$root/node_modules/.mochi-lock" 2>/dev/null; then
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$root/package-lock.json" "$root/node_modules/.mochi-lock"
  fi
}
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  fetch_kafka
  npm_ci
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a cluster, nginx and prometheus on install; Mochi runs its
# own instances, and needs only promtool (scripts/check-ops.sh) from prometheus.
for service in nginx prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    "${sudo_cmd[@]}" systemctl stop "$service" || true
  fi
done
fetch_kafka
npm_ci
echo "install-deps: done"
