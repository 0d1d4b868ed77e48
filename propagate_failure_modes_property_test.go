package mmsb

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Ways a recompute function may misbehave, drawn per derived page by
// TestPropertyFailingFunctionsLeaveTheBusConsistent.
const (
	modeOK       = iota
	modeError    // returns an error
	modePanic    // panics with a value
	modeOutside  // writes past the end of its out (an index panic)
	modeCancel   // ends the wave's context, then computes as modeOK
	modeGoexit   // ends the wave's goroutine (runtime.Goexit, as t.FailNow)
	modeKeepOut  // computes, then adds 1 to every byte its out's capacity reaches
	numFuncModes // the number of modes
)

// TestPropertyFailingFunctionsLeaveTheBusConsistent (rapid): whatever the
// recompute functions do on a wave (return an error, panic, write past the
// end of their page, end the wave's context, end the wave's goroutine), in
// waves computed with or without the bus's lock, each wave returns nil, a
// *RecomputeError (errors.Is ErrRecompute) naming a page whose function
// failed, or the context's error; or its goroutine ends; and the bus stays
// usable: the next wave runs, and once every function is healthy again two
// waves settle it (nothing pending, every derived page equals its function
// of its parents) and a replay of the log equals the live state.
func TestPropertyFailingFunctionsLeaveTheBusConsistent(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		modes := map[byte]int{} // derived page index (params[0]) -> mode
		var cancelWave context.CancelFunc
		calc := func(in [][]byte, params []byte, out []byte) {
			for i := range out {
				v := params[0]
				for _, b := range in {
					v = v*5 + b[i%len(b)]
				}
				out[i] = v
			}
		}
		f := func(in [][]byte, params []byte, out []byte) error {
			switch modes[params[0]] {
			case modeError:
				return fmt.Errorf("function of derived page #%d: failing", params[0])
			case modePanic:
				panic(fmt.Sprintf("function of derived page #%d panics", params[0]))
			case modeOutside:
				out[len(out)] = 1 //nolint:gocritic // the write past the end of the page is the point
			case modeCancel:
				cancelWave()
			case modeGoexit:
				runtime.Goexit()
			case modeKeepOut:
				calc(in, params, out)
				out = out[:cap(out)]
				for i := range out {
					out[i]++
				}
				return nil
			}
			calc(in, params, out)
			return nil
		}
		e, err := Open("", &Options{Clock: testClock(), CheckpointBytes: -1, Functions: map[string]RecomputeFunc{"f": f}})
		if err != nil {
			rt.Fatal(err)
		}
		defer e.Close()
		nRoots := rapid.IntRange(1, 3).Draw(rt, "roots")
		nDerived := rapid.IntRange(1, 5).Draw(rt, "derived")
		var ids []PageID
		for range nRoots + nDerived {
			id, err := e.CreatePage(ctx, PageSpec{Size: rapid.IntRange(1, 4).Draw(rt, "size")})
			if err != nil {
				rt.Fatal(err)
			}
			ids = append(ids, id)
		}
		for i := range nDerived {
			child := ids[nRoots+i]
			parents := make([]PageID, rapid.IntRange(1, 3).Draw(rt, "parents"))
			for j := range parents {
				parents[j] = ids[rapid.IntRange(0, nRoots+i-1).Draw(rt, "parent")]
			}
			if err := e.Bind(ctx, child, "f", []byte{byte(i)}, parents); err != nil {
				rt.Fatal(err)
			}
		}
		// wave runs one wave on a goroutine of its own (a function may end
		// it) and checks what it returned.
		wave := func(step string) {
			wctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cancelWave = cancel
			if rapid.Bool().Draw(rt, "under the lock") && e.prop != nil {
				e.prop.lockedLeft = 1
			}
			done := make(chan struct{})
			var (
				res      PropagateResult
				werr     error
				returned bool
			)
			go func() {
				defer close(done)
				res, werr = e.Propagate(wctx)
				returned = true
			}()
			<-done
			if !returned {
				return // a function ended the wave's goroutine
			}
			var re *RecomputeError
			switch {
			case werr == nil:
			case errors.Is(werr, context.Canceled):
				if wctx.Err() == nil {
					rt.Fatalf("%s: %v with the wave's context live", step, werr)
				}
			case errors.As(werr, &re):
				if !errors.Is(werr, ErrRecompute) {
					rt.Fatalf("%s: %v does not wrap ErrRecompute", step, werr)
				}
				for _, id := range res.Failed {
					b, _ := e.Binding(id)
					if m := modes[b.Params[0]]; m != modeError && m != modePanic && m != modeOutside {
						rt.Fatalf("%s: page %d reported failed with a function in mode %d: %v", step, id, m, werr)
					}
				}
				if len(res.Failed) == 0 || res.Failed[0] != re.Page {
					rt.Fatalf("%s: error names page %d, the result's failures %v", step, re.Page, res.Failed)
				}
				if b, _ := e.Binding(re.Page); (modes[b.Params[0]] == modePanic || modes[b.Params[0]] == modeOutside) && !strings.Contains(werr.Error(), "panic") {
					rt.Fatalf("%s: a panicking function's error does not say so: %v", step, werr)
				}
			default:
				rt.Fatalf("%s: %v", step, werr)
			}
		}
		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		for i := range steps {
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0:
				id := ids[rapid.IntRange(0, nRoots-1).Draw(rt, "root")]
				pi, err := e.Page(id)
				if err != nil {
					rt.Fatal(err)
				}
				data := rapid.SliceOfN(rapid.Byte(), pi.Size, pi.Size).Draw(rt, "data")
				if _, err := e.Commit(ctx, []Delta{{Page: id, Runs: []Run{{Data: data}}}}); err != nil {
					rt.Fatal(err)
				}
			case 1:
				modes[byte(rapid.IntRange(0, nDerived-1).Draw(rt, "derived page"))] = rapid.IntRange(0, numFuncModes-1).Draw(rt, "mode")
			case 2, 3:
				wave(fmt.Sprintf("step %d", i))
			}
		}
		// Healthy again; modeKeepOut's results are not f's, so every
		// derived page is computed again.
		clear(modes)
		e.ScheduleResync()
		for i := range 2 {
			wave(fmt.Sprintf("settling wave %d", i))
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
			want := make([]byte, len(got))
			calc(in, b.Params, want)
			if string(got) != string(want) {
				rt.Fatalf("page %d (f of %v, params %v) = %v, recomputed from scratch %v", id, b.Parents, b.Params, got, want)
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
