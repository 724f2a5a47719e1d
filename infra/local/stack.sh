#!/usr/bin/env bash
# The local stack on loopback, without Docker: Apache Kafka (KRaft, one node) and
# Apicurio Registry run from jars that Maven fetched from Maven Central; Redis is the
# machine's own server when one answers, else Debian's redis-server started here.
#
#   stack.sh fetch    fetch the jars into the git-ignored cache (idempotent)
#   stack.sh up       start what is not running, wait until healthy, print endpoints
#   stack.sh down     stop only what `up` started (pid files), never a foreign server
#   stack.sh status   what answers, and who started it
#
# Every service binds 127.0.0.1. A service that already answers on its port is reused,
# whoever started it, which is what makes a second `up` a quick no-op.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/infra/local"
CACHE="${FLEETGRID_CACHE_DIR:-$ROOT/.cache}/stack"
DATA="${FLEETGRID_DATA_DIR:-$ROOT/.data}/stack"
PIDS="$DATA/pids"
LOGS="$DATA/logs"

KAFKA_VERSION="$(sed -n 's#.*<kafka.version>\(.*\)</kafka.version>.*#\1#p' "$HERE/pom.xml")"
APICURIO_VERSION="$(sed -n 's#.*<apicurio.version>\(.*\)</apicurio.version>.*#\1#p' "$HERE/pom.xml")"
KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
APICURIO_HOME="$CACHE/apicurio-$APICURIO_VERSION"

# Ports can be moved, e.g. to run a second stack beside the first for a cold-start check.
KAFKA_PORT="${STACK_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${STACK_CONTROLLER_PORT:-9093}"
REGISTRY_PORT="${STACK_REGISTRY_PORT:-8081}"
REGISTRY_MANAGEMENT_PORT="${STACK_REGISTRY_MANAGEMENT_PORT:-8091}"
REDIS_PORT="${STACK_REDIS_PORT:-6379}"
PROMETHEUS_PORT="${STACK_PROMETHEUS_PORT:-9090}"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"

# Heaps for a 2-core, 24 GB machine that also runs the Node services and chDB.
KAFKA_HEAP="${KAFKA_HEAP:--Xms512m -Xmx1g}"
REGISTRY_HEAP="${REGISTRY_HEAP:--Xms128m -Xmx512m}"

# Apicurio 3.3 is built for Java 21+. Kafka runs on the default Java 17; the registry
# takes the newest JDK this machine has (this machine kind ships Temurin 25 beside it).
registry_java() {
  local candidate best="" best_major=0
  for candidate in "${REGISTRY_JAVA:-}" /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    local major
    major="$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [[ "$major" =~ ^[0-9]+$ ]] && ((major > best_major)); then best="$candidate"; best_major=$major; fi
  done
  ((best_major >= 21)) || die "Apicurio Registry $APICURIO_VERSION needs Java 21 or newer; none found (set REGISTRY_JAVA)"
  echo "$best"
}

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() {
  local file="$PIDS/$1.pid"
  [[ -f "$file" ]] && kill -0 "$(cat "$file")" 2>/dev/null
}

# wait_for NAME SECONDS CHECK...: polls CHECK until it succeeds or time runs out.
wait_for() {
  local name="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      log "$name did not become healthy within ${seconds}s; last log lines:"
      tail -n 30 "$LOGS/$name.log" >&2 2>/dev/null || true
      return 1
    fi
    if [[ -f "$PIDS/$name.pid" ]] && ! pid_alive "$name"; then
      log "$name exited during start-up; last log lines:"
      tail -n 30 "$LOGS/$name.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
}

fetch() {
  if [[ -d "$KAFKA_LIBS" && -f "$APICURIO_HOME/quarkus-run.jar" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn is required to fetch Kafka and Apicurio from Maven Central"
  log "fetching Apache Kafka $KAFKA_VERSION and Apicurio Registry $APICURIO_VERSION from Maven Central"
  mvn -q -B -f "$HERE/pom.xml" -Dstack.cache="$CACHE" package >&2
}

kafka_healthy() {
  port_open "$KAFKA_PORT" && node "$HERE/kafka-ready.ts" "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1
}

start_kafka() {
  if port_open "$KAFKA_PORT"; then
    log "kafka already answers on 127.0.0.1:$KAFKA_PORT; reusing it"
    wait_for kafka 60 kafka_healthy
    return 0
  fi
  local dir="$DATA/kafka"
  mkdir -p "$dir" "$LOGS"
  local cp="$KAFKA_LIBS/*"
  local props="$DATA/kafka.properties"
  sed -e "s#^log.dirs=.*##" -e "s#127.0.0.1:9092#127.0.0.1:$KAFKA_PORT#g" -e "s#127.0.0.1:9093#127.0.0.1:$CONTROLLER_PORT#g" \
    "$HERE/kafka.properties" >"$props"
  echo "log.dirs=$dir/log" >>"$props"
  if [[ ! -f "$dir/log/meta.properties" ]]; then
    log "formatting Kafka storage (first start)"
    local cluster_id
    cluster_id="$(java -cp "$cp" org.apache.kafka.tools.StorageTool random-uuid 2>/dev/null || java -cp "$cp" kafka.tools.StorageTool random-uuid)"
    java -cp "$cp" -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
      kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$props" >>"$LOGS/kafka.log" 2>&1 ||
      die "formatting Kafka storage failed; see $LOGS/kafka.log"
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  # shellcheck disable=SC2086
  nohup java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$cp" kafka.Kafka "$props" >>"$LOGS/kafka.log" 2>&1 &
  echo $! >"$PIDS/kafka.pid"
  wait_for kafka 90 kafka_healthy
}

registry_healthy() {
  curl -fs -o /dev/null --max-time 2 "$REGISTRY_URL/subjects"
}

start_registry() {
  if port_open "$REGISTRY_PORT"; then
    log "a registry already answers on 127.0.0.1:$REGISTRY_PORT; reusing it"
    wait_for registry 60 registry_healthy
  else
    mkdir -p "$DATA/registry" "$LOGS"
    log "starting Apicurio Registry $APICURIO_VERSION on 127.0.0.1:$REGISTRY_PORT"
    # H2 in file mode keeps schemas across restarts without another database server.
    # shellcheck disable=SC2086
    local java
    java="$(registry_java)"
    nohup "$java" $REGISTRY_HEAP -XX:+UseSerialGC -Djava.awt.headless=true \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" \
      -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
      -Dapicurio.datasource.url="jdbc:h2:file:$DATA/registry/registry;DB_CLOSE_ON_EXIT=FALSE" \
      -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
      -Dapicurio.datasource.jdbc.max-size=10 \
      -Dapicurio.storage.snapshot.location="$DATA/registry" \
      -Dapicurio.rest.deletion.artifact.enabled=true \
      -Dapicurio.rest.deletion.artifact-version.enabled=true \
      -Dapicurio.rest.deletion.group.enabled=true \
      -jar "$APICURIO_HOME/quarkus-run.jar" >>"$LOGS/registry.log" 2>&1 &
    echo $! >"$PIDS/registry.pid"
    wait_for registry 120 registry_healthy
  fi
  # The global rule the contracts rely on: every new schema must read data written
  # with the previous one. PUT is idempotent.
  curl -fsS -o /dev/null --max-time 5 -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data '{"compatibility":"BACKWARD"}' "$REGISTRY_URL/config" ||
    die "could not set the registry's global BACKWARD compatibility rule"
}

redis_healthy() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

start_redis() {
  if redis_healthy; then
    log "redis already answers on 127.0.0.1:$REDIS_PORT; reusing it"
    return 0
  fi
  if ! command -v redis-server >/dev/null; then
    log "installing Debian's redis-server"
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq >&2 && apt-get install -y -qq redis-server >&2
    else
      sudo apt-get update -qq >&2 && sudo apt-get install -y -qq redis-server >&2
    fi
  fi
  mkdir -p "$DATA/redis" "$LOGS"
  log "starting redis-server on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" --appendonly yes \
    --daemonize yes --pidfile "$PIDS/redis.pid" --logfile "$LOGS/redis.log" >/dev/null
  wait_for redis 30 redis_healthy
}

prometheus_healthy() {
  curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
}

# Prometheus scrapes the fleetgrid services' /metrics (infra/prometheus/prometheus.yml,
# fixed ports, docs/dashboards.md) and evaluates the fitness-function rules. It only
# observes: without the Debian package the stack still runs, with a warning.
start_prometheus() {
  if port_open "$PROMETHEUS_PORT"; then
    log "prometheus already answers on 127.0.0.1:$PROMETHEUS_PORT; reusing it"
    wait_for prometheus 30 prometheus_healthy
    return 0
  fi
  if ! command -v prometheus >/dev/null; then
    log "warning: prometheus is not installed (make setup installs Debian's package); skipping it"
    return 0
  fi
  mkdir -p "$DATA/prometheus" "$LOGS"
  log "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT"
  # --web.enable-lifecycle lets `curl -X POST .../-/reload` pick up edited rules without a restart.
  nohup prometheus --config.file="$ROOT/infra/prometheus/prometheus.yml" \
    --storage.tsdb.path="$DATA/prometheus" --storage.tsdb.retention.time=7d \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
    >>"$LOGS/prometheus.log" 2>&1 &
  echo $! >"$PIDS/prometheus.pid"
  wait_for prometheus 60 prometheus_healthy
}

up() {
  mkdir -p "$PIDS" "$LOGS"
  fetch
  start_redis
  start_kafka
  start_registry
  start_prometheus
  endpoints
}

endpoints() {
  cat <<EOF
fleetgrid local stack is up:
  Kafka            127.0.0.1:$KAFKA_PORT          (Apache Kafka $KAFKA_VERSION, KRaft)
  Schema registry  $REGISTRY_URL   (Apicurio $APICURIO_VERSION)
  Redis            redis://127.0.0.1:$REDIS_PORT
  Prometheus       http://127.0.0.1:$PROMETHEUS_PORT   (scrapes the services' /metrics)
  Data and logs    $DATA
EOF
}

stop_one() {
  local name="$1" file="$PIDS/$1.pid"
  [[ -f "$file" ]] || return 0
  local pid
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in 30s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

down() {
  # Reverse order of start: the registry uses Kafka-free storage, but clients of both go first.
  stop_one prometheus
  stop_one registry
  stop_one kafka
  stop_one redis
}

status() {
  local rc=0
  for svc in kafka registry redis prometheus; do
    local healthy=no owner=foreign
    case "$svc" in
      kafka) port_open "$KAFKA_PORT" && healthy=yes ;;
      registry) registry_healthy && healthy=yes ;;
      redis) redis_healthy && healthy=yes ;;
      prometheus) prometheus_healthy && healthy=yes ;;
    esac
    pid_alive "$svc" && owner="started by make up"
    [[ $healthy == no ]] && { owner="-"; rc=1; }
    printf '%-10s %-4s %s\n' "$svc" "$healthy" "$owner"
  done
  return $rc
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 fetch|up|down|status" >&2; exit 2 ;;
esac
