"""Tests of the writer API (mmsb.open) over the C ABI.

Needs libmmsb.so (MMSB_LIB or build/libmmsb.so); run by bindings/c's Go
tests with both set, or by hand:

    go build -buildmode=c-shared -o build/libmmsb.so ./bindings/c
    /usr/bin/python3 -m pytest python/tests/test_writer.py
"""

import ctypes
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mmsb  # noqa: E402
from mmsb import errors, writer  # noqa: E402
from conftest import _need  # noqa: E402


@pytest.fixture(autouse=True)
def _library(libmmsb):
    """Every test here needs libmmsb.so (conftest.libmmsb finds or builds it)."""
    return libmmsb


@pytest.fixture
def bus(tmp_path):
    with mmsb.open(str(tmp_path / "bus"), sync="group") as b:
        yield b


def test_round_trip(tmp_path):
    d = str(tmp_path / "bus")
    with mmsb.open(d) as bus:
        ids = bus.create_pages(4, 64)
        assert list(ids) == [1, 2, 3, 4]
        assert bus.create_page(128, id=10) == 10
        info = bus.commit([(1, 0, b"hello"), (2, 8, bytearray(b"world")), (10, 100, memoryview(b"!"))])
        assert info.last_lsn == info.first_lsn + 2
        assert bus.read(1)[:5] == b"hello"
        data, epoch = bus.read_with_epoch(2)
        assert data[8:13] == b"world" and epoch == 1 and len(data) == 64
        assert bus.read(10)[100:101] == b"!"
        before = bus.last_lsn
        assert before == info.last_lsn

        pages = np.array([1, 3, 3], dtype=np.uint64)
        offs = np.array([16, 0, 8], dtype=np.uint32)
        rows = np.arange(24, dtype=np.uint8).reshape(3, 8)
        ai = bus.commit_array(pages, offs, rows)
        assert ai.first_lsn == before + 1 and ai.last_lsn == before + 3
        assert bus.read(1)[16:24] == bytes(range(8))
        assert bus.read(3)[:16] == bytes(range(8, 24))
        # As of the earlier LSN page 1 lacks the array write.
        old = bus.read_at(1, before)
        assert old[:5] == b"hello" and old[16:24] == bytes(8)

        pi = bus.page_info(3)
        assert (pi.id, pi.size, pi.epoch, pi.last_lsn, pi.derived) == (3, 64, 2, ai.last_lsn, False)

        buf = np.zeros(64, dtype=np.uint8)
        n, ep = bus.read_into(1, buf)
        assert n == 64 and ep == 2 and bytes(buf[:5]) == b"hello"

        bus.free_page(4)
        with pytest.raises(mmsb.PageNotFound):
            bus.read(4)

        h = bus.state_hash()
        cp = bus.checkpoint()
        assert cp.lsn == bus.last_lsn and cp.pages == 4
        rep = bus.verify_replay()
        assert rep.equal and rep.live_hash == h == rep.replay_hash
        assert bus.verify_replay(from_newest_checkpoint=True).checkpoint_lsn == cp.lsn
        st = bus.stats()
        assert st["pages"] == 4 and st["sync"] == "group" and st["checkpoints"] >= 1 and not st["in_memory"]
        assert bus.shared_path == ""
    assert bus.closed
    with mmsb.open(d) as again:
        assert again.state_hash() == h
        assert again.read(1)[:5] == b"hello"


def test_async_commits_and_wait(bus):
    bus.create_pages(2, 32)
    a = bus.commit([(1, 0, b"a")], wait=False)
    b = bus.commit_array([2], [0], b"bb", wait=False)
    bus.wait_durable(b.last_lsn)
    assert bus.stats()["durable_lsn"] >= b.last_lsn > a.last_lsn
    bus.flush()


def test_commit_array_inputs(bus):
    bus.create_pages(8, 64)
    # bytes data, Python lists, and a non-contiguous array all work.
    bus.commit_array([1, 2], [0, 4], b"abcdEFGH")
    assert bus.read(1)[:4] == b"abcd" and bus.read(2)[4:8] == b"EFGH"
    wide = np.arange(64, dtype=np.uint8).reshape(4, 16)[:, ::2]  # strided rows of 8
    bus.commit_array(np.array([3, 4, 5, 6]), np.zeros(4), wide)
    assert bus.read(4)[:8] == bytes(range(16, 32, 2))
    # float64 rows: 2 values (16 bytes) per write.
    vals = np.array([[1.5, 2.5], [3.5, 4.5]])
    bus.commit_array([7, 8], [0, 0], vals)
    assert np.frombuffer(bus.read(8)[:16], dtype=np.float64).tolist() == [3.5, 4.5]
    with pytest.raises(mmsb.InvalidArgument):
        bus.commit_array([1, 2], [0], b"abcd")
    with pytest.raises(mmsb.InvalidArgument):
        bus.commit_array([1, 2], [0, 0], b"abc")
    with pytest.raises(mmsb.InvalidArgument):
        bus.commit_array([], [], b"")


def test_large_batch_matches_python_model(bus):
    rng = np.random.default_rng(7)
    bus.create_pages(256, 1024)
    model = np.zeros((257, 1024), dtype=np.uint8)
    for _ in range(5):
        pages = rng.integers(1, 257, 1000).astype(np.uint64)
        offs = rng.integers(0, 1024 - 16, 1000).astype(np.uint32)
        data = rng.integers(0, 256, (1000, 16), dtype=np.uint8)
        bus.commit_array(pages, offs, data)
        for p, o, row in zip(pages, offs, data):
            model[p, o:o + 16] = row
    for p in (1, 77, 256):
        assert bus.read(p) == model[p].tobytes()


def test_errors_from_the_library(tmp_path):
    d = str(tmp_path / "bus")
    bus = mmsb.open(d)
    bus.create_pages(2, 64)
    cases = [
        (mmsb.PageNotFound, lambda: bus.read(99)),
        (mmsb.PageNotFound, lambda: bus.commit([(99, 0, b"x")])),
        (mmsb.PageExists, lambda: bus.create_page(64, id=1)),
        (mmsb.InvalidPage, lambda: bus.create_pages(1, 0)),
        (mmsb.OutOfRange, lambda: bus.commit([(1, 60, b"too long")])),
        (mmsb.OutOfRange, lambda: bus.commit_array([1, 2], [0, 1000], b"abcd")),
        (mmsb.InvalidDelta, lambda: bus.commit([(1, 0, b"")])),
        (mmsb.Conflict, lambda: bus.commit([(1, 0, b"x")], expect=[7])),
        (mmsb.InvalidOption, lambda: bus.read_at(1, 10**12)),  # an LSN not yet committed
        (mmsb.Locked, lambda: mmsb.open(d)),
        (mmsb.InvalidOption, lambda: mmsb.open(str(tmp_path / "x"), workers=-1)),
        (mmsb.InvalidOption, lambda: mmsb.open(str(tmp_path / "x"), sync="sometimes")),
        (mmsb.BufferTooSmall, lambda: bus.read_into(1, bytearray(10))),
        (mmsb.IOFailure, lambda: mmsb.open("/dev/null/bus")),
        (mmsb.InvalidArgument, lambda: bus.commit([])),
    ]
    for cls, call in cases:
        with pytest.raises(cls) as ei:
            call()
        assert str(ei.value), cls  # every error carries a message
        assert ei.value.code == cls.code
    # PageNotFound is also a KeyError, with a readable message.
    with pytest.raises(KeyError, match="page 99"):
        bus.read(99)
    # Use after close: by this module, and by the library for a handle that
    # another Bus object already closed.
    twin = writer.Bus(bus._lib, bus._h, d)
    bus.close()
    with pytest.raises(mmsb.Closed):
        bus.read(1)
    with pytest.raises(mmsb.Closed, match="was closed"):
        twin.read(1)
    twin._h = None
    bogus = writer.Bus(bus._lib, 987654321, d)
    with pytest.raises(mmsb.InvalidHandle):
        bogus.state_hash()
    bogus._h = None


def test_every_code_has_one_class():
    lib = writer.load_library()
    codes = set()
    for code, cls in errors.BY_CODE.items():
        assert issubclass(cls, mmsb.MMSBError) and cls.code == code
        name = lib.mmsb_status_name(code).decode()
        assert name != "MMSB_ERR_UNKNOWN", (code, cls)
        # MMSB_ERR_PAGE_NOT_FOUND <-> PageNotFound
        want = "".join(w.capitalize() for w in name[len("MMSB_ERR_"):].split("_"))
        renamed = {"Io": "IOFailure", "Internal": "InternalError", "SharedCorrupt": "FormatError"}
        assert renamed.get(want, want) == cls.__name__, (name, cls)
        e = errors.error_for(code, "msg")
        assert type(e) is cls and str(e) == "msg"
        codes.add(code)
    assert len(codes) == 35  # 1..30 (Go sentinels) and 100..104 (the ABI's)
    assert isinstance(errors.error_for(555, "x"), mmsb.MMSBError)


def test_state_hash_equals_inspect(tmp_path, mmsb_cli):
    d = str(tmp_path / "bus")
    rng = np.random.default_rng(3)
    with mmsb.open(d, sync="always") as bus:
        bus.create_pages(100, 256)
        for _ in range(3):
            bus.commit_array(rng.integers(1, 101, 50), rng.integers(0, 240, 50),
                             rng.integers(0, 256, (50, 16), dtype=np.uint8))
        h = bus.state_hash()
        bus.checkpoint()
        bus.commit([(5, 0, b"after the checkpoint")])
        h2 = bus.state_hash()
        assert h2 != h
    out = subprocess.run([mmsb_cli, "inspect", "--json", d], check=True, capture_output=True, text=True).stdout
    rep = json.loads(out)
    assert int(rep["state_hash"], 16) == h2
    assert rep["page_count"] == 100


def test_in_memory_and_sync_modes(tmp_path):
    for sync in ("group", "always", "none"):
        with mmsb.open(str(tmp_path / sync), sync=sync) as bus:
            assert bus.stats()["sync"] == sync
    with mmsb.open("", sync="none") as mem:
        mem.create_pages(1, 8)
        mem.commit([(1, 0, b"x")])
        assert mem.stats()["in_memory"] and mem.read(1)[:1] == b"x"


def test_library_not_found_names_both_places(monkeypatch):
    monkeypatch.setenv("MMSB_LIB", "/nonexistent/libmmsb.so")
    with pytest.raises(mmsb.IOFailure, match="/nonexistent/libmmsb.so"):
        writer.library_path()
    monkeypatch.delenv("MMSB_LIB")
    monkeypatch.setattr(writer, "_candidates", lambda: ["/no/build/libmmsb.so", "/no/pkg/libmmsb.so"])
    with pytest.raises(mmsb.IOFailure) as ei:
        writer.library_path()
    msg = str(ei.value)
    assert "MMSB_LIB" in msg and "/no/build/libmmsb.so" in msg and "/no/pkg/libmmsb.so" in msg


def test_installed_package_looks_in_no_build_dir(tmp_path):
    """An installed package (site-packages/mmsb) looked for ../../build/libmmsb.so,
    a directory near site-packages, and loaded a library found there without a
    word. Only a repository (its go.mod naming this module) is looked in now."""
    pkg = tmp_path / "site" / "mmsb"
    pkg.mkdir(parents=True)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "libmmsb.so").write_text("planted\n")
    assert writer._source_tree(str(pkg)) is None
    (tmp_path / "go.mod").write_text("module example.com/other\n")
    assert writer._source_tree(str(pkg)) is None
    (tmp_path / "go.mod").write_text("module github.com/mmsb-go/mmsb\n\ngo 1.26\n")
    assert writer._source_tree(str(pkg)) == str(tmp_path)
    # This checkout's package is in the repository: its build/ comes first.
    repo = os.path.normpath(os.path.join(os.path.dirname(writer.__file__), "..", ".."))
    assert writer._candidates()[0] == os.path.join(repo, "build", "libmmsb.so")


def test_library_that_is_not_libmmsb(monkeypatch, tmp_path):
    """MMSB_LIB naming a file that is no shared library raised ctypes' bare
    OSError ("file too short"), and one naming another library an
    AttributeError ("undefined symbol: mmsb_abi_version"). Both are
    IOFailure naming the file now."""
    import _ctypes

    junk = tmp_path / "libjunk.so"
    junk.write_text("not a library\n")
    monkeypatch.setattr(writer, "_lib", None)  # load again (restored after the test)
    for path, why in ((str(junk), "file too short"), (_ctypes.__file__, "mmsb_abi_version")):
        monkeypatch.setenv("MMSB_LIB", path)
        with pytest.raises(mmsb.IOFailure, match="is not libmmsb.so") as ei:
            writer.load_library()
        assert path in str(ei.value) and why in str(ei.value)
        assert writer._lib is None


def test_threads_share_a_bus(bus):
    import threading
    bus.create_pages(4, 64)
    errs = []

    def work(p):
        try:
            for i in range(200):
                bus.commit([(p, 0, i.to_bytes(4, "little"))])
                assert bus.read(p)[:4] == i.to_bytes(4, "little")
            try:
                bus.read(1000 + p)
            except mmsb.PageNotFound as e:
                assert "page %d" % (1000 + p) in str(e)  # each thread sees its own message
        except Exception as e:  # noqa: BLE001
            errs.append(e)

    ts = [threading.Thread(target=work, args=(p,)) for p in (1, 2, 3, 4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errs
    assert bus.page_info(1).epoch == 200


def test_forked_child_is_refused(bus):
    """After fork the Go runtime is unusable in the child: calls raise Closed
    (naming spawn) instead of hanging; the parent goes on."""
    bus.create_pages(1, 8)
    pid = os.fork()
    if pid == 0:  # child: never enter Go; report through the exit status
        code = 1
        try:
            bus.read(1)
        except mmsb.Closed as e:
            code = 0 if "spawn" in str(e) else 2
        except BaseException:  # noqa: BLE001
            code = 3
        bus.close()  # must not enter Go either
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert bus.read(1) == bytes(8)


def test_open_in_forked_child_is_refused(bus, tmp_path):
    """mmsb.open in a fork of a process that loaded the library entered
    the Go runtime the fork broke: it hung in 6 of 30 tries while the
    parent's threads committed, and otherwise made a bus every call of
    which raised Closed. It raises Closed (naming spawn) before entering
    Go, and creates nothing."""
    bus.create_pages(1, 8)
    other = str(tmp_path / "child-bus")
    pid = os.fork()
    if pid == 0:  # child: report through the exit status; never hang the test
        signal.alarm(20)
        code = 1
        try:
            mmsb.open(other).close()
        except mmsb.Closed as e:
            code = 0 if "spawn" in str(e) else 2
        except BaseException:  # noqa: BLE001
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert not os.path.exists(other)
    assert bus.read(1) == bytes(8)  # the parent goes on


def test_expected_epochs(bus):
    """Optimistic concurrency: a stale expected epoch fails the whole batch with Conflict."""
    bus.create_pages(2, 16)
    assert bus.page_info(1).epoch == 0
    bus.commit([(1, 0, b"a")], expect=[0])
    with pytest.raises(mmsb.Conflict):
        bus.commit([(2, 0, b"b"), (1, 0, b"c")], expect=[None, 0])
    assert bus.read(2)[:1] == b"\x00"  # nothing of the failed batch applied
    bus.commit([(1, 1, b"d"), (1, 2, b"e")], expect=[1, 2])  # the second counts the first
    with pytest.raises(mmsb.Conflict):
        bus.commit_array([1], [0], b"x", expect=np.array([1], dtype=np.uint64))
    bus.commit_array([1], [0], b"x", expect=[mmsb.ANY_EPOCH])
    assert bus.page_info(1).epoch == 4 and bus.read(1)[:3] == b"xde"
    with pytest.raises(mmsb.InvalidArgument):
        bus.commit([(1, 0, b"a")], expect=[1, 2])


def test_out_of_range_integers_are_refused_not_wrapped(bus):
    """ctypes and numpy's astype keep an integer's low bits: page 2**64 + 2
    was page 2 (free_page freed it), offset 2**32 + 8 wrote at offset 8. Every
    such value is InvalidArgument now, and nothing is applied."""
    bus.create_pages(2, 64)
    lsn = bus.last_lsn
    bad = [
        lambda: bus.commit([(1, 2**32 + 8, b"AB")]),
        lambda: bus.commit([(2**64 + 1, 0, b"AB")]),
        lambda: bus.commit([(-1, 0, b"AB")]),
        lambda: bus.commit([(1, 0, b"AB")], expect=[-1]),  # was MMSB_ANY_EPOCH: no check at all
        lambda: bus.commit([(1, 0, b"AB")], expect=[2**64]),
        lambda: bus.commit_array([1], np.array([2**32 + 20], dtype=np.int64), b"EF"),
        lambda: bus.commit_array([1], [-1], b"EF"),
        lambda: bus.commit_array(np.array([1.9]), [30], b"GH"),  # was page 1
        lambda: bus.commit_array(np.array([-2**63 + 1]), [0], b"GH"),
        lambda: bus.commit_array(np.array([[1, 2]]), [40], b"IJ"),  # 2-D: was read as pages 1, 2
        lambda: bus.commit_array([1], [0], np.array([b"abcdefgh"], dtype=object)),  # pointer bytes
        lambda: bus.commit_array([1], [0], b"EF", expect=np.array([-1])),
        lambda: bus.free_page(2**64 + 2),
        lambda: bus.create_pages(1, 2**32 + 16),  # was a page of 16 bytes
        lambda: bus.create_pages(sizes=[16], ids=[-1]),
        lambda: bus.create_pages(sizes=[-16]),
        lambda: bus.create_pages(2**40, 64),  # refused before allocating 4 TiB (was MemoryError)
        lambda: bus.read(2**64 + 1),
        lambda: bus.read_into(2**64 + 1, bytearray(64)),
        lambda: bus.read_at(1, 2**64 + 1),
        lambda: bus.read_at(-1, 1),
        lambda: bus.page_info(2**64 + 1),
        lambda: bus.wait_durable(-1),
    ]
    for i, call in enumerate(bad):
        with pytest.raises(mmsb.InvalidArgument):
            call()
    with pytest.raises(TypeError):
        bus.create_pages(2.7, 64)  # was 2 pages
    assert bus.last_lsn == lsn
    assert bus.read(1) == bytes(64) and bus.read(2) == bytes(64)
    # Values the conversion keeps are still fine: float zeros, int64 IDs.
    bus.commit_array(np.array([2], dtype=np.int64), np.zeros(1), b"ok")
    assert bus.read(2)[:2] == b"ok"


def test_wait_durable_refuses_an_uncommitted_lsn(tmp_path):
    """An LSN above the last committed one used to spin the log's fsync loop
    forever (and close then waited for it); it is InvalidOption. Run in a
    child so that a hang is a failure rather than a hung test run."""
    prog = """
import sys
import mmsb
with mmsb.open(sys.argv[1]) as bus:
    bus.create_pages(1, 8)
    info = bus.commit([(1, 0, b"x")])
    bus.wait_durable(info.last_lsn)
    try:
        bus.wait_durable(info.last_lsn + 1)
        print("no error")
    except mmsb.InvalidOption as e:
        print("refused:", e)
"""
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    try:
        out = subprocess.run([sys.executable, "-c", prog, str(tmp_path / "bus")], env=env, capture_output=True,
                             text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("wait_durable of an uncommitted LSN hung")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused:") and "not committed" in out.stdout, out.stdout


def test_open_refuses_bad_paths_and_options(tmp_path):
    """A NUL in a path cut it short (the bus opened in tmp/a for "tmp/a\\0b");
    option values that do not fit the C fields, or a worker count that made
    the Go runtime die of out-of-memory at open, are refused."""
    base = str(tmp_path / "a")
    with pytest.raises(mmsb.InvalidArgument, match="NUL"):
        mmsb.open(base + "\0b")
    assert not os.path.exists(base)
    with pytest.raises(mmsb.InvalidArgument, match="NUL"):
        mmsb.open(base, shared=True, shared_dir="/dev/shm\0x")
    assert not os.path.exists(base)
    for kw in ({"workers": 2**32 + 1}, {"workers": 2**31 - 1}, {"workers": 1025},
               {"checkpoint_bytes": 2**64}, {"segment_bytes": -2**64}):
        with pytest.raises(mmsb.InvalidOption):
            mmsb.open("", **kw)
    with mmsb.open("", sync="none", workers=4) as b:
        assert b.stats()["in_memory"]


def test_shared_path_is_any_path(tmp_path):
    """shared_path decoded the region's path as UTF-8 (UnicodeDecodeError
    for a shared_dir holding other bytes) from a fixed 4 KiB buffer; it is
    now decoded as os functions decode paths (os.fsdecode)."""
    import shutil
    import tempfile
    shm = tempfile.mkdtemp(dir="/dev/shm", prefix="mmsb-py-\udcff-")
    try:
        with mmsb.open(str(tmp_path / "bus"), shared=True, shared_dir=shm) as b:
            p = b.shared_path
            assert os.path.dirname(p) == shm and os.path.isdir(p)
            assert os.fsencode(p).startswith(b"/dev/shm/mmsb-py-\xff-")
        with mmsb.open("", sync="none") as b:
            assert b.shared_path == ""
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def test_replication_errors_have_classes():
    """The sentinels of replication.go had no code: ErrRecordTooLarge (a
    batch larger than one log record) reached Python as IOFailure."""
    for name, code in (("Replication", 26), ("Follower", 27), ("ReplicaOrder", 28),
                       ("ReplicaDiverged", 29), ("RecordTooLarge", 30)):
        cls = getattr(mmsb, name)
        assert cls.code == code and errors.BY_CODE[code] is cls
        assert writer.load_library().mmsb_status_name(code).decode() != "MMSB_ERR_UNKNOWN"
    assert issubclass(mmsb.RecordTooLarge, ValueError)


def _wrong_type(call):
    """call raises InvalidType: an MMSBError, an InvalidArgument and a TypeError."""
    with pytest.raises(mmsb.InvalidType) as ei:
        call()
    e = ei.value
    assert isinstance(e, mmsb.InvalidArgument) and isinstance(e, TypeError) and e.code == mmsb.InvalidArgument.code
    return str(e)


def test_wrong_types_name_the_argument(tmp_path, bus):
    """Wrong types gave tracebacks from inside the package that named no
    argument ("'float' object cannot be interpreted as an integer",
    "object of type 'NoneType' has no len()", "unhashable type: 'list'");
    now InvalidType (also a TypeError) naming what was wrong."""
    bus.create_pages(2, 64)
    lsn = bus.last_lsn
    cases = [
        (lambda: mmsb.open(None), "dir"),
        (lambda: mmsb.open(123), "dir"),
        (lambda: mmsb.open("", shared=True, shared_dir=5), "shared_dir"),
        (lambda: mmsb.open("", workers=1.5), "workers"),
        (lambda: mmsb.open("", checkpoint_bytes=None), "checkpoint_bytes"),
        (lambda: bus.create_pages(2.7, 64), "page count"),
        (lambda: bus.create_pages("2", 64), "page count"),
        (lambda: bus.create_pages(2, 64.0), "page size"),
        (lambda: bus.commit(None), "writes"),
        (lambda: bus.commit(5), "writes"),
        (lambda: bus.commit([5]), "write 0"),
        (lambda: bus.commit([(1.0, 0, b"x")]), "page of write 0"),
        (lambda: bus.commit([(1, None, b"x")]), "offset of write 0"),
        (lambda: bus.commit([(1, 0, b"x"), (2, 0, "text")]), "data of write 1"),
        (lambda: bus.commit([(1, 0, None)]), "data of write 0"),
        (lambda: bus.commit([(1, 0, b"x")], expect=5), "expect"),
        (lambda: bus.commit([(1, 0, b"x")], expect=[1.5]), "expected epoch"),
        (lambda: bus.commit_array([1], [0], "ab"), "data"),
        (lambda: bus.commit_array([1], [0], None), "data"),
        (lambda: bus.commit_array([1], [0], [1, 2]), "data"),
        (lambda: bus.read(None), "page"),
        (lambda: bus.read_with_epoch("1"), "page"),
        (lambda: bus.read_at(1, 1.5), "lsn"),
        (lambda: bus.read_into(1, None), "buffer"),
        (lambda: bus.read_into(1, "s" * 100), "buffer"),
        (lambda: bus.page_info(None), "page"),
        (lambda: bus.free_page(1.0), "page"),
        (lambda: bus.wait_durable(None), "lsn"),
        (lambda: bus.create_page(64, id="3"), "ids"),
    ]
    for call, what in cases:
        msg = _wrong_type(call)
        assert what in msg, (what, msg)
    with pytest.raises(mmsb.InvalidOption, match="sync"):
        mmsb.open("", sync=[])  # was TypeError: unhashable type: 'list'
    with pytest.raises(mmsb.InvalidArgument, match="write 0"):
        bus.commit([(1, 0)])  # was ValueError: not enough values to unpack
    assert bus.last_lsn == lsn and bus.read(1) == bytes(64) and bus.read(2) == bytes(64)


def test_data_must_be_bytes_like(bus):
    """commit took an int as that many zero bytes (bytes(5); bytes(10**10)
    allocated 10 GB), a list of ints as bytes, and an object array as this
    process's PyObject pointers; commit_array's non-contiguous memoryview
    was a BufferError. Only buffers are data now, and contiguity is the
    package's business."""
    bus.create_pages(2, 64)
    lsn = bus.last_lsn
    for data in (5, 10**10, [1, 2]):
        with pytest.raises(mmsb.InvalidType, match="bytes-like"):
            bus.commit([(1, 0, data)])
    with pytest.raises(mmsb.InvalidArgument, match="Python objects"):
        bus.commit([(1, 0, np.array([b"abcdefgh"], dtype=object))])
    assert bus.last_lsn == lsn and bus.read(1) == bytes(64)
    # Non-contiguous buffers are copied, not refused.
    bus.commit([(1, 0, np.arange(8, dtype=np.uint8)[::2])])
    assert bus.read(1)[:4] == bytes([0, 2, 4, 6])
    bus.commit_array([2], [0], memoryview(bytearray(b"aXbXcXdX"))[::2])
    assert bus.read(2)[:4] == b"abcd"


def test_scalars_are_not_one_element_lists(bus):
    """A scalar where a list belongs was taken as a list of one:
    create_pages(sizes=5) made one page of 5 bytes, commit_array(5, ...)
    wrote page 5, and expect=b"\\x01" was epoch 1."""
    bus.create_pages(6, 16)
    lsn = bus.last_lsn
    for call in (lambda: bus.create_pages(sizes=5), lambda: bus.create_pages(sizes=[8], ids=3),
                 lambda: bus.commit_array(5, [0], b"ab"), lambda: bus.commit_array([5], 0, b"ab"),
                 lambda: bus.commit_array([5], [0], b"ab", expect=np.array(0, dtype=np.uint64))):
        with pytest.raises(mmsb.InvalidArgument, match="1-D"):
            call()
    for call in (lambda: bus.commit([(1, 0, b"ab")], expect=b"\x00"),
                 lambda: bus.commit([(1, 0, b"ab")], expect="0"),
                 lambda: bus.commit_array([5], [0], b"ab", expect=np.uint64(0))):
        with pytest.raises(mmsb.InvalidType, match="expect"):
            call()
    assert bus.last_lsn == lsn and bus.read(5) == bytes(16)


def test_read_into_buffer_checked_first(bus):
    """read_into with a non-contiguous array raised memoryview's TypeError;
    it is InvalidArgument naming the buffer (a read-only one already was)."""
    bus.create_pages(1, 64)
    with pytest.raises(mmsb.InvalidArgument, match="contiguous"):
        bus.read_into(1, np.zeros(256, dtype=np.uint8)[::2])
    out = np.zeros((2, 4), dtype=np.float64)  # C-contiguous 2-D of another dtype: fine
    assert bus.read_into(1, out) == (64, 0)


@pytest.mark.parametrize("shape", [(0,), (0, 4), (4, 0)])
def test_read_into_empty_buffer_of_any_shape(bus, shape):
    """An empty array with a 0 in a shape of several dimensions made
    memoryview.cast raise a bare TypeError ("cannot cast view with zeros
    in shape or strides"); it is BufferTooSmall as an empty 1-D one."""
    bus.create_pages(1, 64)
    with pytest.raises(mmsb.BufferTooSmall):
        bus.read_into(1, np.zeros(shape, dtype=np.float64))


def test_buffers_that_refuse_export_are_invalid_type(bus):
    """numpy's datetime64 arrays export no buffer: memoryview() raises a
    ValueError ("cannot include dtype 'M' in a buffer"), which commit's data
    and read_into's buffer let escape bare, naming no argument. Now
    InvalidType (a TypeError and an MMSBError) naming the argument; nothing
    is committed."""
    bus.create_pages(1, 64)
    lsn = bus.last_lsn
    stamps = np.zeros(8, dtype="M8[s]")
    with pytest.raises(mmsb.InvalidType, match="data of write 0 .*exports no buffer"):
        bus.commit([(1, 0, stamps)])
    with pytest.raises(mmsb.InvalidType, match="read_into's buffer .*exports no buffer"):
        bus.read_into(1, stamps)
    assert bus.last_lsn == lsn and bus.read(1) == bytes(64)


def _header_codes():
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "c", "mmsb.h")) as f:
        src = f.read()
    import re
    return {name: int(v) for name, v in re.findall(r"\b(MMSB_(?:OK|ERR_\w+)) = (\d+)", src)}


def _coded_classes():
    """Every class of errors.py (at any depth) that sets a code of its own."""
    out, todo = [], [errors.MMSBError]
    while todo:
        c = todo.pop()
        todo.extend(c.__subclasses__())
        if "code" in c.__dict__ and c is not errors.MMSBError:
            out.append(c)
    return out


def check_errors_match_header(codes, classes, by_code):
    """Problems between mmsb.h's codes and errors.py's classes, as strings."""
    bad = []
    for name, code in sorted(codes.items(), key=lambda kv: kv[1]):
        if code == 0:
            continue
        cls = by_code.get(code)
        if cls is None:
            bad.append("%s = %d has no class in errors.py" % (name, code))
        elif cls.code != code:
            bad.append("%s = %d maps to %s with code %d" % (name, code, cls.__name__, cls.code))
    want = {c for c in codes.values() if c}
    for cls in classes:
        if cls.code not in want:
            bad.append("%s.code = %d is not a code of mmsb.h" % (cls.__name__, cls.code))
        elif by_code.get(cls.code) is not cls:
            bad.append("%s.code = %d but error_for(%d) gives %s" % (cls.__name__, cls.code, cls.code,
                                                                   getattr(by_code.get(cls.code), "__name__", None)))
    return bad


def test_errors_match_header():
    """Every MMSB_ERR_ code of bindings/c/mmsb.h (1..30 and the ABI's own
    100..104) has exactly one class in errors.py with that code, and every
    class with a code is one of the header's (TestPythonErrorsMatchHeader
    in Go checks only the codes whose comment names a Go sentinel)."""
    codes = _header_codes()
    assert codes["MMSB_OK"] == 0 and codes["MMSB_ERR_INTERNAL"] == 104 and len(codes) >= 36
    assert check_errors_match_header(codes, _coded_classes(), errors.BY_CODE) == []
    for code in codes.values():
        if code:
            assert type(errors.error_for(code, "m")) is errors.BY_CODE[code]


def test_errors_match_header_negative_control():
    """The check catches a code without a class, a class whose code the
    header lacks, and a class a nested subclass hides from error_for."""
    codes = _header_codes()
    assert check_errors_match_header(dict(codes, MMSB_ERR_NEW=31), _coded_classes(), errors.BY_CODE) == [
        "MMSB_ERR_NEW = 31 has no class in errors.py"]

    class Orphan(errors.MMSBError.__base__):  # a code the header lacks (kept out of errors' hierarchy)
        code = 99

    class Nested(Orphan):  # a second class for code 102, which error_for does not give
        code = 102
    assert check_errors_match_header(codes, _coded_classes() + [Orphan, Nested], errors.BY_CODE) == [
        "Orphan.code = 99 is not a code of mmsb.h", "Nested.code = 102 but error_for(102) gives BufferTooSmall"]
    by_code = dict(errors.BY_CODE)
    del by_code[102]
    assert check_errors_match_header(codes, _coded_classes(), by_code) == [
        "MMSB_ERR_BUFFER_TOO_SMALL = 102 has no class in errors.py",
        "BufferTooSmall.code = 102 but error_for(102) gives None"]


_FAIL_FSYNC_CHILD = r"""
import ctypes, json, struct, sys
import mmsb


def fail_fsync():
    import platform
    if platform.machine() != "x86_64":  # the filter below knows x86-64's syscall numbers only
        raise OSError(0, "the fsync filter is written for x86-64, not " + platform.machine())
    # A seccomp filter on every thread of this process (TSYNC: the Go
    # runtime's threads too) that answers fsync(2) and fdatasync(2) with
    # EIO: the log's next sync fails, and the bus with it.
    ld, jeq, ret = 0x20, 0x15, 0x06
    prog = [(ld, 0, 0, 4), (jeq, 0, 4, 0xC000003E),  # another architecture: allow
            (ld, 0, 0, 0), (jeq, 2, 0, 74), (jeq, 1, 0, 75),  # fsync, fdatasync on x86-64
            (ret, 0, 0, 0x7FFF0000), (ret, 0, 0, 0x00050000 | 5)]  # allow; errno EIO
    code = ctypes.create_string_buffer(b"".join(struct.pack("<HBBI", *f) for f in prog))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    p = Prog(len(prog), ctypes.addressof(code))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl")
    if libc.syscall(ctypes.c_long(317), ctypes.c_long(1), ctypes.c_long(1), ctypes.byref(p)) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")  # SECCOMP_SET_MODE_FILTER, FILTER_FLAG_TSYNC


out = {}
bus = mmsb.open(sys.argv[1], sync=sys.argv[2])
bus.create_pages(1, 16)
try:
    fail_fsync()
except OSError as e:
    print(json.dumps({"skip": str(e)}))
    sys.exit(0)
try:
    out["created"] = bus.create_pages(sizes=[32, 48]).tolist()
except mmsb.Failed as e:
    out["error"] = str(e)
    out["ids"] = None if e.page_ids is None else e.page_ids.tolist()
    out["sizes"] = [bus.page_info(i).size for i in (e.page_ids if e.page_ids is not None else [])]
try:
    bus.create_pages(1, 8)
except mmsb.Failed as e:
    out["again"] = None if e.page_ids is None else e.page_ids.tolist()
try:
    bus.close()
except mmsb.MMSBError:
    pass
print(json.dumps(out))
"""


def _create_with_failing_fsync(tmp_path, sync):
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    r = subprocess.run([sys.executable, "-c", _FAIL_FSYNC_CHILD, str(tmp_path / sync), sync], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if "skip" in out:
        _need("seccomp (to make fsync fail): %s" % out["skip"])
    return out


def test_create_pages_failed_after_logging_names_its_pages(tmp_path):
    """mmsb_create_pages fills out_ids also when it returns MMSB_ERR_FAILED
    after the batch was logged and created; Python dropped them (the
    exception said nothing of pages that exist). The bus is made to fail
    for real: a seccomp filter makes fsync fail in a child process. With
    sync="group" the batch is logged and applied before the shared fsync,
    so the pages exist and Failed.page_ids names them; a later batch on
    the failed bus is refused before it is logged (page_ids None)."""
    out = _create_with_failing_fsync(tmp_path, "group")
    assert "created" not in out and "fsync" in out["error"], out
    assert out["ids"] == [2, 3] and out["sizes"] == [32, 48], out
    assert out["again"] is None, out


def test_create_pages_failed_before_applying_names_none(tmp_path):
    """The control: with sync="always" the failed fsync comes before the
    batch is applied, the pages do not exist, and page_ids is None (not
    the zeroed output array)."""
    out = _create_with_failing_fsync(tmp_path, "always")
    assert "fsync" in out["error"] and out["ids"] is None and out["again"] is None, out


class _FakeLib:
    """Stands in for libmmsb.so behind a writer.Bus: reports the page sizes
    of sizes in turn (the page re-created larger between calls)."""

    def __init__(self, sizes=(64,)):
        self.sizes = list(sizes)
        self.reads = 0

    def mmsb_read(self, h, page, buf, cap, n, epoch):
        size = self.sizes[min(self.reads, len(self.sizes) - 1)]
        self.reads += 1
        n._obj.value = size
        if cap < size:
            return writer._STATUS_BUFFER_TOO_SMALL
        ctypes.memset(buf, 7, size)
        return 0

    def mmsb_close(self, h):
        return 0

    def mmsb_last_error(self, buf, n):
        return 0


def test_read_follows_a_page_that_keeps_growing():
    """A page freed and created again larger between the size question and
    the read made the second call too small too: read raised BufferTooSmall
    for a page that exists. It now grows and asks again."""
    lib = _FakeLib(sizes=[5000, 9000, 20000])
    b = writer.Bus(lib, 1, "fake")
    data = b.read(1)
    assert len(data) == 20000 and data == b"\x07" * 20000
    assert lib.reads == 4  # 4096 (the scratch buffer), 5000, 9000, 20000


def test_read_of_sizes_without_end_is_refused():
    """The bound: a library that keeps reporting larger sizes ends in
    BufferTooSmall, not an endless loop."""
    lib = _FakeLib(sizes=[5000 * (i + 1) for i in range(100)])
    b = writer.Bus(lib, 1, "fake")
    with pytest.raises(errors.BufferTooSmall):
        b.read(1)
    assert lib.reads == 1 + writer._READ_RETRIES



@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="the sizes below are LP64's")
def test_ctypes_structs_match_the_c_abi():
    """The ctypes mirrors of mmsb_options and mmsb_stats are exactly the C
    structs' sizes (48 and 144 bytes on LP64, docs/bindings.md). The library
    accepts a larger struct whose tail is zero (a newer program), so a
    field added here and not in mmsb.h would no longer be refused by it:
    this is the guard against such drift."""
    assert ctypes.sizeof(writer._Options) == 48
    assert ctypes.sizeof(writer._Stats) == 144


def test_path_that_names_no_file_is_invalid_argument(tmp_path):
    """A str path with a lone surrogate (no surrogateescape byte: "\\ud800")
    has no bytes a file could be named by: it escaped as a bare
    UnicodeEncodeError; InvalidArgument naming the argument, nothing
    opened."""
    for kw, what in (({"dir": "\ud800"}, "dir"), ({"dir": str(tmp_path / "b\ud800")}, "dir"),
                     ({"dir": "", "shared": True, "shared_dir": "/dev/shm/\ud800"}, "shared_dir")):
        with pytest.raises(mmsb.InvalidArgument, match="%s .* cannot be a file name" % what):
            mmsb.open(**kw)
    assert os.listdir(tmp_path) == []


def test_flags_without_a_truth_value_are_invalid_type(bus):
    """wait, from_newest_checkpoint, shared and shared_group of an object
    with no truth value (a numpy array of two elements) raised numpy's
    bare ValueError; InvalidType naming the flag, nothing committed."""
    page = bus.create_page(8)
    lsn = bus.last_lsn
    two = np.array([1, 0])
    for call, what in ((lambda: bus.commit([(page, 0, b"x")], wait=two), "wait"),
                       (lambda: bus.commit_array([page], [0], b"x", wait=two), "wait"),
                       (lambda: bus.verify_replay(two), "from_newest_checkpoint"),
                       (lambda: mmsb.open("", shared=two), "shared"),
                       (lambda: mmsb.open("", shared_group=two), "shared_group")):
        with pytest.raises(mmsb.InvalidType, match="%s must be a bool" % what):
            call()
    assert bus.last_lsn == lsn
    assert bus.read(page) == bytes(8)


# Run in a child: before the fix Bus.read_into wrote page bytes over the
# buffer's PyObject pointers and the first use of an item crashed the
# interpreter (exit -11), which would have taken pytest down with it.
_READ_INTO_OBJECTS_CHILD = r"""
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
    yield "memoryview of objects", memoryview(a), lambda a=a: repr(a[0])
    a = (ctypes.py_object * 128)(*([0] * 128))
    yield "ctypes py_object array", a, lambda a=a: repr(a[0])
    for T in (U, P):
        a = (T * 128)()
        for item in a:
            item.o = 0
        yield "ctypes %s array" % T.__name__, a, lambda a=a: repr(a[0].o)

with mmsb.open(sys.argv[1]) as bus:
    bus.create_pages(1, 1024)
    bus.commit([(1, 0, b"\x07" * 1024)])
    for what, buf, use in buffers():
        try:
            bus.read_into(1, buf)
            print(what, "accepted")
        except mmsb.InvalidArgument as e:
            print(what, "refused:", e)
        use()
"""


def test_read_into_buffer_of_python_objects_is_refused(tmp_path):
    """Bus.read_into into a numpy object array (or a structured array with
    an object field, a ctypes py_object array, or a ctypes union or packed
    structure with a py_object field, which ctypes exports as plain bytes)
    overwrote the PyObject pointers with page bytes: a segmentation fault. Each is InvalidArgument
    before the library copies anything."""
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    out = subprocess.run([sys.executable, "-c", _READ_INTO_OBJECTS_CHILD, str(tmp_path / "bus")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, "child exited %d: %s%s" % (out.returncode, out.stdout, out.stderr)
    lines = out.stdout.splitlines()
    assert len(lines) == 6, out.stdout
    for line in lines:
        assert "refused:" in line and "holds Python objects" in line, line


def test_structured_data_with_o_in_a_field_name(bus):
    """A structured array whose field NAME holds an "O" (format
    "T{l:Out:d:x:}") was refused by commit and as a metadata value as
    "holds Python objects", though commit_array took the same bytes; it is
    plain data everywhere, and an object field is still refused everywhere,
    as is a ctypes union holding a py_object (its format is plain "B")."""
    bus.create_pages(2, 64)
    plain = np.zeros(2, dtype=[("Out", "<i8"), ("x", "<f8")])
    plain["Out"] = [5, 6]
    bus.commit([(1, 0, plain)])
    bus.commit_array([2], [0], plain)
    assert bus.read(1)[:32] == bus.read(2)[:32] == plain.tobytes()
    bus.set_metadata(1, {"k": plain})
    assert bus.metadata(1) == [("k", plain.tobytes())]
    objs = np.zeros(1, dtype=[("Out", "<i8"), ("o", "O")])

    class U(ctypes.Union):  # exported as plain bytes (format "B")
        _fields_ = [("n", ctypes.c_int64), ("o", ctypes.py_object)]
    union = (U * 2)()
    lsn = bus.last_lsn
    for call in (lambda: bus.commit([(1, 0, objs)]), lambda: bus.commit_array([1], [0], objs),
                 lambda: bus.commit_array([1], [0], memoryview(objs)),
                 lambda: bus.set_metadata(1, {"k": objs}),
                 lambda: bus.commit([(1, 0, union)]), lambda: bus.commit_array([1], [0], union),
                 lambda: bus.set_metadata(1, {"k": memoryview(union)})):
        with pytest.raises(mmsb.InvalidArgument, match="Python objects"):
            call()
    assert bus.last_lsn == lsn


def test_bool_is_not_a_page_offset_or_lsn(bus):
    """operator.index took True as 1: commit([(True, 0, b"x")]) wrote page
    1 and read(True) read it. A bool (Python's or numpy's, alone or as an
    array) is InvalidType, as the docs say of anything not an integer."""
    bus.create_pages(2, 64)
    lsn = bus.last_lsn
    for call in (lambda: bus.commit([(True, 0, b"x")]), lambda: bus.commit([(1, False, b"x")]),
                 lambda: bus.commit([(np.bool_(True), 0, b"x")]),
                 lambda: bus.commit_array([True], [0], b"x"), lambda: bus.commit_array([1], np.array([False]), b"x"),
                 lambda: bus.read(True), lambda: bus.read_into(True, bytearray(64)),
                 lambda: bus.read_at(1, True), lambda: bus.wait_durable(True), lambda: bus.free_page(True)):
        with pytest.raises(mmsb.InvalidType):
            call()
    assert bus.last_lsn == lsn and bus.read(1) == bytes(64)
