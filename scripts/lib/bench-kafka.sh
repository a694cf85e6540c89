# Sourced by scripts/bench-collector.sh and scripts/bench-pipeline.sh: the
# Kafka they measure against, started the same way for both.
#
#   bench_kafka_start KIND PARTITIONS TOPIC...
#     KIND dev: one mochi-devkafka broker, each TOPIC and its .dlq made at start.
#     KIND apache: one Apache Kafka node (scripts/kafka-test-server), each
#       TOPIC (and .dlq) made with `mochictl topics ensure`, replication 1.
#   Uses $root, $build_dir, $tmp and the caller's setup_fail MSG [LOG].
#   Sets brokers, broker_pid (whose CPU is the broker's), kafka_desc, and
#   devkafka_pid or apache_started=1 for the caller's cleanup:
#
#   bench_kafka_stop   stops what bench_kafka_start started.

bench_kafka_start() {
  local kind=$1 partitions=$2 t list="" i
  shift 2
  if [ "$kind" = dev ]; then
    for t in "$@"; do list+="${list:+,}$t,$t.dlq"; done
    echo "== Kafka: mochi-devkafka, 1 broker, $partitions partitions per topic"
    "$build_dir/mochi-devkafka" --brokers 1 --partitions "$partitions" --topics "$list" \
      --bootstrap-file "$tmp/bootstrap" </dev/null >"$tmp/devkafka.out" 2>"$tmp/devkafka.log" &
    devkafka_pid=$! broker_pid=$!
    for ((i = 0; i < 100; i++)); do
      [ -s "$tmp/bootstrap" ] && break
      kill -0 "$devkafka_pid" 2>/dev/null || setup_fail "mochi-devkafka exited" "$tmp/devkafka.log"
      sleep 0.1
    done
    brokers=$(head -n 1 "$tmp/bootstrap" 2>/dev/null || true)
    [ -n "$brokers" ] || setup_fail "mochi-devkafka printed no bootstrap servers" "$tmp/devkafka.log"
    kafka_desc="mochi-devkafka (librdkafka $(pkg-config --modversion rdkafka) mock cluster), 1 broker, $partitions partitions"
    return
  fi
  echo "== Kafka: Apache Kafka, 1 node (scripts/kafka-test-server), $partitions partitions per topic"
  apache_started=1
  # Kafka's default group.initial.rebalance.delay.ms (the tests use 0): a
  # new group's members started together get their partitions together,
  # as in production, instead of the first taking them all and then
  # handing half over in a rebalance in the middle of the drain.
  "$root/scripts/kafka-test-server" start --nodes 1 --dir "$tmp/kafka" --watch-pid $$ --group-delay-ms 3000 \
    </dev/null >"$tmp/kafka.out" 2>"$tmp/kafka.log" || setup_fail "Apache Kafka did not start" "$tmp/kafka.log"
  brokers=$(head -n 1 "$tmp/kafka.out")
  broker_pid=$(cat "$tmp/kafka/node1/pid")
  [ -n "$brokers" ] && [ -r "/proc/$broker_pid/stat" ] || setup_fail "Apache Kafka did not start" "$tmp/kafka.log"
  for t in "$@"; do
    "$build_dir/mochictl" topics ensure --brokers "$brokers" --topic "$t" \
      --partitions "$partitions" --replication-factor 1 >>"$tmp/topics.log" 2>&1 ||
      setup_fail "mochictl topics ensure --topic $t failed" "$tmp/topics.log"
  done
  kafka_desc="Apache Kafka $(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/scripts/kafka/pom.xml") (KRaft, 1 node, heap $(cat "$tmp/kafka/heap"), $(java -version 2>&1 | head -n 1 | tr -d '"')), $partitions partitions, topics by mochictl topics ensure, group.initial.rebalance.delay.ms 3000 (Kafka's default)"
}

bench_kafka_stop() {
  stop "$devkafka_pid" TERM 5
  [ "$apache_started" = 1 ] && "$root/scripts/kafka-test-server" stop --dir "$tmp/kafka" >/dev/null 2>&1
}
