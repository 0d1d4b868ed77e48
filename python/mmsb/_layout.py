"""Byte layout of MMSB's shared-memory region, format version 1.

The authoritative description is docs/formats.md ("Shared-memory region");
the writer is internal/page/shm.go. Every constant here has the same name
and value as there, and decode_header() makes the same checks as Go's
DecodeShmHeader, in the same order.
"""

import collections
import struct

MAGIC = 0x314D48535342534D  # "MSBSSHM1" little-endian
VERSION = 1
HEADER_SIZE = 4096
HEADER_USED = 128  # bytes of the header a reader decodes

# Header field offsets (u64 unless noted).
H_MAGIC = 0
H_VERSION = 8  # u32
H_HDR_SIZE = 12  # u32
H_GEN = 16
H_PID = 24
H_START = 32
H_LSN = 40  # atomic
H_STATE = 48  # atomic
H_HW = 56  # atomic
H_SLOT_CAP = 64  # atomic
H_TABLE_VER = 72  # atomic
H_CHUNKS = 80  # atomic
H_MAX_CHUNKS = 88
H_CELL_BITS = 96  # u32
H_SIZE_BITS = 100  # u32
H_LIVE = 104  # atomic
H_STRIDES = 112  # u8 x4
H_FUTEX = 120  # u32, atomic
H_FREE_LSN = 128  # atomic: LSN of the last free applied, published or not (0: none)

# States (header word H_STATE).
STATE_BUILDING = 0
STATE_LIVE = 1
STATE_CLOSED = 2
STATE_SUPERSEDED = 3

CELL_BITS = 12
CELL_MASK = (1 << CELL_BITS) - 1
SIZE_BITS = 25
SIZE_MASK = (1 << SIZE_BITS) - 1
MAX_CHUNKS = 1 << (32 - CELL_BITS)
MAX_SLOTS = (1 << 31) - 2
CHUNK_ENTRY_BYTES = 16
STRIDES = (8, 16, 8, 8)  # ids, vers, cells, seq

# File names inside the region directory.
HEADER_FILE = "header"
CHUNK_TABLE_FILE = "chunks"
IDS_FILE = "ids"
VERS_FILE = "vers"
CELLS_FILE = "cells"
SEQ_FILE = "seq"


def chunk_file_name(idx, gen):
    """File of chunk idx, generation gen: c<idx>.<gen> (decimal)."""
    return "c%d.%d" % (idx, gen)


Header = collections.namedtuple(
    "Header",
    "gen pid start lsn state hw slot_cap table_ver chunks max_chunks live cell_bits size_bits",
)

_HEADER = struct.Struct("<QIIQQQQQQQQQQIIQ4B")


def decode_header(b):
    """Decode and validate a header (bytes-like). Raises FormatError on any
    failed check, never another exception."""
    from .errors import FormatError

    n = len(b)
    if n < HEADER_USED:
        raise FormatError("header is %d bytes, need %d" % (n, HEADER_USED))
    (magic, version, hdr_size, gen, pid, start, lsn, state, hw, slot_cap,
     table_ver, chunks, max_chunks, cell_bits, size_bits, live,
     s0, s1, s2, s3) = _HEADER.unpack_from(b, 0)
    if magic != MAGIC:
        raise FormatError("bad magic %#x, want %#x" % (magic, MAGIC))
    if version != VERSION:
        raise FormatError("format version %d, this reader knows %d" % (version, VERSION))
    if hdr_size != HEADER_SIZE or n < HEADER_SIZE:
        raise FormatError("header size %d (mapped %d), want %d" % (hdr_size, n, HEADER_SIZE))
    if cell_bits != CELL_BITS or size_bits != SIZE_BITS:
        raise FormatError("cell bits %d, size bits %d; want %d, %d" % (cell_bits, size_bits, CELL_BITS, SIZE_BITS))
    if (s0, s1, s2, s3) != STRIDES:
        raise FormatError("slot strides %s, want %s" % ((s0, s1, s2, s3), STRIDES))
    if max_chunks != MAX_CHUNKS:
        raise FormatError("chunk table of %d entries, want %d" % (max_chunks, MAX_CHUNKS))
    if chunks > max_chunks:
        raise FormatError("%d chunks in use, table holds %d" % (chunks, max_chunks))
    if slot_cap > MAX_SLOTS or hw > slot_cap:
        raise FormatError("%d slots used of %d (max %d)" % (hw, slot_cap, MAX_SLOTS))
    if live > hw:
        raise FormatError("%d live pages in %d slots" % (live, hw))
    if state > STATE_SUPERSEDED:
        raise FormatError("unknown state %d" % state)
    return Header(gen, pid, start, lsn, state, hw, slot_cap, table_ver, chunks,
                  max_chunks, live, cell_bits, size_bits)
