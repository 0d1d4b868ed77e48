"""The Python reader against a region replaced or damaged under it (the
Go reader's shm_reader_damage_test.go stages the same; the C reader's are
in tests/bindings/reader_damage_test.go). The regions are written by the
test (fakeregion.py), which is also their writer process."""

import os
import shutil

import pytest

import mmsb
from mmsb import _layout as L
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
