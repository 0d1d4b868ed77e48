package page

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// The shared-memory region of docs/formats.md ("Shared-memory region"),
// read with nothing but the doc's tables: the test has a writer build a
// region, then finds each header field, a page's slot entries, its chunk
// table entry, its chunk file and its bytes at the offsets the doc gives
// (not this package's constants), and builds a header from the doc's
// table that DecodeShmHeader must accept. A change to the code or to the
// doc that is not made to the other fails here.

// docShmHeader is the doc's header table: offset and size of each field.
var docShmHeader = map[string][2]int{
	"magic": {0, 8}, "version": {8, 4}, "header size": {12, 4}, "generation": {16, 8},
	"writer PID": {24, 8}, "writer start": {32, 8}, "committed LSN": {40, 8}, "state": {48, 8},
	"slots used": {56, 8}, "slot capacity": {64, 8}, "table version": {72, 8}, "chunks in use": {80, 8},
	"chunk capacity": {88, 8}, "cell bits": {96, 4}, "size bits": {100, 4}, "live pages": {104, 8},
	"strides": {112, 4}, "futex": {120, 4}, "free word": {128, 8},
}

// docShm reads the fields of the doc's layout.
type docShm struct {
	t   *testing.T
	dir string
	hdr []byte
}

func (d docShm) file(name string) []byte {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, name))
	if err != nil {
		d.t.Fatalf("the doc's file %s: %v", name, err)
	}
	return b
}

func (d docShm) h(field string) uint64 {
	d.t.Helper()
	f, ok := docShmHeader[field]
	if !ok {
		d.t.Fatalf("no header field %q", field)
	}
	return docUint(d.hdr[f[0] : f[0]+f[1]])
}

func docUint(b []byte) uint64 {
	switch len(b) {
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	panic(fmt.Sprintf("%d-byte integer", len(b)))
}

func TestSharedRegionMatchesFormatsDoc(t *testing.T) {
	d := t.TempDir()
	const gen, pid, start = 77, 12345, 999
	s, err := NewShared(filepath.Join(d, "r.building"), 0o600, gen, pid, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// Page 7 (100 bytes) created at LSN 2, written at LSN 5; page 8 (2 MiB,
	// above 1 MiB: a chunk of its own) created at LSN 3; page 9 created at
	// LSN 4 and freed at LSN 6.
	sl7, err := s.CreateAt(7, 100, base.LocationCPU, 2)
	if err != nil {
		t.Fatal(err)
	}
	sl8, err := s.CreateAt(8, 2<<20, base.LocationCPU, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAt(9, 64, base.LocationCPU, 4); err != nil {
		t.Fatal(err)
	}
	s.BeginWrite(sl7, 5)
	copy(s.Bytes(sl7)[10:], "written at LSN 5")
	s.SetEpoch(sl7, 1)
	s.SetLastLSN(sl7, 5)
	s.EndWrite(sl7, 5)
	copy(s.Bytes(sl8)[2<<20-4:], "tail")
	if err := s.FreeAt(9, 6); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(d, "r")
	if err := s.Publish(dir, 6); err != nil {
		t.Fatal(err)
	}

	r := docShm{t: t, dir: dir}
	r.hdr = r.file("header")
	if len(r.hdr) != 4096 {
		t.Errorf("header file is %d bytes, the doc says 4,096", len(r.hdr))
	}
	for field, want := range map[string]uint64{
		"magic": 0x314d48535342534d, "version": 1, "header size": 4096, "generation": gen,
		"writer PID": pid, "writer start": start, "committed LSN": 6, "state": 1,
		"slots used": 3, "chunk capacity": 1 << 20, "cell bits": 12, "size bits": 25,
		"live pages": 2, "futex": 6, "free word": 6,
	} {
		if got := r.h(field); got != want {
			t.Errorf("header %s (offset %d) = %d, want %d", field, docShmHeader[field][0], got, want)
		}
	}
	if string(r.hdr[0:8]) != "MSBSSHM1" {
		t.Errorf("magic spells %q, the doc says MSBSSHM1", r.hdr[0:8])
	}
	if st := docShmHeader["strides"]; !bytes.Equal(r.hdr[st[0]:st[0]+st[1]], []byte{8, 16, 8, 8}) {
		t.Errorf("strides % x, the doc says 08 10 08 08", r.hdr[st[0]:st[0]+st[1]])
	}
	if r.h("slot capacity") < 3 || r.h("table version") < 4 || r.h("chunks in use") < 2 {
		t.Errorf("slot capacity %d, table version %d, chunks in use %d: too small for 3 creates, a free and two chunks",
			r.h("slot capacity"), r.h("table version"), r.h("chunks in use"))
	}
	for _, zero := range [][2]int{{116, 4}, {124, 4}, {136, 4096 - 136}} {
		if b := r.hdr[zero[0] : zero[0]+zero[1]]; !bytes.Equal(b, make([]byte, len(b))) {
			t.Errorf("header bytes [%d, %d) are not zero", zero[0], zero[0]+zero[1])
		}
	}

	ids, vers, cells, seq, chunks := r.file("ids"), r.file("vers"), r.file("cells"), r.file("seq"), r.file("chunks")
	if len(chunks) != 16<<20 {
		t.Errorf("chunk table is %d bytes, the doc says 2^20 entries of 16", len(chunks))
	}
	slotOf := func(id uint64) int {
		for sl := 0; sl*8 < len(ids) && sl < int(r.h("slots used")); sl++ {
			if docUint(ids[sl*8:sl*8+8]) == id {
				return sl
			}
		}
		return -1
	}
	// page reads a page's bytes the doc's way and checks its slot entries.
	page := func(id uint64, size int, epoch, lsn uint64) []byte {
		t.Helper()
		sl := slotOf(id)
		if sl < 0 {
			t.Fatalf("page %d: no slot holds its ID", id)
		}
		if e, l := docUint(vers[sl*16:sl*16+8]), docUint(vers[sl*16+8:sl*16+16]); e != epoch || l != lsn {
			t.Errorf("page %d: vers epoch %d, LSN %d; want %d, %d", id, e, l, epoch, lsn)
		}
		if q := docUint(seq[sl*8 : sl*8+8]); q != 2*lsn {
			t.Errorf("page %d: seq %d, want 2L = %d", id, q, 2*lsn)
		}
		ref, sz := uint32(docUint(cells[sl*8:sl*8+4])), uint32(docUint(cells[sl*8+4:sl*8+8]))
		if sz&(1<<25-1) != uint32(size) || sz>>25 != uint32(base.LocationCPU) {
			t.Errorf("page %d: cells size word %#x, want size %d | location 0 << 25", id, sz, size)
		}
		idx, cell := ref>>12, ref&0xfff
		e := chunks[idx*16 : idx*16+16]
		g, cellSize, length := uint32(docUint(e[0:4])), uint32(docUint(e[4:8])), docUint(e[8:16])
		if g == 0 {
			t.Fatalf("page %d: chunk %d unpublished", id, idx)
		}
		c := r.file(fmt.Sprintf("c%d.%d", idx, g))
		if uint64(len(c)) < length {
			t.Errorf("page %d: chunk file c%d.%d is %d bytes, its entry says %d", id, idx, g, len(c), length)
		}
		off := uint64(cell) * uint64(cellSize)
		if off+uint64(size) > length {
			t.Fatalf("page %d: cell %d of %d bytes runs past the chunk's %d", id, cell, cellSize, length)
		}
		if size > 1<<20 && cell != 0 {
			t.Errorf("page %d of %d bytes: cell index %d, the doc says a page above 1 MiB has its own chunk (cell 0)", id, size, cell)
		}
		return c[off : off+uint64(size)]
	}
	want7 := make([]byte, 100)
	copy(want7[10:], "written at LSN 5")
	if got := page(7, 100, 1, 5); !bytes.Equal(got, want7) {
		t.Errorf("page 7 reads %q, want %q", got, want7)
	}
	if got := page(8, 2<<20, 0, 3); string(got[len(got)-4:]) != "tail" {
		t.Errorf("page 8 ends %q, want \"tail\"", got[len(got)-4:])
	}
	if sl := slotOf(9); sl >= 0 {
		t.Errorf("freed page 9 still in slot %d", sl)
	}

	// The decoder accepts a header built from the doc's table alone.
	h := make([]byte, 4096)
	put := func(field string, v uint64) {
		f := docShmHeader[field]
		switch f[1] {
		case 4:
			binary.LittleEndian.PutUint32(h[f[0]:], uint32(v))
		case 8:
			binary.LittleEndian.PutUint64(h[f[0]:], v)
		}
	}
	for field, v := range map[string]uint64{
		"magic": 0x314d48535342534d, "version": 1, "header size": 4096, "generation": 3, "writer PID": 1,
		"committed LSN": 40, "state": 1, "slots used": 5, "slot capacity": 8, "table version": 9,
		"chunks in use": 2, "chunk capacity": 1 << 20, "cell bits": 12, "size bits": 25, "live pages": 4,
	} {
		put(field, v)
	}
	copy(h[112:116], []byte{8, 16, 8, 8})
	got, err := DecodeShmHeader(h)
	if err != nil {
		t.Fatalf("DecodeShmHeader refuses the doc's header: %v", err)
	}
	if got.Gen != 3 || got.PID != 1 || got.LSN != 40 || got.State != 1 || got.HW != 5 || got.SlotCap != 8 ||
		got.TableVer != 9 || got.Chunks != 2 || got.MaxChunks != 1<<20 || got.Live != 4 || got.CellBits != 12 || got.SizeBits != 25 {
		t.Errorf("DecodeShmHeader read %+v from the doc's header", got)
	}
}

// TestMetaMatchesPageDoc: the metadata encoding of docs/page.md, from its
// table: u32 count (LE, at least 1), then per entry u32 key length, key,
// u32 value length, value; no entries encode as no bytes.
func TestMetaMatchesPageDoc(t *testing.T) {
	entries := []MetaEntry{{Key: "mmsb.type", Value: []byte("f64")}, {Key: "k", Value: []byte{}}}
	var doc []byte
	doc = binary.LittleEndian.AppendUint32(doc, 2) // count, offset 0
	for _, e := range entries {
		doc = binary.LittleEndian.AppendUint32(doc, uint32(len(e.Key)))
		doc = append(doc, e.Key...)
		doc = binary.LittleEndian.AppendUint32(doc, uint32(len(e.Value)))
		doc = append(doc, e.Value...)
	}
	if enc := AppendMeta(nil, entries); !bytes.Equal(enc, doc) {
		t.Errorf("AppendMeta writes % x\n  the doc's layout is % x", enc, doc)
	}
	got, err := DecodeMeta(doc)
	if err != nil || !MetaEqual(got, entries) {
		t.Errorf("DecodeMeta of the doc's layout: %+v, %v; want %+v", got, err, entries)
	}
	if enc := AppendMeta(nil, nil); len(enc) != 0 {
		t.Errorf("no entries encode as % x, the doc says no bytes", enc)
	}
	if _, err := DecodeMeta([]byte{0, 0, 0, 0}); err == nil {
		t.Errorf("a zero count decodes; the doc says count >= 1")
	}
	if MaxMetaBytes != 64<<10 {
		t.Errorf("MaxMetaBytes %d, the doc says 64 KiB", MaxMetaBytes)
	}
}
