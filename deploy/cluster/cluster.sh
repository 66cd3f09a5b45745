#!/usr/bin/env bash
# A local aupgate cluster on loopback: a Redis Cluster of 3 masters and 3 replicas (Debian's
# redis-server) and two gateway nodes sharing it, relaying to one smarthost. Everything it starts
# is recorded in a pid file under $CLUSTER_DIR, and `stop` stops exactly those processes.
#
#   deploy/cluster/cluster.sh start    starts what is not running (a node that died is started
#                                      again; the Redis Cluster is created once)
#   deploy/cluster/cluster.sh stop     stops the gateways (SIGTERM: they drain), then Redis
#   deploy/cluster/cluster.sh status   what runs, and which Redis node serves which slots
#
# Environment (defaults in brackets):
#   AUPGATE        the gateway binary [target/release/aupgate]
#   CLUSTER_DIR    state: data, configs, logs, pid files [/var/tmp/aupgate-cluster]
#   REDIS_BASE     first of 6 Redis ports; each uses port+10000 for the cluster bus [7101]
#   NODE_TIMEOUT   cluster-node-timeout in ms: how long before a replica replaces a dead master [2000]
#   NODE1_SMTP, NODE2_SMTP     the gateways' SMTP listeners [127.0.0.1:2601, 127.0.0.1:2602]
#   NODE1_ADMIN, NODE2_ADMIN   their admin APIs [127.0.0.1:8101, 127.0.0.1:8102]
#   SMARTHOST      where both nodes relay [127.0.0.1:2626, the bench's smtp-sink]
#   POLICY_DIR     the policy profiles [deploy/cluster/policies: bulk 20, mail bomb 10, no DNS]
#   RETRY_INITIAL, RETRY_MAX   the queue's retry delays [60s, 4h]
# The tenant `demo` owns demo.example and tenant.example and sends from 127.0.0.0/8 without AUTH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${AUPGATE:-$repo/target/release/aupgate}"
dir="${CLUSTER_DIR:-/var/tmp/aupgate-cluster}"
base="${REDIS_BASE:-7101}"
node_timeout="${NODE_TIMEOUT:-2000}"
smtp=("${NODE1_SMTP:-127.0.0.1:2601}" "${NODE2_SMTP:-127.0.0.1:2602}")
admin=("${NODE1_ADMIN:-127.0.0.1:8101}" "${NODE2_ADMIN:-127.0.0.1:8102}")
smarthost="${SMARTHOST:-127.0.0.1:2626}"
policies="${POLICY_DIR:-$here/policies}"
retry_initial="${RETRY_INITIAL:-60s}"
retry_max="${RETRY_MAX:-4h}"
ports=()
for i in 0 1 2 3 4 5; do ports+=($((base + i))); done

# Whether the process of pid file $1 runs (a killed one nobody reaped yet is a zombie: not running).
alive() {
  [ -f "$1" ] || return 1
  local pid
  pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null && ! awk '{ exit $3 != "Z" }' "/proc/$pid/stat" 2>/dev/null
}

# Waits (up to $2 tenths of a second) until `$1` succeeds.
wait_for() {
  for _ in $(seq "$2"); do
    eval "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

start_redis() {
  local port=$1 d="$dir/redis-$1"
  alive "$dir/redis-$port.pid" && return 0
  mkdir -p "$d"
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode no --dir "$d" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$node_timeout" \
    --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --pidfile "$dir/redis-$port.pid" --logfile "$d/redis.log"
  wait_for "redis-cli -p $port ping | grep -q PONG" 100 || { echo "redis-server on $port did not start; see $d/redis.log" >&2; return 1; }
  wait_for "alive $dir/redis-$port.pid" 50
}

cluster_ok() {
  for port in "${ports[@]}"; do
    redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

create_cluster() {
  if [ "$(redis-cli -p "$base" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" != 6 ]; then
    local nodes=()
    for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/cluster-create.log"
  fi
  wait_for cluster_ok 300 || { echo "the Redis Cluster did not become ok" >&2; return 1; }
}

write_config() {
  local n=$1 urls="" sep=""
  for port in "${ports[@]}"; do urls+="$sep\"redis://127.0.0.1:$port/\""; sep=", "; done
  mkdir -p "$dir/node$n"
  cat >"$dir/node$n.toml" <<EOF
# Written by deploy/cluster/cluster.sh.
[server]
hostname = "node$n.cluster.test"
data_dir = "$dir/node$n"
shutdown_grace = "5s"

[admin]
address = "${admin[$((n - 1))]}"

[policy]
directory = "$policies"

[store]
backend = "redis"
urls = [$urls]
redis_timeout = "1s"

[[listener]]
name = "relay"
address = "${smtp[$((n - 1))]}"
tls = "none"

[limits]
max_connections_per_ip = 2000
max_connections = 4000

[queue]
retry_initial = "$retry_initial"
retry_max = "$retry_max"

[relay]
mode = "smarthost"
starttls = "disabled"

[relay.smarthost]
host = "${smarthost%:*}"
port = ${smarthost##*:}

[[tenant]]
id = "demo"
name = "Demo tenant"
networks = ["127.0.0.0/8"]
domains = ["demo.example", "tenant.example"]
EOF
}

start_gateway() {
  local n=$1 address="${smtp[$(($1 - 1))]}"
  alive "$dir/node$n.pid" && return 0
  write_config "$n"
  setsid "$bin" serve --config "$dir/node$n.toml" >>"$dir/node$n.log" 2>&1 </dev/null &
  echo $! >"$dir/node$n.pid"
  wait_for "(exec 3<>/dev/tcp/${address%:*}/${address##*:})" 300 \
    || { echo "gateway node$n did not listen on $address; see $dir/node$n.log" >&2; return 1; }
}

stop_pid() {
  local file=$1
  if alive "$file"; then
    local pid
    pid="$(cat "$file")"
    kill -TERM "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$file"
}

case "${1:-}" in
  start)
    mkdir -p "$dir"
    for port in "${ports[@]}"; do start_redis "$port"; done
    create_cluster
    start_gateway 1
    start_gateway 2
    echo "cluster up: redis ${ports[*]}, gateways ${smtp[*]} (admin ${admin[*]}), relaying to $smarthost"
    ;;
  stop)
    for n in 1 2; do stop_pid "$dir/node$n.pid"; done
    for port in "${ports[@]}"; do stop_pid "$dir/redis-$port.pid"; done
    echo "cluster stopped"
    ;;
  status)
    for n in 1 2; do
      if alive "$dir/node$n.pid"; then echo "node$n: running pid $(cat "$dir/node$n.pid") on ${smtp[$((n - 1))]}"; else echo "node$n: stopped"; fi
    done
    for port in "${ports[@]}"; do
      if alive "$dir/redis-$port.pid"; then
        echo "redis $port: running pid $(cat "$dir/redis-$port.pid") $(redis-cli -p "$port" role 2>/dev/null | head -1)"
      else
        echo "redis $port: stopped"
      fi
    done
    for port in "${ports[@]}"; do
      alive "$dir/redis-$port.pid" || continue
      redis-cli -p "$port" cluster info | grep '^cluster_state' | tr -d '\r'
      redis-cli -p "$port" cluster nodes | awk '{ printf "  %s %s %s\n", $2, $3, $9 }'
      break
    done
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
