package page

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// createFilled creates page id of size bytes, every byte fill, at lsn.
func createFilled(t *testing.T, s *Store, id base.PageID, size int, fill byte, lsn uint64) Slot {
	t.Helper()
	sl, err := s.CreateAt(id, size, base.LocationCPU, lsn)
	if err != nil {
		t.Fatal(err)
	}
	copy(s.Bytes(sl), bytes.Repeat([]byte{fill}, size))
	s.EndWrite(sl, lsn)
	return sl
}

// readCopy reads page id with Read (at most tries attempts) into a copy.
func readCopy(r *ShmReader, id uint64, tries int) ([]byte, bool, error) {
	var buf []byte
	_, found, _, err := r.Read(id, func(b []byte) error { buf = append(buf[:0], b...); return nil }, tries)
	return buf, found, err
}

// TestShmReaderBoundToItsRegion: a new writer that recovers the bus marks
// the old region superseded, removes it and renames its own region to the
// same path. A reader still open on the old region must never read the
// new region's files as if they were its own: chunk files of both are
// named c<index>.<generation>, and generations restart at 1 in every
// region, so mapping "c0.1" by path read the new writer's bytes at the old
// slot's cell, under the old slot's unchanged (even) sequence word: wrong
// bytes and no error. The reader maps files relative to the directory it
// opened, so the old region's removed files are unavailable (a retry,
// and the caller sees the superseded state).
func TestShmReaderBoundToItsRegion(t *testing.T) {
	s1, dir := sharedStore(t)
	createFilled(t, s1, 1, 100, 0xaa, 1)
	r := publishAndOpen(t, s1, dir, 1) // page 1's chunk not mapped yet

	// A new writer (generation 2) recovers the bus: page 1 has other bytes.
	s2, err := NewShared(dir+".building2", 0o600, 2, uint64(os.Getpid()), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	createFilled(t, s2, 1, 100, 0xbb, 1)
	if err := MarkSuperseded(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s2.Publish(dir, 1); err != nil {
		t.Fatal(err)
	}
	if st := r.State(); st != ShmSuperseded {
		t.Fatalf("old reader sees state %d, want superseded", st)
	}
	b, found, err := readCopy(r, 1, 4)
	if err == nil && found {
		t.Fatalf("old reader read page 1 from the region that replaced it: % x...", b[:4])
	}
	if !IsRetry(err) && !errors.Is(err, ErrBadShared) {
		t.Fatalf("old reader, page 1 after its region was replaced: found %v, %v; want the retry signal", found, err)
	}
	// Control: a reader opened now reads the new region.
	r2, err := OpenShmReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if b, found, err := readCopy(r2, 1, 4); err != nil || !found || b[0] != 0xbb {
		t.Fatalf("new reader: page 1 = % x, found %v, %v", b, found, err)
	}
}

// TestShmSlotFilesShorterThanHeader: a header whose slot capacity and
// high-water mark exceed what the slot-array files hold (counts that
// disagree with the files). Every rebuild of the index (IDs, a lookup
// after a create or free) remapped the four files, kept the old mappings
// until Close, and went on with the slots the files held: each call
// leaked four mappings, silently. Now it is ErrBadShared naming the files,
// and nothing is mapped again.
func TestShmSlotFilesShorterThanHeader(t *testing.T) {
	s, dir := sharedStore(t)
	createFilled(t, s, 1, 100, 1, 1)
	r := publishAndOpen(t, s, dir, 1)
	if ids, err := r.IDs(); err != nil || len(ids) != 1 {
		t.Fatalf("control: IDs %v, %v", ids, err)
	}
	slots := uint64(r.slots)
	atomic.StoreUint64(shmWord(s.shm.hdr, hSlotCap), slots+64)
	atomic.StoreUint64(shmWord(s.shm.hdr, hHW), slots+8)
	retired := len(r.retired)
	for i := range 3 {
		if ids, err := r.IDs(); !errors.Is(err, ErrBadShared) {
			t.Fatalf("IDs #%d with a header of %d slots over files of %d: %v, %v; want ErrBadShared", i, slots+64, slots, ids, err)
		}
	}
	if n := len(r.retired) - retired; n != 0 {
		t.Fatalf("%d mappings kept by refused remaps", n)
	}
	// Page 1's slot is in the mappings, which are whole: it still reads.
	if b, found, err := readCopy(r, 1, 4); err != nil || !found || len(b) != 100 {
		t.Fatalf("page 1 (slot mapped): %d bytes, found %v, %v", len(b), found, err)
	}
	// A reader opened now refuses the region.
	if r2, err := OpenShmReader(dir); !errors.Is(err, ErrBadShared) {
		if err == nil {
			_ = r2.Close()
		}
		t.Fatalf("open with a header of %d slots over files of %d: %v, want ErrBadShared", slots+64, slots, err)
	}
}

// TestShmPageLargerThanItsCell: a slot whose size word exceeds its cell
// (a damaged cells array) made Read and TryRead return the page's bytes
// followed by its neighbour's, without an error. A page never exceeds its
// cell, so this is ErrBadShared (TryRead declines and leaves it to Read).
func TestShmPageLargerThanItsCell(t *testing.T) {
	s, dir := sharedStore(t)
	sl := createFilled(t, s, 1, 100, 1, 1)
	createFilled(t, s, 2, 100, 2, 2) // the next cell of the same chunk
	r := publishAndOpen(t, s, dir, 2)
	if b, found, err := readCopy(r, 1, 4); err != nil || !found || len(b) != 100 {
		t.Fatalf("control: %d bytes, found %v, %v", len(b), found, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, shmCells), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sw [4]byte
	binary.LittleEndian.PutUint32(sw[:], 200) // cell of 104 bytes
	if _, err := f.WriteAt(sw[:], int64(sl)*8+4); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	done, _, err := r.TryRead(1, func(b []byte) error { buf = append(buf[:0], b...); return nil }, nil)
	if done {
		t.Fatalf("TryRead of a page larger than its cell: %d bytes, %v", len(buf), err)
	}
	if b, found, err := readCopy(r, 1, 4); !errors.Is(err, ErrBadShared) {
		t.Fatalf("Read of a page larger than its cell: %d bytes, found %v, %v; want ErrBadShared", len(b), found, err)
	}
}

// TestShmCellOutsideItsChunk (negative control of readOnce's bounds
// check): a chunk file truncated below a page's cell, and a slot whose
// cell index points past its chunk, are ErrBadShared, not a read outside
// the mapping or a retry.
func TestShmCellOutsideItsChunk(t *testing.T) {
	t.Run("truncated chunk", func(t *testing.T) {
		s, dir := sharedStore(t)
		sl := createFilled(t, s, 1, 100, 1, 1)
		if err := s.Publish(dir, 1); err != nil {
			t.Fatal(err)
		}
		ref := s.cells[sl].ref
		if err := os.Truncate(filepath.Join(dir, ChunkFileName(ref>>cellBits, 1)), 64); err != nil {
			t.Fatal(err)
		}
		r, err := OpenShmReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if b, found, err := readCopy(r, 1, 4); !errors.Is(err, ErrBadShared) {
			t.Fatalf("page 1 in a chunk truncated to 64 bytes: %d bytes, found %v, %v; want ErrBadShared", len(b), found, err)
		}
	})
	t.Run("cell past the chunk", func(t *testing.T) {
		s, dir := sharedStore(t)
		sl := createFilled(t, s, 1, 3000, 1, 1) // 3000-byte cells: fewer than 4096 per chunk
		r := publishAndOpen(t, s, dir, 1)
		f, err := os.OpenFile(filepath.Join(dir, shmCells), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var ref [4]byte
		binary.LittleEndian.PutUint32(ref[:], s.cells[sl].ref|cellMask) // last cell index
		if _, err := f.WriteAt(ref[:], int64(sl)*8); err != nil {
			t.Fatal(err)
		}
		if b, found, err := readCopy(r, 1, 4); !errors.Is(err, ErrBadShared) {
			t.Fatalf("page 1 at cell %d of its chunk: %d bytes, found %v, %v; want ErrBadShared", cellMask, len(b), found, err)
		}
	})
	t.Run("cell size whose offset overflows an int", func(t *testing.T) {
		// A chunk table claiming 1 GiB cells: page 3's offset, cell index
		// 2 × 2^30, is 2^31, past a 32-bit int. On 386 and arm the
		// reader multiplied in int and sliced at a negative offset
		// (a panic: "slice bounds out of range [::-2147483548]").
		s, dir := sharedStore(t)
		createFilled(t, s, 1, 100, 1, 1)
		createFilled(t, s, 2, 100, 2, 2)
		sl := createFilled(t, s, 3, 100, 3, 3)
		if s.cells[sl].ref&cellMask != 2 {
			t.Fatalf("page 3 is at cell %d of its chunk, want 2", s.cells[sl].ref&cellMask)
		}
		if err := s.Publish(dir, 3); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, shmChunkTab), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var cs [4]byte
		binary.LittleEndian.PutUint32(cs[:], 1<<30)
		if _, err := f.WriteAt(cs[:], int64(s.cells[sl].ref>>cellBits)*chunkEntryBytes+4); err != nil {
			t.Fatal(err)
		}
		r, err := OpenShmReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if done, _, err := r.TryRead(3, func([]byte) error { return nil }, nil); done && err == nil {
			t.Fatal("TryRead of a cell past its chunk succeeded")
		}
		if b, found, err := readCopy(r, 3, 4); !errors.Is(err, ErrBadShared) {
			t.Fatalf("page 3 in a chunk of 1 GiB cells: %d bytes, found %v, %v; want ErrBadShared", len(b), found, err)
		}
	})
}

// TestShmOversizedFileRefused (negative control of mapRO's size bound): a
// region file over 1 TiB (a sparse file planted or damaged) is refused
// before it is mapped.
func TestShmOversizedFileRefused(t *testing.T) {
	s, dir := sharedStore(t)
	if err := s.Publish(dir, 0); err != nil {
		t.Fatal(err)
	}
	hdr, err := os.ReadFile(filepath.Join(dir, ShmHeaderFile))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.Mkdir(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, ShmHeaderFile), hdr, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, shmChunkTab), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(bad, shmChunkTab), 1<<40+4096); err != nil {
		testutil.Missing(t, "no sparse file of 1 TiB here: %v", err)
	}
	if r, err := OpenShmReader(bad); !errors.Is(err, ErrBadShared) {
		if err == nil {
			_ = r.Close()
		}
		t.Fatalf("chunk table of 1 TiB + 4 KiB: %v, want ErrBadShared", err)
	}
}

// TestDecodeShmHeaderEveryCheck: one negative control per check of
// DecodeShmHeader (TestShmReaderRejectsCorruptRegions has the magic,
// version, truncation, high-water mark and chunk count), and the
// unchanged header as the control.
func TestDecodeShmHeaderEveryCheck(t *testing.T) {
	s, dir := sharedStore(t)
	createFilled(t, s, 1, 100, 1, 1)
	if err := s.Publish(dir, 1); err != nil {
		t.Fatal(err)
	}
	hdr, err := os.ReadFile(filepath.Join(dir, ShmHeaderFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeShmHeader(hdr); err != nil {
		t.Fatalf("control: %v", err)
	}
	le := binary.LittleEndian
	for name, mut := range map[string]func([]byte){
		"header size": func(b []byte) { le.PutUint32(b[hHdrSize:], shmHdrSize/2) },
		"cell bits":   func(b []byte) { le.PutUint32(b[hCellBits:], cellBits+1) },
		"size bits":   func(b []byte) { le.PutUint32(b[hSizeBits:], sizeBits-1) },
		"strides":     func(b []byte) { b[hStrides+1] = 8 },
		"max chunks":  func(b []byte) { le.PutUint64(b[hMaxChunks:], maxChunks/2) },
		"slot cap":    func(b []byte) { le.PutUint64(b[hSlotCap:], maxSlots+1) },
		"hw over cap": func(b []byte) { le.PutUint64(b[hHW:], le.Uint64(b[hSlotCap:])+1) },
		"live":        func(b []byte) { le.PutUint64(b[hLive:], le.Uint64(b[hHW:])+1) },
		"state":       func(b []byte) { le.PutUint64(b[hState:], ShmSuperseded+1) },
	} {
		b := bytes.Clone(hdr)
		mut(b)
		if _, err := DecodeShmHeader(b); !errors.Is(err, ErrBadShared) {
			t.Errorf("%s: %v, want ErrBadShared", name, err)
		}
	}
}

// TestShmAliveChecks: one negative control per check of Alive (the
// zombie is TestAliveSeesZombieWriter's): the header's states other than
// live, no writer PID, and a writer PID whose process started at another
// time (a recycled PID); the control is this process with its own start
// time.
func TestShmAliveChecks(t *testing.T) {
	start, err := ProcStartTime(os.Getpid())
	if err != nil {
		testutil.Missing(t, "no process start time: %v", err)
	}
	open := func(t *testing.T, pid, start uint64) (*Store, *ShmReader) {
		d := t.TempDir()
		s, err := NewShared(filepath.Join(d, "r.building"), 0o600, 1, pid, start)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s, publishAndOpen(t, s, filepath.Join(d, "r"), 0)
	}
	s, r := open(t, uint64(os.Getpid()), start)
	if err := r.Alive(); err != nil {
		t.Fatalf("control: this process as the writer: %v", err)
	}
	for st, want := range map[uint64]error{ShmSuperseded: ErrStale, ShmClosed: ErrWriterGone, ShmSuperseded + 5: ErrWriterGone} {
		atomic.StoreUint64(shmWord(s.shm.hdr, hState), st)
		if err := r.Alive(); !errors.Is(err, want) {
			t.Errorf("state %d: %v, want %v", st, err, want)
		}
	}
	if _, r := open(t, 0, start); !errors.Is(r.Alive(), ErrWriterGone) {
		t.Errorf("writer PID 0: %v, want ErrWriterGone", r.Alive())
	}
	if _, r := open(t, uint64(os.Getpid()), start+1); !errors.Is(r.Alive(), ErrWriterGone) {
		t.Errorf("writer start time %d, the process's %d: %v, want ErrWriterGone", start+1, start, r.Alive())
	}
}
