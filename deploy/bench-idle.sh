#!/usr/bin/env bash
# DESIGN's memory target: 10,000 concurrent idle sessions in < 300 MiB RSS. Starts the gateway on
# deploy/bench.toml (connection caps raised to fit), opens SESSIONS (default 10,000) SMTP
# connections from 127.0.0.1, checks that every one was greeted with 220, and prints the
# gateway's resident memory before and with them open. Needs the open-file limit (ulimit -n)
# above SESSIONS + 100 for both this shell and the gateway.
# Usage: AUPGATE=<bin> deploy/bench-idle.sh [SESSIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/bench-lib.sh
bin="${AUPGATE:-target/release/aupgate}"
sessions="${1:-10000}"
work="$(mktemp -d /var/tmp/aupgate-idle.XXXXXX)"
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
sed -e "s/^max_connections_per_ip = .*/max_connections_per_ip = $((sessions + 100))/" \
  -e "s/^max_connections = .*/max_connections = $((sessions + 100))/" \
  -e "s|^data_dir = .*|data_dir = \"$work/data\"|" deploy/bench.toml >"$work/bench.toml"
start_gateway "$bin" "$work/bench.toml" "$work/server.log"
rss() { awk '/VmRSS/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$server/status"; }
echo "gateway RSS idle: $(rss)"
python3 - "$sessions" "$work/ready" <<'PY' &
import socket, sys, time
n, ready = int(sys.argv[1]), sys.argv[2]
socks = [socket.create_connection(("127.0.0.1", 2525)) for _ in range(n)]
greeted = sum(1 for s in socks if s.recv(512).startswith(b"220 "))
print(f"sessions open: {n}, greeted with 220: {greeted}")
open(ready, "w").write("1")
time.sleep(30)
PY
client=$!
while [ ! -f "$work/ready" ]; do
  kill -0 "$client" 2>/dev/null || { echo "client failed" >&2; exit 1; }
  sleep 0.5
done
sleep 1
echo "gateway RSS with $sessions idle sessions: $(rss)"
kill "$client" 2>/dev/null || true
