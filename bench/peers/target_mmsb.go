package main

import (
	"context"
	"fmt"

	"github.com/mmsb-go/mmsb"
)

// mmsbTarget is MMSB in process: one Bus.Commit per batch. nosync is
// SyncNone; sync is SyncGroup (the default; with one committer every
// batch waits for its own fsync, as under SyncAlways).
type mmsbTarget struct {
	sync bool
	bus  *mmsb.Bus
	ds   []mmsb.Delta
}

func (t *mmsbTarget) Setup(ctx context.Context, dir string, w Workload) error {
	mode := mmsb.SyncNone
	if t.sync {
		mode = mmsb.SyncGroup
	}
	bus, err := mmsb.Open(dir, &mmsb.Options{Sync: mode})
	if err != nil {
		return err
	}
	t.bus = bus
	const chunk = 4096
	for first := 0; first < w.Pages; first += chunk {
		specs := make([]mmsb.PageSpec, min(chunk, w.Pages-first))
		for i := range specs {
			specs[i] = mmsb.PageSpec{ID: mmsb.PageID(first + i + 1), Size: w.PageSize}
		}
		if _, err := bus.CreatePages(ctx, specs); err != nil {
			return fmt.Errorf("mmsb: create pages: %w", err)
		}
	}
	return nil
}

func (t *mmsbTarget) Commit(ctx context.Context, batch []Write) error {
	t.ds = t.ds[:0]
	for i := range batch {
		wr := &batch[i]
		t.ds = append(t.ds, mmsb.Write(mmsb.PageID(wr.Page+1), wr.Off, wr.Data[:]))
	}
	_, err := t.bus.Commit(ctx, t.ds)
	return err
}

func (t *mmsbTarget) ReadPage(_ context.Context, i uint32) ([]byte, error) {
	b, _, err := t.bus.ReadPage(mmsb.PageID(i+1), nil)
	return b, err
}

func (t *mmsbTarget) Close() error {
	if t.bus == nil {
		return nil
	}
	return t.bus.Close()
}
