package main

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestBackupByReplayBesideAWriter runs the backup procedure of
// docs/operations.md ("Backups"): `mmsb replay DIR --out BACKUP` while a
// writer keeps committing to DIR. The backup must open as a bus, hold
// every batch the writer had acknowledged before the replay began, show
// one whole batch (each batch writes its number into every page), and
// pass `mmsb check`. (A copy of the files taken meanwhile can be refused
// by Open: see the same section.)
func TestBackupByReplayBesideAWriter(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	const pages = 4
	specs := make([]mmsb.PageSpec, pages)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 64}
	}
	if _, err := bus.CreatePages(ctx, specs); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Uint64 // the last batch Commit returned
	commitBatch := func(s uint64) error {
		ds := make([]mmsb.Delta, pages)
		for i := range ds {
			ds[i] = mmsb.Write(mmsb.PageID(i+1), 0, binary.LittleEndian.AppendUint64(nil, s))
		}
		_, err := bus.Commit(ctx, ds)
		return err
	}
	for s := uint64(1); s <= 20; s++ {
		if err := commitBatch(s); err != nil {
			t.Fatal(err)
		}
		acked.Store(s)
	}
	if _, err := bus.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the writer, committing until the backup is taken
		defer wg.Done()
		for s := acked.Load() + 1; ; s++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := commitBatch(s); err != nil {
				t.Error(err)
				return
			}
			acked.Store(s)
		}
	}()
	before := acked.Load()
	backup := filepath.Join(t.TempDir(), "backup")
	r := runCLI(t, "replay", "--no-progress", dir, "--out", backup)
	close(stop)
	wg.Wait()
	r.mustCode(t, exitOK)

	b, err := mmsb.Open(backup, nil)
	if err != nil {
		t.Fatalf("the backup does not open: %v", err)
	}
	var got uint64
	for id := mmsb.PageID(1); id <= pages; id++ {
		buf, _, err := b.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := binary.LittleEndian.Uint64(buf)
		if id == 1 {
			got = s
		} else if s != got {
			t.Errorf("backup: page %d holds batch %d, page 1 batch %d (half a batch)", id, s, got)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got < before || got > acked.Load() {
		t.Errorf("backup holds batch %d; acknowledged before the replay began: %d, by its end: %d", got, before, acked.Load())
	}
	runCLI(t, "check", "--no-progress", backup).mustCode(t, exitOK)
}
