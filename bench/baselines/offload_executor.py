"""concurrent.futures.ThreadPoolExecutor as a baseline for offloading: an empty function
submitted from one thread with WINDOW futures outstanding, the oldest waited for before the
next submit.

Prints `result <name> <value>` lines for the C++ benchmark to read: offloads_per_s and
cpu_us_per_offload (the process's CPU time, every thread, over the timed pass).
usage: offload_executor.py TOTAL WINDOW THREADS
"""
import collections
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def empty():
    return None


def pipelined(ex, total, window):
    inflight = collections.deque()
    sent = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while sent < total and len(inflight) < window:
        inflight.append(ex.submit(empty))
        sent += 1
    while inflight:
        inflight.popleft().result()
        if sent < total:
            inflight.append(ex.submit(empty))
            sent += 1
    return total / (time.perf_counter() - t0), (time.process_time() - c0) * 1e6 / total


def main():
    total, window, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    with ThreadPoolExecutor(max_workers=threads) as ex:
        pipelined(ex, min(total, 5000), window)  # warm-up: start the workers
        rate, cpu_us = pipelined(ex, total, window)
        print("result offloads_per_s %.1f" % rate)
        print("result cpu_us_per_offload %.3f" % cpu_us)


if __name__ == "__main__":
    main()
