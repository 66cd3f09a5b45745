#!/usr/bin/env bash
# Does a password-guessing flood from another address slow legitimate mail? Runs the load driver
# (../shared/bench) against the same aupgate build without and then with a flood of failed AUTHs
# from FLOOD_SOURCE (deploy/bench-auth-flood.py), alternating ROUNDS times, and prints the mean
# delivered msg/s of each and their ratio (target: >= 90%). The gateway runs deploy/bench.toml
# with the `noauth` profile plus a trusted AUTH listener on 127.0.0.1:2587 for the flood.
#   FLOOD_MODE=locked (default): the default limits; the flooding address is locked out after 10
#     failures and then refused at connect (what an attacker really gets).
#   FLOOD_MODE=unlocked: auth limits raised out of reach, so every attempt costs an argon2
#     verification: measures the bound on argon2 work (one verification per CPU at a time).
# Needs the bench sink running (../shared/bench/ctl.sh sink-start) and smtp-source
# (../shared/bench/setup_postfix_relay.sh installs it).
# Usage: deploy/bench-auth-flood.sh [ROUNDS]   (default 3)
# Environment: AUPGATE (binary, default target/release/aupgate), MESSAGES (9000), SESSIONS (20),
# FLOOD_RATE (attempts/s, 200), FLOOD_CONNS (20), FLOOD_SOURCE (127.0.0.2), FLOOD_MODE.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/bench-lib.sh
bin="${AUPGATE:-target/release/aupgate}"
rounds="${1:-3}"
messages="${MESSAGES:-9000}"
sessions="${SESSIONS:-20}"
flood_rate="${FLOOD_RATE:-200}"
flood_conns="${FLOOD_CONNS:-20}"
flood_source="${FLOOD_SOURCE:-127.0.0.2}"
flood_mode="${FLOOD_MODE:-locked}"
work="$(mktemp -d /var/tmp/aupgate-authflood.XXXXXX)"
trap 'kill "${server:-}" "${flood:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
results="$work/results"

hash="$(printf 'bench-password' | "$bin" hash-password)"
limits=""
if [ "$flood_mode" = unlocked ]; then
  limits='auth_failures = "10000/1m"\nauth_user_failures = "10000/1m"'
fi
sed -e "s|^directory = .*|directory = \"deploy/bench-policy/noauth\"|" \
  -e "s|^\[limits\]|[limits]\n$limits|" deploy/bench.toml >"$work/bench.toml"
cat >>"$work/bench.toml" <<TOML

[[tenant.credentials]]
username = "bench-user"
password_hash = "$hash"

[[listener]]
name = "submission"
address = "127.0.0.1:2587"
tls = "none"
trusted = true
require_auth = true
TOML

for round in $(seq "$rounds"); do
  for run in baseline flood; do
    rm -rf /var/tmp/aupgate-bench/store /var/tmp/aupgate-bench/queue
    start_gateway "$bin" "$work/bench.toml" "$work/server.log"
    flood=
    if [ "$run" = flood ]; then
      # Bounded: the flood stops by itself after 300 s at the latest, and is ended after the run.
      python3 deploy/bench-auth-flood.py 127.0.0.1 2587 "$flood_source" "$flood_conns" \
        "$flood_rate" 300 bench-user >"$work/flood.out" &
      flood=$!
      sleep 2
    fi
    line="$(python3 ../shared/bench/smtp_bench.py -s "$sessions" -m "$messages" -r 1 -l 2048 \
      --label "$run" 127.0.0.1:2525 | grep '^RESULT')"
    echo "round $round: $line"
    if [ -n "$flood" ]; then
      kill -TERM "$flood" 2>/dev/null || true
      wait "$flood" 2>/dev/null || true
      flood=
      echo "round $round: $(grep '^FLOOD' "$work/flood.out" || echo 'FLOOD (no summary)')"
    fi
    mps="$(sed -n 's/.*delivered_mps=\([0-9.]*\).*/\1/p' <<<"$line")"
    echo "$run $mps" >>"$results"
    kill -INT "$server"
    wait "$server" || true
    server=
  done
done

awk '{ sum[$1] += $2; n[$1]++ } END {
  base = sum["baseline"] / n["baseline"]; flood = sum["flood"] / n["flood"]
  printf "baseline %8.0f msg/s\nflood    %8.0f msg/s  %5.1f%% of baseline (target >= 90%%)\n", base, flood,
    base ? 100 * flood / base : 0
}' "$results"
