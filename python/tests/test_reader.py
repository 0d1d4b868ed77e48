"""Tests of the pure-Python reader against a live Go writer
(internal/cmd/shmwriter) and against regions written by the test itself
(fakeregion.py)."""

import multiprocessing
import os
import random
import re
import signal
import struct
import threading
import time

import numpy as np
import pytest

import mmsb
from mmsb import _layout as L
from fakeregion import FakeRegion
from conftest import _need

TORTURE_SECONDS = float(os.environ.get("MMSB_PY_TORTURE_SECONDS", "2"))


def torn_at(b):
    """Offset of the first 8-byte word differing from the first, or -1 (the
    torn-page detector: the writer fills a page with one value)."""
    a = np.frombuffer(b, dtype="<u8")
    bad = np.flatnonzero(a != a[0])
    return -1 if len(bad) == 0 else int(bad[0]) * 8


def test_torn_detector():
    page = struct.pack("<Q", 5) * 128
    assert torn_at(page) == -1
    mixed = page[:512] + struct.pack("<Q", 6) * 64
    assert torn_at(mixed) == 512  # the detector can fire


def test_static_contents(start_writer):
    w = start_writer(mode="static", pages=8)
    assert w.region == mmsb.region_path(w.bus_dir, w.shm)
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        assert r.pages() == w.ids
        assert r.last_lsn == w.lsn
        assert r.writer_pid == w.pid
        for pid in w.ids:
            b = r.read(pid)
            assert b == struct.pack("<Q", pid) * 128
            p = r.read_page(pid)
            assert (p.id, p.data, p.epoch) == (pid, b, 1)
            assert 0 < p.lsn <= r.last_lsn
            with r.view(pid, dtype=np.uint64) as v:
                assert v.array.shape == (128,)
                assert (v.array == pid).all()
                assert v.valid()
            buf = bytearray(2048)
            assert r.read_into(pid, buf) == 1024 and bytes(buf[:1024]) == b
        with pytest.raises(ValueError):
            r.read_into(w.first, bytearray(100))
        with pytest.raises(ValueError):
            r.view(w.first, dtype="S3")  # 1024 is not a multiple of 3
        assert r.apply(w.first, lambda a: int(a.sum()), dtype=np.uint64) == 128 * w.first


def test_growth_under_an_open_reader(start_writer):
    """The writer grows its slot arrays past the first reservation and maps
    new chunks while a reader is open: the reader remaps and reads every
    page correctly, and views taken before the growth stay valid."""
    w = start_writer(mode="static", pages=8)
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        before = r._slots
        v = r.view(w.first, dtype=np.uint64)
        pages, lsn = w.grow()
        assert r.wait(w.lsn, timeout=10) >= lsn
        ids = r.pages()
        assert len(ids) == pages > 16 << 10
        for pid in ids[::97] + ids[-3:]:
            assert r.read(pid) == struct.pack("<Q", pid) * 128
        assert r._slots > before  # the slot arrays were mapped afresh
        assert len(r._chunks) > 1
        assert v.valid() and (v.array == w.first).all()


def test_missing_page(start_writer):
    w = start_writer(mode="static", pages=2)
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        for bad in (0, 3, 10**12):
            with pytest.raises(mmsb.PageNotFound) as ei:
                r.read(bad)
            assert isinstance(ei.value, KeyError) and str(bad) in str(ei.value)
        with pytest.raises(KeyError):
            r.view(99)
        with pytest.raises(mmsb.PageNotFound):
            r.snapshot([1, 99])


def test_symlinked_bus_dir(start_writer, tmp_path):
    w = start_writer(mode="static", pages=1)
    link = tmp_path / "link"
    os.symlink(w.bus_dir, link)
    assert mmsb.region_path(str(link), w.shm) == w.region
    with mmsb.Reader(str(link), w.shm) as r:
        assert r.read(w.first)[:8] == struct.pack("<Q", w.first)


def test_torture_live_writer(start_writer):
    """A writer rewrites whole pages (one counter per word), creates and
    frees pages; the reader reads, views and snapshots: no torn page, the
    committed LSN never goes back, snapshot pages are all <= its LSN."""
    w = start_writer(mode="busy", pages=64, churn=True)
    rng = random.Random(1)
    n = dict(reads=0, views=0, snaps=0, snapbusy=0, notfound=0, torn=0, lsnback=0, snapbad=0)
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        first_lsn = last = r.last_lsn
        end = time.monotonic() + TORTURE_SECONDS
        ids = r.pages()
        while time.monotonic() < end:
            if rng.random() < 0.05:
                ids = r.pages()
            pid = rng.choice(ids)
            try:
                k = rng.random()
                if k < 0.6:
                    if torn_at(r.read(pid)) >= 0:
                        n["torn"] += 1
                    n["reads"] += 1
                elif k < 0.9:
                    with r.view(pid, dtype="<u8") as v:
                        a = v.array
                        first, uniform = a[0], bool((a == a[0]).all())
                        if v.valid():
                            n["views"] += 1
                            n["torn"] += not uniform
                            del first
                else:
                    s = r.snapshot(rng.sample(ids, 4))
                    n["snaps"] += 1
                    n["torn"] += sum(torn_at(p.data) >= 0 for p in s.pages.values())
                    n["snapbad"] += sum(p.lsn > s.lsn for p in s.pages.values())
            except mmsb.PageNotFound:
                n["notfound"] += 1  # freed by the churn
            except mmsb.SnapshotBusy:
                n["snapbusy"] += 1  # the writer outran every attempt
            lsn = r.last_lsn
            n["lsnback"] += lsn < last
            last = lsn
        retries = r.retries
    w.stop()
    print("python torture:", n, "retries", retries, "lsn", first_lsn, "->", last)
    assert n["torn"] == 0 and n["lsnback"] == 0 and n["snapbad"] == 0, n
    assert last > first_lsn, "the writer committed nothing during the torture"
    assert n["reads"] > 100 and n["views"] > 50 and n["snaps"] > 0, n


def test_view_is_read_only(start_writer):
    w = start_writer(mode="static", pages=1)
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        a = r.view(w.first).array
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0] = 1
        with pytest.raises(ValueError):
            a.setflags(write=True)


def test_view_lifetime(start_writer):
    """After close() a PageView refuses to hand out its array or to check
    it; an array taken out earlier keeps its mapping alive (no reads of
    unmapped memory: numpy#9537), and close() does not fail because of it
    (cpython#115635's BufferError is absorbed)."""
    w = start_writer(mode="static", pages=2)
    r = mmsb.Reader(w.bus_dir, w.shm)
    v = r.view(w.first, dtype=np.uint64)
    kept = v.array
    with r.view(w.first + 1) as released:
        pass
    with pytest.raises(mmsb.Closed):
        released.array  # released by the with block
    r.close()
    assert r.closed
    with pytest.raises(mmsb.Closed):
        v.array
    with pytest.raises(mmsb.Closed):
        v.valid()
    with pytest.raises(mmsb.Closed):
        r.read(w.first)
    with pytest.raises(mmsb.Closed):
        r.last_lsn
    r.close()  # twice is fine
    w.stop()  # the writer removes the region's files
    assert not os.path.exists(w.region)
    assert (kept == w.first).all()  # still mapped: the array pins it


def test_close_unmaps_when_no_array_remains(start_writer):
    w = start_writer(mode="static", pages=1)
    r = mmsb.Reader(w.bus_dir, w.shm)
    v = r.view(w.first)
    del v
    hdr = r._hdr.mm
    chunk = r._chunks[0].map.mm
    r.close()
    assert hdr.closed and chunk.closed  # nothing pinned them: unmapped now


def test_writer_killed_gives_writer_gone(start_writer):
    w = start_writer(mode="busy", pages=8)
    r = mmsb.Reader(w.bus_dir, w.shm)
    assert len(r.read(w.first)) == 1024
    w.kill()
    deadline = time.monotonic() + 5
    with pytest.raises(mmsb.WriterGone):
        while time.monotonic() < deadline:
            r.read(w.first)
    with pytest.raises(mmsb.WriterGone):  # sticky
        r.wait(2**63, timeout=1)
    r.close()


def test_writer_closed_gives_writer_gone(start_writer):
    w = start_writer(mode="static", pages=1)
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        w.stop()
        with pytest.raises(mmsb.WriterGone, match="closed the bus"):
            r.read(w.first)
    with pytest.raises(mmsb.WriterGone, match="no shared region"):
        mmsb.Reader(w.bus_dir, w.shm)


def test_writer_restart_gives_stale(start_writer):
    w = start_writer(mode="busy", pages=8)
    old = mmsb.Reader(w.bus_dir, w.shm)
    old.read(w.first)
    gen = old.generation
    w.kill()  # no call on old until the new writer published its region
    w2 = start_writer(mode="busy", pages=8, bus_dir=w.bus_dir)
    with pytest.raises(mmsb.Stale):
        old.read(w.first)
    with pytest.raises(mmsb.Stale):
        old.pages()
    old.close()
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        assert r.generation != gen and r.writer_pid == w2.pid
        assert len(r.read(w.first)) == 1024


def test_view_valid_after_restart_gives_stale(start_writer):
    """A PageView of the old region: once a new writer took over the bus
    (the old header says superseded), the page is written in the new
    region, never in the old one, so its sequence word there stays put.
    valid() said True for ever, and code polling it kept using the old
    bytes as current; it raises Stale now (sticky), as every other call."""
    w = start_writer(mode="static", pages=1)  # writes nothing after READY
    old = mmsb.Reader(w.bus_dir, w.shm)
    v = old.view(w.first, dtype=np.uint64)
    w.kill()
    assert v.valid()  # control: the killed writer wrote nothing since
    w2 = start_writer(mode="busy", pages=1, bus_dir=w.bus_dir)
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        deadline = time.monotonic() + 10
        while r.read_page(w.first).lsn <= w2.lsn and time.monotonic() < deadline:
            time.sleep(0.001)  # until the new writer rewrote the page
        assert r.read_page(w.first).lsn > w2.lsn
    with pytest.raises(mmsb.Stale):
        v.valid()
    with pytest.raises(mmsb.Stale):  # sticky
        old.view(w.first)
    old.close()


def test_view_valid_after_close_of_the_writer(tmp_path):
    """The same for a region whose writer closed the bus (a later writer
    publishes a new region, and the old one's words no longer move):
    WriterGone from valid(), not True."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    with mmsb.Reader(region=fr.path) as r:
        v = r.view(1)
        assert v.valid()  # control
        fr.put(fr.hdr, "<Q", L.H_STATE, L.STATE_CLOSED)
        with pytest.raises(mmsb.WriterGone, match="closed the bus"):
            v.valid()
    fr.close()


def _child_read(reader, bus_dir, shm, ids, q):
    try:
        inherited = [reader.read(i) for i in ids]
        with mmsb.Reader(bus_dir, shm) as own:
            fresh = [own.read(i) for i in ids]
            lsn = own.wait(0, timeout=5)
        q.put(("ok", inherited, fresh, lsn))
    except BaseException as e:  # report anything to the parent
        q.put(("error", repr(e), None, None))


def test_fork_child_reads(start_writer):
    w = start_writer(mode="static", pages=4)
    ctx = multiprocessing.get_context("fork")
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        want = [r.read(i) for i in w.ids]
        q = ctx.Queue()
        p = ctx.Process(target=_child_read, args=(r, w.bus_dir, w.shm, w.ids, q))
        p.start()
        status, inherited, fresh, lsn = q.get(timeout=60)
        p.join(60)
        assert status == "ok", inherited
        assert p.exitcode == 0
        assert inherited == want and fresh == want and lsn == w.lsn


@pytest.mark.parametrize("mode", ["futex", "poll"])
def test_wait(start_writer, mode):
    w = start_writer(mode="busy", pages=8)
    with mmsb.Reader(w.bus_dir, w.shm, wait_mode=mode) as r:
        for _ in range(20):
            last = r.last_lsn
            assert r.wait(last, timeout=10) > last
        assert r.wait_mode == mode
    w.stop()


def test_wait_timeout(start_writer):
    w = start_writer(mode="static", pages=1)
    with mmsb.Reader(w.bus_dir, w.shm) as r:
        assert r.wait(w.lsn - 1, timeout=0) == w.lsn
        t = time.monotonic()
        with pytest.raises(mmsb.Timeout):
            r.wait(w.lsn, timeout=0.05)
        assert isinstance(mmsb.Timeout("x"), TimeoutError)
        assert time.monotonic() - t < 5


# ---- regions written by the test (deterministic failure states) ----------


def test_fake_region_reads(tmp_path):
    fr = FakeRegion(str(tmp_path / "r"), pages=3)
    with mmsb.Reader(region=fr.path) as r:
        assert r.pages() == [1, 2, 3]
        assert r.read(2) == struct.pack("<Q", 2) * 128
        assert r.read_page(3).lsn == 3
    fr.close()


def test_stuck_writer_gives_writer_gone(tmp_path):
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    with mmsb.Reader(region=fr.path, writer_timeout=0.05) as r:
        fr.put(fr.seq, "<Q", 0, 2 * 5 - 1)  # page 1 mid-write (odd), forever
        t = time.monotonic()
        with pytest.raises(mmsb.WriterGone, match="mid-write"):
            r.read(1)
        assert time.monotonic() - t < 5
        assert r.read(2)  # other pages still read
        fr.put(fr.seq, "<Q", 0, 2 * 5)  # the write ends
        assert r.read(1) == struct.pack("<Q", 1) * 128
    fr.close()


def test_page_always_mid_write_but_moving_gives_read_busy(tmp_path, monkeypatch):
    """A sequence word found odd at every attempt, but a different odd
    value each time (a writer that rewrites the page faster than the reader
    looks, and is mid-write whenever it looks), is a busy page: ReadBusy
    after busy_timeout. The reader retried it forever: ReadBusy was given
    for an even word only, and WriterGone needs an unchanged one. Here the
    word moves by 2 at each of the reader's pauses (time.sleep, patched);
    an alarm turns the old endless retry into a failure."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    real_sleep = time.sleep
    word = [2 * 5 - 1]

    def moving_sleep(s):
        word[0] += 2  # still odd: another write in progress
        fr.put(fr.seq, "<Q", 0, word[0])
        real_sleep(s)

    def hung(*_):
        raise AssertionError("read of a page always mid-write under a moving word never ended")
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        with mmsb.Reader(region=fr.path, writer_timeout=60, busy_timeout=0.05) as r:
            fr.put(fr.seq, "<Q", 0, word[0])
            monkeypatch.setattr(time, "sleep", moving_sleep)
            with pytest.raises(mmsb.ReadBusy, match="page 1"):
                r.read(1)
            monkeypatch.setattr(time, "sleep", real_sleep)
            assert word[0] > 2 * 5 - 1  # the word did move
            fr.put(fr.seq, "<Q", 0, word[0] + 1)  # the write ends
            assert r.read(1) == struct.pack("<Q", 1) * 128
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    fr.close()


def test_seqlock_negative_control(tmp_path):
    """The checks can fail: a torn page under an even, unchanged sequence
    word is returned as is (the reader trusts only the sequence word, so
    the torture's zero torn pages are the sequence protocol's doing), and
    a moving word is never accepted."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    fr.chunk[512:1024] = struct.pack("<Q", 9) * 64
    with mmsb.Reader(region=fr.path, busy_timeout=0.05) as r:
        assert torn_at(r.read(1)) == 512
        calls = []

        def moving(a):
            calls.append(1)
            fr.put(fr.seq, "<Q", 0, 2 * (10 + len(calls)))  # a write in between
            return 1

        with pytest.raises(mmsb.ReadBusy):
            r.apply(1, moving)
        assert len(calls) > 1
        v = r.view(1)
        fr.put(fr.seq, "<Q", 0, 2 * 100)
        assert not v.valid()
    fr.close()


def test_reference_outside_chunk_gives_format_error(tmp_path):
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    fr.put(fr.cells, "<II", 0, 63, 4096)  # cell 63 of 64, 4 KiB: past the chunk
    with mmsb.Reader(region=fr.path) as r:
        with pytest.raises(mmsb.FormatError, match="outside its chunk"):
            r.read(1)
    fr.close()


def test_dead_writer_pid_gives_writer_gone(tmp_path):
    p = multiprocessing.get_context("fork").Process(target=lambda: None)
    p.start()
    p.join()
    fr = FakeRegion(str(tmp_path / "r"), pages=1, pid=p.pid)
    with pytest.raises(mmsb.WriterGone):
        mmsb.Reader(region=fr.path)
    fr.close()


@pytest.mark.parametrize("state,err", [(L.STATE_SUPERSEDED, mmsb.Stale), (L.STATE_CLOSED, mmsb.WriterGone),
                                       (L.STATE_BUILDING, mmsb.WriterGone)])
def test_states(tmp_path, state, err):
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    r = mmsb.Reader(region=fr.path)
    fr.put(fr.hdr, "<Q", L.H_STATE, state)
    with pytest.raises(err):
        r.read(1)
    r.close()
    with pytest.raises(err):
        mmsb.Reader(region=fr.path)
    fr.close()


@pytest.mark.parametrize("field,fmt,value,match", [
    (L.H_MAGIC, "<Q", 0x1234, "bad magic"),
    (L.H_VERSION, "<I", 2, "format version 2"),
    (L.H_HDR_SIZE, "<I", 8192, "header size"),
    (L.H_CELL_BITS, "<I", 13, "cell bits"),
    (L.H_STRIDES, "<B", 4, "strides"),
    (L.H_MAX_CHUNKS, "<Q", 5, "chunk table"),
    (L.H_CHUNKS, "<Q", L.MAX_CHUNKS + 1, "chunks in use"),
    (L.H_HW, "<Q", 1000, "slots used"),
    (L.H_LIVE, "<Q", 1000, "live pages"),
    (L.H_STATE, "<Q", 9, "unknown state"),
])
def test_bad_header_gives_format_error(tmp_path, field, fmt, value, match):
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    fr.put(fr.hdr, fmt, field, value)
    with pytest.raises(mmsb.FormatError, match=match):
        mmsb.Reader(region=fr.path)
    fr.close()


def test_truncated_files_give_format_error(tmp_path):
    for name, n in ((L.HEADER_FILE, 0), (L.HEADER_FILE, 100), (L.HEADER_FILE, 2048),
                    (L.CHUNK_TABLE_FILE, 4096)):
        fr = FakeRegion(str(tmp_path / ("r%s%d" % (name, n))), pages=1)
        fr.close()
        os.truncate(os.path.join(fr.path, name), n)
        with pytest.raises(mmsb.FormatError):
            mmsb.Reader(region=fr.path)


def test_missing_chunk_table_gives_format_error(tmp_path):
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    fr.close()
    os.unlink(os.path.join(fr.path, L.CHUNK_TABLE_FILE))
    with pytest.raises(mmsb.FormatError, match="no chunk table"):
        mmsb.Reader(region=fr.path)


def test_fuzz_header_bytes(tmp_path):
    """Random, mutated and truncated headers: decode_header raises
    FormatError or returns; opening such a region raises an MMSBError or
    opens; nothing else (no IndexError, struct.error, crash)."""
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    good = bytes(fr.hdr)
    rng = random.Random(7)
    outcomes = {"ok": 0, "format": 0}
    for i in range(3000):
        k = i % 3
        if k == 0:
            b = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 7, 64, 127, 128, 200, 4096])))
        elif k == 1:
            b = bytearray(good)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(L.HEADER_USED)] = rng.getrandbits(8)
            b = bytes(b)
        else:
            b = good[:rng.randrange(len(good) + 1)]
        try:
            L.decode_header(b)
            outcomes["ok"] += 1
        except mmsb.FormatError:
            outcomes["format"] += 1
    assert outcomes["format"] > 0 and outcomes["ok"] > 0, outcomes
    for i in range(150):
        b = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(L.HEADER_USED)] = rng.getrandbits(8)
        if i % 5 == 0:
            b = b[:rng.randrange(len(b))]
        fr.hdr.seek(0)
        path = str(tmp_path / ("f%d" % i))
        os.mkdir(path)
        for name in os.listdir(fr.path):
            os.link(os.path.join(fr.path, name), os.path.join(path, name))
        os.unlink(os.path.join(path, L.HEADER_FILE))
        with open(os.path.join(path, L.HEADER_FILE), "wb") as f:
            f.write(b)
        try:
            with mmsb.Reader(region=path) as r:
                for pid in (1, 2, 3):
                    try:
                        r.read(pid)
                    except mmsb.PageNotFound:
                        pass
        except mmsb.MMSBError:
            pass
    fr.close()


def test_view_valid_after_slot_files_vanish(tmp_path):
    """The slot files are gone (region removed, or truncated) while the
    header still says live and promises more slots: a rebuild maps them
    afresh, shorter than the capacity. That is refused (FormatError, as
    the Go reader's remapSlots refuses it), never an IndexError, and the
    old mappings are kept: a PageView taken earlier still answers valid()
    from them (its page's sequence word there has not moved)."""
    fr = FakeRegion(str(tmp_path / "r"), pages=4)
    with mmsb.Reader(region=fr.path) as r:
        v = r.view(4)
        assert v.valid()  # control
        fr.put(fr.hdr, "<QQ", L.H_HW, 20, 32)  # slots used beyond the mapping, within capacity
        for name in (L.IDS_FILE, L.VERS_FILE, L.CELLS_FILE, L.SEQ_FILE):
            os.unlink(os.path.join(fr.path, name))
        with pytest.raises(mmsb.FormatError, match="hold 0 slots, the header publishes 32"):
            r.pages()
        assert v.valid()
    fr.close()


def _release_chunk(fr):
    """What the writer does to a large page's chunk before the free moves
    the slot's sequence word, and to every chunk at Close: generation 0 in
    the chunk table, file removed."""
    fr.put(fr.maps[L.CHUNK_TABLE_FILE], "<I", 0, 0)
    os.unlink(os.path.join(fr.path, L.chunk_file_name(0, 1)))


@pytest.mark.parametrize("then", ["free", "close"])
def test_unavailable_chunk_is_a_retry(tmp_path, then):
    """A page whose chunk is released while its slot's sequence word has
    not moved yet (a free in progress, a writer closing) is retried, not
    reported as a corrupt region: the read ends as the writer goes on,
    with the page gone or WriterGone. (It raised FormatError at once.)"""
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    with mmsb.Reader(region=fr.path, writer_timeout=10) as r:
        assert r.read(1)  # control: the chunk is mapped
        _release_chunk(fr)

        def go_on():
            if then == "free":  # the rest of the free of page 1 (LSN 5)
                fr.put(fr.seq, "<Q", 0, 2 * 5 - 1)
                fr.put(fr.ids, "<Q", 0, 0)
                fr.put(fr.cells, "<II", 0, 0, 0)
                fr.put(fr.seq, "<Q", 0, 2 * 5)
                fr.put(fr.hdr, "<Q", L.H_TABLE_VER, 2)
            else:
                fr.put(fr.hdr, "<Q", L.H_STATE, L.STATE_CLOSED)

        timer = threading.Timer(0.05, go_on)
        timer.start()
        t = time.monotonic()
        try:
            with pytest.raises(mmsb.PageNotFound if then == "free" else mmsb.WriterGone):
                r.read(1)
        finally:
            timer.join()
        assert time.monotonic() - t < 5
    fr.close()


def test_unavailable_chunk_is_bounded(tmp_path):
    """A chunk that stays unavailable while the slot's word stays even and
    unchanged (a corrupt chunk table) must not make reads spin: FormatError
    after writer_timeout."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    with mmsb.Reader(region=fr.path, writer_timeout=0.05, busy_timeout=0.01) as r:
        _release_chunk(fr)
        t = time.monotonic()
        with pytest.raises(mmsb.FormatError, match="chunk stayed unavailable"):
            r.read(1)
        assert time.monotonic() - t < 5
    fr.close()


def test_fifo_region_file_refused(tmp_path):
    """A FIFO in place of a region file (anyone can create the region's
    predictable name) is refused with FormatError. Opening it for reading
    used to block until some process opened its other end; if the open
    blocks, the test opens that end itself, so that it fails, not hangs."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    fr.close()
    hdr = os.path.join(fr.path, L.HEADER_FILE)
    os.unlink(hdr)
    os.mkfifo(hdr, 0o600)
    done = threading.Event()

    def guard():  # a hang guard, not a timing check
        if not done.wait(10):
            os.close(os.open(hdr, os.O_WRONLY | os.O_NONBLOCK))

    g = threading.Thread(target=guard, daemon=True)
    g.start()
    try:
        with pytest.raises(mmsb.FormatError, match="not a regular file"):
            mmsb.Reader(region=fr.path)
    finally:
        done.set()
        g.join()


def test_symlinked_region_file_refused(tmp_path):
    """A region file replaced by a symbolic link (here to the same header,
    moved elsewhere) is refused with FormatError, as the Go and C readers
    refuse it: the link was followed and fstat saw a regular file, so a
    header linked to another bus's was read as this bus's."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    fr.close()
    hdr = os.path.join(fr.path, L.HEADER_FILE)
    moved = str(tmp_path / "moved-header")
    os.rename(hdr, moved)
    os.symlink(moved, hdr)
    with pytest.raises(mmsb.FormatError, match="symbolic link, not a regular file"):
        mmsb.Reader(region=fr.path)


@pytest.mark.parametrize("name,mode", [(None, 0o770), (None, 0o702), (L.HEADER_FILE, 0o620),
                                       (L.CHUNK_TABLE_FILE, 0o602), (L.SEQ_FILE, 0o660)])
def test_region_writable_by_others_refused(tmp_path, name, mode):
    """Whoever may write the region directory or a file of it could change
    what readers read: refused, naming the path."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    fr.close()
    path = fr.path if name is None else os.path.join(fr.path, name)
    os.chmod(path, mode)
    with pytest.raises(mmsb.FormatError, match=re.escape(path) + r" \(owner uid \d+, expected uid \d+\) is writable"):
        mmsb.Reader(region=fr.path)


def test_shared_group_modes_accepted(tmp_path):
    """Control: the modes of a writer with SharedGroup (0750, 0640) open."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    os.chmod(fr.path, 0o750)
    for name in os.listdir(fr.path):
        os.chmod(os.path.join(fr.path, name), 0o640)
    with mmsb.Reader(region=fr.path) as r:
        assert r.read(1) == struct.pack("<Q", 1) * 128
    fr.close()


def test_region_name_linked_elsewhere_refused(start_writer, tmp_path):
    """A link planted under a bus's region name, naming another bus's
    region of the same user, is refused, not read as this bus."""
    w = start_writer(mode="static", pages=1)
    other = str(tmp_path / "other-bus")
    os.mkdir(other)
    os.symlink(w.region, mmsb.region_path(other, w.shm))
    with pytest.raises(mmsb.FormatError, match="is not a directory"):
        mmsb.Reader(other, w.shm)


def test_region_owner_must_own_bus_dir(start_writer, tmp_path):
    """The region directory and its files must belong to the owner of the
    bus directory (links followed): a region created by another user, with
    a header naming a live process of theirs, is refused. Needs root
    (os.chown): skipped otherwise, failed under MMSB_REQUIRE_EXTERNAL=1
    (CI runs as root)."""
    if os.geteuid() != 0:
        _need("root (giving files to another user with os.chown)")
    other, me = 65534, os.geteuid()
    w = start_writer(mode="static", pages=1)
    os.chown(w.bus_dir, other, other)  # as if another user had made the region
    try:
        with pytest.raises(mmsb.FormatError, match=re.escape("%s is owned by uid %d, expected uid %d"
                                                             % (w.region, me, other))):
            mmsb.Reader(w.bus_dir, w.shm)
    finally:
        os.chown(w.bus_dir, me, me)
    for name in (None, L.HEADER_FILE, L.IDS_FILE):
        path = w.region if name is None else os.path.join(w.region, name)
        os.chown(path, other, other)
        try:
            with pytest.raises(mmsb.FormatError, match=re.escape("%s is owned by uid %d, expected uid %d"
                                                                 % (path, other, me))):
                mmsb.Reader(w.bus_dir, w.shm)
        finally:
            os.chown(path, me, me)
    # Control: a link to the bus owned by someone else changes nothing.
    link = str(tmp_path / "link")
    os.symlink(w.bus_dir, link)
    os.lchown(link, other, other)
    with mmsb.Reader(link, w.shm) as r:
        assert r.read(w.first)[:8] == struct.pack("<Q", w.first)


@pytest.mark.parametrize("state,err", [(L.STATE_SUPERSEDED, mmsb.Stale), (L.STATE_CLOSED, mmsb.WriterGone)])
def test_last_lsn_is_sticky_after_writer_gone(tmp_path, state, err):
    """last_lsn went on returning the old region's LSN after a call raised
    WriterGone or Stale; it raises it too, as every call of the reader
    (the state word put back to live proves it is the reader's memory)."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    with mmsb.Reader(region=fr.path) as r:
        lsn = r.last_lsn
        fr.put(fr.hdr, "<Q", L.H_STATE, state)
        with pytest.raises(err):
            r.read(1)
        fr.put(fr.hdr, "<Q", L.H_STATE, L.STATE_LIVE)
        with pytest.raises(err):
            r.last_lsn
        with pytest.raises(err):
            r.read(1)
    with mmsb.Reader(region=fr.path) as r:
        assert r.last_lsn == lsn
    fr.close()
