package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestFunctionKeepingOutCannotChangeOtherPages: a recompute function that
// keeps its out and writes to it at its next call changes only its own
// output, never another page's. out used to be the wave's arena, which by
// that next call held the output of a page computed earlier in the wave
// (already diffed into that page's delta): the wave logged and applied
// that page with the write in it, so it no longer equalled its function
// of its parents (replay agreed with the damage, the log held it).
func TestFunctionKeepingOutCannotChangeOtherPages(t *testing.T) {
	// The pages: a and b roots; inc(a) and keep(b), or inc(a) between two
	// keep(a), as each case binds them.
	type bindTo struct {
		page, parent int // indexes into the created pages
		fn           string
	}
	cases := []struct {
		name   string
		binds  []bindTo
		writes [][]int // pages written (all to 7) before each wave
	}{
		{
			// Wave 1: keep(b) alone, its out at the arena's start. Wave 2:
			// inc(a) computed there first, then keep(b) writes what it kept.
			name:   "next wave",
			binds:  []bindTo{{2, 0, "inc"}, {3, 1, "keep"}},
			writes: [][]int{{1}, {0, 1}},
		},
		{
			// One wave: keep(a) for page 2, inc(a) for page 3, keep(a) for
			// page 4, in that order; the second call of keep writes the out
			// of the first.
			name:   "same wave",
			binds:  []bindTo{{2, 0, "keep"}, {3, 0, "inc"}, {4, 0, "keep"}},
			writes: [][]int{{0}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var kept []byte
			funcs := map[string]RecomputeFunc{
				"inc": func(in [][]byte, _ []byte, out []byte) error {
					for i := range out {
						out[i] = in[0][i] + 1
					}
					return nil
				},
				"keep": func(in [][]byte, _ []byte, out []byte) error {
					if kept != nil {
						kept[0] = 0xEE // the out it kept from its last call
					}
					kept = out
					for i := range out {
						out[i] = in[0][i] + 2
					}
					return nil
				},
			}
			e := openMem(t, &Options{Functions: funcs})
			ids := mustCreate(t, e, 5, 4)
			for _, b := range tc.binds {
				if err := e.Bind(ctx, ids[b.page], b.fn, nil, []PageID{ids[b.parent]}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.Propagate(ctx); err != nil { // the binds' wave
				t.Fatal(err)
			}
			kept = nil
			for _, pages := range tc.writes {
				for _, i := range pages {
					if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[i], Runs: []delta.Run{{Data: []byte{7, 7, 7, 7}}}}}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := e.Propagate(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for _, b := range tc.binds {
				want := byte(7 + 1)
				if b.fn == "keep" {
					want = 7 + 2
				}
				got, _, err := e.ReadPage(ids[b.page], nil)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string([]byte{want, want, want, want}) {
					t.Errorf("page %d (%s of page %d) = %v, want [%d %d %d %d]: another page's function wrote its result",
						ids[b.page], b.fn, ids[b.parent], got, want, want, want, want)
				}
			}
			rep, err := e.VerifyReplay(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Equal() {
				t.Fatalf("replay differs from the live state: %v", rep.Differences)
			}
		})
	}
}
