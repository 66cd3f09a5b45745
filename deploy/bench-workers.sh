#!/usr/bin/env bash
# One comparison run of the load driver against aupgate with different `[server] worker_threads`
# (and, optionally, different builds), alternating ROUNDS times, so the ratios come from one run on
# one machine state. Same setup as deploy/bench-compare.sh (the bench sink and DNS running).
# Usage: deploy/bench-workers.sh [ROUNDS] [SETTING...]
#   SETTING is THREADS or THREADS:BINARY (default binary: $AUPGATE or target/release/aupgate);
#   THREADS 0 is the default (one per CPU). Default settings: 8 2 (four per CPU, the old
#   default on the 2-core bench machine, against one per CPU).
# Environment: AUPGATE, PROFILE (deploy/bench-policy/<PROFILE>, default full), MESSAGES (default
# 9000), SESSIONS (default 20), JSON (a file to append the driver's records to). Prints the
# driver's RESULT lines, then the mean delivered msg/s per setting and its ratio to the first.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/bench-lib.sh
default_bin="${AUPGATE:-target/release/aupgate}"
rounds="${1:-3}"
shift || true
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=(8 2)
profile="${PROFILE:-full}"
messages="${MESSAGES:-9000}"
sessions="${SESSIONS:-20}"
work="$(mktemp -d /var/tmp/aupgate-workers.XXXXXX)"
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
results="$work/results"

for round in $(seq "$rounds"); do
  for setting in "${settings[@]}"; do
    threads="${setting%%:*}"
    bin="$default_bin"
    [ "$setting" = "$threads" ] || bin="${setting#*:}"
    rm -rf /var/tmp/aupgate-bench/store /var/tmp/aupgate-bench/queue
    sed -e "s|^directory = .*|directory = \"deploy/bench-policy/$profile\"|" \
      -e "s|^\[server\]$|[server]\nworker_threads = $threads|" deploy/bench.toml >"$work/bench.toml"
    start_gateway "$bin" "$work/bench.toml" "$work/server.log"
    line="$(python3 ../shared/bench/smtp_bench.py -s "$sessions" -m "$messages" -r 1 -l 2048 \
      --label "workers=$setting" ${JSON:+--json "$JSON"} 127.0.0.1:2525 | grep '^RESULT')"
    echo "round $round: $line"
    mps="$(sed -n 's/.*delivered_mps=\([0-9.]*\).*/\1/p' <<<"$line")"
    cpu="$(sed -n 's/.*[[,]aupgate:\([0-9.]*\).*/\1/p' <<<"$line")"
    echo "$setting $mps ${cpu:-0}" >>"$results"
    kill -INT "$server"
    wait "$server" || true
    server=
  done
done

awk -v messages="$messages" -v first="${settings[0]}" '{ sum[$1] += $2; cpu[$1] += $3; n[$1]++ } END {
  base = sum[first] / n[first]
  for (s in sum) printf "workers=%-24s %8.0f msg/s  %5.1f%% of workers=%s  %5.0f us CPU/msg\n", s,
    sum[s] / n[s], base ? 100 * sum[s] / n[s] / base : 0, first, 1e6 * cpu[s] / n[s] / messages
}' "$results"
