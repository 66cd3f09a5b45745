#!/usr/bin/env bash
# The admin plane must never slow the mail path (issue 16, item 8): the load driver against the
# same gateway build and profile, alternately without and with a dashboard poller reading the
# tenant's usage and a page of its audit trail at 10 requests/s in all, ROUNDS times, so the ratio
# comes from one run on one machine state. Needs the bench sink and DNS already running:
#   ../shared/bench/ctl.sh sink-start
#   AUPGATE=<bin> deploy/bench-dns.sh &
# Usage: deploy/bench-admin-poll.sh [ROUNDS] [PROFILE]   (default: 3 rounds of noauth)
# Environment: AUPGATE (binary), MESSAGES (default 9000), SESSIONS (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/bench-lib.sh
bin="${AUPGATE:-target/release/aupgate}"
rounds="${1:-3}"
profile="${2:-noauth}"
# 9,000 messages, as deploy/bench-compare.sh: the driver's messages are one campaign, which the
# bench profiles' bulk limit ([bulk] max_recipients = 10000) stops past 10,000 recipients. A run
# lasts 1-2 s, so use several rounds.
messages="${MESSAGES:-9000}"
sessions="${SESSIONS:-20}"
work="$(mktemp -d /var/tmp/aupgate-poll.XXXXXX)"
trap 'kill "${server:-}" "${poller:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
results="$work/results"
sed "s|^directory = .*|directory = \"deploy/bench-policy/$profile\"|" deploy/bench.toml >"$work/bench.toml"

# 10 requests/s: usage, then the newest 100 audit records, each every 0.2 s; counts its answers.
cat >"$work/poller.py" <<'PY'
import sys, time, urllib.request
base, out = sys.argv[1], sys.argv[2]
paths = ["/api/v1/tenants/bench/usage", "/api/v1/tenants/bench/audit?limit=100"]
ok = bad = 0
slowest = 0.0
start = time.monotonic()
n = 0
while True:
    due = start + n * 0.1
    time.sleep(max(0.0, due - time.monotonic()))
    began = time.monotonic()
    try:
        with urllib.request.urlopen(base + paths[n % 2], timeout=5) as answer:
            answer.read()
            ok += answer.status == 200
    except Exception:
        bad += 1
    slowest = max(slowest, time.monotonic() - began)
    n += 1
    with open(out, "w") as f:
        f.write(f"requests={ok + bad} ok={ok} failed={bad} slowest_ms={slowest * 1000:.1f}\n")
PY

for round in $(seq "$rounds"); do
  for poll in off on; do
    rm -rf /var/tmp/aupgate-bench/store /var/tmp/aupgate-bench/queue
    start_gateway "$bin" "$work/bench.toml" "$work/server.log"
    if [ "$poll" = on ]; then
      python3 "$work/poller.py" http://127.0.0.1:8026 "$work/poller.out" &
      poller=$!
    fi
    line="$(python3 ../shared/bench/smtp_bench.py -s "$sessions" -m "$messages" -r 1 -l 2048 \
      --label "poll-$poll" 127.0.0.1:2525 | grep '^RESULT')"
    echo "round $round: $line"
    if [ "$poll" = on ]; then
      # TERM, not INT: a background job of a script ignores SIGINT. The poller writes its
      # figures after every request.
      kill "$poller"; wait "$poller" 2>/dev/null || true; poller=
      echo "round $round: poller $(cat "$work/poller.out")"
    fi
    mps="$(sed -n 's/.*delivered_mps=\([0-9.]*\).*/\1/p' <<<"$line")"
    echo "$poll $mps" >>"$results"
    kill -INT "$server"
    wait "$server" || true
    server=
  done
done

awk '{ sum[$1] += $2; n[$1]++ } END {
  base = sum["off"] / n["off"]
  printf "without poller %8.0f msg/s\nwith poller    %8.0f msg/s  %5.1f%% of without\n",
    base, sum["on"] / n["on"], base ? 100 * sum["on"] / n["on"] / base : 0
}' "$results"
