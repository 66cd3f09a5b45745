#!/usr/bin/env bash
# One comparison run of the load driver against the same aupgate build with each benchmark
# profile in turn (deploy/bench-policy/<profile>), alternating ROUNDS times, so the ratios come
# from one run on one machine state. Needs the bench sink and DNS already running:
#   ../shared/bench/ctl.sh sink-start
#   AUPGATE=<bin> deploy/bench-dns.sh &
# Usage: deploy/bench-compare.sh [ROUNDS] [PROFILE...]   (default: 3 rounds of off noauth nosign full)
# Environment: AUPGATE (binary), MESSAGES (default 9000), SESSIONS (default 20), JSON (a file to
# append the driver's records to). Prints the driver's RESULT lines, then the mean delivered
# msg/s per profile and its ratio to `off`.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/bench-lib.sh
bin="${AUPGATE:-target/release/aupgate}"
rounds="${1:-3}"
shift || true
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(off noauth nosign full)
messages="${MESSAGES:-9000}"
sessions="${SESSIONS:-20}"
work="$(mktemp -d /var/tmp/aupgate-compare.XXXXXX)"
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
results="$work/results"

for round in $(seq "$rounds"); do
  for profile in "${profiles[@]}"; do
    rm -rf /var/tmp/aupgate-bench/store /var/tmp/aupgate-bench/queue
    sed "s|^directory = .*|directory = \"deploy/bench-policy/$profile\"|" deploy/bench.toml >"$work/bench.toml"
    start_gateway "$bin" "$work/bench.toml" "$work/server.log"
    line="$(python3 ../shared/bench/smtp_bench.py -s "$sessions" -m "$messages" -r 1 -l 2048 \
      --label "$profile" ${JSON:+--json "$JSON"} 127.0.0.1:2525 | grep '^RESULT')"
    echo "round $round: $line"
    mps="$(sed -n 's/.*delivered_mps=\([0-9.]*\).*/\1/p' <<<"$line")"
    cpu="$(sed -n 's/.*[[,]aupgate:\([0-9.]*\).*/\1/p' <<<"$line")"
    echo "$profile $mps ${cpu:-0}" >>"$results"
    kill -INT "$server"
    wait "$server" || true
    server=
  done
done

# The gateway's CPU per message (user + system, from the driver's per-process figures) shows
# what a profile costs even where the machine is not saturated.
awk -v messages="$messages" '{ sum[$1] += $2; cpu[$1] += $3; n[$1]++ } END {
  base = sum["off"] / n["off"]
  for (p in sum) printf "%-8s %8.0f msg/s  %5.1f%% of off  %5.0f us CPU/msg\n", p, sum[p] / n[p],
    base ? 100 * sum[p] / n[p] / base : 0, 1e6 * cpu[p] / n[p] / messages
}' "$results"
