"""Throughput and wake-up latency of the pure-Python reader, against a
writer that is already running (internal/cmd/shmwriter; docs/bindings.md
has the commands).

    /usr/bin/python3 python/tools/bench_reader.py BUS_DIR [--shm DIR] [--seconds S]
    /usr/bin/python3 python/tools/bench_reader.py BUS_DIR --latency [--waits N]

The first form times read (a consistent 1 KiB copy), view + valid (a
zero-copy numpy view, one element read, then the consistency check),
apply and snapshot over the bus's pages; the second times wait() against a
writer in -mode tick (each commit stamps the wall-clock time into the
page), with the futex and with polling.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mmsb  # noqa: E402


def rate(fn, ids, seconds):
    n = 0
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while True:
        for pid in ids:
            fn(pid)
        n += len(ids)
        if time.perf_counter() >= end:
            break
    return n / (time.perf_counter() - t0)


def throughput(r, seconds):
    ids = r.pages()[:64]

    def view(pid):
        v = r.view(pid)
        v.array[0]
        return v.valid()

    def view_ctx(pid):
        with r.view(pid) as v:
            v.array[0]
            return v.valid()

    rows = [
        ("read (1 KiB copy)", lambda pid: r.read(pid)),
        ("read_into (preallocated buffer)", (lambda buf: (lambda pid: r.read_into(pid, buf)))(bytearray(1024))),
        ("view + array[0] + valid()", view),
        ("with view: array[0], valid()", view_ctx),
        ("apply(fn=array[0])", lambda pid: r.apply(pid, lambda a: a[0])),
        ("last_lsn", lambda pid: r.last_lsn),
    ]
    for name, fn in rows:
        print("%-34s %10.0f /s" % (name, rate(fn, ids, seconds)))
    snap = ids[:4]
    print("%-34s %10.0f /s" % ("snapshot of 4 pages", rate(lambda _: r.snapshot(snap), [0], seconds)))
    print("retries %d, snapshot retries %d" % (r.retries, r.snapshot_retries_used))


def latency(bus, shm, waits):
    for mode in ("futex", "poll"):
        with mmsb.Reader(bus, shm, wait_mode=mode) as r:
            first = r.pages()[0]
            lsn = r.last_lsn
            lat = []
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(waits):
                lsn = r.wait(lsn, timeout=5)
                stamp = int.from_bytes(r.read(first)[:8], "little")
                lat.append((time.time_ns() - stamp) / 1e3)
            cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        lat.sort()
        print("wait %-5s: visibility latency median %.0f us, p90 %.0f us, p99 %.0f us; reader CPU %.0f %% of one core"
              % (mode, statistics.median(lat), lat[len(lat) * 9 // 10], lat[len(lat) * 99 // 100], 100 * cpu))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bus")
    ap.add_argument("--shm", default=mmsb.DEFAULT_SHARED_DIR)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--waits", type=int, default=1000)
    a = ap.parse_args()
    print("load average %.2f %.2f %.2f" % os.getloadavg())
    if a.latency:
        latency(a.bus, a.shm, a.waits)
        return
    with mmsb.Reader(a.bus, a.shm) as r:
        throughput(r, a.seconds)


if __name__ == "__main__":
    main()
