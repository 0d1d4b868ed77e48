"""The MMSB writer API over the C ABI (libmmsb.so) with ctypes.

    import numpy as np, mmsb

    with mmsb.open("./data", sync="group") as bus:
        ids = bus.create_pages(1000, 1024)             # 1,000 pages of 1 KiB
        bus.commit([(ids[0], 0, b"hello")])            # a small batch
        bus.commit_array(pages, offsets, data)         # numpy: a whole batch, one call
        bus.read(ids[0])[:5]                           # b'hello'

The library is found through the environment variable MMSB_LIB, else at
build/libmmsb.so of the repository this package sits in (a directory whose
go.mod names this module; an installed package looks in no build/), else
next to the package (mmsb/libmmsb.so). Build it with

    go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c

The bus runs the Go runtime inside this process: one libmmsb per process,
and no fork after open (multiprocessing must use the "spawn" start method).
Processes that only read should use the Go-free reader.
"""

import builtins
import ctypes
import operator
import os
import sys
import threading
from collections import namedtuple
from ctypes import (POINTER, Structure, c_char_p, c_double, c_int, c_int32,
                    c_int64, c_size_t, c_uint32, c_uint64, c_void_p)

import numpy as np

from . import errors
from ._buffers import buffer_kind, holds_objects

ABI_MAJOR = 1  # the MMSB_ABI_MAJOR this module speaks
ANY_EPOCH = (1 << 64) - 1  # in expect: that write applies whatever the page's epoch (MMSB_ANY_EPOCH)

SYNC_MODES = {"group": 0, "always": 1, "none": 2}
_SYNC_NAMES = {v: k for k, v in SYNC_MODES.items()}
_COMMIT_ASYNC = 1
_STATUS_BUFFER_TOO_SMALL = 102
# How many times a read grows its buffer and asks again when the page grew
# between calls (see Bus._read).
_READ_RETRIES = 8
_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1
# The C ABI's bound on one mmsb_create_pages (maxCreatePages): 2^24, 2^20
# in a 32-bit process.
_MAX_CREATE_PAGES = 1 << 24 if sys.maxsize > 1 << 32 else 1 << 20


# ctypes stores a Python int into a c_uint64/c_uint32 argument or field
# modulo 2**64/2**32 without complaint, and numpy's astype wraps the same
# way: page 2**64 + 1 became page 1 (free_page freed it), offset 2**32 + 8
# wrote at offset 8. Every integer bound for the library is range-checked
# here first.
def _uint(v, limit, what, write=None):
    """v as a Python int in 0..limit, else InvalidArgument naming what (of write number write, if given).

    A non-integer is a TypeError. The message is only formatted on failure
    (commit calls this per write). A bool is not an integer here: True
    was taken as 1 (commit([(True, 0, b"x")]) wrote page 1).
    """
    try:
        if isinstance(v, (bool, np.bool_)):
            raise TypeError
        i = operator.index(v)
    except TypeError:
        if write is not None:
            what = "%s of write %d" % (what, write)
        raise _wrong_type(what, v, "an integer") from None
    if not 0 <= i <= limit:
        if write is not None:
            what = "%s of write %d" % (what, write)
        raise errors.InvalidArgument("mmsb: %s %d is outside 0..%d" % (what, i, limit))
    return i


def _wrong_type(what, v, want):
    """InvalidType (also a TypeError) naming the argument what, which should be want."""
    return errors.InvalidType("mmsb: %s must be %s, not %s" % (what, want, type(v).__name__))


def _no_buffer(what, v, e):
    """InvalidType for an object whose buffer export fails with a
    ValueError (numpy: "cannot include dtype 'M' in a buffer"), which
    escaped bare, naming no argument."""
    return errors.InvalidType("mmsb: %s (%s) must be bytes-like, and it exports no buffer: %s" % (what, type(v).__name__, e))


def _meta_key(k, i):
    """Metadata key i as bytes: a str is encoded as UTF-8 (surrogateescape,
    so that a key read back as str round-trips), bytes taken as given."""
    if isinstance(k, str):
        try:
            return k.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as e:  # a lone surrogate surrogateescape did not make
            raise _not_utf8("key", i, k, e) from None
    if isinstance(k, (bytes, bytearray)):
        return bytes(k)
    raise _wrong_type("key of metadata entry %d" % i, k, "str or bytes")


def _not_utf8(what, i, s, e):
    """InvalidArgument for a str key or value of metadata entry i that has
    no UTF-8 form (a lone surrogate), which escaped as a bare
    UnicodeEncodeError naming no entry."""
    return errors.InvalidArgument("mmsb: %s of metadata entry %d (%.60r) is not encodable as UTF-8: %s at offset %d"
                                  % (what, i, s, e.reason, e.start))


def _meta_value(v, i):
    """Metadata value i as bytes: a str as UTF-8, else a bytes-like's bytes."""
    if isinstance(v, str):
        try:
            return v.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _not_utf8("value", i, v, e) from None
    try:
        mv = memoryview(v)
    except TypeError:
        raise _wrong_type("value of metadata entry %d" % i, v, "bytes-like or str") from None
    except ValueError as e:  # numpy datetime64: "cannot include dtype 'M' in a buffer"
        raise _no_buffer("value of metadata entry %d" % i, v, e) from None
    if holds_objects(v, mv):
        raise errors.InvalidArgument("mmsb: value of metadata entry %d holds Python objects, not bytes" % i)
    return mv.tobytes()


def _meta_entries(meta):
    """meta (a mapping, or a sequence of (key, value) pairs) as a ctypes
    array of _MetaEntry and the bytes objects it points into (keep them
    alive for the call). Values are bytes-like, or str (UTF-8). The library
    refuses a NUL in a key, too many entries and too much (64 KiB)."""
    if meta is None:
        return None, 0, ()
    if hasattr(meta, "items"):
        pairs = list(meta.items())
    else:
        pairs = _sequence(meta, "meta")
    keep = []
    arr = (_MetaEntry * len(pairs))()
    for i, pair in enumerate(pairs):
        try:
            k, v = pair
        except (TypeError, ValueError):
            raise _wrong_type("metadata entry %d" % i, pair, "a (key, value) pair") from None
        kb = _meta_key(k, i)
        vb = _meta_value(v, i)
        keep.append(kb)
        keep.append(vb)
        arr[i].key, arr[i].key_len = ctypes.cast(ctypes.c_char_p(kb), c_void_p), len(kb)
        arr[i].value, arr[i].value_len = ctypes.cast(ctypes.c_char_p(vb), c_void_p), len(vb)
    return arr, len(pairs), keep


def _sequence(v, what):
    """v as a list; a str or bytes-like is refused (iterating b"\x01" gave 1)."""
    if isinstance(v, (str, bytes, bytearray, memoryview)):
        raise _wrong_type(what, v, "a sequence")
    try:
        return list(v)
    except TypeError:
        raise _wrong_type(what, v, "a sequence") from None


def _data_bytes(data, i):
    """Write i's data as bytes. Only buffers: bytes(5) was 5 zero bytes and
    bytes([1, 2]) took a list of ints; an object array's buffer holds
    PyObject pointers."""
    try:
        mv = memoryview(data)
    except TypeError:
        raise _wrong_type("data of write %d" % i, data, "bytes-like (bytes, bytearray, memoryview, an array)") from None
    except ValueError as e:  # an object that refuses to export its buffer: numpy's datetime64 arrays
        raise _no_buffer("data of write %d" % i, data, e) from None
    if holds_objects(data, mv):
        raise errors.InvalidArgument("mmsb: data of write %d holds Python objects, not bytes" % i)
    return mv.tobytes()


def _uint_array(a, dtype, what):
    """a as a 1-D C-contiguous array of dtype, refusing values the conversion would change."""
    if isinstance(a, np.ndarray) and a.dtype == dtype:
        arr = a
    elif isinstance(a, (str, bytes, bytearray, memoryview)):
        raise _wrong_type(what, a, "a 1-D array or sequence of integers")
    else:
        limit = int(np.iinfo(dtype).max)
        try:
            src = np.asarray(a)
            if src.dtype.kind in "fO" and not isinstance(a, np.ndarray):
                # A list mixing ints above 2**63 with others becomes float64
                # (or objects): check the exact Python values instead.
                src = np.asarray(a, dtype=object)
        except (TypeError, ValueError, OverflowError) as e:
            raise errors.InvalidArgument("mmsb: %s: %s" % (what, e)) from None
        if src.dtype.kind == "O":
            arr = np.array([_exact_uint(v, limit, what) for v in src.flat], dtype=dtype).reshape(src.shape)
        elif src.dtype.kind == "f":
            # Whole numbers in range only; NaN fails every comparison.
            if not np.all((src >= 0) & (src < float(limit + 1)) & (np.trunc(src) == src)):
                raise errors.InvalidArgument("mmsb: %s must be integers in 0..%d" % (what, limit))
            arr = src.astype(dtype)
        elif src.dtype.kind in "iu":
            arr = src.astype(dtype)
            if not np.array_equal(arr, src):  # a negative or too large value wrapped
                raise errors.InvalidArgument("mmsb: %s must be integers in 0..%d" % (what, limit))
        else:
            raise errors.InvalidType("mmsb: %s of dtype %s are not integers" % (what, src.dtype))
    # Checked before ascontiguousarray, which makes a scalar a 1-element
    # array: create_pages(sizes=5) made one page of 5 bytes.
    if arr.ndim != 1:
        raise errors.InvalidArgument("mmsb: %s must be 1-D, not of shape %s" % (what, arr.shape))
    return np.ascontiguousarray(arr)


def _exact_uint(v, limit, what):
    """One element of a list as an int in 0..limit: whole floats pass, anything else is InvalidArgument."""
    try:
        i = int(v)
        ok = i == v and 0 <= i <= limit and not isinstance(v, (bool, np.bool_))
    except (TypeError, ValueError, OverflowError):  # None, a string, NaN, inf
        ok = False
    if not ok:
        raise errors.InvalidArgument("mmsb: %s must be integers in 0..%d, not %r" % (what, limit, v))
    return i


def _flag(v, what):
    """v's truth value; an object without one (a numpy array of several
    elements) is InvalidType naming what, not numpy's bare ValueError."""
    try:
        return bool(v)
    except (TypeError, ValueError) as e:
        raise errors.InvalidType("mmsb: %s must be a bool, not %s (%s)" % (what, type(v).__name__, e)) from None


def _path_bytes(p, what):
    """p as bytes for a C string; an embedded NUL would silently cut the path there."""
    try:
        b = os.fsencode(p)
    except TypeError:
        raise _wrong_type(what, p, "a path (str, bytes or os.PathLike)") from None
    except UnicodeEncodeError as e:
        # A lone surrogate that surrogateescape did not make ("\ud800"):
        # no file has that name; it escaped as a bare UnicodeEncodeError.
        raise errors.InvalidArgument("mmsb: %s %r cannot be a file name: %s at offset %d"
                                     % (what, p, e.reason, e.start)) from None
    if b"\0" in b:
        raise errors.InvalidArgument("mmsb: %s %r contains a NUL byte" % (what, p))
    return b


class _Options(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("sync", c_int32),
        ("shared", c_int32),
        ("shared_group", c_int32),
        ("shared_dir", c_char_p),
        ("checkpoint_bytes", c_int64),
        ("segment_bytes", c_int64),
        ("workers", c_int32),
        ("reserved", c_int32),
    ]


class _Write(Structure):
    _fields_ = [("page", c_uint64), ("offset", c_uint32), ("len", c_uint32), ("data", c_void_p)]


class _CommitInfo(Structure):
    _fields_ = [("first_lsn", c_uint64), ("last_lsn", c_uint64), ("time", c_int64)]


class _PageInfo(Structure):
    _fields_ = [("id", c_uint64), ("size", c_uint64), ("epoch", c_uint64),
                ("last_lsn", c_uint64), ("flags", c_uint32), ("derived", c_uint32)]


class _MetaEntry(Structure):
    _fields_ = [("key", c_void_p), ("key_len", c_size_t), ("value", c_void_p), ("value_len", c_size_t)]


class _CheckpointInfo(Structure):
    _fields_ = [("lsn", c_uint64), ("pages", c_uint64), ("bytes", c_uint64),
                ("segments_removed", c_uint64), ("duration_ns", c_int64)]


class _ReplayReport(Structure):
    _fields_ = [("lsn", c_uint64), ("checkpoint_lsn", c_uint64), ("live_hash", c_uint64),
                ("replay_hash", c_uint64), ("pages", c_uint64), ("pages_differing", c_uint64),
                ("bytes_differing", c_int64), ("l2_divergence", c_double),
                ("graph_equal", c_int32), ("equal", c_int32)]


class _Stats(Structure):
    _fields_ = [("struct_size", c_uint32), ("sync", c_int32), ("pages", c_uint64),
                ("logical_bytes", c_int64), ("last_lsn", c_uint64), ("written_lsn", c_uint64),
                ("durable_lsn", c_uint64), ("log_records", c_uint64), ("log_bytes", c_uint64),
                ("log_syncs", c_uint64), ("log_segments", c_uint64), ("checkpoints", c_uint64),
                ("last_checkpoint_lsn", c_uint64), ("checkpoint_failures", c_uint64),
                ("edges", c_uint64), ("bindings", c_uint64), ("heap_bytes", c_uint64),
                ("arena_bytes", c_int64), ("in_memory", c_int32), ("failed", c_int32)]


CommitInfo = namedtuple("CommitInfo", "first_lsn last_lsn time")
CommitInfo.__doc__ = "A committed batch: its first and last LSN and commit time (ns since the epoch)."
PageInfo = namedtuple("PageInfo", "id size epoch last_lsn flags derived")
PageInfo.__doc__ = "A page's description."
CheckpointInfo = namedtuple("CheckpointInfo", "lsn pages bytes segments_removed duration_ns")
CheckpointInfo.__doc__ = "What a checkpoint wrote."
ReplayReport = namedtuple("ReplayReport", "equal lsn checkpoint_lsn live_hash replay_hash pages "
                          "pages_differing bytes_differing l2_divergence graph_equal")
ReplayReport.__doc__ = "A replay of the log compared with the live state; equal is the verdict."


_MODULE_LINE = "module github.com/mmsb-go/mmsb"


def _source_tree(here):
    """The repository this package sits in (python/mmsb of a checkout), or None.

    An installed package (site-packages/mmsb) has no repository above it: its
    ../../build is a directory near site-packages that any writer of that
    prefix controls, and a library found there was loaded without a word.
    The repository is told by its go.mod naming this module."""
    root = os.path.normpath(os.path.join(here, "..", ".."))
    try:
        with builtins.open(os.path.join(root, "go.mod"), encoding="utf-8") as f:  # open is mmsb.open here
            first = f.readline().strip()
    except OSError:
        return None
    return root if first == _MODULE_LINE else None


def _candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    cands = []
    root = _source_tree(here)
    if root is not None:
        cands.append(os.path.join(root, "build", "libmmsb.so"))
    cands.append(os.path.join(here, "libmmsb.so"))
    return cands


def library_path():
    """Returns the path of libmmsb.so this module loads (see the module doc)."""
    env = os.environ.get("MMSB_LIB")
    if env:
        if not os.path.exists(env):
            raise errors.IOFailure("mmsb: MMSB_LIB=%s does not exist; build it with "
                                   "`go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c`" % env)
        return env
    cands = _candidates()
    for p in cands:
        if os.path.exists(p):
            return p
    if len(cands) == 2:
        raise errors.IOFailure(
            "mmsb: libmmsb.so not found: set MMSB_LIB to its path, or build it at %s "
            "(from the repository root: `go build -buildmode=c-shared -o build/libmmsb.so "
            "./bindings/c`), or put it at %s" % (cands[0], cands[1]))
    raise errors.IOFailure(
        "mmsb: libmmsb.so not found: set MMSB_LIB to its path (build it from the "
        "repository root: `go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c`), "
        "or put it at %s" % cands[0])


_lib = None
_lib_lock = threading.Lock()
_forked = False  # set in the child of a fork once the library is loaded


def _after_fork_in_child():
    global _forked
    if _lib is not None:
        _forked = True


def _declare(lib):
    h = c_uint64
    sigs = {
        "mmsb_abi_version": (c_uint32, []),
        "mmsb_status_name": (c_char_p, [c_int]),
        "mmsb_last_error": (c_size_t, [c_void_p, c_size_t]),
        "mmsb_open": (c_int, [c_char_p, POINTER(_Options), POINTER(c_uint64)]),
        "mmsb_close": (c_int, [h]),
        "mmsb_create_pages": (c_int, [h, c_void_p, c_void_p, c_size_t, c_void_p]),
        "mmsb_free_page": (c_int, [h, c_uint64]),
        "mmsb_commit": (c_int, [h, c_void_p, c_size_t, c_void_p, c_uint32, POINTER(_CommitInfo)]),
        "mmsb_commit_array": (c_int, [h, c_void_p, c_void_p, c_void_p, c_size_t, c_size_t, c_void_p,
                                      c_uint32, POINTER(_CommitInfo)]),
        "mmsb_wait_durable": (c_int, [h, c_uint64]),
        "mmsb_flush": (c_int, [h]),
        "mmsb_read": (c_int, [h, c_uint64, c_void_p, c_size_t, POINTER(c_size_t), POINTER(c_uint64)]),
        "mmsb_read_at": (c_int, [h, c_uint64, c_uint64, c_void_p, c_size_t, POINTER(c_size_t),
                                 POINTER(c_uint64)]),
        "mmsb_page_info_get": (c_int, [h, c_uint64, POINTER(_PageInfo)]),
        "mmsb_last_lsn": (c_int, [h, POINTER(c_uint64)]),
        "mmsb_state_hash": (c_int, [h, POINTER(c_uint64)]),
        "mmsb_checkpoint": (c_int, [h, POINTER(_CheckpointInfo)]),
        "mmsb_verify_replay": (c_int, [h, c_int, POINTER(_ReplayReport)]),
        "mmsb_stats_get": (c_int, [h, POINTER(_Stats)]),
        "mmsb_shared_path": (c_int, [h, c_void_p, c_size_t, POINTER(c_size_t)]),
        # ABI 1.2: page metadata.
        "mmsb_create_pages_meta": (c_int, [h, c_void_p, c_void_p, c_size_t, POINTER(_MetaEntry), c_size_t,
                                           c_void_p]),
        "mmsb_page_meta": (c_int, [h, c_uint64, c_void_p, c_size_t, POINTER(c_size_t)]),
        "mmsb_meta_decode": (c_int, [c_void_p, c_size_t, POINTER(_MetaEntry), c_size_t, POINTER(c_size_t)]),
        "mmsb_set_metadata": (c_int, [h, c_uint64, POINTER(_MetaEntry), c_size_t]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def load_library():
    """Loads libmmsb.so once per process and checks its ABI version."""
    global _lib
    with _lib_lock:
        if _lib is None:
            path = library_path()
            # A file that is no shared library raised ctypes' bare OSError,
            # and a library without MMSB's functions (MMSB_LIB naming
            # another one) an AttributeError from _declare, before the
            # version check could say which library was wrong.
            try:
                lib = ctypes.CDLL(path)
                version = lib.mmsb_abi_version
            except (OSError, AttributeError) as e:
                raise errors.IOFailure("mmsb: %s is not libmmsb.so: %s" % (path, e)) from None
            version.restype, version.argtypes = c_uint32, []
            v = version()
            if v // 10000 != ABI_MAJOR:
                raise errors.IOFailure("mmsb: %s has ABI version %d; this module speaks major %d"
                                       % (path, v, ABI_MAJOR))
            try:
                _declare(lib)
            except AttributeError as e:
                raise errors.IOFailure("mmsb: %s (ABI version %d) lacks a function of this module's: %s"
                                       % (path, v, e)) from None
            _lib = lib
            # The Go runtime does not survive fork (the child has one thread
            # and a runtime whose others are gone): refuse every call in a
            # forked child instead of hanging in it.
            os.register_at_fork(after_in_child=_after_fork_in_child)
        return _lib


def _raise(lib, status):
    """Raises the exception for status with the calling thread's last error message."""
    buf = ctypes.create_string_buffer(1024)
    n = lib.mmsb_last_error(buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        lib.mmsb_last_error(buf, len(buf))
    raise errors.error_for(status, buf.value.decode("utf-8", "replace"))


def _ptr(a):
    """The address of a C-contiguous numpy array's data.

    ctypes.c_char.from_buffer is about 4x cheaper than ndarray.ctypes.data
    (which builds a helper object per call); it needs a writable buffer, so
    read-only arrays take the slower path.
    """
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError, BufferError):
        return a.ctypes.data


class Bus:
    """An open bus (a Go mmsb.Bus in this process). Use ``mmsb.open``.

    Methods are safe to call from several threads (ctypes releases the GIL
    during the call; the bus serialises commits). After ``close`` every
    method raises Closed.
    """

    def __init__(self, lib, handle, path):
        self._lib = lib
        self._h = handle
        self.path = path
        self._local = threading.local()
        # Taken by close alone: two threads closing at once must not both
        # take the handle (the second would raise Closed from mmsb_close,
        # and closing twice is documented as a no-op). With the GIL the
        # check and the swap below cannot interleave; without it
        # (free-threaded builds) they can.
        self._close_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------

    def close(self):
        """Syncs the log and closes the bus (no checkpoint). Closing twice is a no-op."""
        with self._close_lock:
            if self._h is None or _forked:  # a forked child must not enter the Go runtime
                self._h = None
                return
            h, self._h = self._h, None
        st = self._lib.mmsb_close(h)
        if st:
            _raise(self._lib, st)

    @property
    def closed(self):
        """True once close was called."""
        return self._h is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing useful to do in a finalizer
            pass

    def _handle(self):
        h = self._h
        if h is None:
            raise errors.Closed("mmsb: bus %s is closed" % self.path)
        if _forked:
            raise errors.Closed("mmsb: this process is a fork of the one that opened bus %s; the Go runtime "
                                "does not survive fork: use multiprocessing.set_start_method(\"spawn\"), and "
                                "mmsb.Reader to read in child processes" % self.path)
        return h

    def _check(self, st):
        if st:
            _raise(self._lib, st)

    # -- pages -----------------------------------------------------------

    def create_pages(self, count=None, size=None, *, sizes=None, ids=None, meta=None):
        """Creates pages in one logged batch (all or none) and returns their IDs (numpy uint64).

        ``create_pages(n, size)`` makes n pages of size bytes with the next free
        IDs; ``create_pages(sizes=[...], ids=[...])`` gives each its size and
        ID (0: assign). ``meta`` (as for set_metadata) is set on every page
        in the same batch. Raises PageExists, InvalidPage; Failed when the bus
        failed, with the IDs in its page_ids if the batch was logged and
        created first (the pages exist), else page_ids None.
        """
        if sizes is None:
            if count is None or size is None:
                raise errors.InvalidArgument("mmsb: create_pages needs count and size, or sizes=")
            # Checked before allocating: a garbage count would allocate
            # gigabytes here before the library refused it.
            count = _uint(count, _MAX_CREATE_PAGES, "page count")
            sizes = np.full(count, _uint(size, _U32_MAX, "page size"), dtype=np.uint32)
        else:
            sizes = _uint_array(sizes, np.uint32, "sizes")
        n = sizes.shape[0]
        idp = None
        if ids is not None:
            ids = _uint_array(ids, np.uint64, "ids")
            if ids.shape != sizes.shape:
                raise errors.InvalidArgument("mmsb: %d ids for %d sizes" % (ids.shape[0], n))
            idp = _ptr(ids)
        out = np.zeros(n, dtype=np.uint64)
        if meta is None:
            st = self._lib.mmsb_create_pages(self._handle(), idp, _ptr(sizes), n, _ptr(out))
        else:
            arr, m, _keep = _meta_entries(meta)
            st = self._lib.mmsb_create_pages_meta(self._handle(), idp, _ptr(sizes), n, arr, m, _ptr(out))
        if st:
            try:
                _raise(self._lib, st)
            except errors.Failed as e:
                # Logged and created, then the bus failed (fsync,
                # replication): the library filled out, and the pages
                # exist. IDs are never 0, so a zero means it did not.
                if n and out.all():
                    e.page_ids = out
                raise
        return out

    def create_page(self, size, id=0):  # noqa: A002 - the bus's own name for it
        """Creates one page and returns its ID."""
        return int(self.create_pages(sizes=[size], ids=[id])[0])

    def free_page(self, page):
        """Frees a page (PageInUse while edges or a binding use it)."""
        self._check(self._lib.mmsb_free_page(self._handle(), _uint(page, _U64_MAX, "page")))

    # -- commits ---------------------------------------------------------

    @staticmethod
    def _expect(expect, n):
        """expect as a uint64 array of n epochs (None entries: ANY_EPOCH), or None."""
        if expect is None:
            return None
        if not isinstance(expect, np.ndarray):
            expect = [ANY_EPOCH if e is None else _uint(e, _U64_MAX, "expected epoch")
                      for e in _sequence(expect, "expect")]
        arr = _uint_array(expect, np.uint64, "expected epochs")
        if arr.shape != (n,):
            raise errors.InvalidArgument("mmsb: %d expected epochs for %d writes" % (arr.size, n))
        return arr

    def commit(self, writes, *, wait=True, expect=None):
        """Commits writes as one atomic batch and returns its CommitInfo.

        writes is a sequence of (page, offset, data) with data bytes-like.
        wait=False returns once the batch is logged and applied, before it
        is durable (then call wait_durable(info.last_lsn)). expect, for
        optimistic concurrency, holds one expected page epoch per write
        (None or ANY_EPOCH: no check); a mismatch raises Conflict and
        nothing applies. For large batches of equal-sized writes use
        commit_array.
        """
        if not isinstance(writes, (list, tuple)):
            writes = _sequence(writes, "writes")
        n = len(writes)
        arr = (_Write * n)()
        keep = []
        for i, wr in enumerate(writes):
            try:
                page, offset, data = wr
            except TypeError:
                raise _wrong_type("write %d" % i, wr, "a (page, offset, data) tuple") from None
            except ValueError:
                raise errors.InvalidArgument("mmsb: write %d must be a (page, offset, data) tuple, not %d values"
                                             % (i, len(wr))) from None
            w = arr[i]
            w.page = _uint(page, _U64_MAX, "page", i)
            w.offset = _uint(offset, _U32_MAX, "offset", i)
            if not isinstance(data, bytes):
                data = _data_bytes(data, i)
            keep.append(data)
            w.len = _uint(len(data), _U32_MAX, "length", i)
            w.data = ctypes.cast(c_char_p(data), c_void_p).value if data else None
        info = _CommitInfo()
        ex = self._expect(expect, n)
        self._check(self._lib.mmsb_commit(self._handle(), arr, n, None if ex is None else _ptr(ex),
                                          0 if _flag(wait, "wait") else _COMMIT_ASYNC, ctypes.byref(info)))
        return CommitInfo(info.first_lsn, info.last_lsn, info.time)

    def commit_array(self, pages, offsets, data, *, wait=True, expect=None):
        """Commits a whole batch of fixed-width writes with one call.

        pages (uint64) and offsets (uint32) are 1-D arrays of n entries;
        data holds the n writes' bytes: a (n, width) uint8 array, or any
        C-contiguous array or bytes-like of n*width bytes. Arrays of the
        right dtype are passed to the library without a copy. Write i puts
        data's row i at offsets[i] of pages[i]; the batch is atomic. wait
        and expect (a uint64 array of n epochs) as for commit.
        """
        pages = _uint_array(pages, np.uint64, "pages")
        offsets = _uint_array(offsets, np.uint32, "offsets")
        n = pages.shape[0]
        if offsets.shape[0] != n:
            raise errors.InvalidArgument("mmsb: %d pages but %d offsets" % (n, offsets.shape[0]))
        if not isinstance(data, np.ndarray):
            try:
                mv = memoryview(data)
            except TypeError:
                raise _wrong_type("data", data, "bytes-like (bytes, bytearray, memoryview, an array)") from None
            except ValueError as e:
                raise _no_buffer("data", data, e) from None
            if holds_objects(data, mv):
                raise errors.InvalidArgument("mmsb: data holds Python objects, not bytes")
            # np.frombuffer refused a non-contiguous buffer with a BufferError.
            data = np.frombuffer(mv if mv.c_contiguous else mv.tobytes(), dtype=np.uint8)
        elif data.dtype.hasobject:
            # Its bytes are PyObject pointers: committing them wrote this
            # process's addresses into the pages.
            raise errors.InvalidArgument("mmsb: data of dtype %s holds Python objects, not bytes" % data.dtype)
        elif not data.flags.c_contiguous:
            data = np.ascontiguousarray(data)
        nbytes = data.nbytes
        if n == 0 or nbytes % n:
            raise errors.InvalidArgument("mmsb: %d data bytes do not split into %d equal writes" % (nbytes, n))
        ex = None if expect is None else self._expect(expect, n)
        info = _CommitInfo()
        self._check(self._lib.mmsb_commit_array(
            self._handle(), _ptr(pages), _ptr(offsets), _ptr(data), n, nbytes // n,
            None if ex is None else _ptr(ex), 0 if _flag(wait, "wait") else _COMMIT_ASYNC, ctypes.byref(info)))
        return CommitInfo(info.first_lsn, info.last_lsn, info.time)

    def wait_durable(self, lsn):
        """Waits until every operation up to lsn is durable per the sync mode.
        An lsn after the last committed one raises InvalidOption."""
        self._check(self._lib.mmsb_wait_durable(self._handle(), _uint(lsn, _U64_MAX, "lsn")))

    def flush(self):
        """Waits until everything committed so far is durable."""
        self._check(self._lib.mmsb_flush(self._handle()))

    # -- reads -----------------------------------------------------------

    def _scratch(self, need):
        # One buffer per thread: ctypes drops the GIL during calls, so two
        # threads must not share it.
        buf = getattr(self._local, "buf", None)
        if buf is None or len(buf) < need:
            buf = ctypes.create_string_buffer(max(need, 4096))
            self._local.buf = buf
        return buf

    def _read(self, call, page):
        h = self._handle()
        n = c_size_t()
        epoch = c_uint64()
        buf = self._scratch(0)
        st = call(h, buf, len(buf), n, epoch)
        # A page freed and created again with the same ID and a larger size
        # between two calls makes the second one too small as well: grow and
        # ask again while the size keeps changing. Each retry needs another
        # re-creation to land between two calls, so this ends; the bound
        # turns a library that reports sizes it then refuses into an error.
        for _ in range(_READ_RETRIES):
            if st != _STATUS_BUFFER_TOO_SMALL:
                break
            buf = self._scratch(n.value)
            st = call(h, buf, len(buf), n, epoch)
        self._check(st)
        return ctypes.string_at(buf, n.value), epoch.value

    def read(self, page):
        """Returns page's current bytes (a copy)."""
        return self.read_with_epoch(page)[0]

    def read_with_epoch(self, page):
        """Returns (bytes, epoch) of page."""
        lib = self._lib
        page = _uint(page, _U64_MAX, "page")
        return self._read(lambda h, b, c, n, e: lib.mmsb_read(h, page, b, c, ctypes.byref(n), ctypes.byref(e)),
                          page)

    def read_into(self, page, out):
        """Copies page's bytes into out (a writable buffer, e.g. a numpy array) and returns (nbytes, epoch).

        Raises BufferTooSmall when out cannot hold the page.
        """
        try:
            mv = memoryview(out)
        except TypeError:
            raise _wrong_type("read_into's buffer", out, "a writable buffer (bytearray, a numpy array)") from None
        except ValueError as e:
            raise _no_buffer("read_into's buffer", out, e) from None
        if mv.readonly:
            raise errors.InvalidArgument("mmsb: read_into needs a writable buffer")
        if not mv.c_contiguous:
            raise errors.InvalidArgument("mmsb: read_into needs a C-contiguous buffer")
        if holds_objects(out, mv):
            # Page bytes over its PyObject pointers crashed the interpreter
            # at the next use of an item.
            raise errors.InvalidArgument("mmsb: read_into's buffer (%s) holds Python objects, not bytes"
                                         % buffer_kind(out, mv))
        # cast refuses a view with a 0 in its shape (an array of shape
        # (0, 4)): a bare TypeError escaped; it holds no bytes, as b"".
        mv = mv.cast("B") if mv.nbytes else memoryview(b"")
        n = c_size_t()
        epoch = c_uint64()
        cbuf = (ctypes.c_char * len(mv)).from_buffer(mv) if len(mv) else None
        page = _uint(page, _U64_MAX, "page")
        self._check(self._lib.mmsb_read(self._handle(), page, cbuf, len(mv), ctypes.byref(n), ctypes.byref(epoch)))
        return n.value, epoch.value

    def read_at(self, page, lsn):
        """Returns page's bytes as of LSN lsn (replayed from the log; LogTruncated if it no longer holds it, InvalidOption for an LSN not yet committed). An LSN inside a batch (a commit of several deltas, a propagation wave) reads the state at the batch's end: no read sees half a batch."""
        lib = self._lib
        page, lsn = _uint(page, _U64_MAX, "page"), _uint(lsn, _U64_MAX, "lsn")
        return self._read(lambda h, b, c, n, e: lib.mmsb_read_at(h, page, lsn, b, c, ctypes.byref(n),
                                                                  ctypes.byref(e)), page)[0]

    def page_info(self, page):
        """Returns a PageInfo."""
        pi = _PageInfo()
        self._check(self._lib.mmsb_page_info_get(self._handle(), _uint(page, _U64_MAX, "page"), ctypes.byref(pi)))
        return PageInfo(pi.id, pi.size, pi.epoch, pi.last_lsn, pi.flags, bool(pi.derived))

    def metadata(self, page):
        """Returns page's metadata as a list of (key, value) pairs in order:
        key a str (UTF-8, surrogateescape), value bytes; [] when it has none."""
        lib = self._lib
        page = _uint(page, _U64_MAX, "page")
        enc = self._read(lambda h, b, c, n, e: lib.mmsb_page_meta(h, page, b, c, ctypes.byref(n)), page)[0]
        count = c_size_t()
        st = lib.mmsb_meta_decode(enc, len(enc), None, 0, ctypes.byref(count))
        if st != _STATUS_BUFFER_TOO_SMALL:
            self._check(st)
        arr = (_MetaEntry * count.value)()
        self._check(lib.mmsb_meta_decode(enc, len(enc), arr, count.value, ctypes.byref(count)))
        return [(ctypes.string_at(e.key, e.key_len).decode("utf-8", "surrogateescape"),
                 ctypes.string_at(e.value, e.value_len)) for e in arr]

    def set_metadata(self, page, meta):
        """Replaces page's metadata (logged) with meta: a mapping or a
        sequence of (key, value) pairs, keys str or bytes (no NUL), values
        bytes-like or str (UTF-8). Empty clears it. A key given twice keeps
        its first place and its last value. Raises InvalidArgument (a NUL
        in a key, a str with no UTF-8 form), InvalidType (a key, value or
        entry of another type), InvalidPage (more than 8191 entries or
        64 KiB encoded), PageNotFound; nothing changes on an error."""
        page = _uint(page, _U64_MAX, "page")
        arr, n, _keep = _meta_entries(meta)
        self._check(self._lib.mmsb_set_metadata(self._handle(), page, arr, n))

    @property
    def last_lsn(self):
        """The LSN of the last applied operation."""
        v = c_uint64()
        self._check(self._lib.mmsb_last_lsn(self._handle(), ctypes.byref(v)))
        return v.value

    def state_hash(self):
        """The 64-bit state hash (int); `mmsb inspect` prints it as 16 hex digits."""
        v = c_uint64()
        self._check(self._lib.mmsb_state_hash(self._handle(), ctypes.byref(v)))
        return v.value

    # -- maintenance -----------------------------------------------------

    def checkpoint(self):
        """Writes a checkpoint now and returns a CheckpointInfo."""
        ci = _CheckpointInfo()
        self._check(self._lib.mmsb_checkpoint(self._handle(), ctypes.byref(ci)))
        return CheckpointInfo(ci.lsn, ci.pages, ci.bytes, ci.segments_removed, ci.duration_ns)

    def verify_replay(self, from_newest_checkpoint=False):
        """Replays the log and compares it with the live state; returns a ReplayReport (see .equal)."""
        r = _ReplayReport()
        self._check(self._lib.mmsb_verify_replay(self._handle(), 1 if _flag(from_newest_checkpoint, "from_newest_checkpoint") else 0,
                                                 ctypes.byref(r)))
        return ReplayReport(bool(r.equal), r.lsn, r.checkpoint_lsn, r.live_hash, r.replay_hash, r.pages,
                            r.pages_differing, r.bytes_differing, r.l2_divergence, bool(r.graph_equal))

    def stats(self):
        """Returns the bus's statistics as a dict (sync is "group", "always" or "none")."""
        s = _Stats()
        s.struct_size = ctypes.sizeof(_Stats)
        self._check(self._lib.mmsb_stats_get(self._handle(), ctypes.byref(s)))
        d = {name: getattr(s, name) for name, _ in _Stats._fields_ if name != "struct_size"}
        d["sync"] = _SYNC_NAMES.get(s.sync, str(s.sync))
        d["in_memory"] = bool(s.in_memory)
        d["failed"] = bool(s.failed)
        return d

    @property
    def shared_path(self):
        """The directory of the bus's shared region ("" unless opened with shared=True)."""
        # Asked for its size first: a fixed 4 KiB buffer raised BufferTooSmall
        # for a longer path. Decoded as os functions decode paths: a
        # shared_dir with bytes that are not UTF-8 raised UnicodeDecodeError.
        h = self._handle()
        n = c_size_t()
        st = self._lib.mmsb_shared_path(h, None, 0, ctypes.byref(n))
        if st != _STATUS_BUFFER_TOO_SMALL:
            self._check(st)
        buf = ctypes.create_string_buffer(n.value + 1)
        self._check(self._lib.mmsb_shared_path(h, buf, len(buf), ctypes.byref(n)))
        return os.fsdecode(buf.raw[:n.value])

    def __repr__(self):
        return "<mmsb.Bus %r%s>" % (self.path, " closed" if self.closed else "")


def _int(v, bits, what):
    """v as a Python int that fits a signed field of bits bits, else InvalidOption naming what."""
    try:
        i = operator.index(v)
    except TypeError:
        raise _wrong_type(what, v, "an integer") from None
    lim = 1 << (bits - 1)
    if not -lim <= i < lim:
        raise errors.InvalidOption("mmsb: %s %d does not fit %d bits" % (what, i, bits))
    return i


def open(dir, sync="group", *, shared=False, shared_dir=None, shared_group=False,  # noqa: A001,A002
         checkpoint_bytes=0, segment_bytes=0, workers=0):
    """Opens (or creates) the bus in dir and returns a Bus; dir "" is an in-memory bus.

    sync: "group" (default: a commit returns after an fsync shared with
    concurrent committers), "always" or "none" (returns once written to the
    OS). shared=True publishes pages in shared memory for readers in other
    processes. Raises Locked when another writer holds dir.
    """
    if not isinstance(sync, str) or sync not in SYNC_MODES:
        raise errors.InvalidOption("mmsb: sync mode %r is not one of %s" % (sync, ", ".join(SYNC_MODES)))
    lib = load_library()
    if _forked:
        # As Bus._handle: the Go runtime the parent loaded does not survive
        # fork. mmsb_open entered it anyway and hung (6 of 30 forks while
        # the parent's threads committed) or made a bus no call could use.
        raise errors.Closed("mmsb: cannot open bus %r in a fork of the process that loaded libmmsb.so; the Go "
                            "runtime does not survive fork: use multiprocessing.set_start_method(\"spawn\"), "
                            "and mmsb.Reader to read in child processes" % (dir,))
    o = _Options()
    o.struct_size = ctypes.sizeof(_Options)
    o.sync = SYNC_MODES[sync]
    o.shared = 1 if _flag(shared, "shared") else 0
    o.shared_group = 1 if _flag(shared_group, "shared_group") else 0
    o.shared_dir = _path_bytes(shared_dir, "shared_dir") if shared_dir else None
    # The fields are int64/int32: ctypes would keep only the low bits.
    o.checkpoint_bytes = _int(checkpoint_bytes, 64, "checkpoint_bytes")
    o.segment_bytes = _int(segment_bytes, 64, "segment_bytes")
    o.workers = _int(workers, 32, "workers")
    h = c_uint64()
    try:
        path = os.fspath(dir)
    except TypeError:
        raise _wrong_type("dir", dir, "a path (str, bytes or os.PathLike)") from None
    st = lib.mmsb_open(_path_bytes(path, "dir"), ctypes.byref(o), ctypes.byref(h))
    if st:
        _raise(lib, st)
    return Bus(lib, h.value, path)
