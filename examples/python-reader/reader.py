"""The Python half of the python-reader example: reads the signals that
writer/main.go commits, from shared memory, with numpy and no Go.

    /usr/bin/python3 examples/python-reader/reader.py [BUS_DIR] [--count N]
"""

import argparse
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import mmsb  # noqa: E402


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with exit status 1 for a bad argument (argparse's
    own is 2, which the examples keep for a failed check; the Go writer
    beside this reader exits 1 for its bad flags)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(1, "%s: error: %s\n" % (self.prog, message))


def main():
    ap = ArgumentParser()
    ap.add_argument("bus", nargs="?", default="/tmp/mmsb-python-demo")
    ap.add_argument("--count", type=int, default=20, help="commits to follow (0: until the writer stops)")
    a = ap.parse_args()
    # Ctrl-C raises KeyboardInterrupt even where the reader was started with
    # SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if a.count < 0:
        # A negative count used to end the loop at once, silently.
        ap.error("--count %d: want 0 or more" % a.count)
    try:
        r = mmsb.Reader(a.bus)
    except mmsb.MMSBError as e:
        # A one-line reason (no writer, no bus directory), not a traceback.
        sys.exit("reader: %s" % e)
    with r:
        try:
            follow(r, a.count)
        except KeyboardInterrupt:
            # Ctrl-C: a one-line message, not a traceback.
            print("reader: interrupted", file=sys.stderr)
            sys.exit(130)
        except mmsb.MMSBError as e:
            # mmsb.Stale (a new writer rebuilt the region) and the like: one
            # line saying why, not a traceback.
            sys.exit("reader: %s" % e)


def follow(r, count):
    """Print a line for each commit woken up for, count of them (0: until
    the writer leaves)."""
    ids = r.pages()
    print("reader: generation %d, writer pid %d, pages %s" % (r.generation, r.writer_pid, ids), flush=True)
    if not ids:
        sys.exit("reader: the bus has no pages (start the writer on a new directory)")
    lsn = r.last_lsn
    seen = 0
    while count == 0 or seen < count:
        try:
            # Sleeps on the futex the writer wakes, with no time limit: the
            # writer's -every may be long, and wait notices a writer that
            # left (WriterGone) by itself.
            lsn = r.wait(lsn)
            # Zero-copy: compute on the mapped page, then check that no write
            # overlapped (apply retries if one did).
            means = [r.apply(pid, lambda a: float(a.mean()), dtype=np.float64) for pid in ids]
            # A consistent copy of all pages at one committed LSN.
            snap = r.snapshot(ids)
        except mmsb.WriterGone as e:
            # Also when the writer leaves after wait returned: it ended the
            # reader with status 1 and "reader: writer ... closed the bus"
            # instead, depending on where the reader was when it left.
            print("reader: writer gone:", e)
            return
        except (mmsb.SnapshotBusy, mmsb.ReadBusy) as e:
            # The writer rewrote the pages faster than this reader copies
            # them: nothing is wrong with the bus. Try again at the next
            # commit (it ended the reader with status 1).
            print("reader: busy after lsn %d (%s): retrying at the next commit" % (lsn, e), flush=True)
            continue
        first = np.frombuffer(snap.pages[ids[0]].data, dtype=np.float64)
        print("lsn %6d  means %s  page %d[:3] at lsn %d = %s"
              % (lsn, " ".join("%+.3f" % m for m in means), ids[0], snap.lsn, np.round(first[:3], 3)), flush=True)
        seen += 1


if __name__ == "__main__":
    main()
