"""The reader's answers to bad arguments from its caller: the package's
documented exception classes, never a value silently taken for another
(regions written by the test itself, fakeregion.py)."""

import os
import struct

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
    MMSB_READER_ERR_SYSTEM. A missing region is still WriterGone."""
    bus = str(tmp_path / "bus")
    os.mkdir(bus)
    f = tmp_path / "plain-file"
    f.write_bytes(b"x")
    for call in (lambda: mmsb.Reader(bus, shared_dir=str(f)), lambda: mmsb.Reader(region=str(f / "r"))):
        with pytest.raises(mmsb.IOFailure, match="Not a directory") as ei:
            call()
        assert isinstance(ei.value, OSError) and isinstance(ei.value, mmsb.MMSBError)
    with pytest.raises(mmsb.WriterGone):
        mmsb.Reader(region=str(tmp_path / "no-such-region"))


def test_region_directory_replaced_by_a_file(region, tmp_path):
    """The region directory replaced by a file under an open reader, and
    the header saying the slot arrays grew: the remap of the slot files
    raised NotADirectoryError from pages(); the files are gone, as when
    they are removed (no pages, PageNotFound)."""
    with mmsb.Reader(region=region.path) as r:
        assert r.pages() == [1, 2]
        os.rename(region.path, str(tmp_path / "moved"))
        with open(region.path, "wb") as f:
            f.write(b"x")
        region.put(region.hdr, "<Q", L.H_SLOT_CAP, 64)
        region.put(region.hdr, "<Q", L.H_HW, 20)
        region.put(region.hdr, "<Q", L.H_TABLE_VER, 2)
        assert r.pages() == []
        with pytest.raises(mmsb.PageNotFound):
            r.read_page(1)
