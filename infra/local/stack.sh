#!/usr/bin/env bash
# The local stack on loopback, without Docker: Apache Kafka (KRaft, one node, or three
# with KAFKA_NODES=3), Kafka Connect with Debezium and Apicurio Registry run from jars that
# Maven fetched from Maven Central; Redis, PostgreSQL 15, Alertmanager and Prometheus are
# Debian's. Redis is the machine's own server when one answers, else started here with AOF.
#
#   stack.sh fetch    fetch the jars into the git-ignored cache (idempotent)
#   stack.sh up [SERVICE...]    start what is not running, wait until healthy, print endpoints
#   stack.sh down [SERVICE...]  stop only what `up` started (pid files), never a foreign server
#   stack.sh status [SERVICE...]  every service: address, health, who started it, notes
#   services: redis kafka registry postgres connect alertmanager prometheus
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
# Generated secrets, one 0600 file each (lib/secrets.ts); services read them through NAME_FILE.
SECRETS="${FLEETGRID_DATA_DIR:-$ROOT/.data}/secrets"
KAFKA_TLS="$DATA/kafka-tls"
KAFKA_SASL_USER="${STACK_KAFKA_SASL_USER:-fleetgrid}"
KAFKA_SASL_PASSWORD_FILE="$SECRETS/kafka-$KAFKA_SASL_USER.password"
# PostgreSQL: the project's own cluster, or POSTGRES_URL's server (then none is started).
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_DATA="$DATA/postgres"
PG_RUN="$DATA/postgres-run"
POSTGRES_PASSWORD_FILE="$SECRETS/postgres.password"
DEBEZIUM_PASSWORD_FILE="$SECRETS/postgres-debezium.password"
# Kafka Connect: REST basic auth for CONNECT_USER; connector secrets via FileConfigProvider.
CONNECT_USER="${STACK_CONNECT_USER:-fleetgrid}"
CONNECT_PASSWORD_FILE="$SECRETS/connect.password"
CONNECT_USERS="$SECRETS/connect-rest-users.properties"
CONNECT_SECRETS="$SECRETS/connect-secrets.properties"
# Alertmanager: basic auth for ALERTMANAGER_USER (Prometheus and the notifier use it).
ALERTMANAGER_USER=fleetgrid
ALERTMANAGER_PASSWORD_FILE="$SECRETS/alertmanager.password"

KAFKA_VERSION="$(sed -n 's#.*<kafka.version>\(.*\)</kafka.version>.*#\1#p' "$HERE/pom.xml")"
APICURIO_VERSION="$(sed -n 's#.*<apicurio.version>\(.*\)</apicurio.version>.*#\1#p' "$HERE/pom.xml")"
KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
DEBEZIUM_VERSION="$(sed -n 's#.*<debezium.version>\(.*\)</debezium.version>.*#\1#p' "$HERE/connect-plugins/pom.xml")"
CONNECT_PLUGINS="$CACHE/connect-plugins"
DEBEZIUM_PLUGIN="$CONNECT_PLUGINS/debezium-connector-postgres-$DEBEZIUM_VERSION"
APICURIO_HOME="$CACHE/apicurio-$APICURIO_VERSION"

# Ports can be moved, e.g. to run a second stack beside the first for a cold-start check.
KAFKA_PORT="${STACK_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${STACK_CONTROLLER_PORT:-9093}"
KAFKA_SASL_PORT="${STACK_KAFKA_SASL_PORT:-9094}"
# KAFKA_NODES=3: a three-node cluster on these ports instead of the single broker.
KAFKA_NODES="${KAFKA_NODES:-1}"
CLUSTER_BROKER_PORTS="${STACK_CLUSTER_BROKER_PORTS:-19092,19093,19094}"
CLUSTER_CONTROLLER_PORTS="${STACK_CLUSTER_CONTROLLER_PORTS:-19192,19193,19194}"
REGISTRY_PORT="${STACK_REGISTRY_PORT:-8081}"
REGISTRY_MANAGEMENT_PORT="${STACK_REGISTRY_MANAGEMENT_PORT:-8091}"
REDIS_PORT="${STACK_REDIS_PORT:-6379}"
POSTGRES_PORT="${STACK_POSTGRES_PORT:-5433}"
CONNECT_PORT="${STACK_CONNECT_PORT:-8083}"
ALERTMANAGER_PORT="${STACK_ALERTMANAGER_PORT:-9095}"
PROMETHEUS_PORT="${STACK_PROMETHEUS_PORT:-9090}"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"

[[ "$KAFKA_NODES" =~ ^[1-9]$ ]] || { echo "[stack] error: KAFKA_NODES must be 1 to 9" >&2; exit 2; }
if ((KAFKA_NODES > 1)) && [[ $(tr ',' '\n' <<<"$CLUSTER_BROKER_PORTS" | wc -l) -lt $KAFKA_NODES ||
  $(tr ',' '\n' <<<"$CLUSTER_CONTROLLER_PORTS" | wc -l) -lt $KAFKA_NODES ]]; then
  echo "[stack] error: KAFKA_NODES=$KAFKA_NODES needs as many ports in STACK_CLUSTER_BROKER_PORTS and STACK_CLUSTER_CONTROLLER_PORTS" >&2
  exit 2
fi

# Connect's internal topics: replicated 3 on the cluster, 1 on the single broker.
if ((KAFKA_NODES >= 3)); then CONNECT_REPLICATION_FACTOR="${CONNECT_REPLICATION_FACTOR:-3}"; fi
CONNECT_REPLICATION_FACTOR="${CONNECT_REPLICATION_FACTOR:-1}"

# Heaps for a 2-core, 24 GB machine that also runs the Node services and chDB.
KAFKA_HEAP="${KAFKA_HEAP:--Xms512m -Xmx1g}"
KAFKA_CLUSTER_HEAP="${KAFKA_CLUSTER_HEAP:--Xms256m -Xmx512m}"
REGISTRY_HEAP="${REGISTRY_HEAP:--Xms128m -Xmx512m}"
CONNECT_HEAP="${CONNECT_HEAP:--Xms256m -Xmx512m}"

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

# owns NAME PORT: our pid file's process is alive and is what listens on PORT (a pid file
# of ours next to a foreign server on the port must not claim it).
owns() {
  pid_alive "$1" || return 1
  command -v ss >/dev/null || return 0
  ss -ltnpH "sport = :$2" 2>/dev/null | grep -q "pid=$(cat "$PIDS/$1.pid"),"
}

# The last lines of a service's logs: LOGS/NAME.log, or the files under LOGS/NAME/.
show_log() {
  local file
  for file in "$LOGS/$1.log" "$LOGS/$1"/*.log; do
    [[ -f "$file" ]] && { echo "--- $file" >&2; tail -n 30 "$file" >&2; }
  done
  return 0
}

# wait_for NAME SECONDS CHECK...: polls CHECK until it succeeds or time runs out.
wait_for() {
  local name="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      log "$name did not become healthy within ${seconds}s; last log lines:"
      show_log "$name"
      return 1
    fi
    if [[ -f "$PIDS/$name.pid" ]] && ! pid_alive "$name"; then
      log "$name exited during start-up; last log lines:"
      show_log "$name"
      return 1
    fi
    sleep 0.5
  done
}

fetch() {
  # Each pom's output has a file that only a complete fetch leaves; a cache from before a
  # pom grew (e.g. without Connect's auth extension) is topped up.
  if [[ ! -f "$KAFKA_LIBS/connect-basic-auth-extension-$KAFKA_VERSION.jar" || ! -f "$APICURIO_HOME/quarkus-run.jar" ]]; then
    command -v mvn >/dev/null || die "mvn is required to fetch Kafka and Apicurio from Maven Central"
    log "fetching Apache Kafka $KAFKA_VERSION (broker, Connect) and Apicurio Registry $APICURIO_VERSION from Maven Central"
    mvn -q -B -f "$HERE/pom.xml" -Dstack.cache="$CACHE" package >&2
  fi
  if [[ ! -f "$DEBEZIUM_PLUGIN/debezium-connector-postgres-$DEBEZIUM_VERSION.jar" ]]; then
    command -v mvn >/dev/null || die "mvn is required to fetch Debezium from Maven Central"
    log "fetching the Debezium PostgreSQL connector $DEBEZIUM_VERSION from Maven Central"
    mvn -q -B -f "$HERE/connect-plugins/pom.xml" -Dstack.cache="$CACHE" package >&2
  fi
}

# The bootstrap list of the stack's Kafka (what KAFKA_BROKERS takes), for Connect and the endpoints.
kafka_bootstrap() {
  if ((KAFKA_NODES == 1)); then
    echo "127.0.0.1:$KAFKA_PORT"
  else
    local i list=""
    for ((i = 1; i <= KAFKA_NODES; i++)); do list+="${list:+,}127.0.0.1:$(cut -d, -f"$i" <<<"$CLUSTER_BROKER_PORTS")"; done
    echo "$list"
  fi
}

kafka_healthy() {
  port_open "$KAFKA_PORT" && node "$HERE/kafka-ready.ts" "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1
}

# A self-signed CA and a broker certificate for 127.0.0.1, made on first start. The broker
# reads key and chain from one PEM file (an unencrypted PKCS#8 key, mode 0600), so no
# keystore password exists; clients trust ca.crt (KAFKA_SSL_CA_FILE).
ensure_kafka_tls() {
  [[ -f "$KAFKA_TLS/broker.pem" && -f "$KAFKA_TLS/ca.crt" ]] && return 0
  command -v openssl >/dev/null || die "openssl is required for the Kafka TLS listener (make setup installs it)"
  log "generating a local CA and the broker's TLS certificate under $KAFKA_TLS"
  mkdir -p "$KAFKA_TLS"
  chmod 700 "$KAFKA_TLS"
  (
    cd "$KAFKA_TLS"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=fleetgrid local Kafka CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=127.0.0.1" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out broker.crt -days 825 \
      -extfile broker.ext 2>/dev/null
    cat broker.key broker.crt ca.crt >broker.pem.tmp && mv broker.pem.tmp broker.pem
    rm -f broker.csr broker.ext
    chmod 644 ca.crt
  ) || die "could not generate the Kafka TLS material"
}

# The SCRAM-SHA-512 user of the SASL_SSL listener, with the password of its 0600 file.
# The whole java command line goes through an @argfile (0600, deleted after), so the
# password never appears in argv (ps), and the tool's output is kept only redacted.
ensure_kafka_scram_user() {
  local password argfile marker="$DATA/kafka/scram.done" stamp output
  # Done once per user and password (a stamp of both, not the password itself).
  stamp="$KAFKA_SASL_USER $(sha256sum <"$KAFKA_SASL_PASSWORD_FILE" | cut -d' ' -f1)"
  [[ -f "$marker" && "$(cat "$marker")" == "$stamp" ]] && return 0
  password="$(cat "$KAFKA_SASL_PASSWORD_FILE")"
  argfile="$(mktemp "$DATA/kafka/scram.XXXXXX")"
  chmod 600 "$argfile"
  printf '%s\n' -cp "$KAFKA_LIBS/*" "-Dlog4j2.configurationFile=$HERE/log4j2.properties" "-Dkafka.logs.dir=$LOGS/kafka" \
    kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter \
    --entity-type users --entity-name "$KAFKA_SASL_USER" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" >"$argfile"
  if ! output="$(java "@$argfile" 2>&1)"; then
    rm -f "$argfile"
    printf '%s\n' "${output//$password/<redacted>}" >&2
    die "could not set the SCRAM credentials of Kafka user $KAFKA_SASL_USER"
  fi
  rm -f "$argfile"
  echo "$stamp" >"$marker"
  log "SCRAM-SHA-512 user '$KAFKA_SASL_USER' set (password in $KAFKA_SASL_PASSWORD_FILE)"
}

start_kafka() {
  if ((KAFKA_NODES > 1)); then
    start_kafka_cluster
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    log "kafka already answers on 127.0.0.1:$KAFKA_PORT; reusing it"
    wait_for kafka 60 kafka_healthy
    if owns kafka "$KAFKA_PORT"; then
      ensure_kafka_scram_user
    elif ! port_open "$KAFKA_SASL_PORT"; then
      log "note: no SASL_SSL listener answers on 127.0.0.1:$KAFKA_SASL_PORT (the reused broker has none)"
    fi
    return 0
  fi
  mkdir -p "$DATA/kafka" "$LOGS/kafka"
  ensure_kafka_tls
  node "$HERE/secret.ts" "$KAFKA_SASL_PASSWORD_FILE"
  # infra/local/kraft.ts renders the node's properties (the same code as the tests'
  # private brokers), formats the storage on first start and starts the JVM detached.
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (PLAINTEXT) and 127.0.0.1:$KAFKA_SASL_PORT (SASL_SSL, SCRAM-SHA-512)"
  node "$HERE/kraft.ts" start --dir "$DATA/kafka" --logs-dir "$LOGS/kafka" \
    --broker-ports "$KAFKA_PORT" --controller-ports "$CONTROLLER_PORT" --node-ids 1 \
    --sasl-ssl-port "$KAFKA_SASL_PORT" --keystore-pem "$KAFKA_TLS/broker.pem" \
    --heap="$KAFKA_HEAP" --pid-file "$PIDS/kafka.pid" ||
    die "could not start Kafka; see $LOGS/kafka/"
  wait_for kafka 90 kafka_healthy
  ensure_kafka_scram_user
}

# The three-node cluster (KAFKA_NODES=3): combined broker+controller nodes with static
# voters, from the same jars and the same node configuration (kraft.ts) as the single broker.
cluster_port() { # cluster_port LIST INDEX(1-based)
  cut -d, -f"$2" <<<"$1"
}

kafka_node_healthy() { # kafka_node_healthy INDEX
  local port
  port="$(cluster_port "$CLUSTER_BROKER_PORTS" "$1")"
  port_open "$port" && node "$HERE/kafka-ready.ts" "127.0.0.1:$port" >/dev/null 2>&1
}

kafka_cluster_healthy() {
  node "$HERE/kafka-ready.ts" "$(kafka_bootstrap)" "$KAFKA_NODES" >/dev/null 2>&1
}

start_kafka_cluster() {
  local i port ids=""
  mkdir -p "$DATA/kafka-cluster"
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    port="$(cluster_port "$CLUSTER_BROKER_PORTS" "$i")"
    if port_open "$port"; then
      log "kafka node $i already answers on 127.0.0.1:$port; reusing it"
    else
      log "starting Kafka node $i of $KAFKA_NODES on 127.0.0.1:$port (controller 127.0.0.1:$(cluster_port "$CLUSTER_CONTROLLER_PORTS" "$i"))"
      ids+="${ids:+,}$i"
    fi
  done
  if [[ -n "$ids" ]]; then
    node "$HERE/kraft.ts" start --dir "$DATA/kafka-cluster" --logs-dir "$LOGS/kafka-{id}" \
      --broker-ports "$CLUSTER_BROKER_PORTS" --controller-ports "$CLUSTER_CONTROLLER_PORTS" --node-ids "$ids" \
      --heap="$KAFKA_CLUSTER_HEAP" --pid-file "$PIDS/kafka-{id}.pid" ||
      die "could not start the Kafka nodes $ids; see $LOGS/kafka-*/"
  fi
  # A quorum needs a majority of voters, so readiness is checked once all nodes run.
  if ! wait_for kafka-cluster 120 kafka_cluster_healthy; then
    for ((i = 1; i <= KAFKA_NODES; i++)); do show_log "kafka-$i"; done
    die "the Kafka cluster did not become healthy"
  fi
}

stop_kafka() {
  local file pid
  local -a nodes=() pids=()
  for file in "$PIDS"/kafka-*.pid; do [[ -f "$file" ]] && nodes+=("$(basename "$file" .pid)"); done
  if ((${#nodes[@]} > 0)); then
    # A cluster, all nodes at once. A node's clean shutdown needs the controller quorum
    # (a majority of the nodes); the last ones standing would wait for it for 5 minutes,
    # so once fewer than a majority run, what is left is killed: the records they hold are
    # in their log files, as after any kill -9 that the fault tests do.
    for file in "${nodes[@]}"; do
      pid="$(cat "$PIDS/$file.pid")"
      kill -0 "$pid" 2>/dev/null || continue
      log "stopping $file (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    done
    local majority=$((${#nodes[@]} / 2 + 1)) deadline=$((SECONDS + 60)) alive
    while ((SECONDS < deadline)); do
      alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
      ((alive == 0)) && break
      if ((alive < majority)); then
        sleep 2
        log "$alive node(s) left without a controller quorum; killing them"
        break
      fi
      sleep 0.5
    done
    # kill -9 of whatever is left, and waiting until it is gone.
    stop_many KILL "${nodes[@]}"
  fi
  stop_one kafka
}

status_kafka() {
  if ((KAFKA_NODES == 1)); then
    status_line kafka "$KAFKA_PORT" "127.0.0.1:$KAFKA_PORT" "$(yes_no kafka_healthy)" \
      "$(port_open "$KAFKA_SASL_PORT" && echo "SASL_SSL (SCRAM-SHA-512) on 127.0.0.1:$KAFKA_SASL_PORT")"
    return 0
  fi
  local i port
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    port="$(cluster_port "$CLUSTER_BROKER_PORTS" "$i")"
    status_line "kafka-$i" "$port" "127.0.0.1:$port" "$(yes_no kafka_node_healthy "$i")" \
      "controller 127.0.0.1:$(cluster_port "$CLUSTER_CONTROLLER_PORTS" "$i")"
  done
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
      -Dapicurio.datasource.url="jdbc:h2:file:$DATA/registry/registry;DB_CLOSE_ON_EXIT=FALSE;WRITE_DELAY=0" \
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

# How the Redis on REDIS_PORT keeps its data: "aof", "rdb", "aof+rdb", "none" (nothing on
# disk: a restart loses every checkpoint, issue 12) or "unknown" (CONFIG refused).
redis_persistence() {
  local aof save
  aof="$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-raw config get appendonly 2>/dev/null | sed -n '2p' | tr -d '"' || true)"
  save="$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-raw config get save 2>/dev/null | sed -n '2p' | tr -d '"' || true)"
  [[ "$aof" =~ ^[0-9]+\)\ (yes|no)$ ]] || { echo unknown; return; }
  aof="${aof##* }"
  save="${save#*) }"
  if [[ "$aof" == yes && -n "$save" ]]; then echo aof+rdb
  elif [[ "$aof" == yes ]]; then echo aof
  elif [[ -n "$save" ]]; then echo rdb
  else echo none
  fi
}

redis_persistence_note() {
  case "$(redis_persistence)" in
    none) echo "KEEPS NOTHING ON DISK: a restart empties the device-state read model until it refills" ;;
    unknown) echo "persistence unknown (CONFIG GET refused)" ;;
    aof*) echo "persistence: AOF" ;;
    rdb) echo "persistence: RDB snapshots only (a crash loses the writes since the last one)" ;;
  esac
}

start_redis() {
  if redis_healthy; then
    log "redis already answers on 127.0.0.1:$REDIS_PORT; reusing it ($(redis_persistence_note))"
    if [[ "$(redis_persistence)" == none ]]; then
      log "warning: the Redis on 127.0.0.1:$REDIS_PORT keeps nothing on disk (appendonly no, save \"\");"
      log "warning: its restart empties the device-state read model (the processors' state is in Kafka and refills it); for a Redis that make up starts with AOF, set STACK_REDIS_PORT and REDIS_URL to a free port"
    fi
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
  log "starting redis-server on 127.0.0.1:$REDIS_PORT (AOF, fsync every second, under $DATA/redis)"
  # The append-only file with fsync every second: a crash loses at most a second of the
  # device-state read model, which the processors write again from their state in Kafka
  # (docs/processors.md).
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" \
    --appendonly yes --appendfsync everysec \
    --daemonize yes --pidfile "$PIDS/redis.pid" --logfile "$LOGS/redis.log" >/dev/null
  wait_for redis 30 redis_healthy
}

# PostgreSQL refuses to run as root: as root, its commands run as the postgres OS user,
# who is also the cluster's superuser (peer authentication on the cluster's own socket).
pg_superuser() { if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi; }
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# Files the server reads belong to the user it runs as.
to_pg() { if [[ $(id -u) -eq 0 ]]; then chown postgres: "$@"; fi; }

postgres_healthy() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -t 2 >/dev/null 2>&1
}

# The server's settings, rewritten on every start so that a changed port takes effect.
# Logical decoding for Debezium; an abandoned replication slot may hold at most 1 GB of WAL.
write_postgres_conf() {
  cat >"$PG_DATA/fleetgrid.conf" <<CONF
# Written by infra/local/stack.sh on every start; edit there.
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = '$PG_RUN'
password_encryption = scram-sha-256
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
max_slot_wal_keep_size = 1GB
max_connections = 100
shared_buffers = 128MB
log_line_prefix = '%m [%p] %q%u@%d '
CONF
  # TCP on loopback with SCRAM passwords only; the superuser only through the socket, by peer.
  cat >"$PG_DATA/pg_hba.conf" <<HBA
# Written by infra/local/stack.sh on every start; edit there.
# TYPE  DATABASE     USER       ADDRESS        METHOD
local   all          $(pg_superuser)   peer
host    replication  debezium   127.0.0.1/32   scram-sha-256
host    all          all        127.0.0.1/32   scram-sha-256
HBA
  to_pg "$PG_DATA/fleetgrid.conf" "$PG_DATA/pg_hba.conf"
}

# Roles and database, idempotently, with the passwords of their 0600 files. SQL goes through
# stdin of psql on the superuser's socket: no password in argv, none in the server's log.
ensure_postgres_roles() {
  node "$HERE/secret.ts" "$POSTGRES_PASSWORD_FILE" "$DEBEZIUM_PASSWORD_FILE"
  local app_password cdc_password
  app_password="$(cat "$POSTGRES_PASSWORD_FILE")"
  cdc_password="$(cat "$DEBEZIUM_PASSWORD_FILE")"
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$POSTGRES_PORT" -U "$(pg_superuser)" -d postgres \
    >>"$LOGS/postgres-setup.log" 2>&1 <<SQL || die "could not create the PostgreSQL roles; see $LOGS/postgres-setup.log"
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SELECT 'CREATE ROLE fleetgrid' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fleetgrid') \gexec
SELECT 'CREATE ROLE debezium' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'debezium') \gexec
-- The services' role: owns the fleetgrid database; CREATEDB for tests' scratch databases.
ALTER ROLE fleetgrid WITH LOGIN CREATEDB NOSUPERUSER NOREPLICATION PASSWORD '$app_password';
-- Debezium's role: logical replication and reading every table, nothing else.
ALTER ROLE debezium WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB PASSWORD '$cdc_password';
GRANT pg_read_all_data TO debezium;
SELECT 'CREATE DATABASE fleetgrid OWNER fleetgrid' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'fleetgrid') \gexec
SQL
}

# As root, the postgres OS user must reach its data directory through every parent (a
# checkout under /root is 0700). It gets traversal only (x, no listing), through an ACL
# entry for that one user where a parent is closed; without setfacl, only parents inside
# the data dir are opened with o+x.
grant_postgres_traversal() {
  local dir="$PG_DATA"
  while dir="$(dirname "$dir")" && [[ "$dir" != / ]]; do
    runuser -u postgres -- test -x "$dir" && continue
    if command -v setfacl >/dev/null; then
      setfacl -m u:postgres:x "$dir" || die "could not let the postgres user traverse $dir"
    elif [[ "$dir" == "${FLEETGRID_DATA_DIR:-$ROOT/.data}"* ]]; then
      chmod o+x "$dir"
    else
      die "the postgres OS user cannot reach $PG_DATA ($dir is closed; make setup installs setfacl)"
    fi
  done
  runuser -u postgres -- test -w "$PG_DATA" || die "the postgres OS user cannot write $PG_DATA"
}

start_postgres() {
  if [[ -n "${POSTGRES_URL:-}" ]]; then
    log "POSTGRES_URL is set: using that server, starting no PostgreSQL"
    return 0
  fi
  if port_open "$POSTGRES_PORT"; then
    log "postgresql already answers on 127.0.0.1:$POSTGRES_PORT; reusing it"
    wait_for postgres 30 postgres_healthy
    if owns postgres "$POSTGRES_PORT"; then ensure_postgres_roles; fi
    return 0
  fi
  [[ -x "$PG_BIN/initdb" ]] || die "no PostgreSQL 15 server in $PG_BIN (make setup installs postgresql-15; PG_BIN overrides)"
  mkdir -p "$PG_DATA" "$PG_RUN" "$LOGS"
  chmod 700 "$PG_DATA"
  to_pg "$PG_DATA" "$PG_RUN"
  [[ $(id -u) -eq 0 ]] && grant_postgres_traversal
  touch "$LOGS/postgres.log"
  to_pg "$LOGS/postgres.log"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "creating the PostgreSQL cluster under $PG_DATA (first start)"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$(pg_superuser)" --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >>"$LOGS/postgres.log" 2>&1 || die "initdb failed; see $LOGS/postgres.log"
    echo "include_if_exists = 'fleetgrid.conf'" >>"$PG_DATA/postgresql.conf"
  fi
  write_postgres_conf
  log "starting PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$POSTGRES_PORT"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t 60 -s start ||
    die "PostgreSQL did not start; see $LOGS/postgres.log"
  head -n 1 "$PG_DATA/postmaster.pid" >"$PIDS/postgres.pid"
  wait_for postgres 30 postgres_healthy
  ensure_postgres_roles
}

# Fast shutdown (SIGINT): clients such as Kafka Connect are disconnected, not waited for.
stop_postgres() { stop_one postgres INT; }

status_postgres() {
  if [[ -n "${POSTGRES_URL:-}" ]]; then
    printf '%-12s %-40s %-8s %-17s %s\n' postgres "(POSTGRES_URL)" "-" "external" "POSTGRES_URL is set: not managed here"
    return 0
  fi
  status_line postgres "$POSTGRES_PORT" "postgres://127.0.0.1:$POSTGRES_PORT/fleetgrid" "$(yes_no postgres_healthy)" \
    "$(postgres_healthy && echo "roles fleetgrid, debezium (REPLICATION)")"
}

# curl with basic auth whose credentials come through stdin (-K -), never argv:
# curl_auth USER PASSWORD_FILE CURL_ARGS...
curl_auth() {
  local user="$1" file="$2"
  shift 2
  printf 'user = "%s:%s"\n' "$user" "$(cat "$file")" | curl -K - -fsS --max-time 5 "$@"
}

connect_healthy() {
  port_open "$CONNECT_PORT" &&
    curl_auth "$CONNECT_USER" "$CONNECT_PASSWORD_FILE" -o /dev/null "http://127.0.0.1:$CONNECT_PORT/connectors" 2>/dev/null
}

# Secrets for connector configs through Kafka's FileConfigProvider, e.g.
# "database.password": "${file:<data dir>/secrets/connect-secrets.properties:postgres.debezium.password}".
# Rewritten on every start from the 0600 secret files; only that directory is readable by it.
write_connect_secrets() {
  node "$HERE/secret.ts" "$CONNECT_PASSWORD_FILE" "$POSTGRES_PASSWORD_FILE" "$DEBEZIUM_PASSWORD_FILE"
  (
    umask 077
    printf '# Written by infra/local/stack.sh from the secret files beside it.\n' >"$CONNECT_SECRETS.tmp"
    [[ -n "${POSTGRES_URL:-}" ]] || {
      printf 'postgres.fleetgrid.password=%s\n' "$(cat "$POSTGRES_PASSWORD_FILE")"
      printf 'postgres.debezium.password=%s\n' "$(cat "$DEBEZIUM_PASSWORD_FILE")"
    } >>"$CONNECT_SECRETS.tmp"
    mv "$CONNECT_SECRETS.tmp" "$CONNECT_SECRETS"
    # The REST users file of Connect's basic-auth login module: user: password.
    printf '%s: %s\n' "$CONNECT_USER" "$(cat "$CONNECT_PASSWORD_FILE")" >"$CONNECT_USERS.tmp"
    mv "$CONNECT_USERS.tmp" "$CONNECT_USERS"
  )
}

write_connect_config() {
  local dir="$DATA/connect"
  cat >"$dir/worker.properties" <<PROPS
# Written by infra/local/stack.sh on every start; edit there.
bootstrap.servers=$(kafka_bootstrap)
group.id=fleetgrid-connect
# Distributed mode: connector configs, source offsets and status live in Kafka.
config.storage.topic=fleetgrid-connect-configs
offset.storage.topic=fleetgrid-connect-offsets
status.storage.topic=fleetgrid-connect-status
config.storage.replication.factor=$CONNECT_REPLICATION_FACTOR
offset.storage.replication.factor=$CONNECT_REPLICATION_FACTOR
status.storage.replication.factor=$CONNECT_REPLICATION_FACTOR
offset.storage.partitions=5
status.storage.partitions=3
offset.flush.interval.ms=5000
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
# REST on loopback only, behind basic auth (JAAS module reading the users file).
listeners=http://127.0.0.1:$CONNECT_PORT
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$CONNECT_PORT
rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension
plugin.path=$CONNECT_PLUGINS
# Plugins are found through their ServiceLoader manifests: no scan of every jar at start.
plugin.discovery=service_load
config.providers=file
config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
config.providers.file.param.allowed.paths=$SECRETS
PROPS
  cat >"$dir/jaas.conf" <<JAAS
KafkaConnect {
  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
  file="$CONNECT_USERS";
};
JAAS
}

start_connect() {
  if port_open "$CONNECT_PORT"; then
    log "kafka connect already answers on 127.0.0.1:$CONNECT_PORT; reusing it"
    wait_for connect 60 connect_healthy
    return 0
  fi
  [[ -d "$DEBEZIUM_PLUGIN" ]] || die "no Debezium plugin in $DEBEZIUM_PLUGIN (stack.sh fetch)"
  mkdir -p "$DATA/connect" "$LOGS/connect"
  write_connect_secrets
  write_connect_config
  log "starting Kafka Connect $KAFKA_VERSION (distributed, Debezium PostgreSQL $DEBEZIUM_VERSION) on 127.0.0.1:$CONNECT_PORT"
  # shellcheck disable=SC2086
  nohup java $CONNECT_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Djava.security.auth.login.config="$DATA/connect/jaas.conf" \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS/connect" \
    -cp "$KAFKA_LIBS/*" org.apache.kafka.connect.cli.ConnectDistributed "$DATA/connect/worker.properties" \
    >>"$LOGS/connect/stdout.log" 2>&1 &
  echo $! >"$PIDS/connect.pid"
  wait_for connect 180 connect_healthy
}

status_connect() {
  local note=""
  connect_healthy && note="REST basic auth; plugin Debezium PostgreSQL $DEBEZIUM_VERSION"
  status_line connect "$CONNECT_PORT" "http://127.0.0.1:$CONNECT_PORT" "$(yes_no connect_healthy)" "$note"
}

prometheus_healthy() {
  curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
}

# Prometheus scrapes the fleetgrid services' /metrics (infra/prometheus/prometheus.yml,
# fixed ports, docs/dashboards.md) and evaluates the fitness-function rules. It only
# observes: without the Debian package the stack still runs, with a warning.
# The repository's prometheus.yml with this stack's ports and paths: rule files by absolute
# path, Alertmanager's port and its password file under this data dir.
write_prometheus_config() {
  sed -e "s#^  - rules/\*\.yml#  - $ROOT/infra/prometheus/rules/*.yml#" \
    -e "s#\"127.0.0.1:9095\"#\"127.0.0.1:$ALERTMANAGER_PORT\"#" \
    -e "s#\"127.0.0.1:9090\"#\"127.0.0.1:$PROMETHEUS_PORT\"#" \
    -e "s#password_file: .*alertmanager.password#password_file: $ALERTMANAGER_PASSWORD_FILE#" \
    "$ROOT/infra/prometheus/prometheus.yml" >"$DATA/prometheus/prometheus.yml"
}

start_prometheus() {
  if port_open "$PROMETHEUS_PORT"; then
    log "prometheus already answers on 127.0.0.1:$PROMETHEUS_PORT; reusing it"
    wait_for prometheus 30 prometheus_healthy
    if owns prometheus "$PROMETHEUS_PORT"; then
      # Ours: pick up an edited configuration without a restart.
      write_prometheus_config
      curl -fsS -o /dev/null --max-time 10 -X POST "http://127.0.0.1:$PROMETHEUS_PORT/-/reload" ||
        log "warning: prometheus did not reload its configuration; see $LOGS/prometheus.log"
    fi
    return 0
  fi
  if ! command -v prometheus >/dev/null; then
    log "warning: prometheus is not installed (make setup installs Debian's package); skipping it"
    return 0
  fi
  mkdir -p "$DATA/prometheus" "$LOGS"
  node "$HERE/secret.ts" "$ALERTMANAGER_PASSWORD_FILE"
  write_prometheus_config
  log "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT (alerts to Alertmanager on 127.0.0.1:$ALERTMANAGER_PORT)"
  # --web.enable-lifecycle lets `curl -X POST .../-/reload` pick up edited rules without a restart.
  nohup prometheus --config.file="$DATA/prometheus/prometheus.yml" \
    --storage.tsdb.path="$DATA/prometheus" --storage.tsdb.retention.time=7d \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
    >>"$LOGS/prometheus.log" 2>&1 &
  echo $! >"$PIDS/prometheus.pid"
  wait_for prometheus 60 prometheus_healthy
}

alertmanager_healthy() {
  port_open "$ALERTMANAGER_PORT" &&
    curl_auth "$ALERTMANAGER_USER" "$ALERTMANAGER_PASSWORD_FILE" -o /dev/null \
      "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" 2>/dev/null
}

# The web config of Alertmanager's basic auth: a bcrypt hash of the generated password
# (htpasswd reads the password from stdin), in a 0600 file rewritten on every start.
write_alertmanager_web_config() {
  command -v htpasswd >/dev/null || die "htpasswd is required for Alertmanager's basic auth (make setup installs apache2-utils)"
  local hash
  hash="$(htpasswd -niB -C 10 "$ALERTMANAGER_USER" <"$ALERTMANAGER_PASSWORD_FILE" | cut -d: -f2-)"
  [[ "$hash" == '$2'* ]] || die "htpasswd gave no bcrypt hash"
  (
    umask 077
    printf '# Written by infra/local/stack.sh on every start.\nbasic_auth_users:\n  %s: %s\n' \
      "$ALERTMANAGER_USER" "$hash" >"$DATA/alertmanager/web.yml"
  )
}

# Alertmanager routes alerts (infra/alertmanager/alertmanager.yml). One instance: its
# cluster (gossip) port is disabled, so nothing but its web port listens.
start_alertmanager() {
  if port_open "$ALERTMANAGER_PORT"; then
    log "alertmanager already answers on 127.0.0.1:$ALERTMANAGER_PORT; reusing it"
    wait_for alertmanager 30 alertmanager_healthy
    if owns alertmanager "$ALERTMANAGER_PORT"; then
      # Ours: pick up an edited routing (infra/alertmanager/alertmanager.yml) without a restart,
      # which would drop the alerts it holds in memory.
      curl_auth "$ALERTMANAGER_USER" "$ALERTMANAGER_PASSWORD_FILE" -o /dev/null -X POST \
        "http://127.0.0.1:$ALERTMANAGER_PORT/-/reload" ||
        log "warning: alertmanager did not reload its configuration; see $LOGS/alertmanager.log"
    fi
    return 0
  fi
  if ! command -v prometheus-alertmanager >/dev/null; then
    log "warning: prometheus-alertmanager is not installed (make setup installs Debian's package); skipping it"
    return 0
  fi
  mkdir -p "$DATA/alertmanager" "$LOGS"
  node "$HERE/secret.ts" "$ALERTMANAGER_PASSWORD_FILE"
  write_alertmanager_web_config
  log "starting Alertmanager on 127.0.0.1:$ALERTMANAGER_PORT"
  nohup prometheus-alertmanager --config.file="$ROOT/infra/alertmanager/alertmanager.yml" \
    --storage.path="$DATA/alertmanager" --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" \
    --web.external-url="http://127.0.0.1:$ALERTMANAGER_PORT" --web.config.file="$DATA/alertmanager/web.yml" \
    --cluster.listen-address= >>"$LOGS/alertmanager.log" 2>&1 &
  echo $! >"$PIDS/alertmanager.pid"
  wait_for alertmanager 60 alertmanager_healthy
}

stop_alertmanager() { stop_one alertmanager; }

status_alertmanager() {
  local note=""
  alertmanager_healthy && note="basic auth; config infra/alertmanager/alertmanager.yml"
  status_line alertmanager "$ALERTMANAGER_PORT" "http://127.0.0.1:$ALERTMANAGER_PORT" "$(yes_no alertmanager_healthy)" "$note"
}

# Start order; `down` goes the other way. `up`/`down` take a subset, e.g. `stack.sh up redis`.
SERVICES=(redis kafka registry postgres connect alertmanager prometheus)

selected() {
  local want="$1"; shift
  (($# == 0)) && return 0
  local name
  for name in "$@"; do [[ "$name" == "$want" ]] && return 0; done
  return 1
}

check_services() {
  local name known
  for name in "$@"; do
    known=no
    for svc in "${SERVICES[@]}"; do [[ "$svc" == "$name" ]] && known=yes; done
    [[ $known == yes ]] || die "unknown service '$name' (services: ${SERVICES[*]})"
  done
}

up() {
  check_services "$@"
  mkdir -p "$PIDS" "$LOGS"
  fetch
  local svc
  for svc in "${SERVICES[@]}"; do selected "$svc" "$@" && "start_$svc"; done
  endpoints
}

endpoints() {
  local postgres="postgres://fleetgrid@127.0.0.1:$POSTGRES_PORT/fleetgrid   (password file $POSTGRES_PASSWORD_FILE)"
  [[ -n "${POSTGRES_URL:-}" ]] && postgres="$POSTGRES_URL   (POSTGRES_URL: not started here)"
  local sasl="127.0.0.1:$KAFKA_SASL_PORT   (SASL_SSL, SCRAM-SHA-512 user $KAFKA_SASL_USER: $KAFKA_SASL_PASSWORD_FILE, CA $KAFKA_TLS/ca.crt)"
  ((KAFKA_NODES > 1)) && sasl="none on the cluster"
  cat <<EOF
fleetgrid local stack is up (secrets: $SECRETS, mode 0600):
  Kafka            $(kafka_bootstrap)   (Apache Kafka $KAFKA_VERSION, KRaft, $KAFKA_NODES node(s); KAFKA_BROKERS)
  Kafka SASL_SSL   $sasl
  Schema registry  $REGISTRY_URL   (Apicurio $APICURIO_VERSION)
  Redis            redis://127.0.0.1:$REDIS_PORT
  PostgreSQL       $postgres
  Kafka Connect    http://127.0.0.1:$CONNECT_PORT   (user $CONNECT_USER: $CONNECT_PASSWORD_FILE; Debezium PostgreSQL $DEBEZIUM_VERSION)
  Alertmanager     http://127.0.0.1:$ALERTMANAGER_PORT   (user $ALERTMANAGER_USER: $ALERTMANAGER_PASSWORD_FILE)
  Prometheus       http://127.0.0.1:$PROMETHEUS_PORT   (scrapes the services' /metrics)
  Data and logs    $DATA   (make status: what answers and who started it)
EOF
}

# stop_many SIGNAL NAME...: signal every pid file's process at once, wait up to 30 s for
# all of them, kill -9 what is left and wait until it is gone.
stop_many() {
  local signal="$1" name pid
  shift
  local -a pids=() names=()
  for name in "$@"; do
    [[ -f "$PIDS/$name.pid" ]] || continue
    pid="$(cat "$PIDS/$name.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $name (pid $pid)"
      kill "-$signal" "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    fi
  done
  local i deadline=$((SECONDS + 30))
  for ((i = 0; i < ${#pids[@]}; i++)); do
    while kill -0 "${pids[$i]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      log "${names[$i]} did not stop in 30s; killing it"
      kill -9 "${pids[$i]}" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.25; done
    fi
  done
  for name in "$@"; do rm -f "$PIDS/$name.pid"; done
}

# stop_one NAME [SIGNAL]: the pid file's process, TERM by default.
stop_one() { stop_many "${2:-TERM}" "$1"; }

down() {
  check_services "$@"
  # Reverse order of start: clients go before what they use.
  local i
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    selected "${SERVICES[$i]}" "$@" && "stop_${SERVICES[$i]}"
  done
  return 0
}

stop_redis() { stop_one redis; }
stop_registry() { stop_one registry; }
stop_prometheus() { stop_one prometheus; }
stop_connect() { stop_one connect; }

# One line per service: name, address, health, who started it, and a note.
status_line() {
  local name="$1" port="$2" address="$3" healthy="$4" note="${5:-}" owner
  if [[ $healthy == yes ]]; then
    if owns "$name" "$port"; then owner="make up"; else owner="foreign (reused)"; fi
  else
    owner="-"
    STATUS_RC=1
  fi
  printf '%-12s %-40s %-8s %-17s %s\n' "$name" "$address" "$([[ $healthy == yes ]] && echo healthy || echo down)" "$owner" "$note"
}

yes_no() { if "$@"; then echo yes; else echo no; fi; }

status_redis() {
  local note=""
  redis_healthy && note="$(redis_persistence_note)"
  status_line redis "$REDIS_PORT" "redis://127.0.0.1:$REDIS_PORT" "$(yes_no redis_healthy)" "$note"
}
status_registry() { status_line registry "$REGISTRY_PORT" "$REGISTRY_URL" "$(yes_no registry_healthy)"; }
status_prometheus() {
  status_line prometheus "$PROMETHEUS_PORT" "http://127.0.0.1:$PROMETHEUS_PORT" "$(yes_no prometheus_healthy)"
}

status() {
  check_services "$@"
  STATUS_RC=0
  printf '%-12s %-40s %-8s %-17s %s\n' SERVICE ADDRESS HEALTH "STARTED BY" NOTE
  local svc
  for svc in "${SERVICES[@]}"; do selected "$svc" "$@" && "status_$svc"; done
  return $STATUS_RC
}

case "${1:-}" in
  fetch) fetch ;;
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  status) shift; status "$@" ;;
  *) echo "usage: $0 fetch | up|down|status [SERVICE...]" >&2; exit 2 ;;
esac
