"""MMSB (Memory-Mapped State Bus) from Python.

Reader reads a bus's committed pages from the shared-memory region of a
writer that runs with mmsb.Options.Shared, in pure Python + numpy (no Go in
this process). ``mmsb.open`` runs the bus itself in this process through
the C ABI (libmmsb.so; writer.py). See docs/bindings.md.
"""

from .errors import *  # noqa: F401,F403  (one class per C ABI status code)
from .errors import (  # noqa: F401
    Closed,
    FormatError,
    InvalidType,
    MMSBError,
    PageNotFound,
    ReadBusy,
    SnapshotBusy,
    Stale,
    Timeout,
    WriterGone,
)
from .reader import DEFAULT_SHARED_DIR, Page, PageView, Reader, Snapshot, region_path  # noqa: F401
from .writer import ANY_EPOCH, Bus, CommitInfo, open  # noqa: F401,A001

FORMAT_VERSION = 1  # the shared-memory format this reader implements (docs/formats.md)
