"""The reader's answers to bad arguments from its caller: the package's
documented exception classes, never a value silently taken for another
(regions written by the test itself, fakeregion.py)."""

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import mmsb
from mmsb import _layout as L
from fakeregion import FakeRegion


@pytest.fixture
def region(tmp_path):
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    yield fr
    fr.close()


@pytest.mark.parametrize("bad", [1.5, 1.0, "1", None, b"\x01"])
def test_page_id_must_be_an_integer(region, bad):
    """int() made read(1.5) and read("1") read page 1; now a page ID is an
    integer (numpy's too) or a TypeError, as in the writer."""
    with mmsb.Reader(region=region.path) as r:
        assert r.read(np.uint64(1)) == r.read(1) == struct.pack("<Q", 1) * 128
        calls = [lambda: r.read(bad), lambda: r.read_page(bad), lambda: r.view(bad),
                 lambda: r.read_into(bad, bytearray(2048)), lambda: r.snapshot([1, bad]),
                 lambda: r.apply(bad, lambda a: 0)]
        for call in calls:
            with pytest.raises(TypeError):
                call()
        assert r.read_page(np.int64(2)).id == 2 and type(r.read_page(np.int64(2)).id) is int


@pytest.mark.parametrize("dtype", [str, "U", "V0", object, [("a", "O")]])
def test_view_dtype_must_have_sized_plain_items(region, dtype):
    """A dtype whose items have no size raised ZeroDivisionError; one that
    holds Python objects numpy's own ValueError. Both are InvalidArgument
    (an MMSBError and a ValueError) before the region is touched."""
    with mmsb.Reader(region=region.path) as r:
        with pytest.raises(mmsb.InvalidArgument, match="dtype"):
            r.view(1, dtype=dtype)
        with pytest.raises(mmsb.InvalidArgument):
            r.apply(1, lambda a: a.sum(), dtype=dtype)
        with r.view(1, dtype="<u8") as v:  # a sized plain dtype still works
            assert (v.array == 1).all() and v.valid()


def test_path_that_names_no_file_is_invalid_argument(region, tmp_path):
    """A str path with a lone surrogate ("\ud800": no byte surrogateescape
    stands for) names no file: it raised a bare UnicodeEncodeError (from
    os, or hashing the bus directory); InvalidArgument naming it."""
    bus = str(tmp_path / "bus")
    os.mkdir(bus)
    for call, what in ((lambda: mmsb.Reader(bus + "\ud800"), "bus directory"),
                       (lambda: mmsb.Reader(bus, shared_dir="/dev/shm/\ud800"), "shared_dir"),
                       (lambda: mmsb.Reader(region=region.path + "\ud800"), "region"),
                       (lambda: mmsb.region_path("\ud800"), "bus directory")):
        with pytest.raises(mmsb.InvalidArgument, match="%s .* cannot be a file name" % what):
            call()


def test_nul_in_a_path_is_invalid_argument(region, tmp_path):
    """A NUL in a path raised a bare ValueError from os (C would cut the
    path there, another bus's region); InvalidArgument, as the writer."""
    bus = str(tmp_path / "bus")
    os.mkdir(bus)
    for call in (lambda: mmsb.Reader(bus + "\0x"), lambda: mmsb.Reader(bus, shared_dir="/dev/shm\0x"),
                 lambda: mmsb.Reader(region=region.path + "\0x"), lambda: mmsb.region_path(bus + "\0x")):
        with pytest.raises(mmsb.InvalidArgument, match="NUL"):
            call()


def test_os_errors_at_open_are_iofailure(region, tmp_path):
    """A region path through a regular file raised NotADirectoryError, a
    bare OSError; now IOFailure (still an OSError), as C's
    MMSB_READER_ERR_SYSTEM. A missing region is still WriterGone. (A
    shared_dir that is a file is InvalidArgument naming it:
    test_configuration_mistakes_are_invalid_argument.)"""
    f = tmp_path / "plain-file"
    f.write_bytes(b"x")
    for call in (lambda: mmsb.Reader(region=str(f / "r")),):
        with pytest.raises(mmsb.IOFailure, match="Not a directory") as ei:
            call()
        assert isinstance(ei.value, OSError) and isinstance(ei.value, mmsb.MMSBError)
    with pytest.raises(mmsb.WriterGone):
        mmsb.Reader(region=str(tmp_path / "no-such-region"))


def test_region_directory_replaced_by_a_file(region, tmp_path):
    """The region directory replaced by a file under an open reader, and
    the header saying the slot arrays grew: the remap of the slot files
    raised NotADirectoryError from pages(). The reader opens files
    relative to the directory it opened (test_reader_damage.py), so the
    file in its path is never looked at; with the slot files removed from
    that directory too, they hold fewer slots than the header publishes:
    FormatError, as the Go reader's remapSlots."""
    with mmsb.Reader(region=region.path) as r:
        assert r.pages() == [1, 2]
        moved = str(tmp_path / "moved")
        os.rename(region.path, moved)
        with open(region.path, "wb") as f:
            f.write(b"x")
        for name in (L.IDS_FILE, L.VERS_FILE, L.CELLS_FILE, L.SEQ_FILE):
            os.unlink(os.path.join(moved, name))
        region.put(region.hdr, "<Q", L.H_SLOT_CAP, 64)
        region.put(region.hdr, "<Q", L.H_HW, 20)
        region.put(region.hdr, "<Q", L.H_TABLE_VER, 2)
        with pytest.raises(mmsb.FormatError, match="hold 0 slots, the header publishes 64"):
            r.pages()


def _wrong_type(call, what):
    with pytest.raises(mmsb.InvalidType) as ei:
        call()
    e = ei.value
    assert isinstance(e, TypeError) and isinstance(e, mmsb.InvalidArgument), e
    assert what in str(e), (what, str(e))


def test_wrong_types_name_the_argument(region, tmp_path):
    """Wrong types raised TypeErrors from inside the package naming no
    argument ("'>' not supported between instances of 'int' and
    'NoneType'", "'NoneType' object is not callable", "expected str, bytes
    or os.PathLike object, not int", numpy's "data type 'foo' not
    understood"); now InvalidType (a TypeError and an InvalidArgument)
    naming it."""
    bus = str(tmp_path / "bus")
    os.mkdir(bus)
    _wrong_type(lambda: mmsb.Reader(123), "bus directory")
    _wrong_type(lambda: mmsb.Reader(bus, shared_dir=5), "shared_dir")
    _wrong_type(lambda: mmsb.Reader(region=5), "region")
    _wrong_type(lambda: mmsb.region_path(None), "bus directory")
    with mmsb.Reader(region=region.path) as r:
        _wrong_type(lambda: r.read(None), "page ID")
        _wrong_type(lambda: r.read_into(1, None), "buffer")
        _wrong_type(lambda: r.read_into(1, "x" * 2048), "buffer")
        _wrong_type(lambda: r.view(1, "foo"), "dtype")
        _wrong_type(lambda: r.view(1, None), "dtype")  # numpy made None float64
        _wrong_type(lambda: r.apply(1, None), "fn")
        _wrong_type(lambda: r.apply(1, 5), "fn")
        _wrong_type(lambda: r.snapshot(None), "ids")
        _wrong_type(lambda: r.snapshot(5), "ids")
        _wrong_type(lambda: r.snapshot(np.array([[1, 2]])), "page ID")
        _wrong_type(lambda: r.wait(None, timeout=0.01), "after_lsn")
        _wrong_type(lambda: r.wait("1", timeout=0.01), "after_lsn")
        _wrong_type(lambda: r.wait(100, timeout="x"), "timeout")


def test_ids_as_bytes_are_refused(region):
    """snapshot(b"\\x01\\x02") iterated the bytes and returned pages 1 and 2."""
    with mmsb.Reader(region=region.path) as r:
        for ids in (b"\x01\x02", bytearray(b"\x01"), "12"):
            _wrong_type(lambda: r.snapshot(ids), "ids")
        assert sorted(r.snapshot(np.array([2, 1], dtype=np.uint64)).pages) == [1, 2]


@pytest.mark.parametrize("bad", [-1, 2**64, -2**70])
def test_page_ids_outside_uint64_are_invalid(region, bad):
    """A negative page ID, or one past 2**64 - 1, was PageNotFound (a
    KeyError) as if it could exist; it is InvalidArgument, as in the
    writer."""
    with mmsb.Reader(region=region.path) as r:
        for call in (lambda: r.read(bad), lambda: r.read_page(bad), lambda: r.view(bad),
                     lambda: r.read_into(bad, bytearray(2048)), lambda: r.snapshot([1, bad])):
            with pytest.raises(mmsb.InvalidArgument, match="outside"):
                call()
        with pytest.raises(mmsb.PageNotFound):
            r.read(0)  # in range, never a live page


def test_read_into_buffer_problems_are_mmsb_errors(region):
    """A read-only buffer raised "cannot modify read-only memory" from
    inside the seqlock, a non-contiguous one memoryview's TypeError, a
    short one a bare ValueError; now InvalidArgument, InvalidArgument and
    BufferTooSmall (still a ValueError)."""
    with mmsb.Reader(region=region.path) as r:
        for buf in (bytes(2048), np.frombuffer(bytes(2048), dtype=np.uint8)):
            with pytest.raises(mmsb.InvalidArgument, match="read-only"):
                r.read_into(1, buf)
        with pytest.raises(mmsb.InvalidArgument, match="contiguous"):
            r.read_into(1, np.zeros(4096, dtype=np.uint8)[::2])
        with pytest.raises(mmsb.BufferTooSmall, match="1024 bytes") as ei:
            r.read_into(1, bytearray(10))
        assert isinstance(ei.value, ValueError)
        out = np.zeros((4, 32), dtype=np.float64)  # any writable C-contiguous buffer
        assert r.read_into(1, out) == 1024 and out.view("<u8").ravel()[0] == 1


@pytest.mark.parametrize("shape", [(0,), (0, 4), (4, 0)])
def test_read_into_empty_buffer_of_any_shape(region, shape):
    """An empty array with a 0 in a shape of several dimensions made
    memoryview.cast raise a bare TypeError ("cannot cast view with zeros
    in shape or strides"); it is BufferTooSmall as an empty 1-D one."""
    with mmsb.Reader(region=region.path) as r:
        with pytest.raises(mmsb.BufferTooSmall, match="1024 bytes"):
            r.read_into(1, np.zeros(shape, dtype=np.float64))


def test_read_into_buffer_that_refuses_export(region):
    """A numpy datetime64 array exports no buffer: memoryview() raised a
    bare ValueError ("cannot include dtype 'M' in a buffer") out of
    read_into; now InvalidType naming the buffer."""
    with mmsb.Reader(region=region.path) as r:
        with pytest.raises(mmsb.InvalidType, match="read_into's buffer .*exports no buffer"):
            r.read_into(1, np.zeros(128, dtype="M8[s]"))
        assert r.read(1)[:8] == (1).to_bytes(8, "little")


def test_view_of_a_dtype_not_dividing_the_page(region):
    """A page that is not a whole number of dtype's items raised a bare
    ValueError; InvalidArgument (still a ValueError) naming the sizes."""
    with mmsb.Reader(region=region.path) as r:
        for call in (lambda: r.view(1, "S3"), lambda: r.apply(1, len, dtype="V3")):
            with pytest.raises(mmsb.InvalidArgument, match="1024 bytes"):
                call()


@pytest.mark.parametrize("kw", [
    {"writer_timeout": "a"}, {"writer_timeout": float("nan")}, {"writer_timeout": -1},
    {"busy_timeout": float("nan")}, {"liveness_interval": None}, {"snapshot_retries": 1.5},
    {"snapshot_retries": 0}, {"wait_mode": "x"}, {"wait_mode": []},
])
def test_reader_options_checked_at_open(region, kw):
    """Options were stored unchecked: a string or None timeout failed later
    with a TypeError inside a read, a NaN writer_timeout made a stuck page
    retry forever, snapshot_retries=0 made every snapshot SnapshotBusy "0
    attempts", and 1.5 a TypeError inside snapshot. Now the constructor
    raises InvalidOption (a ValueError) or InvalidType naming the option."""
    name = next(iter(kw))
    with pytest.raises((mmsb.InvalidOption, mmsb.InvalidType), match=name):
        mmsb.Reader(region=region.path, **kw)


@pytest.mark.parametrize("kw", [
    {"writer_timeout": 0}, {"writer_timeout": 0.0}, {"writer_timeout": -0.0},
    {"busy_timeout": 0}, {"busy_timeout": False},
])
def test_zero_reader_timeouts_are_refused(region, kw):
    """writer_timeout=0 and busy_timeout=0 were 0 s: a read that looked
    twice at a page mid-write, or moving, raised WriterGone or ReadBusy at
    once, where C's mmsb_reader_options, C++'s reader_options and Go's
    ReaderOptions read a zero field as the default (0.2 s, 1 s), so a
    setting ported from them failed reads. Now InvalidOption naming the
    option and the default; liveness_interval=0 (check the writer at every
    read) and small positive timeouts still open."""
    name = next(iter(kw))
    with pytest.raises(mmsb.InvalidOption, match=r"%s 0 would fail .* 0 means the default" % name):
        mmsb.Reader(region=region.path, **kw)
    with mmsb.Reader(region=region.path, liveness_interval=0, **{name: 1e-3}) as r:
        assert r.read(1)[:8] == struct.pack("<Q", 1)


def test_wait_timeout_nan_is_refused(region):
    """wait(after, timeout=nan) compared nothing with NaN and waited
    forever; it is InvalidArgument. Run with an alarm so that the old hang
    fails the test."""
    import signal

    def hung(*_):
        raise AssertionError("wait(timeout=nan) hung")
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        with mmsb.Reader(region=region.path) as r:
            with pytest.raises(mmsb.InvalidArgument, match="timeout"):
                r.wait(r.last_lsn, timeout=float("nan"))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("timeout", [-1, -0.001, -1e-9, float("-inf"), -10**400])
@pytest.mark.parametrize("after", ["past", "current"])
def test_wait_negative_timeout_is_refused(region, timeout, after):
    """A negative wait timeout means "no limit" to C's mmsb_reader_wait
    and C++'s reader::wait; here it timed out at once (Timeout, or the
    LSN when already past), so a call ported from C failed instead of
    waiting. It is InvalidArgument naming the timeout and pointing at
    None, whether or not the LSN is already past (checked before the
    region is read, as every argument is); 0 still checks once."""
    with mmsb.Reader(region=region.path) as r:
        lsn = r.last_lsn
        target = lsn - 1 if after == "past" else lsn
        with pytest.raises(mmsb.InvalidArgument, match=r"timeout .* is negative: pass None"):
            r.wait(target, timeout=timeout)
        assert r.wait(lsn - 1, timeout=0) == lsn
        with pytest.raises(mmsb.Timeout):
            r.wait(lsn, timeout=0)


@pytest.mark.parametrize("after", [-1, -2**70, 2**64, 2**64 + 5])
def test_wait_after_lsn_outside_uint64_is_invalid(region, after):
    """wait(-1) returned the committed LSN at once (every LSN exceeds -1),
    where C's mmsb_reader_wait reads -1 as 2**64-1 and waits; an
    after_lsn past 2**64-1 waited for an LSN no bus reaches. Both are
    InvalidArgument naming after_lsn, as page IDs outside uint64 are
    (test_page_ids_outside_uint64_are_invalid); 2**64-1 itself is in
    range and times out."""
    with mmsb.Reader(region=region.path) as r:
        with pytest.raises(mmsb.InvalidArgument, match="after_lsn .* is outside"):
            r.wait(after, timeout=0)
        with pytest.raises(mmsb.Timeout):
            r.wait(2**64 - 1, timeout=0)


def test_reader_needs_a_directory(region):
    """Reader() raised a bare ValueError; InvalidArgument (still one)."""
    with pytest.raises(mmsb.InvalidArgument, match="region="):
        mmsb.Reader()


def test_reader_refuses_bus_dir_and_region(region, tmp_path):
    """Reader(bus_dir, region=...) read region= and silently ignored the
    bus directory, and with it the check that the bus directory's owner
    owns the region; so did a shared_dir with region=. Both are
    InvalidArgument now; either alone opens."""
    bus = str(tmp_path / "bus")
    os.mkdir(bus)
    for call in (lambda: mmsb.Reader(bus, region=region.path),
                 lambda: mmsb.Reader(shared_dir=str(tmp_path), region=region.path)):
        with pytest.raises(mmsb.InvalidArgument, match="not both"):
            call()
    with mmsb.Reader(region=region.path) as r:
        assert r.pages() == [1, 2]


def test_bytes_bus_dir_with_str_shared_dir(region, tmp_path):
    """A str bus directory with a bytes shared_dir raised "Can't mix
    strings and bytes in path components"; both are paths."""
    bus = str(tmp_path / "bus")
    os.mkdir(bus)
    assert mmsb.region_path(bus, os.fsencode(str(tmp_path))) == mmsb.region_path(bus, str(tmp_path))
    assert mmsb.region_path(os.fsencode(bus), str(tmp_path)) == mmsb.region_path(bus, str(tmp_path))


def test_region_path_with_realpath_of_python_3_9(tmp_path, monkeypatch):
    """pyproject.toml accepts Python 3.9, whose os.path.realpath has no
    strict parameter: region_path (so every Reader(dir)) raised
    "TypeError: realpath() got an unexpected keyword argument 'strict'".
    With a realpath of 3.9's signature it gives Go's names: the resolved
    path of a directory reached through a link, the cleaned absolute path
    of one that does not exist or of a dangling link (Go's EvalSymlinks
    fails there)."""
    import hashlib

    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    resolved = os.path.realpath(real)  # the temporary directory may itself be reached through a link
    cases = {
        str(real): resolved,
        str(tmp_path / "link"): resolved,
        str(tmp_path / "missing" / ".." / "gone"): str(tmp_path / "gone"),
        str(tmp_path / "dangling"): str(tmp_path / "dangling"),
    }
    realpath = os.path.realpath
    monkeypatch.setattr(os.path, "realpath", lambda path: realpath(path))
    for bus, hashed in cases.items():
        want = "/shm/mmsb-" + hashlib.sha256(os.fsencode(hashed)).hexdigest()[:32]
        assert mmsb.region_path(bus, "/shm") == want, bus


def test_seconds_beyond_any_float_saturate(region):
    """An integer number of seconds too large for a float (10**400, a
    "forever" a caller may pass) raised a bare OverflowError, from
    time.monotonic() + timeout in wait and from float() in the
    constructor. It now saturates to infinity (as C++'s reader::wait
    saturates to INT64_MAX ns): a huge timeout waits as long as needed, a
    hugely negative one is refused as every negative one is
    (test_wait_negative_timeout_is_refused), and as an option it is the
    same as inf (a negative one is InvalidOption)."""
    with mmsb.Reader(region=region.path, writer_timeout=10**400, busy_timeout=10**400) as r:
        lsn = r.last_lsn
        assert lsn > 0
        assert r.wait(lsn - 1, timeout=10**400) == lsn  # already past: returns at once
        with pytest.raises(mmsb.InvalidArgument, match="negative"):
            r.wait(lsn, timeout=-10**400)
        assert r.read(1)[:8] == struct.pack("<Q", 1)
    with pytest.raises(mmsb.InvalidOption, match="writer_timeout"):
        mmsb.Reader(region=region.path, writer_timeout=-10**400)


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_reader_cannot_be_copied_or_pickled(region, how):
    """copy.copy(reader) made a second Reader sharing the first's region
    directory and inotify descriptors: when either was closed or collected
    it closed them under the other, whose reads then failed ("chunk stayed
    unavailable", "Bad file descriptor" from close), or used or closed
    whatever file the process opened next under the same numbers.
    deepcopy and pickle (multiprocessing's spawn) raised bare TypeErrors
    naming mmap or memoryview. All three are InvalidType naming the
    Reader, and the reader goes on; a PageView (which holds its reader)
    pickles no better."""
    import copy
    import gc
    import pickle
    do = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": pickle.dumps}[how]
    r = mmsb.Reader(region=region.path)
    with pytest.raises(mmsb.InvalidType, match="Reader cannot be copied or pickled"):
        do(r)
    with pytest.raises(mmsb.InvalidType, match="Reader cannot be copied or pickled"):
        do(r.view(1)) if how != "copy" else pickle.dumps(r.view(1))
    gc.collect()  # a copy, had one been made, is closed by its finalizer here
    assert r.read(2) == struct.pack("<Q", 2) * (len(r.read(2)) // 8)
    assert r.read_page(1).id == 1 and r.pages() == [1, 2]
    r.close()  # its own descriptors, still open


# Run in a child: before the fix read_into wrote page bytes over the
# buffer's PyObject pointers and the first use of an item crashed the
# interpreter (exit -11), which would have taken pytest down with it.
_OBJECT_BUFFERS_CHILD = r"""
import ctypes, sys
import numpy as np
import mmsb

# ctypes exports a union and a packed structure as plain bytes (format
# "B"): only their type tells that they hold objects.
class U(ctypes.Union):
    _fields_ = [("n", ctypes.c_int64), ("o", ctypes.py_object)]

class P(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("c", ctypes.c_char), ("o", ctypes.py_object)]

def buffers():
    # (what, buffer, a call that uses an item: the crash, were the
    # pointers overwritten)
    a = np.zeros(128, dtype=object)
    yield "ndarray of objects", a, lambda a=a: repr(a[0])
    a = np.zeros(64, dtype=[("a", "O"), ("b", "<i8")])
    yield "structured with an object field", a, lambda a=a: repr(a[0])
    objs = np.zeros(128, dtype=object)
    yield "memoryview of objects", memoryview(objs), lambda a=objs: repr(a[0])
    a = (ctypes.py_object * 128)(*([0] * 128))
    yield "ctypes py_object array", a, lambda a=a: repr(a[0])
    for T in (U, P):
        a = (T * 128)()
        for item in a:
            item.o = 0
        yield "ctypes %s array" % T.__name__, memoryview(a), lambda a=a: repr(a[0].o)

with mmsb.Reader(region=sys.argv[1]) as r:
    for what, buf, use in buffers():
        try:
            r.read_into(1, buf)
            print(what, "accepted")
        except mmsb.InvalidArgument as e:
            print(what, "refused:", e)
        use()
    plain = np.zeros(64, dtype=[("Out", "<i8"), ("x", "<f8")])  # a field NAMED O..., no objects
    print("structured plain", r.read_into(1, plain), int(plain["Out"][0]))
"""


def test_read_into_buffer_of_python_objects_is_refused(region):
    """read_into into a numpy object array (or any buffer of PyObject
    pointers: a structured array with an object field, a ctypes py_object
    array, a ctypes union or packed structure with a py_object field, which
    ctypes exports as plain bytes) overwrote the pointers with page bytes:
    a segmentation fault.
    Each is InvalidArgument before anything is copied; a structured array
    whose field name holds an "O" is plain data and is read into."""
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    out = subprocess.run([sys.executable, "-c", _OBJECT_BUFFERS_CHILD, region.path], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, "child exited %d: %s%s" % (out.returncode, out.stdout, out.stderr)
    lines = out.stdout.splitlines()
    assert len(lines) == 7, out.stdout
    for line in lines[:6]:
        assert "refused:" in line and "holds Python objects" in line, line
    assert lines[6] == "structured plain 1024 1", lines[6]


def test_configuration_mistakes_are_invalid_argument(region, tmp_path):
    """A bus directory given as region=, a shared_dir that does not exist
    or is a file, and a file given as the bus directory were WriterGone
    ("no shared region ..."), which callers retry for ever; each is
    InvalidArgument naming the wrong path, as in C and Go. A bus
    directory with no region yet stays WriterGone."""
    bus = tmp_path / "bus"
    bus.mkdir()
    (bus / "LOCK").write_bytes(b"")
    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    cases = ((lambda: mmsb.Reader(region=str(bus)), "region=%s is a bus directory .*Reader\\(" % bus),
             (lambda: mmsb.Reader(region=os.fsencode(str(bus))), "is a bus directory"),
             (lambda: mmsb.Reader(str(bus), shared_dir=str(tmp_path / "none")), "shared_dir %s does not exist" % (tmp_path / "none")),
             (lambda: mmsb.Reader(str(bus), shared_dir=str(a_file)), "shared_dir %s is not a directory" % a_file),
             (lambda: mmsb.Reader(str(bus), shared_dir=str(a_file / "x")), "shared_dir %s is not a directory" % (a_file / "x")),
             (lambda: mmsb.Reader(str(a_file), shared_dir=str(tmp_path)), "bus directory %s is not a directory" % a_file))
    for call, text in cases:
        with pytest.raises(mmsb.InvalidArgument, match=text):
            call()
    with pytest.raises(mmsb.WriterGone, match="no shared region"):
        mmsb.Reader(str(bus), shared_dir=str(tmp_path))
    with pytest.raises(mmsb.WriterGone, match="no shared region"):
        mmsb.Reader(region=str(tmp_path / "no-region"))


def test_empty_paths_are_invalid_argument(region):
    """region_path("") named the region of the working directory's bus, and
    Reader("") and Reader(region="") were WriterGone; each is
    InvalidArgument naming the argument, as Go's and C's refuse ""."""
    for call, text in ((lambda: mmsb.region_path(""), "bus directory is empty"),
                       (lambda: mmsb.region_path(b""), "bus directory is empty"),
                       (lambda: mmsb.Reader(""), "bus directory is empty"),
                       (lambda: mmsb.Reader(region=""), "region= is empty")):
        with pytest.raises(mmsb.InvalidArgument, match=text):
            call()


def test_bool_is_not_a_page_id_or_lsn(region):
    """operator.index took True as 1: read(True) read page 1 and
    wait(True) waited after LSN 1. A bool is InvalidType, as the docs say
    of anything that is not an integer."""
    with mmsb.Reader(region=region.path) as r:
        for call in (lambda: r.read(True), lambda: r.read_page(True), lambda: r.view(np.bool_(True)),
                     lambda: r.read_into(True, bytearray(2048)), lambda: r.snapshot([1, True]),
                     lambda: r.wait(False, timeout=0)):
            with pytest.raises(mmsb.InvalidType, match="an integer, not bool"):
                call()
        assert r.read(1)[:8] == (1).to_bytes(8, "little")


def test_region_with_shared_dir_none(region):
    """Reader(region=R, shared_dir=None) was refused "takes a bus directory
    or region=, not both" though no bus directory was given and None means
    the default shared directory; so were b"/dev/shm", a path object and
    "/dev/shm/". Another shared_dir with region= is still refused."""
    import pathlib
    dflt = mmsb.DEFAULT_SHARED_DIR
    for sd in (None, "", b"", dflt, os.fsencode(dflt), pathlib.Path(dflt), dflt + "/"):
        with mmsb.Reader(region=region.path, shared_dir=sd) as r:
            assert r.pages() == [1, 2]
    for sd in ("/tmp", b"/tmp", 5):
        with pytest.raises(mmsb.InvalidArgument, match="not both"):
            mmsb.Reader(region=region.path, shared_dir=sd)
