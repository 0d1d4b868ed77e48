package validate

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestPurityCallsCountsCallsMade: the "calls" figure says how many times
// functions were called. A function that fails on its first run is not
// called again (its binding is reported), so it adds one call, not Runs.
func TestPurityCallsCountsCallsMade(t *testing.T) {
	made := 0
	funcs := map[string]mmsb.RecomputeFunc{
		"fails": func([][]byte, []byte, []byte) error { made++; return errors.New("always fails") },
		"pure": func(in [][]byte, _ []byte, out []byte) error {
			made++
			copy(out, in[0])
			return nil
		},
	}
	e := openBus(t, vfs.NewMem(), funcs)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	for i, fn := range []string{"fails", "pure"} {
		if err := e.Bind(ctx, ids[i+1], fn, nil, []mmsb.PageID{ids[0]}); err != nil {
			t.Fatal(err)
		}
	}
	made = 0
	rep, err := Purity(ctx, Live(e), Options{Runs: 3})
	requireProblem(t, rep, err, "always fails")
	if made != 1+3 {
		t.Fatalf("functions were called %d times, want 4 (1 failed run + 3 runs)", made)
	}
	if v, _ := rep.Figure("calls"); v != float64(made) {
		t.Fatalf("calls figure %v, functions were called %d times", v, made)
	}
}
