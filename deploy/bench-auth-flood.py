#!/usr/bin/env python3
"""A password-guessing flood for deploy/bench-auth-flood.sh: CONNS connections from SOURCE (a
loopback address) to HOST:PORT, AUTH PLAIN with a wrong password at about RATE attempts/s in
total, for at most SECONDS (it stops by itself). Prints one FLOOD line: attempts and the replies
seen by code (421 at connect counts as `421-connect`)."""
import asyncio, base64, collections, signal, sys, time

host, port, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conns, rate, seconds, user = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
seen = collections.Counter()
deadline = time.monotonic() + seconds


def stop(*_):
    # SIGTERM from the bench script: finish the attempts in flight, then print the summary.
    global deadline
    deadline = 0.0


signal.signal(signal.SIGTERM, stop)
auth = b"AUTH PLAIN " + base64.b64encode(b"\0" + user.encode() + b"\0wrong-guess") + b"\r\n"


async def reply(reader):
    while True:
        line = await asyncio.wait_for(reader.readline(), 30)
        if not line or line[3:4] != b"-":
            return line[:3].decode() or "closed"


async def worker(interval):
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            greeting = await reply(reader)
            if greeting != "220":
                seen[f"{greeting}-connect"] += 1
            else:
                writer.write(b"EHLO flood.test\r\n")
                await reply(reader)
                writer.write(auth)
                seen[await reply(reader)] += 1
            writer.close()
        except (OSError, asyncio.TimeoutError):
            seen["error"] += 1
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


async def main():
    await asyncio.gather(*(worker(conns / rate) for _ in range(conns)))


asyncio.run(main())
print("FLOOD attempts=%d %s" % (sum(seen.values()), " ".join(f"{k}={v}" for k, v in sorted(seen.items()))))
