package mmsb

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestPropertyReadPageAtEqualsFullReplay: ReadPageAt replays only the page
// it reads (other pages, edges and bindings are skipped); for random
// histories of creates, frees, writes, metadata, edges, bindings with
// propagation, and checkpoints that trim the log, it answers every page at
// every sampled LSN exactly as a replay of the whole bus does: the same
// bytes and epoch, or the same error.
func TestPropertyReadPageAtEqualsFullReplay(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		fs := vfs.NewMem()
		e, err := Open("/db", &Options{FS: fs, Clock: testClock(), SegmentBytes: 2048, CheckpointBytes: -1})
		if err != nil {
			rt.Fatal(err)
		}
		defer e.Close()
		var live []PageID
		for s, steps := 0, rapid.IntRange(1, 30).Draw(rt, "steps"); s < steps; s++ {
			switch rapid.IntRange(0, 8).Draw(rt, "op") {
			case 0: // create
				ids, err := e.CreatePages(ctx, []PageSpec{{Size: rapid.IntRange(1, 200).Draw(rt, "size")}})
				if err != nil {
					rt.Fatal(err)
				}
				live = append(live, ids...)
			case 1, 2, 3: // write
				if len(live) == 0 {
					continue
				}
				id := rapid.SampledFrom(live).Draw(rt, "page")
				info, _ := e.Page(id)
				if info.Derived {
					continue
				}
				off := rapid.IntRange(0, info.Size-1).Draw(rt, "off")
				n := rapid.IntRange(1, info.Size-off).Draw(rt, "len")
				data := rapid.SliceOfN(rapid.Byte(), n, n).Draw(rt, "data")
				if _, err := e.Commit(ctx, []Delta{Write(id, uint32(off), data)}); err != nil {
					rt.Fatal(err)
				}
			case 4: // free (refused while edges or a binding hold the page)
				if len(live) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(live)-1).Draw(rt, "free")
				if err := e.FreePage(ctx, live[i]); err == nil {
					live = append(live[:i], live[i+1:]...)
				} else if !errors.Is(err, ErrPageInUse) {
					rt.Fatal(err)
				}
			case 5: // metadata or a control edge (which raises a flag)
				if len(live) < 2 {
					continue
				}
				a, b := rapid.SampledFrom(live).Draw(rt, "a"), rapid.SampledFrom(live).Draw(rt, "b")
				if rapid.Bool().Draw(rt, "meta") {
					if err := e.SetMetadata(ctx, a, []MetaEntry{{Key: "k", Value: []byte{byte(s)}}}); err != nil {
						rt.Fatal(err)
					}
				} else if err := e.AddEdge(ctx, a, b, EdgeControl); err != nil && !errors.Is(err, ErrCycle) {
					rt.Fatal(err)
				}
			case 6: // bind a new derived page to a live one
				if len(live) == 0 {
					continue
				}
				parent := rapid.SampledFrom(live).Draw(rt, "parent")
				info, _ := e.Page(parent)
				ids, err := e.CreatePages(ctx, []PageSpec{{Size: info.Size}})
				if err != nil {
					rt.Fatal(err)
				}
				if err := e.Bind(ctx, ids[0], "passthrough", nil, []PageID{parent}); err != nil {
					rt.Fatal(err)
				}
				live = append(live, ids[0])
			case 7: // propagate: derived writes
				if _, err := e.Propagate(ctx); err != nil {
					rt.Fatal(err)
				}
			case 8: // checkpoint (the second trims the log the first covers)
				if _, err := e.Checkpoint(ctx); err != nil {
					rt.Fatal(err)
				}
			}
		}
		last := e.LastLSN()
		if last == 0 {
			return
		}
		maxID := e.Stats().Pages + 2*len(live) + 2 // IDs up to and past the last used
		for range 4 {
			lsn := LSN(rapid.Uint64Range(1, uint64(last)).Draw(rt, "lsn"))
			full, fullErr := e.Replay(ctx, ReplayTarget{ToLSN: lsn})
			for id := PageID(1); id <= PageID(maxID); id++ {
				got, gotEp, gotErr := e.ReadPageAt(ctx, id, lsn)
				var want []byte
				var wantEp Epoch
				wantErr := fullErr
				if fullErr == nil {
					want, wantEp, wantErr = full.ReadPage(id, nil)
				}
				if !sameErr(gotErr, wantErr) || !bytes.Equal(got, want) || gotEp != wantEp {
					rt.Fatalf("page %d as of LSN %d: page-only replay %x epoch %d (%v); full replay %x epoch %d (%v)",
						id, lsn, got, gotEp, gotErr, want, wantEp, wantErr)
				}
			}
			if full != nil {
				full.Close()
			}
		}
	})
}

// sameErr reports whether a and b are both nil or both the same sentinel.
func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	for _, s := range []error{ErrPageNotFound, ErrLogTruncated, ErrCorruption, ErrInvalidOption} {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return true
}
