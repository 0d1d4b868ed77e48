"""A child of tests/bindings (snapshot_free_test.go): it takes snapshots
with mmsb.Reader.snapshot while the Go test plays the writer, so the test
can stop the writer between a commit's operations and the publication of
its LSN, which a real writer process cannot be made to do. (Not a pytest
module: its name does not start with test_.)

    python3 snapshot_child.py BUS_DIR SHARED_DIR WRITER_TIMEOUT_S

Opens the reader of the bus in BUS_DIR and prints "open". Then, for each
line "snap ID ID ..." on stdin, prints one line: "ok LSN" followed by
" ID:LSN:BYTE:SIZE" per page (its last-write LSN, its first byte and its
size), "not_found MESSAGE", "snapshot_busy MESSAGE" or "error CLASS
MESSAGE". Exits 0 at the end of stdin.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mmsb  # noqa: E402
from mmsb.errors import MMSBError, PageNotFound, SnapshotBusy  # noqa: E402


def main(argv):
    if len(argv) != 4:
        print("usage: snapshot_child.py BUS_DIR SHARED_DIR WRITER_TIMEOUT_S", file=sys.stderr)
        return 2
    r = mmsb.Reader(argv[1], argv[2], writer_timeout=float(argv[3]))
    print("open", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "snap":
            print("error ValueError unknown command: %s" % line.strip(), flush=True)
            continue
        try:
            snap = r.snapshot([int(w) for w in words[1:]])
        except PageNotFound as e:
            print("not_found %s" % e, flush=True)
            continue
        except SnapshotBusy as e:
            print("snapshot_busy %s" % e, flush=True)
            continue
        except MMSBError as e:
            print("error %s %s" % (type(e).__name__, e), flush=True)
            continue
        out = ["ok %d" % snap.lsn]
        for pid, p in snap.pages.items():
            out.append("%d:%d:%d:%d" % (pid, p.lsn, p.data[0], len(p.data)))
        print(" ".join(out), flush=True)
    r.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
