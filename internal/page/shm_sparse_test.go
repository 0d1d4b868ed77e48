package page

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestShmReaderRefusesSparseSlots: a region whose header claims far more
// slots than its slot arrays hold in memory (files made long by truncate,
// sparse, which costs nothing) is refused with ErrBadShared before the
// reader scans it. The reader scanned the holes, each read of which
// allocates a tmpfs page, and sized its dense index by the claimed
// high-water mark (here 2^20 slots and one page ID just under 4*2^20+2^16:
// 16 MiB of index; about 2^31 slots and one ID near 2^33 made it tens of
// GB). Control: the same region before the damage lists its page.
func TestShmReaderRefusesSparseSlots(t *testing.T) {
	s, dir := sharedStore(t)
	createFilled(t, s, 1, 100, 1, 1)
	r := publishAndOpen(t, s, dir, 1)
	if !r.tmpfs {
		testutil.Missing(t, "region %s is not on a tmpfs (allocated blocks are checked there only)", dir)
	}
	if ids, err := r.IDs(); err != nil || len(ids) != 1 {
		t.Fatalf("control: IDs of the region as published: %v, %v", ids, err)
	}
	const slots = 1 << 20
	for name, stride := range map[string]int64{shmIDs: 8, shmVers: 16, shmCells: 8, shmSeq: 8} {
		if err := os.Truncate(filepath.Join(dir, name), slots*stride); err != nil {
			t.Fatal(err)
		}
	}
	le := binary.LittleEndian
	put := func(name string, off int64, b []byte) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	// One live page in the last slot, with the largest ID the dense
	// index takes.
	put(shmIDs, (slots-1)*8, le.AppendUint64(nil, 4*slots+readerDenseSlack-1))
	put(shmCells, (slots-1)*8+4, le.AppendUint32(nil, 64))
	put(ShmHeaderFile, hHW, le.AppendUint64(nil, slots))
	put(ShmHeaderFile, hSlotCap, le.AppendUint64(nil, slots))
	put(ShmHeaderFile, hTableVer, le.AppendUint64(nil, 1<<40)) // the index is rebuilt

	r2, err := OpenShmReader(dir)
	if err != nil {
		t.Fatalf("open: %v (the slot files are long enough: the refusal belongs to the scan)", err)
	}
	defer r2.Close()
	for _, rd := range []*ShmReader{r, r2} {
		ids, err := rd.IDs()
		if !errors.Is(err, ErrBadShared) || !strings.Contains(err.Error(), "allocated") {
			t.Fatalf("IDs over sparse slot arrays claiming %d slots: %d IDs (dense index of %d entries), %v; want ErrBadShared naming the allocated size", slots, len(ids), len(rd.dense), err)
		}
		if _, _, _, err := rd.Read(4*slots+readerDenseSlack-1, func([]byte) error { return nil }, 3); !errors.Is(err, ErrBadShared) {
			t.Fatalf("Read of the page in the last slot over sparse slot arrays: %v; want ErrBadShared", err)
		}
	}
	// The refusal came before the scan: the holes were not read in.
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, shmIDs), &st); err != nil {
		t.Fatal(err)
	}
	if got := st.Blocks * 512; got >= slots*8/2 {
		t.Errorf("ids file has %d bytes allocated after the refusal; want the reader not to have read its holes in", got)
	}
}

// TestShmReaderSparseCheckPassesGrowingWriter: a writer creating pages
// past several slot reservations and two capacity doublings (remaps),
// while one reader rebuilds its index after every 257 creates and
// another rebuilds again and again from its own goroutine: the
// allocated-blocks check never refuses a live writer's region. A writer
// writes a slot's ids entry (which allocates its tmpfs page, with or
// without the fallocate of reserveSlots) before it publishes the
// high-water mark that covers it. The check does run here: what the
// readers found allocated grows with the writer. Control: a check that
// wanted 16 bytes of ids per slot refused the live writer.
func TestShmReaderSparseCheckPassesGrowingWriter(t *testing.T) {
	s, dir := sharedStore(t)
	growUnderReaders(t, s, dir)
}

// growUnderReaders publishes s at dir and creates pages under two readers
// (TestShmReaderSparseCheckPassesGrowingWriter).
func growUnderReaders(t *testing.T, s *Store, dir string) {
	t.Helper()
	createFilled(t, s, 1, 8, 1, 1)
	r := publishAndOpen(t, s, dir, 1)
	if !r.tmpfs {
		testutil.Missing(t, "region %s is not on a tmpfs (allocated blocks are checked there only)", dir)
	}
	r2, err := OpenShmReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	const n = 40000 // capacity 16 Ki slots, then 32 Ki, then 64 Ki
	var stop atomic.Bool
	done := make(chan error, 1)
	go func() {
		for rebuilds := 0; ; rebuilds++ {
			last := stop.Load()
			if _, err := r2.IDs(); err != nil {
				done <- fmt.Errorf("concurrent reader, rebuild %d: %w", rebuilds, err)
				return
			}
			if last {
				done <- nil
				return
			}
		}
	}()
	for id := 2; id <= n; id++ {
		if _, err := s.CreateAt(base.PageID(id), 8, base.LocationCPU, uint64(id)); err != nil {
			t.Fatal(err)
		}
		if id%257 == 0 || id == n {
			ids, err := r.IDs()
			if err != nil || len(ids) != id {
				t.Fatalf("IDs of a live writer's region after %d creates: %d IDs, %v", id, len(ids), err)
			}
		}
	}
	stop.Store(true)
	if err := <-done; err != nil {
		t.Fatalf("IDs of a live writer's region: %v", err)
	}
	for _, rd := range []*ShmReader{r, r2} {
		if rd.idsBacked < n*8 {
			t.Errorf("reader found %d bytes of ids allocated for %d slots: the check did not run", rd.idsBacked, n)
		}
	}
}
