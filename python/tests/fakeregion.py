"""A shared region written by Python, byte for byte as docs/formats.md
describes it, so that tests can put the region in states a healthy Go writer
never leaves it in (a page stuck mid-write, a reference outside its chunk,
a dead writer PID) and check the reader's reaction deterministically.
The "writer" is the test process itself (its PID and start time)."""

import mmap
import os
import struct

from mmsb import _layout as L
from mmsb.reader import _proc_stat

CELL = 1024


class FakeRegion:
    def __init__(self, path, pages=4, size=CELL, pid=None):
        os.mkdir(path)
        os.chmod(path, 0o700)  # the writer's mode, whatever the umask: readers refuse g+w/o+w
        self.path = path
        self.maps = {}
        pid = os.getpid() if pid is None else pid
        try:
            start = _proc_stat(pid)[1]
        except OSError:
            start = 1
        slots = 16
        self.hdr = self._file(L.HEADER_FILE, L.HEADER_SIZE)
        ct = self._file(L.CHUNK_TABLE_FILE, L.MAX_CHUNKS * L.CHUNK_ENTRY_BYTES)
        self.ids = self._file(L.IDS_FILE, slots * 8)
        self.vers = self._file(L.VERS_FILE, slots * 16)
        self.cells = self._file(L.CELLS_FILE, slots * 8)
        self.seq = self._file(L.SEQ_FILE, slots * 8)
        self.chunk = self._file(L.chunk_file_name(0, 1), 64 * CELL)
        struct.pack_into("<QII", ct, 0, 1 | CELL << 32, 0, 64 * CELL)  # gen 1, cell size, length
        for i in range(pages):
            pid_ = i + 1
            struct.pack_into("<Q", self.ids, 8 * i, pid_)
            struct.pack_into("<QQ", self.vers, 16 * i, 1, pid_)  # epoch 1, lsn = id
            struct.pack_into("<II", self.cells, 8 * i, i, size)  # chunk 0, cell i
            struct.pack_into("<Q", self.seq, 8 * i, 2 * pid_)
            self.chunk[i * CELL:i * CELL + size] = struct.pack("<Q", pid_) * (size // 8)
        h = self.hdr
        struct.pack_into("<IIQQQQQQQQQQ", h, 8, L.VERSION, L.HEADER_SIZE, 7, pid, start,
                         pages, L.STATE_LIVE, pages, slots, 1, 1, L.MAX_CHUNKS)
        struct.pack_into("<IIQ4B", h, 96, L.CELL_BITS, L.SIZE_BITS, pages, *L.STRIDES)
        struct.pack_into("<I", h, L.H_FUTEX, pages)
        struct.pack_into("<Q", h, 0, L.MAGIC)  # magic last, as the writer does

    def _file(self, name, n):
        fd = os.open(os.path.join(self.path, name), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, n)
            m = mmap.mmap(fd, n)
        finally:
            os.close(fd)
        self.maps[name] = m
        return m

    def put(self, m, fmt, off, *vals):
        struct.pack_into(fmt, m, off, *vals)

    def close(self):
        for m in self.maps.values():
            m.close()
