"""The Python reader against a region replaced or damaged under it (the
Go reader's shm_reader_damage_test.go stages the same; the C reader's are
in tests/bindings/reader_damage_test.go). The regions are written by the
test (fakeregion.py), which is also their writer process."""

import os
import random
import shutil
import struct
import subprocess

import pytest

import mmsb
from mmsb import _layout as L
from conftest import _need
from fakeregion import CELL, FakeRegion


def _two_regions(tmp_path):
    """The old region at tmp_path/r, page 1 its usual bytes, and a new
    writer's region built beside it with page 1 all 0xbb (chunk file names
    are the same in both: generations restart at 1)."""
    old = FakeRegion(str(tmp_path / "r"), pages=2)
    new = FakeRegion(str(tmp_path / "r.building2"), pages=2)
    new.chunk[0:CELL] = b"\xbb" * CELL
    return old, new


def test_reader_bound_to_its_region(tmp_path):
    """A restarting writer marks the old region superseded, removes it and
    renames its own to the same path. A reader that had just checked the
    state word (live) opened the chunk files it had not mapped yet by
    path, the new region's, and read the new writer's bytes under the old
    slot's unchanged sequence word: wrong bytes, no error. Staged here in
    that moment (the restart runs right after the reader's check). The
    reader opens every file relative to the directory it opened, so the
    old region's removed chunk is unavailable: retried, then Stale."""
    old, new = _two_regions(tmp_path)
    with mmsb.Reader(region=old.path, writer_timeout=5) as r:
        assert not r._chunks  # page 1's chunk is not mapped yet
        check = r._check

        def check_then_restart():
            check()
            del r._check  # once
            old.put(old.hdr, "<Q", L.H_STATE, L.STATE_SUPERSEDED)
            shutil.rmtree(old.path)
            os.rename(new.path, old.path)

        r._check = check_then_restart
        try:
            b = r.read(1)
        except mmsb.Stale:
            pass
        else:
            pytest.fail("old reader read page 1 from the region that replaced it: %s..." % b[:4].hex(" "))
    with mmsb.Reader(region=old.path) as r2:  # control: a reader opened now reads the new region
        assert r2.read(1) == b"\xbb" * CELL
    old.close()
    new.close()


def test_reader_keeps_its_moved_region(tmp_path):
    """The region directory renamed away (kept) and another renamed into
    its path: the reader goes on reading the files of the directory it
    opened, page 1's own bytes, not the newcomer's (it read 0xbb)."""
    old, new = _two_regions(tmp_path)
    want = old.chunk[0:CELL]
    with mmsb.Reader(region=old.path) as r:
        os.rename(old.path, str(tmp_path / "moved"))
        os.rename(new.path, old.path)
        b = r.read(1)
        assert b == want, "page 1 read %s..., want its own %s..." % (b[:4].hex(" "), want[:4].hex(" "))
        assert r.pages() == [1, 2]
    old.close()
    new.close()


def test_region_directory_checked_when_opened(tmp_path):
    """The directory the reader holds must be the one it checked: a link
    in the region's place is refused (FormatError), and a region path
    that is missing is WriterGone (controls of the open path)."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    os.symlink(fr.path, str(tmp_path / "link"))
    with pytest.raises(mmsb.FormatError, match="not a directory"):
        mmsb.Reader(region=str(tmp_path / "link"))
    with pytest.raises(mmsb.WriterGone):
        mmsb.Reader(region=str(tmp_path / "none"))
    with mmsb.Reader(region=fr.path) as r:  # control
        assert r.read(1) == fr.chunk[0:CELL]
    fr.close()


def test_page_larger_than_its_cell(tmp_path):
    """A slot whose size word exceeds its cell (a damaged cells array):
    read, view and read_page returned the page's bytes followed by its
    neighbour's, with no error. A page never exceeds its cell:
    FormatError naming both sizes, on the fast path too. Controls: the
    undamaged page, and a size equal to the cell size (the largest a cell
    holds), read as such."""
    fr = FakeRegion(str(tmp_path / "r"), pages=2, size=CELL - 24)
    with mmsb.Reader(region=fr.path) as r:
        assert len(r.read(1)) == CELL - 24  # control; builds the index and maps the chunk (fast path)
        fr.put(fr.cells, "<I", 4, CELL)
        assert len(r.read(1)) == CELL
        fr.put(fr.cells, "<I", 4, CELL + 8)
        for call in (r.read, r.read_page, r.view, lambda i: r.read_into(i, bytearray(4 * CELL))):
            try:
                out = call(1)
            except mmsb.FormatError as e:
                assert "%d bytes in cell" % (CELL + 8) in str(e) and "of %d bytes" % CELL in str(e), e
            else:
                pytest.fail("a page of %d bytes in a cell of %d: %d bytes, no error" % (CELL + 8, CELL, _size(out)))
    fr.close()


def test_duplicate_ids_refused(tmp_path):
    """A writer never publishes a page ID in two slots, so an ids array
    holding one (a damaged region) is refused with FormatError naming the
    ID and both slots, as the Go reader (TestShmReaderRefusesDuplicateIDs)
    and the C reader (TestCReaderRefusesDuplicateIDs) refuse it: the index
    kept the later slot and read page 1's bytes for page 2's, with no
    error. The damage leaves the table version as it was, so the rebuild
    that finds it is the one a read makes when its slot no longer holds
    its page; a reader opened afterwards refuses at its first read.
    Control: both pages read before the damage."""
    fr = FakeRegion(str(tmp_path / "r"), pages=3)
    with mmsb.Reader(region=fr.path) as r:
        assert r.read(1) == struct.pack("<Q", 1) * (CELL // 8)  # control; builds the index
        assert r.read(2) == struct.pack("<Q", 2) * (CELL // 8)
        fr.put(fr.ids, "<Q", 8 * 1, 1)  # page 2's slot (1) now says page 1
        for call in (lambda: r.read(2), lambda: r.read(1), r.pages):
            with pytest.raises(mmsb.FormatError, match=r"page ID 1 is in slots 0 and 1 of ids"):
                call()
    with mmsb.Reader(region=fr.path) as r2:
        with pytest.raises(mmsb.FormatError, match=r"page ID 1 is in slots 0 and 1 of ids"):
            r2.read(3)
    fr.close()


def _size(out):
    """The size of what read (bytes), read_page (a Page), read_into (an
    int) or view (a PageView) returned."""
    if isinstance(out, int):
        return out
    if isinstance(out, bytes):
        return len(out)
    if isinstance(out, mmsb.Page):
        return len(out.data)
    return out.array.nbytes


def test_region_directory_descriptor_released(tmp_path):
    """The descriptor of the region directory is closed by close() and by
    an open that fails after taking it (a bad header): 20 of each leave
    this process's descriptors as they were."""
    fr = FakeRegion(str(tmp_path / "r"), pages=1)
    bad = FakeRegion(str(tmp_path / "bad"), pages=1)
    bad.put(bad.hdr, "<Q", 0, 0)  # no magic
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        mmsb.Reader(region=fr.path).close()
        with pytest.raises(mmsb.FormatError, match="magic"):
            mmsb.Reader(region=bad.path)
    assert len(os.listdir("/proc/self/fd")) == before
    fr.close()
    bad.close()


def test_slot_files_shorter_than_capacity(tmp_path):
    """Slot files that hold fewer slots than the header's slot capacity
    (truncated by the region's owner): the Go reader refuses them at
    open; this reader opened them and used the slots they held.
    FormatError naming the slot count and the capacity, as Go's message
    does. Control: the whole region opens and reads."""
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    with mmsb.Reader(region=fr.path) as r:  # control
        assert len(r.read(1)) == CELL
    os.truncate(os.path.join(fr.path, L.IDS_FILE), 8)
    with pytest.raises(mmsb.FormatError, match="hold 1 slots, the header publishes 16"):
        mmsb.Reader(region=fr.path)
    fr.close()


def test_chunk_file_shorter_than_a_cell(tmp_path):
    """A chunk file shorter than the page's cell (truncated before the
    reader mapped it) is checked before reading, as the Go reader's
    TestShmCellOutsideItsChunk: FormatError, no read past the mapping."""
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    os.truncate(os.path.join(fr.path, L.chunk_file_name(0, 1)), 16)
    with mmsb.Reader(region=fr.path) as r:
        with pytest.raises(mmsb.FormatError, match="outside its chunk"):
            r.read(1)
    fr.close()


_SLOT_FILES = [L.IDS_FILE, L.VERS_FILE, L.CELLS_FILE, L.SEQ_FILE]


def test_sparse_slot_files_refused(shm_dir):
    """Slot files long enough for the header's high-water mark but sparse
    (made long by truncate, which costs nothing; only the region's owner
    can): FormatError naming the allocated size, before the index rebuild
    copies the ids, as the Go reader's TestShmReaderRefusesSparseSlots.
    The reader copied every ID of the mark (16 GiB for a mark near 2^31),
    reading the holes in, each read of which allocates a tmpfs page.
    Checked on a tmpfs only. Control: the region before the damage reads."""
    fs = subprocess.run(["stat", "-f", "-c", "%T", shm_dir], capture_output=True, text=True)
    if fs.stdout.strip() != "tmpfs":
        _need("a tmpfs at %s (allocated blocks are checked there only; stat -f: %r)"
              % (shm_dir, (fs.stdout + fs.stderr).strip()))
    fr = FakeRegion(os.path.join(shm_dir, "r"), pages=2)
    slots = 1 << 20
    with mmsb.Reader(region=fr.path) as r:
        assert len(r.read(1)) == CELL  # control
        for name, stride in zip(_SLOT_FILES, L.STRIDES):
            os.truncate(os.path.join(fr.path, name), slots * stride)
        fr.put(fr.hdr, "<QQQ", L.H_HW, slots, slots, 2)  # high-water mark, slot capacity, table version
        # Page 3 is not in the index: its lookup rebuilds it.
        want = r"high-water mark of %d slots needs %d bytes of ids, and only \d+ are allocated" % (slots, 8 * slots)
        with pytest.raises(mmsb.FormatError, match=want):
            r.read(3)
    with mmsb.Reader(region=fr.path) as r:  # opens: the files are long enough
        with pytest.raises(mmsb.FormatError, match="allocated"):
            r.read(1)
        with pytest.raises(mmsb.FormatError, match="allocated"):
            r.pages()
    # The refusal came before the copy: the holes were not read in.
    assert os.stat(os.path.join(fr.path, L.IDS_FILE)).st_blocks * 512 < slots * 8 // 2
    fr.close()


@pytest.mark.parametrize("removed", [[L.CHUNK_TABLE_FILE], _SLOT_FILES, [L.SEQ_FILE]],
                         ids=["chunk table", "slot files", "seq file"])
@pytest.mark.parametrize("state,err,match", [
    (L.STATE_SUPERSEDED, mmsb.Stale, "superseded"),
    (L.STATE_CLOSED, mmsb.WriterGone, "closed the bus"),
    (L.STATE_LIVE, mmsb.FormatError, "chunk table|slot arrays"),  # the control: damage
], ids=["superseded", "closed", "live"])
def test_region_being_removed_is_not_corrupt(tmp_path, removed, state, err, match):
    """A writer marks its region closed (Close) or superseded (a newer
    writer took over) and then removes its files. A reader opening it in
    between found a file missing and raised FormatError ("has no chunk
    table", "slot arrays ... hold 0 slots"), as if the region were
    damaged, where it is going away: a caller that reopens on WriterGone
    or Stale gave up. The header's state decides now; a live header with
    files missing is damage still."""
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    fr.put(fr.hdr, "<Q", L.H_STATE, state)
    for name in removed:
        os.unlink(os.path.join(fr.path, name))
    with pytest.raises(err, match=match):
        mmsb.Reader(region=fr.path)
    fr.close()


def test_slots_removed_under_an_open_reader_of_a_closing_writer(tmp_path):
    """The same for an open reader whose next read maps the slot files
    afresh (the header publishes more slots) after the writer's Close
    marked the header and removed them: WriterGone, not FormatError."""
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    with mmsb.Reader(region=fr.path) as r:
        r._check = lambda: None  # the state flips after the call's own check (a race, staged)
        fr.put(fr.hdr, "<QQ", L.H_HW, 20, 32)
        fr.put(fr.hdr, "<Q", L.H_TABLE_VER, 2)
        fr.put(fr.hdr, "<Q", L.H_STATE, L.STATE_CLOSED)
        for name in _SLOT_FILES:
            os.unlink(os.path.join(fr.path, name))
        with pytest.raises(mmsb.WriterGone, match="closed the bus"):
            r.pages()
    fr.close()


# Header words and slot and chunk-table entries a damaged (or hostile)
# region may hold anything in: (file attribute of FakeRegion, offset, struct
# format). The reader must answer each with the package's own exception, or
# with bytes read from inside its mappings: never IndexError, struct.error,
# ValueError or OverflowError from a length or an offset it trusted.
_FUZZ_FIELDS = [
    ("hdr", L.H_VERSION, "<I"), ("hdr", L.H_HDR_SIZE, "<I"), ("hdr", L.H_GEN, "<Q"),
    ("hdr", L.H_PID, "<Q"), ("hdr", L.H_START, "<Q"), ("hdr", L.H_LSN, "<Q"),
    ("hdr", L.H_STATE, "<Q"), ("hdr", L.H_HW, "<Q"), ("hdr", L.H_SLOT_CAP, "<Q"),
    ("hdr", L.H_TABLE_VER, "<Q"), ("hdr", L.H_CHUNKS, "<Q"), ("hdr", L.H_MAX_CHUNKS, "<Q"),
    ("hdr", L.H_CELL_BITS, "<I"), ("hdr", L.H_SIZE_BITS, "<I"), ("hdr", L.H_LIVE, "<Q"),
    ("hdr", L.H_STRIDES, "<B"), ("hdr", L.H_STRIDES + 3, "<B"), ("hdr", L.H_FUTEX, "<I"),
    ("hdr", L.H_FREE_LSN, "<Q"),
    # chunk 0's table entry: generation | cell size << 32, then its length
    ("ct", 0, "<I"), ("ct", 4, "<I"), ("ct", 8, "<I"), ("ct", 12, "<I"),
    # page 1..4's slots: cell reference and size, ID, epoch and LSN, sequence
    ("cells", 0, "<I"), ("cells", 4, "<I"), ("cells", 24, "<I"), ("cells", 28, "<I"),
    ("ids", 0, "<Q"), ("ids", 16, "<Q"), ("vers", 0, "<Q"), ("vers", 8, "<Q"),
    ("seq", 0, "<Q"), ("seq", 8, "<Q"),
]


def _fuzz_value(rng, fmt, old):
    bits = 8 * struct.calcsize(fmt)
    top = (1 << bits) - 1
    return rng.choice([0, 1, 2, 3, old + 1, old - 1 if old else top, top, top - 1, top >> 1,
                       (top >> 1) + 1, 1 << min(bits - 1, 31), 1 << min(bits - 1, 20),
                       rng.randrange(64), rng.randrange(1 << 16), rng.getrandbits(bits)]) & top


def _slot_holds(reg, call, n):
    """Whether one of the region's four slots holds the page of call
    ("read(ID)") with size n: a read gives the bytes of its page's slot,
    never a slice cut short at a mapping's end."""
    page_id = int(call[len("read("):-1])
    for i in range(4):
        pid = struct.unpack_from("<Q", reg.ids, 8 * i)[0]
        size = struct.unpack_from("<I", reg.cells, 8 * i + 4)[0] & L.SIZE_MASK
        if pid == page_id and size == n:
            return True
    return False


def test_damaged_header_and_slots_fuzz(tmp_path):
    """200 regions (a fixed seed) each with one to three header words,
    chunk-table or slot entries set to edge or random values: opening a
    Reader on it and every call (header, pages, read, read_into, view,
    snapshot, last_lsn) either succeed, a read with its slot's size, or
    raise mmsb.MMSBError; no other exception comes out, so nothing was
    read from outside a mapping or sliced from a length the region made
    up."""
    reg = FakeRegion(str(tmp_path / "r"), pages=4)
    files = {name: getattr(reg, name) for name in ("hdr", "cells", "ids", "vers", "seq")}
    files["ct"] = reg.maps[L.CHUNK_TABLE_FILE]
    # The first bytes of each (the chunk table is 16 MiB), restored after
    # every iteration.
    orig = {name: bytes(m[:4096]) for name, m in files.items()}
    rng = random.Random(20261207)
    try:
        for it in range(200):
            for name, m in files.items():
                m[:len(orig[name])] = orig[name]
            done = []
            for _ in range(rng.randint(1, 3)):
                name, off, fmt = rng.choice(_FUZZ_FIELDS)
                old = struct.unpack_from(fmt, files[name], off)[0]
                v = _fuzz_value(rng, fmt, old)
                struct.pack_into(fmt, files[name], off, v)
                done.append("%s@%d=%#x" % (name, off, v))
            what = "iteration %d (%s)" % (it, ", ".join(done))
            try:
                r = mmsb.Reader(region=reg.path, writer_timeout=0.02, busy_timeout=0.02, snapshot_retries=2)
            except mmsb.MMSBError:
                continue
            except Exception as e:  # pragma: no cover - the failure this test looks for
                pytest.fail("%s: Reader() raised %s: %s" % (what, type(e).__name__, e))
            with r:
                calls = [
                    ("header", lambda: r.header),
                    ("pages", r.pages),
                    ("last_lsn", lambda: r.last_lsn),
                    ("read_into", lambda: r.read_into(2, bytearray(4 * CELL))),
                    ("view", lambda: r.view(3).release()),
                    ("snapshot", lambda: r.snapshot([1, 2])),
                ] + [("read(%d)" % p, lambda p=p: r.read(p)) for p in (1, 2, 3, 4, rng.getrandbits(64))]
                for cname, call in calls:
                    try:
                        got = call()
                    except mmsb.MMSBError:
                        continue
                    except Exception as e:
                        pytest.fail("%s: %s raised %s: %s" % (what, cname, type(e).__name__, e))
                    if cname.startswith("read(") and not _slot_holds(reg, cname, len(got)):
                        pytest.fail("%s: %s gave %d bytes, not the size of a slot of that page"
                                    % (what, cname, len(got)))
    finally:
        reg.close()
