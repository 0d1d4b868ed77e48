"""MMSB (Memory-Mapped State Bus) from Python.

Reader reads a bus's committed pages from the shared-memory region of a
writer that runs with mmsb.Options.Shared, in pure Python + numpy (no Go in
this process). See docs/bindings.md.
"""

from .errors import (  # noqa: F401
    Closed,
    FormatError,
    MMSBError,
    PageNotFound,
    ReadBusy,
    SnapshotBusy,
    Stale,
    Timeout,
    WriterGone,
)
from .reader import DEFAULT_SHARED_DIR, Page, PageView, Reader, Snapshot, region_path  # noqa: F401

FORMAT_VERSION = 1  # the shared-memory format this reader implements (docs/formats.md)
