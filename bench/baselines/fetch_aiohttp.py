"""The seeds' fetching pattern as a baseline: one aiohttp ClientSession, an asyncio.Semaphore
bounding concurrency, asyncio.gather over all requests. Checks every response (status 200 and
a body of EXPECT bytes).

Prints `result <name> <value>` lines for the C++ benchmark to read.
usage: fetch_aiohttp.py URL REQUESTS CONCURRENCY RUNS EXPECT_BYTES
"""
import asyncio
import statistics
import sys
import time

import aiohttp


async def fetch_all(session, url, n, concurrency, expect):
    sem = asyncio.Semaphore(concurrency)
    errors = 0

    async def one():
        nonlocal errors
        async with sem:
            try:
                async with session.get(url) as r:
                    body = await r.read()
                    if r.status != 200 or len(body) != expect:
                        errors += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                errors += 1

    await asyncio.gather(*(one() for _ in range(n)))
    return errors


async def main():
    url = sys.argv[1]
    n = int(sys.argv[2])
    concurrency = int(sys.argv[3])
    runs = int(sys.argv[4])
    expect = int(sys.argv[5])
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        errors = await fetch_all(session, url, min(n, 1000), concurrency, expect)  # warm-up
        rates = []
        for _ in range(runs):
            t0 = time.perf_counter()
            errors += await fetch_all(session, url, n, concurrency, expect)
            rates.append(n / (time.perf_counter() - t0))
            print("run %.1f req/s" % rates[-1])
    print("result req_per_s %.1f" % statistics.median(rates))
    print("result errors %d" % errors)
    print("result checked %d" % (runs * n + min(n, 1000)))


if __name__ == "__main__":
    asyncio.run(main())
