package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplayCompareCatchesEachDifference is the negative control of every
// comparison the offline replay makes between its two rebuilt buses
// (compareEngines): two buses built alike except for one thing, and the
// exact finding for it. Replaced by false, the size/epoch, edge-count,
// edge, bound-pages, binding and one-side-only comparisons each passed
// every other test of the package (tried).
func TestReplayCompareCatchesEachDifference(t *testing.T) {
	// build makes pages 1..3 (8 bytes, page 2 size2), one write to page
	// 2, then change(e) (same: bind 3 to 1 by passthrough).
	build := func(t *testing.T, size2 int, change func(e *mmsb.Bus, ids []mmsb.PageID)) *mmsb.Bus {
		t.Helper()
		e := openBus(t, vfs.NewMem(), nil)
		t.Cleanup(func() { _ = e.Close() })
		ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: size2}, {Size: 8}})
		mustNil(t, err)
		_, err = e.Commit(ctx, []delta.Delta{{Page: ids[1], Runs: []delta.Run{{Data: []byte{1, 2, 3}}}}})
		mustNil(t, err)
		if change != nil {
			change(e, ids)
		}
		return e
	}
	bind := func(fn string, parent int) func(e *mmsb.Bus, ids []mmsb.PageID) {
		return func(e *mmsb.Bus, ids []mmsb.PageID) {
			mustNil(t, e.Bind(ctx, ids[2], fn, nil, ids[parent:parent+1]))
		}
	}
	same := bind("passthrough", 0)
	cases := []struct {
		name   string
		a, b   func(e *mmsb.Bus, ids []mmsb.PageID)
		sizeB  int // page 2's size on the second side (0: 8)
		want   string
		pageID mmsb.PageID // the page the finding names (0: none)
	}{
		{"epoch", same, func(e *mmsb.Bus, ids []mmsb.PageID) {
			same(e, ids)
			// The same bytes again: only the epoch moves.
			_, err := e.Commit(ctx, []delta.Delta{{Page: ids[1], Runs: []delta.Run{{Data: []byte{1, 2, 3}}}}})
			mustNil(t, err)
		}, 0, "page 2: size 8 vs 8, epoch 1 vs 2", 2},
		{"size", same, same, 16, "page 2: size 8 vs 16", 2},
		{"second side only", same, func(e *mmsb.Bus, ids []mmsb.PageID) {
			same(e, ids)
			_, err := e.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			mustNil(t, err)
		}, 0, "page 4 exists only on the second side", 4},
		{"first side only", func(e *mmsb.Bus, ids []mmsb.PageID) {
			same(e, ids)
			_, err := e.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			mustNil(t, err)
		}, same, 0, "page 4 exists only on the first side", 4},
		{"edge count", same, nil, 0, "1 edges vs 0", 0},
		{"bound pages", same, nil, 0, "bound pages differ: [3] vs []", 0},
		{"edge", same, bind("passthrough", 1), 0, "edge 0 differs: 1->3", 3},
		{"binding", same, bind("f64.sum", 0), 0, "binding of page 3 differs: passthrough[1] vs f64.sum[1]", 3},
		// The same function and parents, other params (a copy transform):
		// the params comparison had no case, and dropped, passed them all.
		{"binding params", same, func(e *mmsb.Bus, ids []mmsb.PageID) {
			mustNil(t, e.Bind(ctx, ids[2], "passthrough", []byte{0}, ids[:1]))
		}, 0, "binding of page 3 differs: passthrough[1] vs passthrough[1] (params [] vs [00])", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := build(t, 8, c.a), build(t, max(c.sizeB, 8), c.b)
			r, rep := newReporter("replay", &Options{})
			var tot replayTotals
			mustNil(t, compareEngines(ctx, a, b, "test", r, &tot))
			for _, p := range rep.Problems {
				if strings.Contains(p.What, c.want) {
					if p.Kind != KindDivergence || p.Page != c.pageID {
						t.Fatalf("finding %+v: want kind %q, page %d", p, KindDivergence, c.pageID)
					}
					return
				}
			}
			t.Fatalf("no finding %q among %d: %v", c.want, rep.Total, rep.Problems)
		})
	}
	// And alike, nothing.
	r, rep := newReporter("replay", &Options{})
	var tot replayTotals
	mustNil(t, compareEngines(ctx, build(t, 8, same), build(t, 8, same), "test", r, &tot))
	if rep.Total != 0 || tot.pages != 3 {
		t.Fatalf("two buses built alike: %d finding(s) %v over %d page(s), want none over 3", rep.Total, rep.Problems, tot.pages)
	}
}

// TestReplayLiveReportsEachDifference: online, each difference the
// engine's VerifyReplay lists is a finding of its own naming the page,
// besides the summary ("diverges"), which alone passed every test when
// the listing was dropped (tried).
func TestReplayLiveReportsEachDifference(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	src, _ := populate(t, e, 10, 4)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	mustNil(t, e.Close())
	rewriteCheckpoint(t, fs, src[3])
	e = openBus(t, fs, nil) // the live state comes from the bad checkpoint
	defer e.Close()
	rep, err := Replay(ctx, Live(e), Options{})
	requireProblem(t, rep, err, "diverges")
	want := fmt.Sprintf("page %d: 1 bytes differ", src[3])
	requireProblem(t, rep, err, want)
}

// TestReplayCompareCatchesDifferentEnds is the control of the offline
// replay's first comparison: two replays that end at different LSNs. Two
// replays of one log cannot be made to, so two buses are built alike
// except that the second created and freed one more page after the
// others: the same pages, bytes, edges and bindings, two more LSNs. The
// end is then the only difference, and the finding the only one (with
// it removed, the pair passed).
func TestReplayCompareCatchesDifferentEnds(t *testing.T) {
	build := func(extra bool) *mmsb.Bus {
		e := openBus(t, vfs.NewMem(), nil)
		t.Cleanup(func() { _ = e.Close() })
		ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
		mustNil(t, err)
		_, err = e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Data: []byte{7}}}}})
		mustNil(t, err)
		mustNil(t, e.Bind(ctx, ids[1], "passthrough", nil, ids[:1]))
		if extra {
			id, err := e.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			mustNil(t, err)
			mustNil(t, e.FreePage(ctx, id))
		}
		return e
	}
	a, b := build(false), build(true)
	if a.LastLSN() == b.LastLSN() {
		t.Fatalf("both buses end at LSN %d: the case needs two ends", a.LastLSN())
	}
	r, rep := newReporter("replay", &Options{})
	var tot replayTotals
	mustNil(t, compareReplays(ctx, a, b, "LSN 1", "checkpoint c (LSN 2)", r, &tot))
	want := fmt.Sprintf("replays end at different LSNs: %d from LSN 1, %d from checkpoint c (LSN 2)", a.LastLSN(), b.LastLSN())
	if rep.Total != 1 || rep.Problems[0].What != want || rep.Problems[0].Kind != KindDivergence ||
		rep.Problems[0].Where != "replay from LSN 1 vs from checkpoint c (LSN 2)" {
		t.Fatalf("%d problem(s) %+v, want exactly one: %q (kind %q)", rep.Total, rep.Problems, want, KindDivergence)
	}
	if tot.comparisons != 1 || tot.pagesDiff != 0 {
		t.Fatalf("comparisons %d, pages differing %d; want 1 and 0", tot.comparisons, tot.pagesDiff)
	}
}
