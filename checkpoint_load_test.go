package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestLoadCheckpointRefusesInconsistentPages: the loader checked each
// record on its own but not the pages against the state record, so a
// checkpoint whose frames all verify (crafted, or written by a buggy
// build) loaded a state no bus can reach: a page last written after the
// checkpoint's LSN, or a page ID at or past the state's next auto ID.
// The first breaks copy on write (cowTouch takes a page last written after
// a snapshot for one created after it and keeps nothing, so the next
// checkpoint would hold bytes changed after its own LSN). Such a
// checkpoint must be corruption, which recovery skips for an older one
// plus the log.
func TestLoadCheckpointRefusesInconsistentPages(t *testing.T) {
	const lsn = 10
	page := func(id PageID, last LSN) []byte {
		img := record.PageImage{ID: id, Size: 8, Epoch: 1, LastLSN: last, Data: []byte("abcdefgh")}
		return record.AppendPage(nil, &img)
	}
	for _, tc := range []struct {
		name   string
		nextID PageID
		pages  [][]byte
		ok     bool
	}{
		{"consistent (control)", 3, [][]byte{page(1, 4), page(2, lsn)}, true},
		{"page written after the checkpoint's LSN", 3, [][]byte{page(1, 4), page(2, lsn+1)}, false},
		{"page ID at the next auto ID", 2, [][]byte{page(1, 4), page(2, 5)}, false},
		{"page ID past the next auto ID", 2, [][]byte{page(1, 4), page(9, 5)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			wr, err := checkpoint.Create(fs, "/ck", lsn)
			if err != nil {
				t.Fatal(err)
			}
			st := record.State{LastLSN: lsn, NextID: tc.nextID, Pages: uint64(len(tc.pages))}
			if err := wr.Append(record.CkptState, record.AppendState(nil, &st)); err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.pages {
				if err := wr.Append(record.CkptPage, p); err != nil {
					t.Fatal(err)
				}
			}
			path, err := wr.Commit()
			if err != nil {
				t.Fatal(err)
			}
			e := openT(t, "", &Options{CheckpointBytes: -1, DisableLog: true})
			defer e.Close()
			err = e.loadCheckpointFrom(fs, path)
			if tc.ok != (err == nil) {
				t.Fatalf("load: %v (want accepted: %v)", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrCorruption) {
				t.Fatalf("load: %v, want ErrCorruption", err)
			}
		})
	}
}
