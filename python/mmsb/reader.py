"""A reader of MMSB's shared-memory region in pure Python (no Go).

A writer that runs with mmsb.Options.Shared keeps its committed pages in a
region of files on tmpfs (docs/shm.md; byte layout and version in
docs/formats.md). This module maps those files read-only and reads pages
with the same seqlock protocol as the Go reader (mmsb.OpenReader):

1. load the slot's sequence word s1; odd means a write is in progress;
2. load the slot's page ID, cell reference, size, epoch and last-write LSN,
   and copy (or view) the page bytes;
3. load the sequence word again: the copy is consistent iff it still
   equals s1. Sequence words are 2L-1 / 2L for the operation with LSN L
   and LSNs only grow, so a word never repeats (no ABA).

The payload copy in step 2 is deliberately a racy read of memory another
process may be writing; step 3 discards any copy that overlapped a write.

Memory ordering. Step 3 is correct only if the payload loads complete
before the second sequence load, and the first sequence load before the
payload loads. On x86-64 (TSO) the processor never reorders a load with
an earlier load, and the interpreter performs the loads in program order
(each is a separate C call the compiler cannot move across), so plain
aligned 8-byte loads suffice; the writer's stores are ordered by TSO
likewise (docs/shm.md). On weakly ordered CPUs (arm64, POWER) the reader
would need an acquire load of s1 and a load fence (dmb ishld) before the
second load, which Python cannot express; the reader therefore refuses to
open on other architectures (the C header, bindings/c/mmsb_reader.h, uses
__atomic acquire loads and fences and is portable).

Words are read through memoryview.cast("Q") (a single aligned 8-byte
load each; struct.unpack would assemble them byte by byte, which could
tear a word the writer changes).
"""

import array
import collections
import ctypes
import errno
import fcntl
import hashlib
import math
import mmap
import numbers
import operator
import os
import platform
import stat
import sys
import termios
import time

import numpy as np

from . import _layout as L
from ._buffers import buffer_kind, holds_objects
from .errors import (
    BufferTooSmall,
    Closed,
    FormatError,
    InvalidArgument,
    InvalidOption,
    InvalidType,
    IOFailure,
    MMSBError,
    PageNotFound,
    ReadBusy,
    SnapshotBusy,
    Stale,
    Timeout,
    WriterGone,
)

DEFAULT_SHARED_DIR = "/dev/shm"

Page = collections.namedtuple("Page", "id data epoch lsn")
Page.__doc__ = "A consistent copy of one page: its bytes, epoch and last-write LSN."

Snapshot = collections.namedtuple("Snapshot", "lsn pages")
Snapshot.__doc__ = ("Pages read at one committed LSN: lsn, and pages, a dict "
                    "page ID -> Page in the order asked for.")

# Outcomes of one seqlock attempt.
_OK, _RETRY, _MISSING = 0, 1, 2

_TRIES_PER_ROUND = 64  # attempts before checking liveness and backing off
_U64_MAX = (1 << 64) - 1


def region_path(bus_dir, shared_dir=DEFAULT_SHARED_DIR):
    """The region directory of the bus in bus_dir, exactly as Go's
    mmsb.SharedRegionPath computes it: "mmsb-" and the hex of the first 16
    bytes of SHA-256 of the bus directory's absolute path (symbolic links
    resolved when it exists), under shared_dir."""
    if bus_dir is None:
        raise _wrong_type("bus directory", bus_dir, "a path (str, bytes or os.PathLike)")
    _no_nul(bus_dir, "bus directory")
    _no_nul(shared_dir, "shared_dir")
    if not os.fsdecode(bus_dir):
        # It named the region of the working directory's bus, as C's and
        # Go's (mmsb.SharedRegionPath) refuse "".
        raise InvalidArgument("mmsb: the bus directory is empty")
    p = os.path.abspath(os.fsdecode(bus_dir))
    # realpath(p, strict=True) is Python 3.10's: on 3.9, which
    # pyproject.toml accepts, it raised TypeError for every bus. A path
    # that stat resolves is one strict realpath resolves, and there the
    # two agree.
    try:
        os.stat(p)
    except OSError:
        pass  # Go's EvalSymlinks failed too: the cleaned absolute path
    else:
        p = os.path.realpath(p)
    if p.startswith("//"):
        p = "/" + p.lstrip("/")  # Go's Clean collapses a leading "//"
    digest = hashlib.sha256(os.fsencode(p)).hexdigest()[:32]
    # Decoded: a bytes shared_dir with a str bus directory could not be joined.
    # Made absolute and cleaned as Go's filepath.Abs does (no links
    # resolved): joined as spelled, "/dev/shm/" gave "/dev/shm//mmsb-...",
    # and "SHM/x/.." was resolved through x by the kernel where Go drops
    # "x/.." (another directory when x is a link or missing).
    sd = os.path.abspath(os.fsdecode(shared_dir) if shared_dir else DEFAULT_SHARED_DIR)
    if sd.startswith("//"):
        sd = "/" + sd.lstrip("/")
    return os.path.join(sd, "mmsb-" + digest)


def _wrong_type(what, v, want):
    """InvalidType (also a TypeError) naming the argument what, which should be want."""
    return InvalidType("mmsb: %s must be %s, not %s" % (what, want, type(v).__name__))


def _no_nul(p, what):
    """InvalidArgument for a path holding a NUL byte (os functions raised a
    bare ValueError; C's open would cut the path there), InvalidType for
    something that is not a path."""
    if p is None:
        return
    try:
        s = os.fsdecode(p)
    except TypeError:
        raise _wrong_type(what, p, "a path (str, bytes or os.PathLike)") from None
    if "\0" in s:
        raise InvalidArgument("mmsb: %s %r contains a NUL byte" % (what, p))
    try:
        os.fsencode(s)
    except UnicodeEncodeError as e:
        # A str with a lone surrogate that surrogateescape did not make
        # ("\ud800") names no file: os functions and the region's hash
        # raised a bare UnicodeEncodeError.
        raise InvalidArgument("mmsb: %s %r cannot be a file name: %s at offset %d"
                              % (what, p, e.reason, e.start)) from None


def _page_id(v):
    """A page ID as an int in 0..2**64-1: an integer (numpy's too), else
    InvalidType (a TypeError). int() made read(1.5) and read("1") read page
    1; a negative ID was PageNotFound as if it could exist. A bool is
    refused too: operator.index made read(True) read page 1."""
    i = _integer(v, "page ID")
    if not 0 <= i <= _U64_MAX:
        raise InvalidArgument("mmsb: page ID %d is outside 0..%d" % (i, _U64_MAX))
    return i


def _integer(v, what):
    """v as a Python int (an integer, numpy's too), else InvalidType naming
    what. A bool is not one here: True was taken as 1 (page 1, LSN 1)."""
    if isinstance(v, (bool, np.bool_)):
        raise _wrong_type(what, v, "an integer")
    try:
        return operator.index(v)
    except TypeError:
        raise _wrong_type(what, v, "an integer") from None


def _float_seconds(v):
    """A real number of seconds as a float. An integer beyond any float
    (10**400) saturates to +-inf, as C++'s reader::wait saturates to
    INT64_MAX ns: float() raised a bare OverflowError."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _seconds(v, what):
    """An option or argument in seconds: a real number >= 0 (inf allowed).
    NaN compared false with every deadline and disabled the limit."""
    if not isinstance(v, numbers.Real):
        raise _wrong_type(what, v, "a number of seconds")
    f = _float_seconds(v)
    if not f >= 0:
        raise InvalidOption("mmsb: %s %r is not a number of seconds >= 0" % (what, v))
    return f


def _os_error(path, e):
    """IOFailure (an OSError, as C's MMSB_READER_ERR_SYSTEM) for a system
    call on path that failed other than with ENOENT."""
    return IOFailure("mmsb: %s: %s" % (path, os.strerror(e.errno) if e.errno else e))


class _Map:
    """One read-only mapping and the memoryview the reader reads it through,
    with the name and inode of the file it maps (to check that the file has
    not shrunk under it: Reader._guard).

    release() drops both. It never unmaps memory that something still uses:
    a numpy array from PageView holds a buffer export on the memoryview,
    so mmap.close() raises BufferError (cpython#115635) and the mapping is
    left to the garbage collector, which unmaps it when the last array is
    gone (numpy#9537 is the crash this avoids)."""

    __slots__ = ("mm", "mv", "name", "ino", "length")

    def __init__(self, mm, name=None, ino=None):
        self.mm = mm
        self.mv = memoryview(mm)
        self.name, self.ino, self.length = name, ino, len(self.mv)

    def words(self, fmt="Q"):
        n = len(self.mv) // 8 * 8
        return self.mv[:n].cast(fmt)

    def release(self):
        mv, mm = self.mv, self.mm
        self.mv = self.mm = None
        if mv is not None:
            try:
                mv.release()
            except BufferError:
                return  # arrays still use it: the GC unmaps it later
        if mm is not None:
            try:
                mm.close()
            except BufferError:
                pass


def _check_owner(path, st, owner):
    """Refuse a region directory or file that uid owner does not own or that
    its group or others may write (FormatError). Region names are
    predictable and /dev/shm is writable by everyone, so anyone can create
    a region for someone else's bus, with a header naming a live process
    of theirs; the writer creates it 0700/0600 (0750/0640 with
    SharedGroup), as the user it runs as (docs/shm.md, "Security: what a
    reader trusts")."""
    if st.st_uid != owner:
        raise FormatError("%s is owned by uid %d, expected uid %d" % (path, st.st_uid, owner))
    if st.st_mode & 0o022:
        raise FormatError("%s (owner uid %d, expected uid %d) is writable by group or others (mode %o)"
                          % (path, st.st_uid, owner, stat.S_IMODE(st.st_mode)))


def _map_ro(dir_fd, region, name, owner, min_len=0, watch=None):
    """Map the whole file name of the directory open as dir_fd (region
    names it in messages) read-only (PROT_READ, MAP_SHARED); None when
    empty. The file must be a regular file that passes _check_owner.
    watch(fd), when given, is called with the open file before it is
    mapped (Reader._watch: an inotify watch on its inode)."""
    path = os.path.join(region, name)
    # O_NONBLOCK: opening a FIFO planted in the region's place would block
    # until some process opened its other end. It changes nothing for a
    # regular file, and anything else is refused below. O_NOFOLLOW: a
    # symbolic link is refused, not followed to a regular file that fstat
    # would accept (another bus's header, say), as the Go reader does.
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW, dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        raise  # the caller decides what a missing file means
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise FormatError("%s is a symbolic link, not a regular file" % path) from None
        raise _os_error(path, e) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FormatError("%s is not a regular file (mode %o)" % (path, st.st_mode))
        # Checked on the open descriptor: this is the file that gets mapped.
        _check_owner(path, st, owner)
        n = st.st_size
        if n < min_len:
            raise FormatError("%s is %d bytes, need at least %d" % (path, n, min_len))
        if n == 0:
            return None
        if n > 1 << 40:
            raise FormatError("%s is %d bytes" % (path, n))
        if watch is not None:
            # Before the size is mapped: a truncation from here on is an
            # event (one before it is found by the size check in _guard).
            watch(fd)
        try:
            return _Map(mmap.mmap(fd, n, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ), name, st.st_ino)
        except OSError as e:
            raise _os_error(path, e) from None
    finally:
        os.close(fd)


def _open_region_dir(region, st):
    """A descriptor of the region directory region, which lstat found as
    st: it must be that directory (not a link, nor another directory
    renamed into its place since). Every file is then opened relative to
    it (_map_ro), never by path, so that a region a new writer renamed
    into the same path (its chunk files have the same names: generations
    restart at 1) is never read as this one."""
    try:
        fd = os.open(region, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise  # the caller: WriterGone
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise FormatError("region directory %s was replaced while it was being opened: %s"
                              % (region, os.strerror(e.errno))) from None
        raise _os_error(region, e) from None
    try:
        got = os.fstat(fd)
    except OSError as e:
        os.close(fd)
        raise _os_error(region, e) from None
    if (got.st_dev, got.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise FormatError("region directory %s was replaced while it was being opened" % region)
    return fd


def _bus_owner(bus_dir):
    """The uid that owns the bus directory (links followed, as region_path
    follows them): only a region this uid owns is trusted. A bus directory
    that is not a directory is InvalidArgument (it was WriterGone "no
    shared region", which a caller retries for ever), as in C and Go."""
    try:
        st = os.stat(bus_dir)
    except FileNotFoundError as e:
        raise WriterGone("no bus directory %s: %s" % (bus_dir, e)) from None
    except OSError as e:
        raise FormatError("cannot check the owner of the bus directory, which must own its region: %s" % e) from None
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidArgument("mmsb: the bus directory %s is not a directory (mode %o)" % (os.fsdecode(bus_dir), st.st_mode))
    return st.st_uid


def _is_default_shared_dir(sd):
    """Whether shared_dir sd names the default: None, empty, or
    DEFAULT_SHARED_DIR as str, bytes or a path object, cleaned
    ("/dev/shm/"); anything else, a non-path too, counts as given."""
    if sd is None:
        return True
    try:
        s = os.fsdecode(sd)
    except TypeError:
        return False
    return s == "" or os.path.normpath(s) == DEFAULT_SHARED_DIR


def _check_shared_dir(region):
    """InvalidArgument when the shared directory that holds region (the
    shared_dir given, made absolute) is missing or not a directory: a
    configuration mistake, which was WriterGone, retried for ever. The Go
    writer refuses the same SharedDir (ErrInvalidOption); C and Go's
    readers answer as this one."""
    sd = os.path.dirname(region)
    try:
        st = os.stat(sd)
    except FileNotFoundError:
        raise InvalidArgument("mmsb: shared_dir %s does not exist" % sd) from None
    except NotADirectoryError:
        raise InvalidArgument("mmsb: shared_dir %s is not a directory (a file is on its path)" % sd) from None
    except OSError:
        return  # EACCES and the like: the region's own open reports them
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidArgument("mmsb: shared_dir %s is not a directory (mode %o)" % (sd, st.st_mode))


def _not_a_bus_dir_as_region(region):
    """InvalidArgument when region=, which has no header, is a bus
    directory (it holds the bus's LOCK file): it was WriterGone "no shared
    region", retried for ever. A region never holds a LOCK."""
    try:
        st = os.lstat(os.path.join(region, "LOCK"))
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        raise InvalidArgument("mmsb: region=%s is a bus directory (it holds LOCK), not a shared region: "
                              "open it as Reader(%r) (with shared_dir= if its writer sets one)"
                              % (region, region))


def _proc_stat(pid):
    """(state letter, start time in clock ticks) from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        s = f.read()
    i = s.rfind(b")")  # the command name may hold spaces and parentheses
    if i < 0:
        raise OSError("/proc/%d/stat: no ')'" % pid)
    fields = s[i + 1:].split()
    if len(fields) < 20 or not fields[0]:
        raise OSError("/proc/%d/stat: %d fields" % (pid, len(fields)))
    return fields[0][:1], int(fields[19])


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_SYS_FUTEX = {"x86_64": 202, "amd64": 202}
_FUTEX_WAIT = 0
_libc = None


def _libc_fn():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _futex_fn():
    return _libc_fn().syscall


# Truncation. The writer never shrinks a region file, but its user (or
# root) can truncate one that this reader has mapped; a load past the
# file's new end is then a SIGBUS, which kills the interpreter (Python's
# mmap cannot catch it, and a signal.signal handler returns to the load,
# which faults again). So before every call that loads mapped memory the
# reader checks that no mapped file shrank (Reader._guard): it keeps an
# inotify watch on every mapped file's inode, and the kernel queues an
# IN_MODIFY event for each truncation (through any name or descriptor),
# so the common check is one FIONREAD ioctl on the inotify descriptor;
# only after an event does it stat the files. Without inotify (no /proc,
# the per-user limit of instances or watches reached, or after fork,
# whose child shares the parent's event queue) it stats the files it is
# about to read instead, one system call each. A truncation that lands
# between the check and the load still faults.
_IN_MODIFY = 0x2
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_fork_gen = 0


def _after_fork():
    global _fork_gen
    _fork_gen += 1


os.register_at_fork(after_in_child=_after_fork)


_TMPFS_MAGIC = 0x01021994  # statfs f_type of a tmpfs (linux/magic.h)


def _on_tmpfs(fd):
    """Whether the directory open as fd is on a tmpfs, where a file's
    allocated blocks are exactly the pages written or reserved
    (Reader._check_slots_backed). False when fstatfs fails. The reader runs
    on x86-64 only, where struct statfs is 120 bytes and f_type its first
    word."""
    buf = ctypes.create_string_buffer(128)
    try:
        if _libc_fn().fstatfs(fd, buf) != 0:
            return False
    except (AttributeError, OSError):
        return False
    return int.from_bytes(buf.raw[:8], "little") == _TMPFS_MAGIC


def _allocated(dir_fd, name):
    """The bytes the filesystem allocated to file name of the directory
    open as dir_fd (its blocks, not its size), without following a link."""
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_blocks * 512


def _inotify_init():
    """A non-blocking inotify descriptor, or None when there is none."""
    try:
        fd = _libc_fn().inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    except (AttributeError, OSError):
        return None
    return fd if fd >= 0 else None


class _Chunk:
    """A mapped chunk, and per dtype one numpy array over all of it: a
    page's view is a slice of that array (6x cheaper than np.frombuffer per
    view); every slice keeps the whole-chunk array, and so the mapping,
    alive."""

    __slots__ = ("gen", "cell_size", "map", "arrays", "length")

    def __init__(self, gen, cell_size, m):
        self.gen, self.cell_size, self.map = gen, cell_size, m
        self.length = len(m.mv)
        self.arrays = {}

    def array(self, dt):
        a = self.arrays.get(dt)
        if a is None:
            a = np.frombuffer(self.map.mv, dtype=dt, count=len(self.map.mv) // dt.itemsize)
            self.arrays[dt] = a
        return a

    def release(self):
        self.arrays = {}
        self.map.release()


class PageView:
    """A zero-copy, read-only numpy view of one page, from Reader.view().

    The bytes may change under the array at any time (the writer does not
    wait for readers). Read what you need from .array, then call .valid():
    True means no write touched the page between view() and that call, so
    what you read in between is consistent; on False discard it and take a
    new view (Reader.apply() does this loop for you). Once the region is
    superseded by a newer writer's, or its writer closed the bus, the page
    changes elsewhere: valid() raises Stale or WriterGone then.

    Lifetime: .array and .valid() raise Closed once the reader is closed,
    and .array raises Closed after release() (or leaving a ``with``
    block). An array you took out of the view keeps its mapping alive (the
    reader never unmaps memory an array still points to), so it can never
    read freed memory; but it is then no longer checked: treat it as
    garbage after valid() returned False or the reader closed.
    """

    __slots__ = ("_reader", "_array", "_slot", "_seq", "id", "epoch", "lsn")

    def __init__(self, reader, array, slot, seq, page_id, epoch, lsn):
        self._reader, self._array, self._slot, self._seq = reader, array, slot, seq
        self.id, self.epoch, self.lsn = page_id, epoch, lsn

    @property
    def array(self):
        """The page as a read-only numpy array (flags.writeable is False
        and the mapping is PROT_READ)."""
        self._reader._check_open()
        if self._array is None:
            raise Closed("page view of page %d was released" % self.id)
        return self._array

    def valid(self):
        """True while the page has not been written since the view was
        taken (a load of its sequence word, then of the header's state
        word). Raises Closed after the reader closed, FormatError once a
        mapped file shrank, and Stale or WriterGone (sticky, as every
        call of the reader) once the header says superseded or closed."""
        r = self._reader
        if not self._unchanged():
            return False
        # A superseded or closed region's words never move again: the bus
        # goes on in a newer writer's region, so an unchanged word there
        # proved nothing and True passed the old bytes off as current.
        # Loaded after the sequence word: a state still live means no newer
        # writer had published when the word was found unchanged (it marks
        # this header superseded before it publishes its region, shared.go's
        # publishShared; where it cannot mark it, the header keeps saying
        # live and the reader's calls find the writer dead instead).
        if r._gone is not None or r._hq[L.H_STATE // 8] != L.STATE_LIVE:
            r._check()
        return True

    def _unchanged(self):
        """valid() without the state check: the page's sequence word has
        not moved (apply's check, which returns what fn computed from a
        consistent view, as Go's View does, even if the writer closed
        meanwhile)."""
        r = self._reader
        r._check_mapped()
        return self._array is not None and r._seq_word(self._slot) == self._seq

    def release(self):
        """Drop the view's array (the reader may then unmap its memory)."""
        self._array = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def __repr__(self):
        return "PageView(id=%d, epoch=%d, lsn=%d)" % (self.id, self.epoch, self.lsn)


class Reader:
    """Reads the committed pages of a bus whose writer runs with
    mmsb.Options.Shared, from this process, without Go.

    Reader(dir, shared_dir="/dev/shm") finds the region from the bus
    directory (region_path()) and accepts it only if the owner of dir owns
    it; region= names a region directory directly, trusting its owner.
    Everything is mapped read-only and nothing shared is written, so a
    reader that crashes leaves nothing to clean up. A Reader is not
    thread-safe: use one per thread. After os.fork() (multiprocessing) a
    child may keep using an inherited Reader or open its own; a Reader
    cannot be copied or pickled (InvalidType): open one in each process.

    writer_timeout: how long a page may stay mid-write (odd, unchanged
    sequence word) before WriterGone, and how long snapshot() waits for the
    commit of a free to be published before SnapshotBusy (default 0.2 s,
    as in Go).
    liveness_interval: at most this long between checks that the writer
    process exists (kill(pid, 0) and its /proc start time) (default 0.01 s).
    busy_timeout: how long a page may keep changing under a read before
    ReadBusy (default 1 s). writer_timeout and busy_timeout must be
    positive: 0, the default in C, C++ and Go, is InvalidOption here.
    snapshot_retries: attempts of snapshot() before
    SnapshotBusy (default 100). wait_mode: "futex" (sleep on the header's
    futex word, woken by every commit), "poll" (sleep with backoff from
    50 us to 1 ms), or "auto" (futex, falling back to poll if the syscall is
    refused).

    A region file truncated under the reader (by its owner; the writer
    never shrinks one) would make a load from it a SIGBUS that kills the
    interpreter: every call that loads mapped memory checks first and
    raises FormatError "shrank while mapped", then on every later call but
    close (see _IN_MODIFY; a truncation inside a call still faults).
    """

    def __init__(self, dir=None, shared_dir=DEFAULT_SHARED_DIR, *, region=None,
                 writer_timeout=0.2, liveness_interval=0.01, busy_timeout=1.0,
                 snapshot_retries=100, wait_mode="auto"):
        if sys.byteorder != "little" or platform.machine() not in _SYS_FUTEX:
            raise MMSBError("the Python reader needs x86-64 (its seqlock relies on "
                            "x86-TSO load ordering; use bindings/c/mmsb_reader.h elsewhere)")
        if not isinstance(wait_mode, str) or wait_mode not in ("auto", "futex", "poll"):
            raise InvalidOption("mmsb: wait_mode must be auto, futex or poll, not %r" % (wait_mode,))
        # Checked here: stored unchecked they failed inside a later read
        # (a TypeError), or a NaN made a stuck page retry forever.
        writer_timeout = _seconds(writer_timeout, "writer_timeout")
        liveness_interval = _seconds(liveness_interval, "liveness_interval")
        busy_timeout = _seconds(busy_timeout, "busy_timeout")
        # 0 is the default in C's mmsb_reader_options, C++'s reader_options
        # and Go's ReaderOptions; here it was 0 s, so a read that looked
        # twice at a page mid-write (or moving) failed with WriterGone (or
        # ReadBusy) at once.
        for what, v, default, fails in (("writer_timeout", writer_timeout, 0.2, "WriterGone"),
                                        ("busy_timeout", busy_timeout, 1.0, "ReadBusy")):
            if v == 0:
                raise InvalidOption("mmsb: %s 0 would fail a read with %s as soon as it meets a page being written; "
                                    "in C, C++ and Go 0 means the default (%gs): leave it out or pass a positive "
                                    "number of seconds" % (what, fails, default))
        try:
            snapshot_retries = operator.index(snapshot_retries)
        except TypeError:
            raise _wrong_type("snapshot_retries", snapshot_retries, "an integer") from None
        if snapshot_retries < 1:
            raise InvalidOption("mmsb: snapshot_retries %d must be at least 1" % snapshot_retries)
        _no_nul(region, "region")
        if region is not None:
            # As str: a bytes region= failed joining its file names
            # ("Can't mix strings and bytes in path components").
            region = os.fsdecode(region)
        if region == "":
            raise InvalidArgument("mmsb: region= is empty (give a region directory, or the bus directory alone)")
        # shared_dir None or "" is the default, as in region_path (it was
        # refused with region= as if a shared_dir had been given), and so
        # is the default however spelled (bytes, a path object, a "/").
        if region is not None and (dir is not None or not _is_default_shared_dir(shared_dir)):
            # region= won silently: the bus directory was ignored, and with
            # it the check that its owner owns the region.
            raise InvalidArgument("mmsb: Reader takes a bus directory (with shared_dir) or region=, not both "
                                  "(region=%r would be read without checking it against the bus directory's owner)"
                                  % (region,))
        owner = None  # region=: whoever owns the region directory
        if region is None:
            if dir is None:
                raise InvalidArgument("mmsb: Reader needs a bus directory or region=")
            region = region_path(dir, shared_dir)
            owner = _bus_owner(dir)
            _check_shared_dir(region)
        self._closed = True
        self._dir_fd = None
        self._ifd = None
        self._broken = None  # the FormatError of a file that shrank: sticky
        self.region = region
        self.writer_timeout = writer_timeout
        self.liveness_interval = liveness_interval
        self.busy_timeout = busy_timeout
        self.snapshot_retries = snapshot_retries
        self._wait_mode = wait_mode
        self._gone = None
        self._chunks = {}
        self._index = {}
        self._index_ver = 0
        self._index_ok = False
        self._slot_maps = (None, None, None, None)
        self._ids = self._vers = self._cells = self._seq = None
        self._slots = 0
        self._tmpfs = False  # the region is on a tmpfs: _check_slots_backed applies
        # Bytes of the ids file allocated when _check_slots_backed (or the
        # last slot remap) looked: a high-water mark within them needs no
        # new stat.
        self._ids_backed = 0
        self.retries = 0  # read attempts that failed the sequence check
        self.snapshot_retries_used = 0
        owner_given = owner
        try:
            try:
                # lstat: a link planted under the region's name could name
                # another bus's region, owned by the right user.
                st = os.lstat(region)
                if owner is None:
                    owner = st.st_uid
                if not stat.S_ISDIR(st.st_mode):
                    raise FormatError("%s is not a directory (mode %o)" % (region, st.st_mode))
                _check_owner(region, st, owner)
                self._owner = owner
                self._dir_fd = _open_region_dir(region, st)
                self._tmpfs = _on_tmpfs(self._dir_fd)
                self._ifd, self._ifd_gen = _inotify_init(), _fork_gen
                self._fionread = array.array("i", [0])
                hdr = _map_ro(self._dir_fd, region, L.HEADER_FILE, owner, watch=self._watch)
            except FileNotFoundError as e:
                if owner_given is None:
                    _not_a_bus_dir_as_region(region)
                raise WriterGone("no shared region %s (no writer runs with Options.Shared): %s"
                                 % (region, e)) from None
            except IOFailure:
                raise
            except OSError as e:  # EACCES, ENOTDIR, ELOOP, ...: was a bare OSError
                raise _os_error(region, e) from None
            if hdr is None:
                raise FormatError("header is 0 bytes, need %d" % L.HEADER_USED)
        except BaseException:
            self._close_dir()
            raise
        self._hdr = hdr
        self._closed = False
        try:
            h = L.decode_header(hdr.mv)
            self.generation, self.writer_pid, self._start = h.gen, h.pid, h.start
            self._hq = hdr.words("Q")
            self._hi = hdr.words("I")
            try:
                ct = _map_ro(self._dir_fd, region, L.CHUNK_TABLE_FILE, owner, L.MAX_CHUNKS * L.CHUNK_ENTRY_BYTES,
                             watch=self._watch)
            except (FileNotFoundError, NotADirectoryError):
                self._going()
                raise FormatError("region %s has no chunk table" % region) from None
            self._ct_map = ct
            self._ct = ct.words("Q")
            self._remap_slots()
            self._last_alive = time.monotonic()
            self._alive()
        except BaseException:
            self.close()
            raise
        self._futex_addr = None

    # ---- lifetime -------------------------------------------------------

    def close(self):
        """Unmap everything. Later calls raise Closed; so do the PageViews
        taken from this reader. Memory that a numpy array taken from a
        PageView still points to stays mapped until that array is freed.
        Closing twice is fine."""
        self._close_dir()
        if getattr(self, "_hdr", None) is None:
            self._closed = True
            return
        self._closed = True
        self._hq = self._hi = self._ct = None
        self._ids = self._vers = self._cells = self._seq = None
        self._futex_arr = None
        for c in self._chunks.values():
            c.release()
        self._chunks = {}
        for m in self._slot_maps:
            if m is not None:
                m.release()
        self._slot_maps = (None, None, None, None)
        for m in (getattr(self, "_ct_map", None), self._hdr):
            if m is not None:
                m.release()
        self._ct_map = self._hdr = None

    def _close_dir(self):
        fd, self._dir_fd = getattr(self, "_dir_fd", None), None
        if fd is not None:
            os.close(fd)
        fd, self._ifd = getattr(self, "_ifd", None), None
        if fd is not None:
            os.close(fd)

    # ---- truncation (see _IN_MODIFY) -------------------------------------

    def _watch(self, fd):
        """An inotify watch for IN_MODIFY on the inode of fd, about to be
        mapped. Where one cannot be added, the reader stats files instead."""
        if self._ifd is None or self._ifd_gen != _fork_gen:
            return  # after fork, _guard drops the parent's queue
        if _libc_fn().inotify_add_watch(self._ifd, b"/proc/self/fd/%d" % fd, _IN_MODIFY) < 0:
            self._drop_inotify()

    def _drop_inotify(self):
        """Stat files from now on: inotify is unusable (or inherited over
        fork, its queue shared with the parent). The maps are checked once
        now, for what the lost queue might have said."""
        fd, self._ifd = self._ifd, None
        if fd is not None:
            os.close(fd)
        self._verify(self._all_maps())

    def _all_maps(self):
        maps = [getattr(self, "_hdr", None), getattr(self, "_ct_map", None)]
        maps.extend(self._slot_maps)
        maps.extend(c.map for c in self._chunks.values())
        return maps

    def _verify(self, maps):
        """FormatError, kept for every later call, if a file of maps is
        shorter than its mapping. A file no longer under its name in the
        region (a chunk the writer removed, a region replaced) cannot be
        found to check, and the writer never writes to one again."""
        for m in maps:
            if m is None or m.mv is None or m.name is None:
                continue
            try:
                st = os.stat(m.name, dir_fd=self._dir_fd, follow_symlinks=False)
            except (OSError, TypeError):
                continue
            if st.st_ino == m.ino and st.st_size < m.length:
                self._broken = FormatError(
                    "a file of region %s shrank while mapped: %s is %d bytes, the reader maps %d "
                    "(its writer's user truncated it; reading it would be a SIGBUS); reopen the region"
                    % (self.region, m.name, st.st_size, m.length))
                raise self._broken

    def _guard(self):
        """Raise FormatError when a mapped file shrank: the check before
        every call that loads mapped memory (a load past a file's end is a
        SIGBUS that kills the interpreter)."""
        if self._broken is not None:
            raise self._broken
        ifd = self._ifd
        if ifd is not None and self._ifd_gen == _fork_gen:
            try:
                fcntl.ioctl(ifd, termios.FIONREAD, self._fionread, True)
            except OSError:
                self._drop_inotify()
                return
            if self._fionread[0] == 0:
                return
            try:
                while len(os.read(ifd, 1 << 16)) == 1 << 16:
                    pass
            except BlockingIOError:
                pass
            except OSError:
                self._drop_inotify()
                return
            self._verify(self._all_maps())
            return
        if ifd is not None:
            # Inherited over fork: the queue is shared with the parent,
            # so events one process reads the other would miss.
            self._drop_inotify()
            return
        self._verify((self._hdr, self._ct_map) + self._slot_maps)

    def _guard_chunk(self, c):
        """The chunk's share of _guard where the reader stats files (with
        inotify, _guard covered every mapped file)."""
        if self._ifd is None:
            self._verify((c.map,))

    def _check_mapped(self):
        self._check_open()
        self._guard()

    @property
    def closed(self):
        """True once close() ran."""
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __reduce_ex__(self, protocol):
        # What copy.copy, copy.deepcopy and pickle (multiprocessing's spawn)
        # call. A shallow copy shared this reader's descriptors and closed
        # them under it when either was closed or collected (later calls
        # then used, or closed, whatever file took the same numbers); the
        # others raised bare TypeErrors about mmap or memoryview objects.
        raise InvalidType("mmsb: a Reader cannot be copied or pickled (its mappings and descriptors belong to "
                          "it and this process): open a Reader(dir) in each process or thread that reads %s"
                          % self.region)

    def _check_open(self):
        if self._closed:
            raise Closed("mmsb reader of %s is closed" % self.region)

    # ---- writer state ---------------------------------------------------

    def _alive(self):
        """Raise WriterGone or Stale unless the writer is live (the checks
        of Go's ShmReader.Alive, in the same order)."""
        st = self._hq[L.H_STATE // 8]
        if st == L.STATE_SUPERSEDED:
            self._gone = Stale("shared region %s generation %d superseded by a newer writer "
                               "(reopen the reader)" % (self.region, self.generation))
        elif st == L.STATE_CLOSED:
            self._gone = WriterGone("writer %d closed the bus" % self.writer_pid)
        elif st != L.STATE_LIVE:
            self._gone = WriterGone("region in state %d" % st)
        elif not 0 < self.writer_pid < 1 << 31:
            self._gone = WriterGone("no writer pid (header says %d)" % self.writer_pid)
        else:
            pid = self.writer_pid
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                self._gone = WriterGone("writer process %d no longer exists" % pid)
            except PermissionError:
                pass  # exists, owned by another user
            if self._gone is None:
                # A recycled PID has another start time; a killed writer
                # not reaped yet is a zombie (still answers kill(pid, 0)).
                try:
                    state, start = _proc_stat(pid)
                except (OSError, ValueError):
                    state, start = b"?", None
                if start != self._start:
                    self._gone = WriterGone("writer process %d no longer exists (start time %s, want %d)"
                                            % (pid, start, self._start))
                elif state in (b"Z", b"X"):
                    self._gone = WriterGone("writer process %d exited (state %s)"
                                            % (pid, state.decode()))
        if self._gone is not None:
            raise self._gone
        self._last_alive = time.monotonic()

    def _going(self):
        """Before a missing or short region file is reported as damage:
        Stale or WriterGone when the header says superseded or closed. A
        writer marks its region so (Close; a newer writer taking over) and
        then removes the files, so a reader that opens or remaps in between
        finds them missing: the region is going away, not corrupt (it was
        FormatError, which callers that reopen on WriterGone or Stale do not
        retry)."""
        if self._hq[L.H_STATE // 8] != L.STATE_LIVE:
            self._alive()  # raises for every state but live

    def _check(self):
        """Fail if closed or the writer is gone. The state word is read on
        every call; the process check runs every liveness_interval."""
        if self._closed:
            raise Closed("mmsb reader of %s is closed" % self.region)
        self._guard()
        if self._gone is not None:
            raise self._gone
        if (self._hq[L.H_STATE // 8] != L.STATE_LIVE
                or time.monotonic() - self._last_alive >= self.liveness_interval):
            self._alive()

    def alive(self):
        """None while the writer runs; raises WriterGone or Stale (sticky:
        a gone writer stays gone for this reader)."""
        self._check_mapped()
        if self._gone is not None:
            raise self._gone
        self._alive()

    @property
    def last_lsn(self):
        """The committed LSN the writer published last: every write up to
        it is visible to reads that start afterwards. WriterGone or Stale
        once a call found the writer gone (sticky, as every call: it
        went on returning the old region's LSN)."""
        self._check_mapped()
        if self._gone is not None:
            raise self._gone
        return self._hq[L.H_LSN // 8]

    @property
    def state(self):
        """The header's state word (1 live, 2 closed, 3 superseded)."""
        self._check_mapped()
        return self._hq[L.H_STATE // 8]

    def header(self):
        """The decoded header (validated like at open)."""
        self._check_mapped()
        return L.decode_header(self._hdr.mv)

    # ---- mappings -------------------------------------------------------

    def _remap_slots(self):
        """Map the slot arrays afresh (the writer grew them). Files never
        shrink within a generation, so old, shorter mappings stay valid."""
        new = []
        try:
            for name in (L.IDS_FILE, L.VERS_FILE, L.CELLS_FILE, L.SEQ_FILE):
                try:
                    new.append(_map_ro(self._dir_fd, self.region, name, self._owner, watch=self._watch))
                except (FileNotFoundError, NotADirectoryError):  # removed, or the directory replaced
                    new.append(None)
        except BaseException:
            for m in new:
                if m is not None:
                    m.release()
            raise
        words = [m.words("Q") if m is not None else memoryview(b"").cast("Q") for m in new]
        slots = min(len(words[0]), len(words[1]) // 2, len(words[2]), len(words[3]))
        # The writer publishes the slot capacity after every file grew, so
        # files holding fewer slots than the capacity are damaged (truncated
        # by the region's owner): refused, as the Go reader refuses them,
        # with the old mappings kept and the new ones released. A file
        # truncated after this check stays a SIGBUS on access (docs/shm.md).
        cap = self._hq[L.H_SLOT_CAP // 8]
        if slots < min(cap, L.MAX_SLOTS):
            lens = [len(w) * 8 for w in words]
            for w in words:
                w.release()
            for m in new:
                if m is not None:
                    m.release()
            self._going()
            raise FormatError("%s: slot arrays (ids %d, vers %d, cells %d, seq %d bytes) hold %d slots, the header publishes %d"
                              % (self.region, lens[0], lens[1], lens[2], lens[3], slots, cap))
        old = self._slot_maps
        self._slot_maps = tuple(new)
        self._ids, self._vers, self._cells, self._seq = words
        self._slots = slots
        for m in old:
            if m is not None:
                m.release()
        # What the writer had reserved when the files were mapped: index
        # rebuilds within it need no stat, so a region that its writer then
        # removes is found going by the read, as before, not by a stat of a
        # file gone (_check_slots_backed).
        if self._tmpfs:
            try:
                self._ids_backed = max(self._ids_backed, _allocated(self._dir_fd, L.IDS_FILE))
            except OSError:
                pass

    def _check_slots_backed(self, hw):
        """Refuse (FormatError) a high-water mark of hw slots that the ids
        file does not hold in allocated memory, before _rebuild copies it,
        as the Go reader's checkSlotsBacked. The slot files need only be
        long enough for the header's slot capacity (_remap_slots), and a
        sparse file is long for free: a region whose header claimed about
        2^31 slots over slot files made long by truncate (a damaged or
        hostile one; only its owner can write it) made the reader copy 16
        GiB of holes, each read of which allocates a tmpfs page. A writer
        reserves (fallocate) every slot it publishes before it publishes
        it, so its ids file holds at least 8 bytes for each. Checked on a
        tmpfs only (SharedDir's documented kind), where allocated blocks
        are exact; elsewhere (compression, a FUSE filesystem that reports
        no blocks) they can be fewer than the data, and file sizes are
        trusted."""
        need = hw * 8
        if not self._tmpfs or need <= self._ids_backed:
            return
        path = os.path.join(self.region, L.IDS_FILE)
        try:
            have = _allocated(self._dir_fd, L.IDS_FILE)
        except (FileNotFoundError, NotADirectoryError):
            self._going()  # its writer removes the region: WriterGone or Stale
            raise FormatError("%s: no such file" % path) from None
        except OSError as e:
            raise _os_error(path, e) from None
        if have < need:
            raise FormatError("%s: the header's high-water mark of %d slots needs %d bytes of %s, and only %d are "
                              "allocated (a sparse slot array, which no writer makes)"
                              % (self.region, hw, need, L.IDS_FILE, have))
        self._ids_backed = have

    def _ensure_slot(self, sl):
        if sl < self._slots:
            return True
        if sl >= self._hq[L.H_SLOT_CAP // 8]:
            return False
        self._remap_slots()
        return sl < self._slots

    def _seq_word(self, sl):
        # A remap may have found the slot files shorter than a PageView's
        # slot (files removed or truncated): no word, so the view is not valid.
        seq = self._seq
        return seq[sl] if sl < len(seq) else None

    def _chunk(self, idx):
        """Chunk idx's mapping (mapping its current file if needed), or
        None when it is unpublished or its file is gone: the caller's
        sequence check decides whether that was a race."""
        if idx >= L.MAX_CHUNKS:
            return None
        w = self._ct[2 * idx]  # u32 generation | u32 cell size << 32, one load
        gen = w & 0xFFFFFFFF
        if gen == 0:
            return None
        c = self._chunks.get(idx)
        if c is not None and c.gen == gen:
            return c
        try:
            m = _map_ro(self._dir_fd, self.region, L.chunk_file_name(idx, gen), self._owner, watch=self._watch)
        except (OSError, FormatError):
            return None
        if m is None:
            return None
        if c is not None:
            c.release()  # a freed large page's index, reused
        c = _Chunk(gen, w >> 32, m)
        self._chunks[idx] = c
        return c

    # ---- the ID index ---------------------------------------------------

    def _rebuild(self):
        """Scan the published slots for live pages (O(slots), numpy). Runs
        after creates or frees moved the table version, or when a slot no
        longer holds the page looked up."""
        ver = self._hq[L.H_TABLE_VER // 8]
        hw = min(self._hq[L.H_HW // 8], L.MAX_SLOTS)
        if hw > self._slots:
            self._ensure_slot(hw - 1)
            hw = min(hw, self._slots)
        self._check_slots_backed(hw)
        index = {}
        if hw > 0:
            ids = np.frombuffer(self._ids, dtype=np.uint64, count=hw).copy()
            sizes = np.frombuffer(self._cells, dtype=np.uint32, count=2 * hw)[1::2] & L.SIZE_MASK
            live = (ids != 0) & (sizes != 0)
            slots = np.flatnonzero(live)
            live_ids = ids[slots]
            _, first = np.unique(live_ids, return_index=True)
            if len(first) != len(slots):
                self._duplicate_id(ver, live_ids, slots, first)
            # Reversed, so that the first slot of an ID stays (a create
            # or free raced the copy: _duplicate_id returned).
            index = dict(zip(live_ids[::-1].tolist(), slots[::-1].tolist()))
        self._index, self._index_ver, self._index_ok = index, ver, True

    def _duplicate_id(self, ver, live_ids, slots, first):
        """A live page ID in two slots of one copy of the ids array. A
        writer never publishes an ID twice: it writes ids only in a create
        or a free and moves the table version after each, so with the
        version still at ver (read before the copy) the ids array is
        damaged and the region refused (FormatError naming the ID and the
        two slots, the first duplicate in slot order), as the Go reader's
        duplicateID and the C reader; indexing one of the two read one
        page's bytes for another's. With the version moved, a free and a
        create of one ID raced the copy: nothing is said, and the index,
        stamped with ver, is rebuilt at the next lookup."""
        if self._hq[L.H_TABLE_VER // 8] != ver:
            return
        self._index_ok = False  # the old index may be older than the damage
        later = np.ones(len(slots), dtype=bool)
        later[first] = False
        pos = int(np.flatnonzero(later)[0])
        dup = int(live_ids[pos])
        was = int(slots[int(np.flatnonzero(live_ids == dup)[0])])
        raise FormatError("%s: page ID %d is in slots %d and %d of %s (a damaged slot array: a writer publishes each ID once)"
                          % (self.region, dup, was, int(slots[pos]), L.IDS_FILE))

    def _lookup(self, page_id):
        if not self._index_ok:
            self._rebuild()
        elif self._hq[L.H_TABLE_VER // 8] != self._index_ver:
            sl = self._index.get(page_id)
            if sl is not None:
                return sl  # verified by the read itself
            self._rebuild()
        return self._index.get(page_id)

    # ---- the seqlock ----------------------------------------------------

    def _read_once(self, sl, page_id, fn):
        """One seqlock attempt on slot sl; fn(chunk, offset, size)
        runs between the two sequence loads and its result is kept only if
        the attempt is consistent."""
        seq = self._seq
        s1 = seq[sl]
        if s1 & 1:
            return _RETRY, None, 0, 0, s1
        if self._ids[sl] != page_id:
            return (_RETRY if seq[sl] != s1 else _MISSING), None, 0, 0, s1
        cw = self._cells[sl]
        ref = cw & 0xFFFFFFFF
        size = (cw >> 32) & L.SIZE_MASK
        epoch = self._vers[2 * sl]
        lsn = self._vers[2 * sl + 1]
        c = self._chunk(ref >> L.CELL_BITS)
        off = (ref & L.CELL_MASK) * c.cell_size if c is not None else 0
        # A page never exceeds its cell: a larger size (a damaged cells
        # array) would read the next cell's bytes as this page's.
        if size == 0 or c is None or size > c.cell_size or off + size > len(c.map.mv):
            if seq[sl] != s1:
                return _RETRY, None, 0, 0, s1
            if size == 0:
                return _MISSING, None, 0, 0, s1
            if c is None:
                # The slot still names the page, but its chunk is
                # unpublished or its file is gone: the writer releases a
                # large page's chunk before the free moves the slot's
                # word, and its Close releases every chunk without moving
                # any. Retry: the word moves, or _check sees the writer
                # closed; _read bounds a word that stays put.
                return _RETRY, None, 0, 0, s1
            if off + size > len(c.map.mv):
                raise FormatError("slot %d (page %d): cell %#x, %d bytes outside its chunk of %d bytes"
                                  % (sl, page_id, ref, size, len(c.map.mv)))
            raise FormatError("slot %d (page %d): %d bytes in cell %#x of %d bytes"
                              % (sl, page_id, size, ref, c.cell_size))
        self._guard_chunk(c)
        out = fn(c, off, size)
        if seq[sl] != s1:
            return _RETRY, None, 0, 0, s1
        return _OK, out, epoch, lsn, s1

    def _read_round(self, page_id, fn):
        """Up to _TRIES_PER_ROUND attempts (Go's ShmReader.Read)."""
        forced = False
        tries = 0
        while True:
            sl = self._lookup(page_id)
            if sl is None or not self._ensure_slot(sl):
                return _MISSING, None, 0, 0, 0, 0
            res, out, epoch, lsn, s1 = self._read_once(sl, page_id, fn)
            if res == _OK:
                return res, out, epoch, lsn, s1, sl
            if res == _MISSING:
                if forced:
                    return res, None, 0, 0, 0, 0
                forced = True  # the slot no longer holds the page: look again once
                self._rebuild()
                continue
            tries += 1
            self.retries += 1
            if tries >= _TRIES_PER_ROUND:
                return _RETRY, None, 0, 0, s1, sl

    def _read(self, page_id, fn):
        """A consistent attempt at page_id, with Go's Reader.read policy:
        a sequence word odd and unchanged for writer_timeout is a stuck
        writer (WriterGone); a moving one is a busy page, retried for at
        most busy_timeout (ReadBusy). An even word fails attempts without
        moving only while the page's chunk is unavailable (_read_once):
        unchanged for writer_timeout, that is a corrupt chunk table
        (FormatError), never an endless retry."""
        page_id = _page_id(page_id)
        deadline = None
        stuck = None
        busy_until = None
        pause = 1e-6
        while True:
            self._check()
            res, out, epoch, lsn, s1, sl = self._read_round(page_id, fn)
            if res == _OK:
                return out, epoch, lsn, s1, sl
            if res == _MISSING:
                raise PageNotFound("page %d not found" % page_id)
            now = time.monotonic()
            if busy_until is None:
                busy_until = now + self.busy_timeout
            still = s1 == stuck and deadline is not None
            if not still:
                stuck, deadline, pause = s1, now + self.writer_timeout, 1e-6
            elif now > deadline:
                if s1 & 1 == 0:
                    raise FormatError("page %d: its chunk stayed unavailable (sequence %d) for more than %gs"
                                      % (page_id, s1, self.writer_timeout))
                raise WriterGone("page %d mid-write (sequence %d) for more than %gs"
                                 % (page_id, s1, self.writer_timeout))
            # Any word that moved, odd included: one odd at every look
            # but moving (a writer rewriting the page faster than the
            # reader looks) was retried forever.
            if not still and now > busy_until:
                raise ReadBusy("page %d changed under every read for %gs" % (page_id, self.busy_timeout))
            if s1 & 1 or still:
                time.sleep(pause)
                pause = min(2 * pause, 1e-3)
            else:
                os.sched_yield()

    # ---- public reads ---------------------------------------------------

    def _fast(self, page_id):
        """The first half of a seqlock attempt on the common path (reader
        open, writer checked recently, index current, slot and chunk
        mapped, sequence word even): (chunk, offset, size, slot, s1), or
        None, and the caller takes the general path (_read). The caller
        copies or views the bytes and then re-checks seq[slot] == s1."""
        if self._closed or self._gone is not None or not self._index_ok:
            return None
        self._guard()
        hq = self._hq
        if (hq[6] != L.STATE_LIVE or hq[9] != self._index_ver  # H_STATE, H_TABLE_VER
                or time.monotonic() - self._last_alive >= self.liveness_interval):
            return None
        sl = self._index.get(page_id)
        if sl is None or sl >= self._slots:
            return None
        s1 = self._seq[sl]
        if s1 & 1 or self._ids[sl] != page_id:
            return None
        cw = self._cells[sl]
        ref = cw & 0xFFFFFFFF
        idx = ref >> L.CELL_BITS
        c = self._chunks.get(idx)
        if c is None or c.gen != self._ct[2 * idx] & 0xFFFFFFFF:
            return None
        off = (ref & L.CELL_MASK) * c.cell_size
        size = (cw >> 32) & L.SIZE_MASK
        if size == 0 or size > c.cell_size or off + size > c.length:
            return None  # _read_once reports a size over the cell
        self._guard_chunk(c)
        return c, off, size, sl, s1

    def read(self, page_id):
        """A consistent copy of page page_id's bytes."""
        page_id = _page_id(page_id)
        f = self._fast(page_id)
        if f is not None:
            c, off, size, sl, s1 = f
            out = bytes(c.map.mv[off:off + size])
            if self._seq[sl] == s1:
                return out
        return self._read(page_id, _copy)[0]

    def read_page(self, page_id):
        """A consistent copy of the page with its epoch and last-write LSN
        (a Page)."""
        page_id = _page_id(page_id)
        data, epoch, lsn, _, _ = self._read(page_id, _copy)
        return Page(page_id, data, epoch, lsn)

    def read_into(self, page_id, buf):
        """Copy page page_id consistently into buf (a writable buffer of at
        least the page's size); returns the page's size."""
        page_id = _page_id(page_id)
        try:
            dst = memoryview(buf)
        except TypeError:
            raise _wrong_type("read_into's buffer", buf, "a writable buffer (bytearray, a numpy array)") from None
        except ValueError as e:  # numpy's datetime64 arrays export no buffer: a bare ValueError escaped
            raise InvalidType("mmsb: read_into's buffer (%s) exports no buffer: %s" % (type(buf).__name__, e)) from None
        if dst.readonly:
            # Found before the read: writing into it failed inside the seqlock.
            raise InvalidArgument("mmsb: read_into needs a writable buffer, not a read-only %s" % type(buf).__name__)
        if not dst.c_contiguous:
            raise InvalidArgument("mmsb: read_into needs a C-contiguous buffer")
        if holds_objects(buf, dst):
            # Page bytes over its PyObject pointers crashed the interpreter
            # at the next use of an item.
            raise InvalidArgument("mmsb: read_into's buffer (%s) holds Python objects, not bytes"
                                  % buffer_kind(buf, dst))
        # cast refuses a view with a 0 in its shape (an array of shape
        # (0, 4)): a bare TypeError escaped; it holds no bytes, as an empty
        # bytearray (writable: a page of 0 bytes is copied into it).
        dst = dst.cast("B") if dst.nbytes else memoryview(bytearray())

        def into(c, off, size):
            if size > len(dst):
                return -size
            dst[:size] = c.map.mv[off:off + size]
            return size

        n = self._read(page_id, into)[0]
        if n < 0:
            raise BufferTooSmall("mmsb: page %d is %d bytes, buffer holds %d" % (page_id, -n, len(dst)))
        return n

    def view(self, page_id, dtype=np.uint8):
        """A zero-copy, read-only numpy view of the page (a PageView). The
        view was consistent when taken; call .valid() after reading from
        .array (see PageView for the lifetime rule)."""
        page_id = _page_id(page_id)
        if dtype is None:  # numpy reads None as float64
            raise _wrong_type("dtype", dtype, "a numpy dtype")
        try:
            dt = np.dtype(dtype)
        except TypeError as e:
            raise InvalidType("mmsb: dtype %r is not a numpy dtype: %s" % (dtype, e)) from None
        item = dt.itemsize
        if item == 0 or dt.hasobject:
            # A size-less dtype ("U", "V0") divided by zero; objects cannot
            # be made from mapped bytes (numpy raised its own ValueError).
            raise InvalidArgument("mmsb: cannot view a page as dtype %s (%s)"
                                  % (dt, "it holds Python objects" if dt.hasobject else "its items have no size"))
        f = self._fast(page_id)
        if f is not None:
            c, off, size, sl, s1 = f
            if size % item == 0 and off % item == 0:
                arr = c.array(dt)[off // item:(off + size) // item]
                epoch, lsn = self._vers[2 * sl], self._vers[2 * sl + 1]
                if self._seq[sl] == s1:
                    return PageView(self, arr, sl, s1, page_id, epoch, lsn)

        def make(c, off, size):
            if size % item:
                return size
            if off % item == 0:
                return c.array(dt)[off // item:(off + size) // item]
            return np.frombuffer(c.map.mv, dtype=dt, count=size // item, offset=off)

        arr, epoch, lsn, s1, sl = self._read(page_id, make)
        if not isinstance(arr, np.ndarray):
            raise InvalidArgument("mmsb: page %d is %d bytes, not a multiple of %s's %d"
                                  % (page_id, arr, dt, dt.itemsize))
        return PageView(self, arr, sl, s1, page_id, epoch, lsn)

    def apply(self, page_id, fn, dtype=np.uint8):
        """fn(array) on a consistent zero-copy view of the page: fn runs,
        then the sequence is re-checked, and fn runs again on a fresh view
        if the page moved (so fn must not keep the array and must tolerate
        torn contents in a call that is then repeated). Returns fn's result
        from the consistent call; ReadBusy after busy_timeout."""
        if not callable(fn):
            raise _wrong_type("fn", fn, "callable")
        until = None
        while True:
            with self.view(page_id, dtype) as v:
                out = fn(v.array)
                if v._unchanged():
                    return out
            now = time.monotonic()
            if until is None:
                until = now + self.busy_timeout
            elif now > until:
                raise ReadBusy("page %d changed under every call for %gs" % (page_id, self.busy_timeout))

    def pages(self):
        """The live page IDs, ascending."""
        self._check()
        self._rebuild()
        return sorted(self._index)

    def snapshot(self, ids):
        """Consistent copies of pages ids at one committed LSN, as Go's
        Reader.Snapshot: read the committed LSN L, then every page under its
        seqlock, and accept when no page was written after L. Retries up to
        snapshot_retries times, then SnapshotBusy. A page missing at L is
        PageNotFound; a page missing because a commit after L freed it
        (applied before its LSN is published: the header's free word is
        above L) makes it wait for that commit and start over, and raise
        SnapshotBusy if the commit is not published within writer_timeout."""
        if isinstance(ids, (str, bytes, bytearray, memoryview)):
            raise _wrong_type("ids", ids, "a sequence of page IDs")  # b"\x01\x02" read pages 1 and 2
        try:
            ids = list(ids)
        except TypeError:
            raise _wrong_type("ids", ids, "a sequence of page IDs") from None
        ids = [_page_id(i) for i in ids]
        for _ in range(self.snapshot_retries):
            self._check()
            at = self._hq[L.H_LSN // 8]
            pages = {}
            ok = True
            freed = None  # (page, LSN of the free) to wait for
            for pid in ids:
                try:
                    data, epoch, lsn, _, _ = self._read(pid, _copy)
                except PageNotFound:
                    if self._hq[L.H_LSN // 8] != at:
                        ok = False  # freed by a commit after at: retry
                        break
                    # The committed LSN has not moved, but the writer
                    # applies a commit's operations before it publishes the
                    # commit's LSN: the page may have existed at at and
                    # been freed by a commit still being applied. The free
                    # word, stored before the freed slot changes and loaded
                    # after the page was found missing, tells: above at,
                    # wait for that commit and start over; otherwise every
                    # free applied so far is published, and the page was
                    # missing at at.
                    f = self._hq[L.H_FREE_LSN // 8]
                    if f <= at:
                        raise
                    freed = (pid, f)
                    ok = False
                    break
                if lsn > at:
                    ok = False
                    break
                pages[pid] = Page(pid, data, epoch, lsn)
            if ok:
                return Snapshot(at, pages)
            self.snapshot_retries_used += 1
            if freed is not None:
                self._await_free_commit(*freed)
            else:
                os.sched_yield()
        raise SnapshotBusy("%d attempts over %d pages" % (self.snapshot_retries, len(ids)))

    def _await_free_commit(self, page_id, free_lsn):
        """Wait until the writer has published the commit of LSN free_lsn,
        whose free may be why page_id is missing from a snapshot, at most
        writer_timeout (the commit is normally published microseconds after
        its operations are applied): SnapshotBusy when it is not,
        WriterGone or Stale when the writer goes."""
        try:
            self.wait(free_lsn - 1, timeout=self.writer_timeout)
        except Timeout:
            raise SnapshotBusy("page %d is gone, freed by the commit of LSN %d, which the writer did not "
                               "publish within %gs (committed LSN %d)"
                               % (page_id, free_lsn, self.writer_timeout, self._hq[L.H_LSN // 8])) from None

    # ---- waiting --------------------------------------------------------

    def wait(self, after_lsn, timeout=None):
        """Block until the committed LSN exceeds after_lsn and return it.
        Raises Timeout after timeout seconds (None: no limit; 0: check
        once), WriterGone or Stale. A negative timeout is InvalidArgument:
        C's mmsb_reader_wait and C++'s reader::wait read one as "no
        limit", and here it timed out at once, so code ported from them
        failed instead of waiting. Sleeps on the header's futex word (the
        writer wakes it after every commit; FUTEX_WAIT only reads the word,
        so the read-only mapping suffices), at most 5 ms at a time so that
        writer death is noticed; wait_mode="poll" sleeps with backoff
        instead."""
        after_lsn = _integer(after_lsn, "after_lsn")
        if not 0 <= after_lsn <= _U64_MAX:
            # A negative one returned at once (every LSN exceeds it), where
            # C's uint64_t after took -1 as 2**64-1 and waited.
            raise InvalidArgument("mmsb: after_lsn %d is outside 0..%d" % (after_lsn, _U64_MAX))
        if timeout is not None:
            if not isinstance(timeout, numbers.Real):
                raise _wrong_type("timeout", timeout, "a number of seconds or None")
            if timeout != timeout:  # NaN: no deadline would ever pass
                raise InvalidArgument("mmsb: timeout nan is not a number of seconds")
            timeout = _float_seconds(timeout)  # monotonic() + 10**400 raised OverflowError
            if timeout < 0:
                raise InvalidArgument("mmsb: timeout %gs is negative: pass None to wait without limit "
                                      "(what a negative timeout means in C and C++), 0 to check once" % timeout)
        end = None if timeout is None else time.monotonic() + timeout
        pause = 50e-6
        while True:
            if not self._closed:
                self._guard()
            lsn = self._hq[L.H_LSN // 8] if not self._closed else None
            if lsn is not None and lsn > after_lsn:
                return lsn
            self._check()
            left = 0.005
            if end is not None:
                left = min(left, end - time.monotonic())
                if left <= 0:
                    raise Timeout("committed LSN still %d after %gs" % (lsn, timeout))
            if self._wait_mode != "poll" and self._futex_wait(after_lsn, left):
                continue
            time.sleep(min(pause, left))
            pause = min(2 * pause, 1e-3)

    @property
    def wait_mode(self):
        """"futex" or "poll": what wait() uses (after a refused futex call,
        "auto" becomes "poll")."""
        return "poll" if self._wait_mode == "poll" else "futex"

    def _futex_wait(self, after_lsn, seconds):
        """One FUTEX_WAIT on the header's futex word; False when the kernel
        refused it (then wait() polls from now on, or raises in futex mode)."""
        if self._futex_addr is None:
            # The address of the read-only mapping (ctypes cannot take one
            # from a read-only buffer; numpy can). The array holds a buffer
            # export, dropped at close.
            self._futex_arr = np.frombuffer(self._hdr.mv, dtype=np.uint8, count=L.HEADER_USED)
            self._futex_addr = self._futex_arr.ctypes.data + L.H_FUTEX
        v = self._hi[L.H_FUTEX // 4]
        if self._hq[L.H_LSN // 8] > after_lsn:
            return True
        ts = _Timespec(int(seconds), int((seconds % 1) * 1e9))
        rc = _futex_fn()(ctypes.c_long(_SYS_FUTEX[platform.machine()]), ctypes.c_void_p(self._futex_addr),
                         ctypes.c_int(_FUTEX_WAIT), ctypes.c_uint(v), ctypes.byref(ts),
                         ctypes.c_void_p(0), ctypes.c_int(0))
        if rc == 0:
            return True
        e = ctypes.get_errno()
        if e in (errno.EAGAIN, errno.ETIMEDOUT, errno.EINTR):
            return True
        if self._wait_mode == "futex":
            raise MMSBError("futex wait refused: %s" % os.strerror(e))
        self._wait_mode = "poll"
        return False

    def __repr__(self):
        state = "closed" if self._closed else "generation %d, writer %d" % (self.generation, self.writer_pid)
        return "mmsb.Reader(%r, %s)" % (self.region, state)


def _copy(c, off, size):
    return bytes(c.map.mv[off:off + size])
