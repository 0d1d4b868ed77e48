package mmsb

import (
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestPropertyReplayEqualsLive drives a bus with random operations (valid
// and invalid), random checkpoints and reopen cycles on an in-memory FS, and
// checks after each step that replay of the log equals the live state and
// that a reopened bus has the same state hash.
func TestPropertyReplayEqualsLive(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		fs := vfs.NewMem()
		opts := &Options{FS: fs, Clock: testClock(), SegmentBytes: 4096, CheckpointBytes: -1}
		e, err := Open("/db", opts)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { e.Close() }()
		var live []PageID
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for s := 0; s < steps; s++ {
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0, 1: // create pages
				n := rapid.IntRange(1, 4).Draw(rt, "n")
				specs := make([]PageSpec, n)
				for i := range specs {
					specs[i] = PageSpec{Size: rapid.IntRange(1, 300).Draw(rt, "size")}
				}
				ids, err := e.CreatePages(ctx, specs)
				if err != nil {
					rt.Fatal(err)
				}
				live = append(live, ids...)
			case 2, 3, 4: // a batch of deltas, sometimes with a bad one
				if len(live) == 0 {
					continue
				}
				var ds []delta.Delta
				for i := rapid.IntRange(1, 6).Draw(rt, "deltas"); i > 0; i-- {
					id := rapid.SampledFrom(live).Draw(rt, "page")
					info, _ := e.Page(id)
					off := rapid.IntRange(0, info.Size-1).Draw(rt, "off")
					n := rapid.IntRange(1, info.Size-off).Draw(rt, "len")
					data := rapid.SliceOfN(rapid.Byte(), n, n).Draw(rt, "data")
					ds = append(ds, w(id, off, string(data)))
				}
				bad := rapid.IntRange(0, 4).Draw(rt, "bad") == 0
				if bad {
					ds = append(ds, w(live[0], 1<<20, "x"))
				}
				before := hashOf(rt, e)
				_, err := e.Commit(ctx, ds)
				if bad != (err != nil) {
					rt.Fatalf("bad=%v err=%v", bad, err)
				}
				if bad && hashOf(rt, e) != before {
					rt.Fatal("refused batch changed state")
				}
			case 5: // free a page
				if len(live) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(live)-1).Draw(rt, "free")
				err := e.FreePage(ctx, live[i])
				if err == nil {
					live = append(live[:i], live[i+1:]...)
				} else if !errors.Is(err, ErrPageInUse) {
					rt.Fatal(err)
				}
			case 6: // metadata or an edge
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
			case 7: // checkpoint
				if _, err := e.Checkpoint(ctx); err != nil {
					rt.Fatal(err)
				}
			case 8: // reopen
				hash, lsn := hashOf(rt, e), e.LastLSN()
				if err := e.Close(); err != nil {
					rt.Fatal(err)
				}
				if e, err = Open("/db", opts); err != nil {
					rt.Fatal(err)
				}
				if hashOf(rt, e) != hash || e.LastLSN() != lsn {
					rt.Fatalf("reopen changed state: lsn %d -> %d", lsn, e.LastLSN())
				}
			case 9: // replay check
				rep, err := e.VerifyReplay(ctx, rapid.Bool().Draw(rt, "fromNewest"))
				if err != nil {
					rt.Fatal(err)
				}
				if !rep.Equal() {
					rt.Fatalf("replay differs: %v", rep.Differences)
				}
			}
		}
		rep, err := e.VerifyReplay(ctx, false)
		if err != nil || !rep.Equal() {
			rt.Fatalf("final replay: %v %+v", err, rep)
		}
	})
}
