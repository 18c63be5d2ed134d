"""The seeds' EventThread pattern as a baseline: an asyncio loop in another thread, host code
submitting coroutines with run_coroutine_threadsafe and waiting on the concurrent future.

Prints `result <name> <value>` lines for the C++ benchmark to read.
usage: event_thread.py ROUNDTRIPS PIPELINED
"""
import asyncio
import sys
import threading
import time


class AsyncioEventLoopThread(threading.Thread):
    def __init__(self):
        super().__init__(daemon=False)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    def run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self.ready.set)
        self.loop.run_forever()

    def submit(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.join()
        self.loop.close()


async def echo(x):
    return x


def main():
    roundtrips = int(sys.argv[1])
    pipelined = int(sys.argv[2])
    thr = AsyncioEventLoopThread()
    thr.start()
    thr.ready.wait()
    try:
        for i in range(200):  # warm-up
            thr.submit(echo(i)).result()
        samples = []
        for i in range(roundtrips):
            t0 = time.perf_counter()
            assert thr.submit(echo(i)).result() == i
            samples.append(time.perf_counter() - t0)
        samples.sort()
        print("result rtt_median_us %.3f" % (samples[len(samples) // 2] * 1e6))
        print("result rtt_p99_us %.3f" % (samples[int(len(samples) * 0.99)] * 1e6))
        t0 = time.perf_counter()
        futures = [thr.submit(echo(i)) for i in range(pipelined)]
        for i, f in enumerate(futures):
            assert f.result() == i
        print("result pipelined_per_s %.1f" % (pipelined / (time.perf_counter() - t0)))
    finally:
        thr.stop()


if __name__ == "__main__":
    main()
