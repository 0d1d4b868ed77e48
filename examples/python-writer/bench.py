"""Throughput of the Python writer on the reference workload.

The workload of the Go benchmark BenchmarkCommitMemory: 65,536 pages of
1 KiB, batches of 1,000 16-byte writes at random offsets of random pages,
SyncNone. Prints deltas/s of commit_array (the numpy fast path) and of
commit (a list of tuples), and the cost of one call committing one write.

    go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c
    /usr/bin/python3 examples/python-writer/bench.py [--dir DIR] [--batches N] [--rounds R]

The random batches are generated before the timed loop (a pool of 64,
cycled), so the figures are the cost of the calls, not of numpy's RNG.
"""

import argparse
import os
import signal
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import mmsb  # noqa: E402
from writer import not_a_bus_dir  # noqa: E402

PAGES, PAGE_SIZE, WIDTH = 65536, 1024, 16


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with exit status 1 for a bad argument (argparse's
    own is 2), as the examples' other commands."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(1, "%s: error: %s\n" % (self.prog, message))


def main():
    ap = ArgumentParser()
    ap.add_argument("--dir", default="", help='bus directory ("": in memory, the Go benchmark\'s setting; "disk": a temporary one); a new bus')
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--single", type=int, default=20000, help="one-write calls timed")
    a = ap.parse_args()
    # Counts below 1 ended in a ZeroDivisionError traceback (--batches 0,
    # --single 0, --batch 0) or timed nothing and printed nothing (negative
    # ones).
    for name in ("batch", "batches", "rounds", "single"):
        if getattr(a, name) < 1:
            ap.error("--%s %d: want 1 or more" % (name, getattr(a, name)))
    d = a.dir
    # A directory holding another program's files and no bus is refused as
    # writer.py refuses it: the benchmark made its bus there, beside them.
    why = not_a_bus_dir(d) if d not in ("", "disk") else ""
    if why:
        print("bench.py: " + why, file=sys.stderr)
        return 1
    tmp = None
    if d == "disk":
        tmp = tempfile.TemporaryDirectory()
        d = os.path.join(tmp.name, "bus")
    rng = np.random.default_rng(1)
    pool = [(rng.integers(1, PAGES + 1, a.batch, dtype=np.uint64),
             rng.integers(0, PAGE_SIZE - WIDTH, a.batch, dtype=np.uint32),
             rng.integers(0, 256, (a.batch, WIDTH), dtype=np.uint8)) for _ in range(64)]
    tuples = [list(zip(p.tolist(), o.tolist(), [bytes(r) for r in data])) for p, o, data in pool[:8]]
    try:
        bus = mmsb.open(d, sync="none", checkpoint_bytes=-1)
    except mmsb.MMSBError as e:  # e.g. Locked: another writer holds it
        print("bench.py: bus %s: %s" % (d, e), file=sys.stderr)
        return 1
    with bus:
        if bus.last_lsn != 0:
            # The benchmark writes random bytes to pages 1..PAGES, which it
            # creates: on an existing bus (python-writer's heat grid, say) it
            # overwrote that bus's pages with them.
            print("bench.py: bus %s is not new (last LSN %d): the benchmark writes random bytes to pages 1..%d; give a new directory"
                  % (d, bus.last_lsn, PAGES), file=sys.stderr)
            return 1
        bus.create_pages(PAGES, PAGE_SIZE)
        for r in range(a.rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(a.batches):
                p, o, data = pool[i & 63]
                bus.commit_array(p, o, data)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            print("py_commit_array batch=%d deltas/s=%.0f us/batch=%.1f cpu-ns/delta=%.1f"
                  % (a.batch, a.batch * a.batches / dt, dt / a.batches * 1e6, dc / (a.batch * a.batches) * 1e9))
            n = max(1, a.batches // 20)
            t0 = time.perf_counter()
            for i in range(n):
                bus.commit(tuples[i & 7])
            dt = time.perf_counter() - t0
            print("py_commit_tuples batch=%d deltas/s=%.0f us/batch=%.1f" % (a.batch, a.batch * n / dt, dt / n * 1e6))
            one = [(1, 0, b"0123456789abcdef")]
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(a.single):
                bus.commit(one)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            print("py_commit_one us/call=%.2f cpu-us/call=%.2f" % (dt / a.single * 1e6, dc / a.single * 1e6))
            p1, o1, d1 = pool[0][0][:1], pool[0][1][:1], pool[0][2][:1]
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(a.single):
                bus.commit_array(p1, o1, d1)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            print("py_commit_array_one us/call=%.2f cpu-us/call=%.2f" % (dt / a.single * 1e6, dc / a.single * 1e6))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    # Ctrl-C raises KeyboardInterrupt between two calls into the library:
    # leaving main's with block closed the bus, and a --dir disk temporary
    # directory is removed at exit (TemporaryDirectory's finalizer). One
    # line and status 130, as writer.py: it printed a traceback.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench.py: interrupted", file=sys.stderr)
        sys.exit(130)
