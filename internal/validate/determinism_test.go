package validate

import (
	"encoding/json"
	"math"
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestValidatorResultsAreDeterministic is a property test: the same
// history, built with 1, 2 or 4 apply workers under GOMAXPROCS 1 and 2
// and checked online and offline, gives byte-identical reports (problems
// in the same order, same counts, figures and notes) on every run, for
// several seeds (each run a new bus, so map orders differ). Only wall-clock
// measurements (Duration, acyclic_ns) are left out. The history has
// findings to order: NaNs in f64 pages (invariants), a function with
// hidden state and one that writes its input (purity).
func TestValidatorResultsAreDeterministic(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, seed := range []uint64{1, 7, 1 << 40} {
		var want string
		for _, procs := range []int{1, 2} {
			for _, workers := range []int{1, 2, 4} {
				runtime.GOMAXPROCS(procs)
				got := deterministicRun(t, seed, workers)
				runtime.GOMAXPROCS(prev)
				if want == "" {
					want = got
					continue
				}
				if got != want {
					t.Fatalf("seed %d, GOMAXPROCS %d, %d worker(s): reports differ from the first run's (GOMAXPROCS 1, 1 worker):\n got %s\nwant %s", seed, procs, workers, got, want)
				}
			}
		}
	}
}

// deterministicRun builds the history for seed with workers apply workers
// and returns every validator's report, online then offline, as JSON.
func deterministicRun(t *testing.T, seed uint64, workers int) string {
	t.Helper()
	hidden := 0
	funcs := map[string]mmsb.RecomputeFunc{
		"counter": func(in [][]byte, _ []byte, out []byte) error { hidden++; out[0] = byte(hidden); return nil },
		"mutator": func(in [][]byte, _ []byte, out []byte) error { in[0][1]++; copy(out, in[0]); return nil },
	}
	fs := vfs.NewMem()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), Functions: funcs, Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	src, derived := populate(t, e, 24, 3)
	// NaNs in every third source page, in one commit (order fixed by seed).
	var ds []delta.Delta
	for i := int(seed % 3); i < len(src); i += 3 {
		ds = append(ds, delta.Delta{Page: src[i], Runs: []delta.Run{{Offset: 8, Data: semiring.AppendF64(nil, math.NaN())}}})
	}
	if _, err := e.Commit(ctx, ds); err != nil {
		t.Fatal(err)
	}
	extra, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, extra[0], "counter", nil, src[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, extra[1], "mutator", nil, []mmsb.PageID{derived[0]}); err != nil {
		t.Fatal(err)
	}
	o := Options{Seed: seed, Samples: 16, Runs: 3}
	var out []Report
	live, err := RunAll(ctx, Live(e), o)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, live...)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	off, err := RunAll(ctx, Offline(fs, busDir, funcs), o)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, off...)
	// A hand-made graph with many bad bindings, kept in a map: the order
	// of its findings must not follow the map's.
	v := GraphView{Pages: map[mmsb.PageID]int{1: 8}, Bindings: map[mmsb.PageID]mmsb.Binding{}}
	for id := mmsb.PageID(2); id < 34; id++ {
		v.Pages[id] = 8
		v.Bindings[id] = mmsb.Binding{Func: "passthrough", Parents: []mmsb.PageID{1000 + id}}
		v.Edges = append(v.Edges, mmsb.Edge{Parent: 1, Child: id, Type: mmsb.EdgeData})
	}
	out = append(out, CheckGraphView(v, o))
	var total int64
	for i := range out {
		out[i].Duration = 0
		figs := out[i].Figures[:0]
		for _, f := range out[i].Figures {
			if f.Name != "acyclic_ns" {
				figs = append(figs, f)
			}
		}
		out[i].Figures = figs
		total += out[i].Total
	}
	if total == 0 {
		t.Fatalf("seed %d: no validator found anything: nothing's order was compared", seed)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
