#!/usr/bin/env python3
"""Fixed-rate load generator for prm-webhooks (wrk2 is not packaged here).

Posts pre-signed Twilio webhooks (see webhooks-sign.py: `<signature>\\t<form body>` per
line) at a fixed rate over keep-alive HTTP/1.1 connections, and reports latency
percentiles measured from when each request was *due*, not from when it was sent: a
server that stalls cannot hide the queue it builds (no coordinated omission). The
generator's own lag (due → written) is reported too, so a generator that cannot keep up
is visible instead of flattering the figures. Python standard library only.

Usage: webhooks-fixed-rate.py URL SIGNED_FILE [--rate 1000] [--duration 30]
                              [--connections 64] [--max-connections 512]
"""
import argparse
import asyncio
import sys
import time
import urllib.parse


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


async def run(args):
    with open(args.signed) as f:
        lines = f.read().splitlines()
    total = int(args.rate * args.duration)
    if len(lines) < total:
        sys.exit(f"{args.signed} has {len(lines)} requests; {total} are needed (each MessageSid is sent once)")
    url = urllib.parse.urlsplit(args.url)
    host, port = url.hostname, url.port or 80
    path = url.path + (f"?{url.query}" if url.query else "")

    idle = asyncio.Queue()
    opened = 0

    async def connect():
        nonlocal opened
        opened += 1
        return await asyncio.open_connection(host, port)

    for _ in range(args.connections):
        idle.put_nowait(await connect())

    # Every request is encoded before the clock starts: the run only writes and reads.
    requests = []
    for line in lines[:total]:
        signature, body = line.split("\t", 1)
        payload = body.encode()
        requests.append(
            (
                f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )

    latencies, lags, statuses, errors = [], [], {}, []

    async def one(i, due):
        try:
            conn = idle.get_nowait()
        except asyncio.QueueEmpty:
            conn = await connect() if opened < args.max_connections else await idle.get()
        reader, writer = conn
        try:
            lags.append(time.perf_counter() - due)
            writer.write(requests[i])
            response = await reader.readuntil(b"\r\n\r\n")
            status = int(response.split(b" ", 2)[1])
            length = 0
            for line in response.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - due)
            statuses[status] = statuses.get(status, 0) + 1
            idle.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            errors.append(repr(e))
            writer.close()

    start = time.perf_counter() + 0.2
    tasks = []
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start

    latencies.sort()
    lags.sort()
    ms = lambda s: s * 1000.0
    print(f"fixed rate {args.rate}/s for {args.duration}s: {total} requests over {opened} connections")
    print(f"completed {len(latencies)} in {elapsed:.2f} s ({len(latencies) / elapsed:.0f} requests/s); statuses {statuses}; errors {len(errors)}")
    print(
        "latency from the due time: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms"
        % tuple(ms(percentile(latencies, p)) for p in (50, 90, 99, 99.9, 100))
    )
    print("generator lag (due -> written): p99 %.2f ms, max %.2f ms" % (ms(percentile(lags, 99)), ms(percentile(lags, 100))))
    if errors:
        print("first errors:", errors[:3])
    non_2xx = sum(n for s, n in statuses.items() if not 200 <= s < 300)
    return 1 if errors or non_2xx else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("signed")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--max-connections", type=int, default=512)
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
