"""Page metadata through the writer API (ABI 1.2: mmsb_create_pages_meta,
mmsb_set_metadata, mmsb_page_meta, mmsb_meta_decode over ctypes).

Needs libmmsb.so as test_writer.py does. The shared-memory region holds no
metadata, so mmsb.Reader has none to give: only a Bus reads it.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mmsb  # noqa: E402
from mmsb import errors  # noqa: E402

MARK = [("example", b"python signal"), ("mmsb.type", b"f64")]


@pytest.fixture(autouse=True)
def _library(libmmsb):
    return libmmsb


def test_metadata_round_trip(tmp_path):
    d = str(tmp_path / "bus")
    with mmsb.open(d) as bus:
        ids = bus.create_pages(2, 64, meta=MARK)
        assert [bus.metadata(int(i)) for i in ids] == [MARK, MARK]
        assert bus.create_page(64) == 3 and bus.metadata(3) == []
        assert list(bus.create_pages(sizes=[8], ids=[9], meta={"k": "v"})) == [9]
        assert bus.metadata(9) == [("k", b"v")]
        # Values are bytes (NULs kept); a key twice: first place, last value.
        bus.set_metadata(2, [("a", b"x\0y"), (b"b", bytearray()), ("a", memoryview(b"z"))])
        assert bus.metadata(2) == [("a", b"z"), ("b", b"")]
        # Larger than the first read buffer (4096 bytes).
        bus.set_metadata(2, {"big": b"v" * 60000})
        assert bus.metadata(2) == [("big", b"v" * 60000)]
        bus.set_metadata(2, [])
        assert bus.metadata(2) == []
    with mmsb.open(d) as bus:  # logged: recovered on open
        assert bus.metadata(1) == MARK and bus.metadata(2) == []


@pytest.mark.parametrize("meta, exc, text", [
    ([("a\0b", b"v")], errors.InvalidArgument, "NUL byte at offset 1"),
    ([(b"\0", b"v")], errors.InvalidArgument, "NUL byte at offset 0"),
    ([("k", b"v")] * 8192, errors.InvalidPage, "8192 metadata entries, at most 8191"),
    ([("k", b"v" * 65536)], errors.InvalidPage, "past 65536 bytes"),
    ([("k", 5)], errors.InvalidType, "value of metadata entry 0"),
    ([(5, b"v")], errors.InvalidType, "key of metadata entry 0"),
    ([("k",)], errors.InvalidType, "metadata entry 0"),
    ("k=v", errors.InvalidType, "meta"),
    # Values and keys Python cannot turn into bytes: the binding's classes
    # naming the entry, not a bare UnicodeEncodeError or ValueError.
    ([("\ud800", b"v")], errors.InvalidArgument, "key of metadata entry 0 .* not encodable as UTF-8"),
    ([("k", b"v"), ("k2", "\udcff")], errors.InvalidArgument, "value of metadata entry 1 .* not encodable as UTF-8"),
    ([("k", np.zeros(2, dtype="M8[s]"))], errors.InvalidType, "value of metadata entry 0 .*exports no buffer"),
])
def test_bad_metadata_refused(tmp_path, meta, exc, text):
    with mmsb.open(str(tmp_path / "bus")) as bus:
        bus.create_pages(1, 64, meta=MARK)
        lsn = bus.last_lsn
        pattern = text.replace("(", r"\(")
        with pytest.raises(exc, match=pattern):
            bus.set_metadata(1, meta)
        with pytest.raises(exc, match=pattern):
            bus.create_pages(1, 64, meta=meta)
        assert bus.last_lsn == lsn and bus.metadata(1) == MARK
        with pytest.raises(errors.PageNotFound):
            bus.metadata(2)  # nothing was created


def test_missing_page(tmp_path):
    with mmsb.open(str(tmp_path / "bus")) as bus:
        with pytest.raises(errors.PageNotFound):
            bus.metadata(7)
        with pytest.raises(errors.PageNotFound):
            bus.set_metadata(7, MARK)
