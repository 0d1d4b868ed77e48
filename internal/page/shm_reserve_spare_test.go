package page

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// chunkFiles lists the chunk files in region dir.
func chunkFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "c*.*"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	slices.Sort(m)
	return m
}

// TestSharedReserveSpareChunks: in shared mode the chunks a reservation
// maps ahead are files published in the chunk table; given back
// (ReleaseReserved), their files and entries go, the indices are reused
// by later chunks under a new generation that a reader maps and reads
// right, and Reset and Close leave no chunk file behind.
func TestSharedReserveSpareChunks(t *testing.T) {
	s, dir := sharedStore(t)
	r := publishAndOpen(t, s, dir, 0)
	lsn := uint64(0)
	create := func(id base.PageID, size int) {
		t.Helper()
		lsn++
		sl, err := s.CreateAt(id, size, base.LocationCPU, lsn)
		if err != nil {
			t.Fatal(err)
		}
		b := s.Bytes(sl)
		s.BeginWrite(sl, lsn)
		for i := range b {
			b[i] = byte(id)
		}
		s.EndWrite(sl, lsn)
		s.PublishLSN(lsn)
	}
	check := func(id base.PageID, size int) {
		t.Helper()
		var got []byte
		_, ok, _, err := r.Read(uint64(id), func(b []byte) error { got = append(got[:0], b...); return nil }, 100)
		if err != nil || !ok || !bytes.Equal(got, bytes.Repeat([]byte{byte(id)}, size)) {
			t.Fatalf("reader: page %d: ok %v, err %v, %d bytes (want %d of %d)", id, ok, err, len(got), size, byte(id))
		}
	}
	create(1, 1024)
	inUse := chunkFiles(t, dir)
	sizes := append(repeatSize(1024, 2*maxCellsPerChunk), 3<<20)
	if err := s.ReserveCreates(len(sizes), func(i int) int { return sizes[i] }); err != nil {
		t.Fatal(err)
	}
	if got := chunkFiles(t, dir); len(got) != len(inUse)+3 {
		t.Fatalf("chunk files after reserving two chunks and a large page: %v (before: %v)", got, inUse)
	}
	if err := s.ReleaseReserved(); err != nil {
		t.Fatal(err)
	}
	if got := chunkFiles(t, dir); !slices.Equal(got, inUse) {
		t.Fatalf("chunk files after ReleaseReserved: %v, want %v", got, inUse)
	}
	for idx := 1; idx <= 3; idx++ {
		if gen := s.shm.chunkTab[idx*chunkEntryBytes]; gen != 0 {
			t.Fatalf("chunk %d still published (generation %d) after ReleaseReserved", idx, gen)
		}
	}
	// The indices are taken again, at generation 2, through a reservation
	// and without one.
	id := base.PageID(2)
	batch := []int{3 << 20, 1024, 2 << 20}
	if err := s.ReserveCreates(len(batch), func(i int) int { return batch[i] }); err != nil {
		t.Fatal(err)
	}
	for _, size := range append(batch, 3<<20, 1024) {
		create(id, size)
		id++
	}
	for i, size := range append([]int{1024}, append(batch, 3<<20, 1024)...) {
		check(base.PageID(i+1), size)
	}
	if st := s.Stats(); st.ArenaBytes != int64(4<<20+3<<20+2<<20+3<<20) {
		t.Fatalf("ArenaBytes %d, want the 1 KiB cells' chunk and the three large pages", st.ArenaBytes)
	}
	if err := s.ReserveCreates(1, func(int) int { return 5 << 20 }); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	if got := chunkFiles(t, dir); len(got) != 0 {
		t.Fatalf("chunk files after Reset with a spare chunk: %v", got)
	}
	if err := s.ReserveCreates(1, func(int) int { return 64 }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("region directory after Close: %v", err)
	}
}

// TestSharedReserveFaultsAsPolicy: a reservation prepares the chunks it
// maps ahead as a create would: a spare chunk's tmpfs pages are allocated
// when it is reserved, pre-faulted by default and with fallocate lazily
// (LazyPageMemory), so that a full tmpfs is refused then and never raises
// SIGBUS at a later write (TestShmFullTmpfs).
func TestSharedReserveFaultsAsPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy MemoryPolicy
	}{{"default", DefaultMemoryPolicy}, {"lazy", MemoryPolicy{}}, {"lazy, huge pages", MemoryPolicy{HugePages: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := sharedStore(t)
			if !strings.HasPrefix(dir, "/dev/shm/") {
				testutil.Missing(t, "no /dev/shm: file blocks need not follow faults")
			}
			s.SetMemoryPolicy(tc.policy)
			if err := s.ReserveCreates(1, func(int) int { return 2 << 20 }); err != nil {
				t.Fatal(err)
			}
			files := chunkFiles(t, dir+".building")
			if len(files) != 1 {
				t.Fatalf("chunk files after reserving one large page: %v", files)
			}
			fi, err := os.Stat(filepath.Join(dir+".building", files[0]))
			if err != nil {
				t.Fatal(err)
			}
			allocated := fi.Sys().(*syscall.Stat_t).Blocks * 512
			if allocated < 2<<20 {
				t.Fatalf("%s policy: %d bytes of the reserved chunk allocated, want 2 MiB", tc.name, allocated)
			}
		})
	}
}
