package page

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// shmTestRootEnv names the directory a child test process makes its
// shared regions in. A child that dies of a signal on purpose runs no
// cleanup: its region (17 MiB of tmpfs) stayed in /dev/shm after every
// run of TestShmReaderTruncatedFile until its parent named a directory it
// removes itself.
const shmTestRootEnv = "MMSB_PAGE_TEST_SHM_ROOT"

func sharedStore(t testing.TB) (*Store, string) {
	t.Helper()
	// A child process's root is its parent's, which removes it.
	d := testutil.ShmTempDir(t, os.Getenv(shmTestRootEnv), "mmsb-page-test-")
	dir := filepath.Join(d, "region")
	s, err := NewShared(dir+".building", 0o600, 1, uint64(os.Getpid()), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// publishAndOpen publishes s's region at dir with committed LSN lsn and
// opens a reader on it, closed when the test ends.
func publishAndOpen(t *testing.T, s *Store, dir string, lsn uint64) *ShmReader {
	t.Helper()
	if err := s.Publish(dir, lsn); err != nil {
		t.Fatal(err)
	}
	r, err := OpenShmReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// uniform reports whether every 8-byte word of b equals the first.
func uniform(b []byte) bool {
	for i := 8; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != binary.LittleEndian.Uint64(b) {
			return false
		}
	}
	return true
}

// TestSeqlockNegativeControl: a writer that pauses in the middle of
// rewriting a page. A copy that skips the sequence check must see a torn
// page (so the torn-page check can fire), and Read, which checks, must
// never return one.
func TestSeqlockNegativeControl(t *testing.T) {
	s, dir := sharedStore(t)
	sl, err := s.Create(1, 4096, base.LocationCPU)
	if err != nil {
		t.Fatal(err)
	}
	r := publishAndOpen(t, s, dir, 0)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := s.Bytes(sl)
		for v := uint64(1); !stop.Load(); v++ {
			s.BeginWrite(sl, v) // v plays the LSN: increasing

			for i := 0; i < len(b); i += 8 {
				binary.LittleEndian.PutUint64(b[i:], v)
				if i == len(b)/2 {
					time.Sleep(50 * time.Microsecond) // half written
				}
			}
			s.EndWrite(sl, v)
			runtime.Gosched()
		}
	}()
	defer func() { stop.Store(true); <-done }()

	// Unchecked copies through the reader's own mapping.
	buf := make([]byte, 4096)
	sawTorn := false
	for deadline := time.Now().Add(10 * time.Second); !sawTorn && time.Now().Before(deadline); {
		_, _, _ = r.readOnce(0, 1, func(b []byte) error { copy(buf, b); return nil })
		sawTorn = !uniform(buf)
	}
	if !sawTorn {
		t.Fatal("an unchecked copy never saw the half-written page: the torn check cannot fire")
	}
	// Checked reads.
	for i := 0; i < 2000; i++ {
		_, found, _, err := r.Read(1, func(b []byte) error { copy(buf, b); return nil }, 64)
		for IsRetry(err) { // the writer is mid-write: back off as the root Reader does
			runtime.Gosched()
			_, found, _, err = r.Read(1, func(b []byte) error { copy(buf, b); return nil }, 64)
		}
		if err != nil || !found {
			t.Fatalf("Read: found %v, %v", found, err)
		}
		if !uniform(buf) {
			t.Fatalf("Read returned a torn page")
		}
	}
}

// TestShmReaderRejectsCorruptRegions: damaged headers and truncated
// files give ErrBadShared, never a panic.
func TestShmReaderRejectsCorruptRegions(t *testing.T) {
	s, dir := sharedStore(t)
	if _, err := s.Create(1, 100, base.LocationCPU); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(dir, 0); err != nil {
		t.Fatal(err)
	}
	hdr, err := os.ReadFile(filepath.Join(dir, ShmHeaderFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeShmHeader(hdr); err != nil {
		t.Fatalf("valid header: %v", err)
	}
	for name, mut := range map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:100] },
		"magic":     func(b []byte) []byte { b[0] ^= 1; return b },
		"version":   func(b []byte) []byte { b[hVersion]++; return b },
		"hw":        func(b []byte) []byte { binary.LittleEndian.PutUint64(b[hHW:], 1<<40); return b },
		"chunks":    func(b []byte) []byte { binary.LittleEndian.PutUint64(b[hChunks:], maxChunks+1); return b },
	} {
		b := mut(append([]byte(nil), hdr...))
		if _, err := DecodeShmHeader(b); !errors.Is(err, ErrBadShared) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A region whose chunk table file is truncated.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.Mkdir(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, ShmHeaderFile), hdr, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, shmChunkTab), make([]byte, 16), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenShmReader(bad); !errors.Is(err, ErrBadShared) {
		t.Fatalf("truncated chunk table: %v", err)
	}
}

// FuzzDecodeShmHeader: any bytes decode to a header or ErrBadShared, and
// the decoder agrees both ways with shmHeaderValid, the documented checks
// written out again: a header accepted holds the fields at their
// documented offsets and passes every check, and a header that passes
// every check is accepted. The seeds alone are a unit test of every check
// from both sides: one header just past each bound (a decoder that lost
// the check accepts it), one just inside every bound (a decoder whose
// check is off by one refuses it), and one with every counter distinct (a
// field read from another's offset fails the round trip).
func FuzzDecodeShmHeader(f *testing.F) {
	le := binary.LittleEndian
	valid := make([]byte, shmHdrSize)
	le.PutUint64(valid[hMagic:], shmMagic)
	le.PutUint32(valid[hVersion:], shmVersion)
	le.PutUint32(valid[hHdrSize:], shmHdrSize)
	le.PutUint64(valid[hMaxChunks:], maxChunks)
	le.PutUint32(valid[hCellBits:], cellBits)
	le.PutUint32(valid[hSizeBits:], sizeBits)
	copy(valid[hStrides:], []byte{8, 16, 8, 8})
	f.Add(valid)
	f.Add(valid[:hHeaderUsed])
	f.Add(valid[:shmHdrSize-1])
	f.Add([]byte{})
	with := func(b []byte, set func(b []byte)) []byte {
		b = slices.Clone(b)
		set(b)
		return b
	}
	// Valid, with every counter distinct.
	filled := with(valid, func(b []byte) {
		for off, v := range map[int]uint64{hGen: 11, hPID: 12, hStart: 13, hLSN: 14, hState: ShmClosed,
			hHW: 5, hSlotCap: 9, hTableVer: 15, hChunks: 6, hLive: 4} {
			le.PutUint64(b[off:], v)
		}
	})
	f.Add(filled)
	// Valid, every bound reached.
	full := with(filled, func(b []byte) {
		le.PutUint64(b[hState:], ShmSuperseded)
		le.PutUint64(b[hSlotCap:], maxSlots)
		le.PutUint64(b[hHW:], maxSlots)
		le.PutUint64(b[hLive:], maxSlots)
		le.PutUint64(b[hChunks:], maxChunks)
	})
	f.Add(full)
	// One bound passed each.
	for _, set := range []func(b []byte){
		func(b []byte) { b[hMagic]++ },
		func(b []byte) { le.PutUint32(b[hVersion:], shmVersion+1) },
		func(b []byte) { le.PutUint32(b[hHdrSize:], shmHdrSize*2) },
		func(b []byte) { le.PutUint32(b[hCellBits:], cellBits+1) },
		func(b []byte) { le.PutUint32(b[hSizeBits:], sizeBits-1) },
		func(b []byte) { b[hStrides+0]++ },
		func(b []byte) { b[hStrides+1]++ },
		func(b []byte) { b[hStrides+2]++ },
		func(b []byte) { b[hStrides+3]++ },
		func(b []byte) { le.PutUint64(b[hMaxChunks:], maxChunks-1) },
		func(b []byte) { le.PutUint64(b[hMaxChunks:], maxChunks+1) },
		func(b []byte) { le.PutUint64(b[hChunks:], maxChunks+1) },
		func(b []byte) { le.PutUint64(b[hSlotCap:], maxSlots+1) },
		func(b []byte) { le.PutUint64(b[hHW:], le.Uint64(b[hSlotCap:])+1) },
		func(b []byte) { le.PutUint64(b[hLive:], le.Uint64(b[hHW:])+1) },
		func(b []byte) { le.PutUint64(b[hState:], ShmSuperseded+1) },
	} {
		f.Add(with(filled, set))
		f.Add(with(full, set))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ok := shmHeaderValid(b)
		h, err := DecodeShmHeader(b)
		if err != nil {
			if !errors.Is(err, ErrBadShared) {
				t.Fatalf("error %v does not wrap ErrBadShared", err)
			}
			if ok {
				t.Fatalf("valid header refused: %v", err)
			}
			return
		}
		if !ok {
			t.Fatalf("accepted a header that fails a documented check: %+v", h)
		}
		want := ShmHeader{
			Gen: le.Uint64(b[hGen:]), PID: le.Uint64(b[hPID:]), Start: le.Uint64(b[hStart:]),
			LSN: le.Uint64(b[hLSN:]), State: le.Uint64(b[hState:]),
			HW: le.Uint64(b[hHW:]), SlotCap: le.Uint64(b[hSlotCap:]),
			TableVer: le.Uint64(b[hTableVer:]), Chunks: le.Uint64(b[hChunks:]),
			MaxChunks: le.Uint64(b[hMaxChunks:]), Live: le.Uint64(b[hLive:]),
			CellBits: le.Uint32(b[hCellBits:]), SizeBits: le.Uint32(b[hSizeBits:]),
		}
		if h != want {
			t.Fatalf("decoded %+v, the bytes hold %+v", h, want)
		}
	})
}

// shmHeaderValid is DecodeShmHeader's acceptance as docs/formats.md
// states it, written independently of the decoder.
func shmHeaderValid(b []byte) bool {
	if len(b) < shmHdrSize {
		return false
	}
	le := binary.LittleEndian
	u64 := func(off int) uint64 { return le.Uint64(b[off:]) }
	hw, slotCap := u64(hHW), u64(hSlotCap)
	return u64(hMagic) == shmMagic && le.Uint32(b[hVersion:]) == shmVersion &&
		le.Uint32(b[hHdrSize:]) == shmHdrSize &&
		le.Uint32(b[hCellBits:]) == cellBits && le.Uint32(b[hSizeBits:]) == sizeBits &&
		slices.Equal(b[hStrides:hStrides+4], []byte{8, 16, 8, 8}) &&
		u64(hMaxChunks) == maxChunks && u64(hChunks) <= maxChunks &&
		slotCap <= maxSlots && hw <= slotCap && u64(hLive) <= hw &&
		u64(hState) <= ShmSuperseded
}

// TestSharedStoreMatchesPrivate: the same operations give the same bytes,
// epochs and IDs in a shared and a private store, and the reader agrees.
func TestSharedStoreMatchesPrivate(t *testing.T) {
	s, dir := sharedStore(t)
	p := New()
	defer p.Close()
	for _, st := range []*Store{s, p} {
		for id := base.PageID(1); id <= 3000; id++ {
			sl, err := st.Create(id, int(id%700)+1, base.LocationCPU)
			if err != nil {
				t.Fatal(err)
			}
			st.Bytes(sl)[0] = byte(id)
			st.SetEpoch(sl, base.Epoch(id))
		}
		for id := base.PageID(1); id <= 3000; id += 3 {
			if err := st.Free(id); err != nil {
				t.Fatal(err)
			}
		}
		// IDs far beyond the reader's dense index (its map part).
		for _, id := range []base.PageID{1<<40 + 7, 1 << 40, 1<<50 + 1} {
			sl, err := st.Create(id, 24, base.LocationCPU)
			if err != nil {
				t.Fatal(err)
			}
			st.Bytes(sl)[0] = byte(id)
		}
	}
	r := publishAndOpen(t, s, dir, 7)
	ids, err := r.IDs()
	if err != nil {
		t.Fatal(err)
	}
	want := p.AppendIDs(nil)
	if len(ids) != len(want) {
		t.Fatalf("reader sees %d pages, private store %d", len(ids), len(want))
	}
	for i, id := range want {
		if ids[i] != uint64(id) {
			t.Fatalf("id %d: %d vs %d", i, ids[i], id)
		}
		var got []byte
		rd, found, _, err := r.Read(uint64(id), func(b []byte) error { got = append(got[:0], b...); return nil }, 10)
		psl, _ := p.Lookup(id)
		if err != nil || !found || string(got) != string(p.Bytes(psl)) || rd.Epoch != uint64(p.Epoch(psl)) {
			t.Fatalf("page %d: found %v err %v", id, found, err)
		}
	}
	if r.LSN() != 7 {
		t.Fatalf("LSN %d", r.LSN())
	}
}

// TestAliveSeesZombieWriter: a writer killed but not yet reaped by its
// parent is a zombie that still answers kill(pid, 0); Alive must call it
// gone. Before the kill the same check says alive (the control).
func TestAliveSeesZombieWriter(t *testing.T) {
	// A missing sleep skips, or fails under MMSB_REQUIRE_EXTERNAL=1 (CI).
	cmd := exec.Command(testutil.LookPath(t, "sleep"), "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	start, err := ProcStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	s, err := NewShared(filepath.Join(d, "b"), 0o600, 1, uint64(pid), start)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Publish(filepath.Join(d, "r"), 0); err != nil {
		t.Fatal(err)
	}
	r, err := OpenShmReader(filepath.Join(d, "r"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Alive(); err != nil {
		t.Fatalf("running writer: %v", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // bounds a hang only
	for r.Alive() == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := r.Alive(); !errors.Is(err, ErrWriterGone) {
		t.Fatalf("killed, unreaped writer: %v", err)
	}
}

// TestSharedReset: Reset (recovery starting over) empties a shared store
// before publication; what is created afterwards is what readers see.
func TestSharedReset(t *testing.T) {
	s, dir := sharedStore(t)
	for id := base.PageID(1); id <= 10; id++ { // odd IDs: large pages with chunks of their own
		if _, err := s.Create(id, 2<<20*int(id%2)+8, base.LocationCPU); err != nil {
			t.Fatal(err)
		}
	}
	s.Reset()
	sl, err := s.CreateAt(7, 64, base.LocationCPU, 3)
	if err != nil {
		t.Fatal(err)
	}
	s.Bytes(sl)[0] = 42
	r := publishAndOpen(t, s, dir, 3)
	ids, err := r.IDs()
	if err != nil || len(ids) != 1 || ids[0] != 7 {
		t.Fatalf("after Reset the reader sees %v (%v), want [7]", ids, err)
	}
	var got []byte
	rd, found, _, err := r.Read(7, func(b []byte) error { got = append(got[:0], b...); return nil }, 10)
	if err != nil || !found || got[0] != 42 || rd.LSN != 3 {
		t.Fatalf("page 7: %v %v %v %+v", found, err, got, rd)
	}
}

// TestTryReadPredictedCell: TryRead locates a page from the cell its slot
// predicts (cellLayout) only after checking the slot's cell word. Pages
// created in order get the linear layout; then page 10 is freed and its
// slot reused by a page of another size, whose cell is elsewhere, while
// the reader's fast view still predicts cell ref0+9 for that slot: the
// read must return the new page's bytes, not the freed cell's (reading
// the predicted cell unchecked fails here). A layout that is not linear
// turns prediction off.
func TestTryReadPredictedCell(t *testing.T) {
	s, dir := sharedStore(t)
	lsn := uint64(0)
	create := func(id base.PageID, size int, fill byte) {
		t.Helper()
		lsn++
		sl, err := s.CreateAt(id, size, base.LocationCPU, lsn)
		if err != nil {
			t.Fatal(err)
		}
		b := s.Bytes(sl)
		for i := range b {
			b[i] = fill
		}
		s.EndWrite(sl, lsn)
	}
	for id := base.PageID(1); id <= 64; id++ {
		create(id, 100, byte(id))
	}
	r := publishAndOpen(t, s, dir, lsn)
	if v := r.fast.Load(); !v.linear {
		t.Fatal("pages created in order: cell layout not seen as linear")
	}
	read := func(id uint64) []byte {
		t.Helper()
		var got []byte
		fn := func(b []byte) error { got = slices.Clone(b); return nil }
		if done, _, _ := r.TryRead(id, fn, nil); !done {
			// Not in the fast view yet (a chunk not mapped): the slow
			// path maps it and republishes the view.
			if _, found, _, err := r.Read(id, fn, 3); err != nil || !found {
				t.Fatalf("Read page %d: found %v, %v", id, found, err)
			}
		}
		got = nil
		done, _, err := r.TryRead(id, fn, nil)
		if err != nil || !done {
			t.Fatalf("TryRead page %d: done %v, %v", id, done, err)
		}
		return got
	}
	for id := uint64(1); id <= 64; id++ {
		if got := read(id); len(got) != 100 || got[0] != byte(id) || got[99] != byte(id) {
			t.Fatalf("page %d reads %d bytes starting %d", id, len(got), got[0])
		}
	}
	if err := s.FreeAt(10, lsn+1); err != nil {
		t.Fatal(err)
	}
	lsn++
	create(10, 300, 0xAB) // slot 9 again, a cell in another chunk
	if sl, _ := s.Lookup(10); sl != 9 {
		t.Fatalf("page 10 recreated at slot %d, the test needs slot 9", sl)
	}
	if v := r.fast.Load(); !v.linear || s.cells[9].ref == v.ref0+9 {
		t.Fatalf("test setup: linear %v, slot 9 cell %#x, predicted %#x", v.linear, s.cells[9].ref, v.ref0+9)
	}
	if got := read(10); len(got) != 300 || got[0] != 0xAB || got[299] != 0xAB {
		t.Fatalf("page 10 after reuse reads %d bytes starting %#x, want 300 of 0xab", len(got), got[0])
	}
	for _, id := range []uint64{9, 11, 64} {
		if got := read(id); got[0] != byte(id) {
			t.Fatalf("page %d reads %d", id, got[0])
		}
	}
	// Sampled slots that break the layout turn prediction off.
	for id := base.PageID(17); id <= 64; id++ {
		if err := s.FreeAt(id, lsn+1); err != nil {
			t.Fatal(err)
		}
		lsn++
	}
	create(64, 300, 1) // slot 63: n-1, a sampled slot, in another chunk
	r.publish()
	if v := r.fast.Load(); v.linear {
		t.Fatal("slot 63 holds a cell elsewhere, yet the layout is still seen as linear")
	}
	if got := read(64); len(got) != 300 || got[0] != 1 {
		t.Fatalf("page 64 reads %d bytes", len(got))
	}
}

// TestTryReadDeclinesAfterSetGone: once SetGone recorded the writer's
// failure, TryRead declines (the caller's slow path reports it), also
// after a republish of the fast view (a remap or index rebuild), which
// must not bring the view back.
func TestTryReadDeclinesAfterSetGone(t *testing.T) {
	s, dir := sharedStore(t)
	sl, err := s.CreateAt(1, 64, base.LocationCPU, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.EndWrite(sl, 1)
	r := publishAndOpen(t, s, dir, 1)
	fn := func(b []byte) error { return nil }
	if _, found, _, err := r.Read(1, fn, 3); err != nil || !found {
		t.Fatalf("Read: found %v, %v", found, err)
	}
	if done, _, err := r.TryRead(1, fn, nil); !done || err != nil {
		t.Fatalf("TryRead before SetGone: done %v, %v (the control)", done, err)
	}
	r.SetGone(ErrWriterGone)
	if done, _, _ := r.TryRead(1, fn, nil); done {
		t.Fatal("TryRead read after SetGone")
	}
	r.publish()
	if done, _, _ := r.TryRead(1, fn, nil); done {
		t.Fatal("TryRead read after SetGone and a republish")
	}
	if !errors.Is(r.Gone(), ErrWriterGone) {
		t.Fatalf("Gone() = %v", r.Gone())
	}
}
