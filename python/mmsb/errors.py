"""Exceptions of the mmsb Python package.

Every exception derives from MMSBError. They mirror the Go reader's
sentinels (mmsb.ErrWriterGone, mmsb.ErrStale, mmsb.ErrPageNotFound,
mmsb.ErrSharedCorrupt, mmsb.ErrSnapshotBusy, mmsb.ErrClosed), so code that
handles one binding's errors reads the same in the other.
"""


class MMSBError(Exception):
    """Base class of every error raised by the mmsb package."""


class WriterGone(MMSBError):
    """The writer closed the bus, its process no longer exists (same PID and
    start time as recorded in the header), or it left a page mid-write (odd
    sequence word, unchanged) for longer than the reader's writer_timeout.
    Mirrors mmsb.ErrWriterGone."""


class Stale(MMSBError):
    """A newer writer rebuilt the shared region (a new generation; the old
    header's state is "superseded"). Close the reader and open a new one.
    Mirrors mmsb.ErrStale."""


class PageNotFound(MMSBError, KeyError):
    """No live page has this ID. Also a KeyError, so dict-like code works.
    Mirrors mmsb.ErrPageNotFound."""

    def __str__(self):  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else "page not found"


class FormatError(MMSBError):
    """The shared region failed its checks: bad magic, unknown format
    version, truncated file, a field out of range, or a page reference
    outside its chunk. Mirrors mmsb.ErrSharedCorrupt."""


class SnapshotBusy(MMSBError):
    """snapshot() found a page written after the snapshot's LSN on every
    attempt. Mirrors mmsb.ErrSnapshotBusy."""


class ReadBusy(MMSBError):
    """A page kept changing under the reader for longer than busy_timeout
    (the writer rewrites it faster than this process can copy it). The Go
    reader retries forever; this reader bounds it."""


class Closed(MMSBError, ValueError):
    """The reader was closed (also a ValueError, like I/O on a closed file).
    A PageView of a closed reader raises it too. Mirrors mmsb.ErrClosed."""


class Timeout(MMSBError, TimeoutError):
    """wait() reached its timeout before the committed LSN moved."""
