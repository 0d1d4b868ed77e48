package mmsb

import (
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// TestPropertyStructureChangesEqualFullRecompute (rapid): incremental
// propagation equals a recomputation from scratch while the structure
// changes between waves. Each case runs 1-40 random steps over 2-6 pages
// of 1-6 bytes: commits to unbound pages; Bind of any page (an existing
// derived page as parent included, duplicated parents, refused cycles and
// refused foreign Data edges) to one of three functions with random
// params; Unbind (so rebinding happens); AddEdge of every type (Data edges
// into unbound pages, Control, GPU-sync and Compiler edges mixed in);
// RemoveEdges; FreePage of a page with no edges or binding, and creation
// of a new one; waves; ScheduleResync; and switching on and off a function
// that fails (so pages are held back and retried across the other
// changes). Once the failing function is healthy, two waves settle the
// bus: nothing is pending, every derived page equals its function of its
// parents' bytes, and a replay of the log equals the live state.
//
// The other property tests keep the graph fixed after setting it up
// (TestPropertyStaleWavesEqualFullRecompute, TestPropertyReplayEqualsLive).
func TestPropertyStructureChangesEqualFullRecompute(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		failing := false
		calc := func(in [][]byte, params []byte, out []byte) {
			for i := range out {
				v := byte(1)
				for _, p := range params {
					v += p
				}
				for _, b := range in {
					v = v*3 + b[i%len(b)]
				}
				out[i] = v
			}
		}
		funcs := map[string]RecomputeFunc{
			"calc": func(in [][]byte, params []byte, out []byte) error { calc(in, params, out); return nil },
			"cut": func(in [][]byte, params []byte, out []byte) error { // mostly cuts off
				calc(in, params, out)
				for i := range out {
					out[i] &= 0x80
				}
				return nil
			},
			"flaky": func(in [][]byte, params []byte, out []byte) error {
				if failing {
					return errors.New("flaky: failing")
				}
				calc(in, params, out)
				return nil
			},
		}
		names := []string{"calc", "cut", "flaky"}
		e, err := Open("", &Options{Clock: testClock(), CheckpointBytes: -1, Functions: funcs})
		if err != nil {
			rt.Fatal(err)
		}
		defer e.Close()
		var pages []PageID
		create := func() {
			id, err := e.CreatePage(ctx, PageSpec{Size: rapid.IntRange(1, 6).Draw(rt, "size")})
			if err != nil {
				rt.Fatal(err)
			}
			pages = append(pages, id)
		}
		for range rapid.IntRange(2, 6).Draw(rt, "pages") {
			create()
		}
		pick := func(label string) PageID { return pages[rapid.IntRange(0, len(pages)-1).Draw(rt, label)] }
		// refused reports whether err is one of the refusals a step may
		// meet; any other error fails the case.
		refused := func(err error, allowed ...error) bool {
			for _, a := range allowed {
				if errors.Is(err, a) {
					return true
				}
			}
			return err == nil
		}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for range steps {
			switch op := rapid.IntRange(0, 10).Draw(rt, "op"); op {
			case 0, 1: // write an unbound page
				id := pick("write")
				if _, bound := e.Binding(id); bound {
					continue
				}
				pi, err := e.Page(id)
				if err != nil {
					rt.Fatal(err)
				}
				data := rapid.SliceOfN(rapid.Byte(), pi.Size, pi.Size).Draw(rt, "data")
				if _, err := e.Commit(ctx, []Delta{{Page: id, Runs: []Run{{Data: data}}}}); err != nil {
					rt.Fatal(err)
				}
			case 2: // bind
				child := pick("child")
				parents := make([]PageID, rapid.IntRange(1, 3).Draw(rt, "parents"))
				for i := range parents {
					parents[i] = pick("parent")
				}
				params := rapid.SliceOfN(rapid.Byte(), 0, 2).Draw(rt, "params")
				err := e.Bind(ctx, child, rapid.SampledFrom(names).Draw(rt, "fn"), params, parents)
				if !refused(err, ErrCycle, ErrPageInUse) {
					rt.Fatalf("Bind(%d, %v): %v", child, parents, err)
				}
			case 3: // unbind
				if err := e.Unbind(ctx, pick("unbind")); !refused(err, ErrNotDerived) {
					rt.Fatal(err)
				}
			case 4: // an edge of any type
				p, c, typ := pick("edge parent"), pick("edge child"), EdgeType(rapid.IntRange(0, 3).Draw(rt, "type"))
				if err := e.AddEdge(ctx, p, c, typ); !refused(err, ErrCycle, ErrPageInUse) {
					rt.Fatalf("AddEdge(%d, %d, %v): %v", p, c, typ, err)
				}
			case 5:
				if err := e.RemoveEdges(ctx, pick("remove parent"), pick("remove child")); !refused(err, ErrPageInUse) {
					rt.Fatal(err)
				}
			case 6, 7:
				if _, err := e.Propagate(ctx); !refused(err, ErrRecompute) {
					rt.Fatal(err)
				}
			case 8: // free a page (refused while it has edges or a binding) for a new one
				id := pick("free")
				err := e.FreePage(ctx, id)
				if !refused(err, ErrPageInUse) {
					rt.Fatal(err)
				}
				if err == nil {
					for i, p := range pages {
						if p == id {
							pages = append(pages[:i], pages[i+1:]...)
							break
						}
					}
					create()
				}
			case 9:
				e.ScheduleResync()
			case 10:
				failing = !failing
			default:
				panic(fmt.Sprint("op ", op))
			}
		}
		failing = false
		for range 2 {
			if _, err := e.Propagate(ctx); err != nil {
				rt.Fatal(err)
			}
		}
		if n := e.Pending(); n != 0 {
			rt.Fatalf("%d pages still pending once settled", n)
		}
		for _, id := range e.Bindings() {
			b, _ := e.Binding(id)
			var in [][]byte
			for _, p := range b.Parents {
				pb, _, err := e.ReadPage(p, nil)
				if err != nil {
					rt.Fatal(err)
				}
				in = append(in, pb)
			}
			got, _, err := e.ReadPage(id, nil)
			if err != nil {
				rt.Fatal(err)
			}
			want := append([]byte(nil), got...)
			if err := funcs[b.Func](in, b.Params, want); err != nil {
				rt.Fatal(err)
			}
			if string(got) != string(want) {
				rt.Fatalf("page %d (%s of %v, params %v) = %v, recomputed from scratch %v", id, b.Func, b.Parents, b.Params, got, want)
			}
		}
		rep, err := e.VerifyReplay(ctx, false)
		if err != nil {
			rt.Fatal(err)
		}
		if !rep.Equal() {
			rt.Fatalf("replay differs from the live state: %v", rep.Differences)
		}
	})
}
