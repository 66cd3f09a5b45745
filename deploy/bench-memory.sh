#!/usr/bin/env bash
# DESIGN's "memory bounded under many large messages in flight": CLIENTS (default 40) clients
# each send one message of SIZE_MIB (default 20) MiB at the same moment. The gateway runs with
# the default [limits] (max_message_size 25 MiB, max_data_in_flight 256 MiB, 100 connections per
# address) and the built-in default policy profile (header checks, fingerprint, quotas, SPF and
# DMARC prediction, DKIM verification) against a private dnsmasq, relaying in smarthost mode to a
# private Postfix smtp-sink. Prints each client's reply to DATA's end, how many messages the sink
# received, and the gateway's peak RSS (VmHWM from /proc/<pid>/status) against its RSS at start.
# Every port is private to this run (PORT_BASE, default 2720: +0 SMTP, +1 sink, +2 admin,
# +3 DNS), so it can run beside another gateway. Needs smtp-sink (postfix) and dnsmasq
# (apt-get install postfix dnsmasq-base), python3.
# With RETRY=1 a client whose DATA gets 452 4.3.1 tries the same transaction's DATA again every
# 0.2 s until it is accepted (a real MTA waits minutes), so every message ends up delivered.
# Usage: [RETRY=1] AUPGATE=<bin> deploy/bench-memory.sh [CLIENTS] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${AUPGATE:-target/release/aupgate}"
clients="${1:-40}"
size_mib="${2:-20}"
retry="${RETRY:-0}"
base="${PORT_BASE:-2720}"
smtp=$base sink=$((base + 1)) admin=$((base + 2)) dns=$((base + 3))
work="$(mktemp -d /var/tmp/aupgate-memory.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
  --listen-address=127.0.0.1 --port="$dns" --local=/example/ --local-ttl=300 --log-facility=- \
  --txt-record=tenant.example,"v=spf1 ip4:127.0.0.1 -all" \
  --txt-record=_dmarc.tenant.example,"v=DMARC1; p=reject" \
  --txt-record=_dmarc.example,"not a DMARC record" >"$work/dns.log" 2>&1 &
pids+=($!)
setsid smtp-sink -c -u nobody -m 256 -h sink.bench.example "127.0.0.1:$sink" 256 \
  >"$work/sink.counter" 2>"$work/sink.err" </dev/null &
pids+=($!)

cat >"$work/gateway.toml" <<EOF
[server]
hostname = "aupgate.bench"
data_dir = "$work/data"

[admin]
address = "127.0.0.1:$admin"

# No profile directory: the built-in default profile.
[policy]
directory = "$work/no-policies"

[dns]
nameservers = ["127.0.0.1:$dns"]

[authentication]
egress_ips = ["127.0.0.1"]

[[listener]]
name = "relay"
address = "127.0.0.1:$smtp"
tls = "none"

[relay]
mode = "smarthost"
starttls = "disabled"

[relay.smarthost]
host = "127.0.0.1"
port = $sink

[[tenant]]
id = "bench"
name = "Bench tenant"
networks = ["127.0.0.0/8"]
domains = ["tenant.example"]
EOF

"$bin" serve --config "$work/gateway.toml" >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$smtp") 2>/dev/null && break
  sleep 0.1
done
kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$server/status"; }
start_rss=$(kib VmRSS)

python3 - "$smtp" "$clients" "$size_mib" "$retry" <<'PY'
import random, socket, sys, threading, time
port, clients, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) << 20
retry = sys.argv[4] == "1"
line = b"x" * 76 + b"\r\n"
header = b"From: a@tenant.example\r\nTo: b@dest.example\r\nSubject: large\r\n\r\n"

def message(i):
    # Text of its own for each client (the fingerprint reads the start), so the default
    # profile's bulk rule does not see one campaign; then filler up to the size.
    rng = random.Random(i)
    words = lambda n: b" ".join(bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(n))
    text = b"".join(words(10) + b"\r\n" for _ in range(400))
    filler = line * ((size - len(header) - len(text)) // len(line))
    return header + text + filler  # no line starts with ".": nothing to stuff
barrier = threading.Barrier(clients)
results = [None] * clients
attempts = [1] * clients

def reply(f):
    while True:
        l = f.readline()
        if not l:
            return "closed"
        if l[3:4] != b"-":
            return l.decode().strip()

def client(i):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    try:
        reply(f)
        s.sendall(b"EHLO load.example\r\n"); reply(f)
        body = message(i)
        s.sendall(b"MAIL FROM:<a@tenant.example> SIZE=%d\r\n" % len(body)); reply(f)
        s.sendall(b"RCPT TO:<b%d@dest.example>\r\n" % i); reply(f)
        barrier.wait()
        for attempt in range(1, 1000):
            s.sendall(b"DATA\r\n")
            r = reply(f)
            if r.startswith("354"):
                s.sendall(body + b".\r\n")
                r = reply(f)
            if not (retry and r.startswith("452")):
                break
            # 452: the transaction stays; try its DATA again a little later.
            attempts[i] = attempt + 1
            time.sleep(0.2)
        results[i] = r
        s.sendall(b"QUIT\r\n")
    finally:
        s.close()

started = time.time()
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
codes = {}
for r in results:
    key = (r or "none")[:9]
    codes[key] = codes.get(key, 0) + 1
print(f"{clients} clients x {size >> 20} MiB in {time.time() - started:.1f} s; last replies: {codes}; "
      f"DATA attempts: {sum(attempts)} (retry on 452: {'yes' if retry else 'no'})")
PY
# Wait for the relay to hand every accepted message to the sink (at most 60 s).
delivered() { tr '\r' '\n' <"$work/sink.counter" | awk -F'mesg=' 'NF > 1 { n = $2 + 0 } END { print n + 0 }'; }
queued=$(grep -c "message queued" "$work/server.log" || true)
for _ in $(seq 120); do
  [ "$(delivered)" -ge "$queued" ] && break
  sleep 0.5
done
delivered=$(delivered)
printf 'queued: %s, delivered to the sink: %s\n' "$queued" "$delivered"
printf 'gateway RSS at start: %.1f MiB; peak (VmHWM): %.1f MiB; now: %.1f MiB\n' \
  "$(echo "$start_rss / 1024" | bc -l)" "$(echo "$(kib VmHWM) / 1024" | bc -l)" "$(echo "$(kib VmRSS) / 1024" | bc -l)"
