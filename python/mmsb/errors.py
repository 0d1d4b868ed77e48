"""Exceptions of the mmsb Python package.

Every exception derives from MMSBError. Every status code of the C ABI
(bindings/c/mmsb.h, used by the writer mmsb.open) has exactly one class,
named after the Go sentinel error it maps to (ErrPageNotFound ->
PageNotFound; ErrSharedCorrupt -> FormatError), with the code in ``code``.
The reader (mmsb.Reader) raises the same classes where the meaning is the
same (WriterGone, Stale, PageNotFound, FormatError, SnapshotBusy, Closed),
plus ReadBusy and Timeout, which have no Go sentinel. A few also derive
from the built-in exception a Python caller would expect (PageNotFound is a
KeyError, Closed and the invalid-input family are ValueErrors).
"""


class MMSBError(Exception):
    """Base class of every mmsb error. ``code`` is the C ABI status code."""

    code = -1

    def __str__(self):
        # KeyError's str() is the repr of its argument; messages read better plain.
        return str(self.args[0]) if self.args else self.__class__.__name__


class PageNotFound(MMSBError, KeyError):
    """ErrPageNotFound: no live page has this ID. Also a KeyError, so
    dict-like code works. Mirrors mmsb.ErrPageNotFound."""
    code = 1

    def __str__(self):  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else "page not found"


class PageExists(MMSBError):
    """ErrPageExists: creating a page whose ID is taken."""
    code = 2


class InvalidPage(MMSBError, ValueError):
    """ErrInvalidPage: bad page size, location or metadata."""
    code = 3


class InvalidDelta(MMSBError, ValueError):
    """ErrInvalidDelta: a write that fails validation."""
    code = 4


class OutOfRange(MMSBError, IndexError):
    """ErrOutOfRange: a write past the end of its page."""
    code = 5


class Conflict(MMSBError):
    """ErrConflict: an expected epoch did not match; nothing applied."""
    code = 6


class Corruption(MMSBError):
    """ErrCorruption: a log or checkpoint failed its checks."""
    code = 7


class Cycle(MMSBError):
    """ErrCycle: an edge or binding would close a cycle."""
    code = 8


class Closed(MMSBError, ValueError):
    """ErrClosed: the bus or reader was closed (also a ValueError, like I/O
    on a closed file). A PageView of a closed reader raises it too."""
    code = 9


class Failed(MMSBError):
    """ErrFailed: an earlier write or fsync failed; writes are refused.

    ``page_ids``: raised by Bus.create_pages for a batch that was logged
    and created before the bus failed (its fsync or replication), the
    numpy uint64 IDs of those pages, which exist; None otherwise (the
    batch was refused before it was logged, or another call failed)."""
    code = 10
    page_ids = None


class Locked(MMSBError):
    """ErrLocked: another writer holds the data directory."""
    code = 11


class UnknownFunc(MMSBError):
    """ErrUnknownFunc: a recompute function that is not registered."""
    code = 12


class PageInUse(MMSBError):
    """ErrPageInUse: the page has dependency edges or a binding."""
    code = 13


class NotDerived(MMSBError):
    """ErrNotDerived: the page is not a derived page."""
    code = 14


class Recompute(MMSBError):
    """ErrRecompute: a recompute function failed during propagation."""
    code = 15


class LogTruncated(MMSBError):
    """ErrLogTruncated: the log no longer holds the history asked for."""
    code = 16


class Busy(MMSBError):
    """ErrBusy: an intake queue is full."""
    code = 17


class NoCheckpoint(MMSBError):
    """ErrNoCheckpoint: a replay could not start from the checkpoint."""
    code = 18


class InvalidOption(MMSBError, ValueError):
    """ErrInvalidOption: an invalid option or argument."""
    code = 19


class CheckpointFailing(MMSBError):
    """ErrCheckpointFailing: checkpoints keep failing and the log reached its bound."""
    code = 20


class WriterGone(MMSBError):
    """ErrWriterGone: the writer closed the bus, its process no longer
    exists (same PID and start time as recorded in the header), or it left
    a page mid-write (odd sequence word, unchanged) for longer than the
    reader's writer_timeout."""
    code = 21


class Stale(MMSBError):
    """ErrStale: a newer writer rebuilt the shared region (a new generation;
    the old header's state is "superseded"). Close the reader and open a new
    one."""
    code = 22


class FormatError(MMSBError):
    """ErrSharedCorrupt: the shared region failed its checks: bad magic,
    unknown format version, truncated file, a field out of range, or a page
    reference outside its chunk."""
    code = 23


SharedCorrupt = FormatError  # the Go sentinel's name


class SnapshotBusy(MMSBError):
    """ErrSnapshotBusy: snapshot() found a page written after the snapshot's
    LSN on every attempt."""
    code = 24


class NoSpace(MMSBError, MemoryError):
    """ErrNoSpace: no memory (or, for a shared bus, tmpfs space) for the
    pages of a create batch; the batch was refused whole before it was
    logged, and the bus goes on. Also a MemoryError."""
    code = 25


class Replication(MMSBError):
    """ErrReplication: a replicated record was not stored by the replication
    target. Once it failed the bus, calls raise Failed (which wraps it)."""
    code = 26


class Follower(MMSBError):
    """ErrFollower: a write to a bus opened as a read-only follower."""
    code = 27


class ReplicaOrder(MMSBError):
    """ErrReplicaOrder: a replicated record that does not continue the
    follower's log; nothing was applied."""
    code = 28


class ReplicaDiverged(MMSBError):
    """ErrReplicaDiverged: the follower's state differs from the leader's
    (the bus fails: later calls raise Failed)."""
    code = 29


class RecordTooLarge(MMSBError, ValueError):
    """ErrRecordTooLarge: a batch larger than one log record holds (256 MiB
    of payload); refused before it was logged, nothing changed, the bus
    goes on: commit smaller batches. Also a ValueError."""
    code = 30


class ReadBusy(MMSBError):
    """A page kept changing under the reader for longer than busy_timeout
    (the writer rewrites it faster than this process can copy it). The Go
    reader retries forever; this reader bounds it. (Reader only: no code.)"""


class Timeout(MMSBError, TimeoutError):
    """wait() reached its timeout before the committed LSN moved. (Reader
    only: no code.)"""


class InvalidHandle(MMSBError):
    """MMSB_ERR_INVALID_HANDLE: not a bus handle (a defect in the caller)."""
    code = 100


class InvalidArgument(MMSBError, ValueError):
    """MMSB_ERR_INVALID_ARGUMENT: NULL pointer, bad size or count."""
    code = 101


class InvalidType(InvalidArgument, TypeError):
    """An argument of the wrong type (a float or str where an integer
    belongs, a str where bytes do, None), named in the message. Raised by
    this package before anything reaches the library or the region, with
    InvalidArgument's code; also a TypeError, as Python raises for wrong
    types. (No code of its own: a refinement of MMSB_ERR_INVALID_ARGUMENT.)"""


class BufferTooSmall(MMSBError, ValueError):
    """MMSB_ERR_BUFFER_TOO_SMALL: a caller buffer cannot hold the result
    (Bus.read_into, Reader.read_into). Also a ValueError."""
    code = 102


class IOFailure(MMSBError, OSError):
    """MMSB_ERR_IO: an error that wraps no sentinel (e.g. the operating system's)."""
    code = 103


class InternalError(MMSBError):
    """MMSB_ERR_INTERNAL: a defect in the library; please report it."""
    code = 104


def _classes():
    # Only classes that set a code of their own map to one (reader-only
    # conditions such as a wait timeout, and InvalidType, have none); a
    # subclass at any depth counts.
    out, todo = {}, list(MMSBError.__subclasses__())
    while todo:
        c = todo.pop()
        todo.extend(c.__subclasses__())
        if "code" in c.__dict__:
            out[c.code] = c
    return out


BY_CODE = _classes()


def error_for(code, message):
    """Returns the exception for a C ABI status code (MMSBError for an unknown one)."""
    cls = BY_CODE.get(code)
    if cls is None:
        return MMSBError("mmsb: status %d: %s" % (code, message))
    return cls(message)
