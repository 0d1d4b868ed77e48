package mmsb

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// trimmedPage encodes a page record that stores none of its size bytes
// (all zero), as a hand-made file can: AppendPage stores at least
// record.MinStored(size) of them.
func trimmedPage(id PageID, size int, lsn LSN) []byte {
	b := binary.AppendUvarint(nil, uint64(id))
	b = binary.AppendUvarint(b, uint64(size))
	b = append(b, byte(CPU), 0)    // location, flags
	b = binary.AppendUvarint(b, 0) // epoch
	b = binary.AppendUvarint(b, uint64(lsn))
	b = binary.AppendUvarint(b, 0) // metadata length
	b = binary.AppendUvarint(b, uint64(size))
	return binary.AppendUvarint(b, 0) // stored bytes
}

// writeRecords writes a well-framed checkpoint of lsn holding recs.
func writeRecords(t *testing.T, fs vfs.FS, lsn LSN, recs ...[2][]byte) string {
	t.Helper()
	w, err := checkpoint.Create(fs, "/ck", lsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Append(r[0][0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	path, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// loadMeasured loads path into a fresh bus and returns the load's error,
// the Go heap it allocated and the page memory it mapped.
func loadMeasured(t *testing.T, fs vfs.FS, path string) (*Bus, uint64, int64, error) {
	t.Helper()
	e := openT(t, "", &Options{CheckpointBytes: -1, DisableLog: true, LazyPageMemory: true})
	t.Cleanup(func() { _ = e.Close() })
	arena := e.store.Stats().ArenaBytes
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := e.loadCheckpointFrom(fs, path)
	runtime.ReadMemStats(&after)
	return e, after.TotalAlloc - before.TotalAlloc, e.store.Stats().ArenaBytes - arena, err
}

// TestCheckpointLoadBoundsAllocation: a page record stored only its
// non-zero span, so a checkpoint of about 1.5 KB (64 page records that
// store nothing, each declaring a page of nearly base.MaxPageSize)
// declared 1 GiB, and loading it mapped and touched 1 GiB of page memory
// (and expanded every page into a Go buffer, re-allocated for each larger
// one) before anything checked it; a state record declaring more pages
// than follow was noticed only at the end. Now the pages of a checkpoint
// may declare at most record.ZeroExpansion times the file's size (what
// AppendPage guarantees by storing record.MinStored bytes of every page),
// the state's counts must fit in what follows it, and both are checked
// before anything is allocated: the load is ErrCorruption naming the
// record, what it declares and what the file holds.
func TestCheckpointLoadBoundsAllocation(t *testing.T) {
	const lsn, pages = 10, 64
	const budget = 8 << 20 // what a refused load may allocate, heap and pages
	state := func(n uint64) [2][]byte {
		st := record.State{LastLSN: lsn, NextID: pages + 1, Pages: n}
		return [2][]byte{{record.CkptState}, record.AppendState(nil, &st)}
	}
	hostile := func(declared uint64) []([2][]byte) {
		recs := [][2][]byte{state(declared)}
		for i := range pages {
			// Ever larger, so that a decoder's buffer grows at each one.
			recs = append(recs, [2][]byte{{record.CkptPage}, trimmedPage(PageID(i+1), MaxPageSize-pages+i, 1)})
		}
		return recs
	}
	for _, tc := range []struct {
		name string
		recs [][2][]byte
		want string // in the error
	}{
		{"pages declare 1 GiB in 1.5 KB", hostile(pages), "page record"},
		{"state declares more pages than follow", hostile(1 << 40), "state record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			path := writeRecords(t, fs, lsn, tc.recs...)
			_, heap, mapped, err := loadMeasured(t, fs, path)
			// TotalAlloc counts the whole process: a goroutine another
			// test left winding down can allocate during the load. A load
			// that allocates too much does so every time; the least of
			// three tries is the load's own.
			for try := 1; try < 3 && (heap > budget || mapped > budget); try++ {
				_, h, m, _ := loadMeasured(t, fs, path)
				heap, mapped = min(heap, h), min(mapped, m)
			}
			if err == nil || !errors.Is(err, ErrCorruption) {
				t.Errorf("load: %v, want ErrCorruption", err)
			} else if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("load: %q, want it to name the %s and %s", err, tc.want, path)
			}
			if heap > budget || mapped > budget {
				t.Errorf("a refused %d-byte checkpoint allocated %d bytes of heap and mapped %d bytes of pages (bound %d)",
					fileSize(t, fs, path), heap, mapped, budget)
			}
		})
	}
}

// TestCheckpointLoadBoundAdmitsEmptyPages: the bound refuses nothing a bus
// writes. Never-written pages, the most a checkpoint can declare per byte,
// of base.MaxPageSize and of 1 KiB, checkpoint and load back to the same
// state (control for TestCheckpointLoadBoundsAllocation), and a checkpoint
// of data pages loads with no copy of a page beyond the one into its memory.
func TestCheckpointLoadBoundAdmitsEmptyPages(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		specs []PageSpec
		write bool
	}{
		{"never-written pages of MaxPageSize", []PageSpec{{Size: MaxPageSize}, {Size: MaxPageSize}, {Size: 1}}, false},
		{"never-written pages of 1 KiB", repeatSpec(PageSpec{Size: 1 << 10}, 4096), false},
		{"written pages of 1 KiB", repeatSpec(PageSpec{Size: 1 << 10}, 4096), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openT(t, "", &Options{CheckpointBytes: -1, DisableLog: true, LazyPageMemory: true, Clock: testClock()})
			defer e.Close()
			ids, err := e.CreatePages(ctx, tc.specs)
			if err != nil {
				t.Fatal(err)
			}
			if tc.write {
				var ds []Delta
				for _, id := range ids {
					ds = append(ds, w(id, 0, strings.Repeat("x", 1<<10)))
				}
				if _, err := e.Commit(ctx, ds); err != nil {
					t.Fatal(err)
				}
			}
			want := hashOf(t, e)
			ck, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			again, heap, _, err := loadMeasured(t, e.FS(), ck.Path)
			if err != nil {
				t.Fatalf("a bus's own checkpoint (%d bytes) does not load: %v", ck.Bytes, err)
			}
			if got := hashOf(t, again); got != want {
				t.Fatalf("state hash %x after the load, want %x", got, want)
			}
			// The reader's buffers (256 KiB and the largest record) and
			// the page table; no page expanded into the heap.
			if limit := uint64(4 << 20); heap > limit {
				t.Fatalf("loading %d bytes of checkpoint allocated %d bytes of heap (bound %d)", ck.Bytes, heap, limit)
			}
		})
	}
}

func repeatSpec(s PageSpec, n int) []PageSpec {
	out := make([]PageSpec, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func fileSize(t *testing.T, fs vfs.FS, path string) int64 {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
