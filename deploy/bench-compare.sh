#!/usr/bin/env bash
# One comparison run of the load driver against the same aupgate build with each benchmark
# profile in turn (deploy/bench-policy/<profile>) and each store backend, alternating ROUNDS
# times, so the ratios come from one run on one machine state. Needs the bench sink and DNS
# already running:
#   ../shared/bench/ctl.sh sink-start
#   AUPGATE=<bin> deploy/bench-dns.sh &
# Usage: deploy/bench-compare.sh [ROUNDS] [PROFILE...]   (default: 3 rounds of off noauth nosign full)
# Environment: AUPGATE (binary), MESSAGES (default 9000), SESSIONS (default 20), JSON (a file to
# append the driver's records to), BACKENDS (default `rocksdb`; `rocksdb redis` compares the two:
# for `redis` the script starts Debian's redis-server on 127.0.0.1:$REDIS_PORT, default 6399,
# append-only file fsynced every second, emptied before each run, and stops it at the end;
# `redis-unix` is the same server reached through its Unix socket, as a local Redis is best run).
# Prints the driver's RESULT lines, then per profile and backend the mean delivered msg/s, its
# ratio to `off` on the same backend and to the first backend, and the CPU per message of the
# gateway and (for redis) of redis-server, from /proc/PID/stat before and after each run.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/bench-lib.sh
bin="${AUPGATE:-target/release/aupgate}"
rounds="${1:-3}"
shift || true
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(off noauth nosign full)
read -r -a backends <<<"${BACKENDS:-rocksdb}"
messages="${MESSAGES:-9000}"
sessions="${SESSIONS:-20}"
redis_port="${REDIS_PORT:-6399}"
work="$(mktemp -d /var/tmp/aupgate-compare.XXXXXX)"
redis_pid=
cleanup() {
  kill "${server:-}" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
results="$work/results"

# CPU seconds (user + system) a process has used so far.
cpu_of() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }

redis() { redis-cli -p "$redis_port" "$@"; }

start_redis() {
  mkdir -p "$work/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save "" \
    --unixsocket "$work/redis/redis.sock" --unixsocketperm 700 \
    --appendonly yes --appendfsync everysec --logfile "$work/redis/log" &
  redis_pid=$!
  for _ in $(seq 50); do redis ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis-server did not start; see $work/redis/log" >&2
  return 1
}

for backend in "${backends[@]}"; do
  if [ "$backend" != rocksdb ] && [ -z "$redis_pid" ]; then start_redis; fi
done

for round in $(seq "$rounds"); do
  for profile in "${profiles[@]}"; do
    for backend in "${backends[@]}"; do
      rm -rf /var/tmp/aupgate-bench/store /var/tmp/aupgate-bench/queue
      sed "s|^directory = .*|directory = \"deploy/bench-policy/$profile\"|" deploy/bench.toml >"$work/bench.toml"
      if [ "$backend" = redis ]; then
        redis flushall >/dev/null
        printf '\n[store]\nbackend = "redis"\nurls = ["redis://127.0.0.1:%s/"]\n' "$redis_port" >>"$work/bench.toml"
      elif [ "$backend" = redis-unix ]; then
        redis flushall >/dev/null
        printf '\n[store]\nbackend = "redis"\nurls = ["unix://%s/redis/redis.sock"]\n' "$work" >>"$work/bench.toml"
      fi
      start_gateway "$bin" "$work/bench.toml" "$work/server.log"
      redis_cpu0=0
      if [ "$backend" != rocksdb ]; then
        redis_cpu0="$(cpu_of "$redis_pid")"
      fi
      gateway_cpu0="$(cpu_of "$server")"
      line="$(BENCH_KNOWN_EXTRA=redis-server python3 ../shared/bench/smtp_bench.py -s "$sessions" -m "$messages" \
        -r 1 -l 2048 --label "$profile@$backend" ${JSON:+--json "$JSON"} 127.0.0.1:2525 | grep '^RESULT')"
      gateway_cpu="$(awk -v a="$gateway_cpu0" -v b="$(cpu_of "$server")" 'BEGIN { print b - a }')"
      redis_cpu=0
      if [ "$backend" != rocksdb ]; then
        redis_cpu="$(awk -v a="$redis_cpu0" -v b="$(cpu_of "$redis_pid")" 'BEGIN { print b - a }')"
      fi
      echo "round $round: $line"
      mps="$(sed -n 's/.*delivered_mps=\([0-9.]*\).*/\1/p' <<<"$line")"
      echo "$profile $backend $mps $gateway_cpu $redis_cpu" >>"$results"
      kill -INT "$server"
      wait "$server" || true
      server=
    done
  done
done

# CPU per message shows what a profile costs even where the machine is not saturated.
awk -v messages="$messages" -v first="${backends[0]}" '{
  k = $1 "@" $2; sum[k] += $3; gw[k] += $4; rs[k] += $5; n[k]++; prof[k] = $1; be[k] = $2
} END {
  for (k in sum) {
    off = "off@" be[k]; same = prof[k] "@" first
    printf "%-16s %8.0f msg/s  %5.1f%% of off  %5.1f%% of %s  gateway %4.0f us CPU/msg", k, sum[k] / n[k],
      n[off] ? 100 * sum[k] / n[k] / (sum[off] / n[off]) : 0, n[same] ? 100 * sum[k] / n[k] / (sum[same] / n[same]) : 0,
      first, 1e6 * gw[k] / n[k] / messages
    if (be[k] != "rocksdb") printf "  redis-server %4.0f us CPU/msg", 1e6 * rs[k] / n[k] / messages
    printf "\n"
  }
}' "$results" | sort
