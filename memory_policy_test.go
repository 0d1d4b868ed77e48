package mmsb

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/mmsb-go/mmsb/delta"
)

// memoryPolicies are the page-memory option sets that must not change
// state: pre-faulted or lazy, with or without huge pages.
var memoryPolicies = []struct {
	name string
	opts Options
}{
	{"default", Options{}},
	{"lazy", Options{LazyPageMemory: true}},
	{"huge", Options{HugePages: true}},
	{"lazy-huge", Options{LazyPageMemory: true, HugePages: true}},
}

// TestPropertyMemoryPolicyKeepsState drives one bus per memory policy with
// the same random creates (small pages and pages with their own mapping),
// frees and delta batches, and checks after every step that all of them
// have the same state hash, and at the end that each replays to its live
// state.
func TestPropertyMemoryPolicyKeepsState(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		buses := make([]*Bus, len(memoryPolicies))
		for i, p := range memoryPolicies {
			o := p.opts
			o.Clock = testClock()
			e, err := Open("", &o)
			if err != nil {
				rt.Fatal(err)
			}
			defer e.Close()
			buses[i] = e
		}
		var live, created []PageID
		for s, steps := 0, rapid.IntRange(1, 30).Draw(rt, "steps"); s < steps; s++ {
			var apply func(e *Bus) error
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0: // create
				n := rapid.IntRange(1, 8).Draw(rt, "n")
				specs := make([]PageSpec, n)
				for i := range specs {
					specs[i] = PageSpec{Size: rapid.SampledFrom([]int{1, 64, 1000, 4096, 1<<20 + 1}).Draw(rt, "size")}
				}
				apply = func(e *Bus) error {
					ids, err := e.CreatePages(ctx, specs)
					created = ids // the same on every bus, as the hashes check
					return err
				}
			case 1: // free
				if len(live) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(live)-1).Draw(rt, "free")
				id := live[i]
				live = append(live[:i:i], live[i+1:]...)
				apply = func(e *Bus) error { return e.FreePage(ctx, id) }
			default: // a batch of deltas
				if len(live) == 0 {
					continue
				}
				var ds []delta.Delta
				for i := rapid.IntRange(1, 20).Draw(rt, "deltas"); i > 0; i-- {
					id := rapid.SampledFrom(live).Draw(rt, "page")
					info, _ := buses[0].Page(id)
					off := rapid.IntRange(0, info.Size-1).Draw(rt, "off")
					n := rapid.IntRange(1, min(info.Size-off, 64)).Draw(rt, "len")
					ds = append(ds, w(id, off, string(rapid.SliceOfN(rapid.Byte(), n, n).Draw(rt, "data"))))
				}
				apply = func(e *Bus) error {
					_, err := e.Commit(ctx, append([]delta.Delta(nil), ds...))
					return err
				}
			}
			for i, e := range buses {
				if err := apply(e); err != nil {
					rt.Fatalf("%s: step %d: %v", memoryPolicies[i].name, s, err)
				}
			}
			live, created = append(live, created...), nil
			want := hashOf(rt, buses[0])
			for i, e := range buses[1:] {
				if got := hashOf(rt, e); got != want {
					rt.Fatalf("step %d: %s state hash %x, default %x", s, memoryPolicies[i+1].name, got, want)
				}
			}
		}
		for i, e := range buses {
			rep, err := e.VerifyReplay(ctx, false)
			if err != nil || !rep.Equal() {
				rt.Fatalf("%s: replay: %v %v", memoryPolicies[i].name, err, rep.Differences)
			}
		}
	})
}
