"""A Python program writing to an MMSB bus through the C ABI.

A toy heat-diffusion grid: 64 rows of 256 float64 cells, one page per row.
Each step computes the new grid with numpy and commits every changed cell
as one batch with commit_array (one call per step). At the end it checks
that a replay of the log equals the live state and prints the state hash,
which `mmsb inspect DIR` prints too.

    go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c
    /usr/bin/python3 examples/python-writer/writer.py /tmp/heat
    go run ./cmd/mmsb inspect /tmp/heat
"""

import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import mmsb  # noqa: E402

ROWS, COLS, STEPS = 64, 256, 50


class ShapeError(Exception):
    """The bus holds pages of another shape than this grid's (ROWS pages 1..ROWS of COLS*8 bytes)."""


def check_shape(bus):
    """Raises ShapeError naming the first difference between the bus's pages and the grid's.

    A reopened bus is read as the grid: pages 1..ROWS of COLS*8 bytes and no
    others. A bus of another shape (another program's, or this one's with
    other constants) used to end in a traceback from numpy or the reader.
    """
    pages = bus.stats()["pages"]
    if pages != ROWS:
        raise ShapeError("has %d pages, want %d (one per grid row)" % (pages, ROWS))
    for p in range(1, ROWS + 1):
        try:
            size = bus.page_info(p).size
        except mmsb.PageNotFound:
            raise ShapeError("has no page %d, want pages 1..%d (one per grid row)" % (p, ROWS)) from None
        if size != COLS * 8:
            raise ShapeError("page %d is %d bytes, want %d (%d float64 cells)" % (p, size, COLS * 8, COLS))


def bus_name(sub, name):
    """Returns (ours, reads): whether name in DIR's wal/ (sub "wal") or
    checkpoints/ is one a bus writes there, and whether it is a file a bus
    reads (a log segment, a checkpoint, the log-mode file): those make DIR a
    bus. A name may go on while its file is written (.tmp)."""
    def digits(s):
        return len(s) == 20 and s.isascii() and s.isdigit()
    if sub == "wal":
        if digits(name[:20]) and name[20:24] == ".log":
            return True, len(name) == 24
        return name in ("newest-segment", "newest-segment.tmp", "set-aside-mark.tmp"), False
    if name.startswith("checkpoint-") and digits(name[11:31]) and name[31:36] == ".ckpt":
        return True, len(name) == 36
    if name.startswith("log-mode"):
        return True, name == "log-mode"
    return name == "set-aside-mark.tmp", False


MOUNT_METADATA_DIRS = ("lost+found", ".snapshot", ".snapshots", ".zfs", ".Trash", ".Trashes", ".Spotlight-V100",
                       ".fseventsd", ".TemporaryItems", ".DocumentRevisions-V100")


def mount_metadata(e):
    """Whether the entry e is what a filesystem, a file server or a desktop
    makes in the root of a fresh filesystem or mount (lost+found, snapshot
    and trash directories, macOS's indexes and .DS_Store): nobody's data.
    The list and the rule are mmsb's (cmd/mmsb, mountMetadata): each of its
    kind, not through a symbolic link."""
    if e.name == ".DS_Store":
        return e.is_file(follow_symlinks=False)
    if not e.is_dir(follow_symlinks=False):
        return False
    uid = e.name[len(".Trash-"):] if e.name.startswith(".Trash-") else ""
    return e.name in MOUNT_METADATA_DIRS or (uid.isascii() and uid.isdigit())


def not_a_bus_dir(d):
    """Returns why d is refused ("" when it is not): a directory that exists
    and holds files no bus makes, and no bus. mmsb.open makes a bus in any
    directory, so `writer.py /tmp/x` wrote LOCK, wal/ and checkpoints/ beside
    another program's files; mmsb serve --dir refuses such a directory, and
    this is its rule and its words (docs/cli.md, "Data directories"; cmd/mmsb
    requireBusDirToWrite): taken are a directory not there yet, one that
    cannot be listed (mmsb.open says why), an empty one (what a fresh
    filesystem holds, mount_metadata, counts as empty), a bus (a file a bus
    reads in wal/ or checkpoints/, or one of them that cannot be listed), a
    replication node's directory, and one holding only names a bus makes."""
    if not os.path.isdir(d):
        return ""  # absent (the bus makes it), or mmsb.open says why
    foreign, reads = [], False
    for sub in ("", "wal", "checkpoints"):
        try:
            entries = list(os.scandir(os.path.join(d, sub)))
        except FileNotFoundError:
            continue  # not there: nothing of a bus's
        except OSError:
            if not sub:
                return ""  # mmsb.open says why
            # One that cannot be listed counts as a bus's (mmsb.open
            # reports it), as mmsb decides.
            reads = True
            continue
        for e in entries:
            if mount_metadata(e):
                continue
            if not sub:
                if e.name in ("replicate-stream", "replicate-term"):
                    return ""  # a replication node's: the node decides
                if e.name in ("replicate-stream.tmp", "replicate-term.tmp"):
                    continue
                if e.name == "LOCK" and e.is_file(follow_symlinks=False) and e.stat(follow_symlinks=False).st_size == 0:
                    continue
                # wal/ or checkpoints/, a directory or a symbolic link to
                # one (or to nothing: a disk not mounted, mmsb.open says so).
                if e.name in ("wal", "checkpoints") and (
                        e.is_dir(follow_symlinks=False)
                        or e.is_symlink() and (e.is_dir() or not os.path.exists(e.path))):
                    continue
                foreign.append(e.name)
                continue
            ours, r = bus_name(sub, e.name)
            reads = reads or r
            if not ours:
                foreign.append(sub + "/" + e.name)
    if not foreign or reads:
        return ""
    foreign.sort()
    named = ", ".join(foreign[:3])
    if len(foreign) > 3:
        named += " and %d more" % (len(foreign) - 3)
    return ("not an MMSB data directory: %s: it holds %s, and no bus: a bus is made only in a new or empty "
            "directory (give one, e.g. a subdirectory); nothing was changed" % (d, named))


def main():
    # One argument at most, the bus directory: a second one was ignored, and
    # a flag (--help) was taken for the directory and a bus made there. An
    # empty one ("$DIR" with DIR unset) is mmsb.open's in-memory bus: it ran,
    # printed a state hash and kept nothing.
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and (sys.argv[1].startswith("-") or sys.argv[1] == "")):
        print("usage: writer.py [DIR]", file=sys.stderr)
        return 1
    d = sys.argv[1] if len(sys.argv) > 1 else "heat-data"
    why = not_a_bus_dir(d)
    if why:
        print("writer.py: " + why, file=sys.stderr)
        return 1
    # Ctrl-C raises KeyboardInterrupt even where the writer was started with
    # SIGINT ignored (a background job of a script): it ran on to the end.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(d)
    except KeyboardInterrupt:
        # Raised between two calls into the library (a commit in flight
        # completes first); leaving the with block closed the bus, and the
        # next run continues from what was committed. One line and status
        # 130, as the Go examples and reader.py: it printed a traceback.
        print("writer.py: interrupted", file=sys.stderr)
        return 130
    except ShapeError as e:
        print("writer.py: bus %s %s: not this example's grid" % (d, e), file=sys.stderr)
    except mmsb.MMSBError as e:  # e.g. Locked, or a directory that is not a bus
        print("writer.py: bus %s: %s" % (d, e), file=sys.stderr)
    return 1


def run(d):
    grid = np.zeros((ROWS, COLS))
    grid[ROWS // 2, COLS // 2] = 1000.0  # a hot spot
    with mmsb.open(d, sync="group") as bus:
        if bus.last_lsn == 0:
            rows = bus.create_pages(ROWS, COLS * 8)  # page i+1 holds row i
        else:
            check_shape(bus)
            rows = np.arange(1, ROWS + 1, dtype=np.uint64)  # reopened: continue from the stored state
            grid = np.stack([np.frombuffer(bus.read(int(p)), dtype=np.float64) for p in rows])
            if not grid.any():
                # A first run stopped between creating the rows and its first
                # commit left them all zero: a grid at rest, which no step
                # changes, so every later run committed nothing. Start it as
                # a first run does, from the hot spot: this run stores what
                # that first run would have.
                grid[ROWS // 2, COLS // 2] = 1000.0
        for _ in range(STEPS):
            new = grid.copy()
            new[1:-1, 1:-1] += 0.2 * (grid[:-2, 1:-1] + grid[2:, 1:-1] + grid[1:-1, :-2] + grid[1:-1, 2:]
                                      - 4 * grid[1:-1, 1:-1])
            r, c = np.nonzero(new != grid)  # only the cells that changed
            if len(r):  # none once the grid is at rest
                bus.commit_array(rows[r], (c * 8).astype(np.uint32), new[r, c])
            grid = new
        report = bus.verify_replay()
        print("last LSN %d, %d writes in the last step, replay equal: %s" % (bus.last_lsn, len(r), report.equal))
        print("state hash  %016x" % bus.state_hash())
        print("centre cell %.3f" % np.frombuffer(bus.read(int(rows[ROWS // 2])), dtype=np.float64)[COLS // 2])
    if not report.equal:
        return 2  # as the Go examples: a failed check is exit status 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
