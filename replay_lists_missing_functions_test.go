package mmsb

import (
	"slices"
	"testing"
)

// TestReplayListsMissingFunctions: a bus returned by Replay allows
// bindings that name unregistered functions but left
// Recovery().MissingFunctions empty, as if every function were there;
// propagation then failed with "not registered". It lists them as Open
// does: the package's Replay, Bus.Replay, and a replay of a bus without a
// log (its checkpoint). The control: with the function given, none is
// listed.
func TestReplayListsMissingFunctions(t *testing.T) {
	cp := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	for _, noLog := range []bool{false, true} {
		dir := t.TempDir()
		e := openT(t, dir, &Options{Functions: map[string]RecomputeFunc{"copy": cp}, DisableLog: noLog})
		ids := mustCreate(t, e, 2, 4)
		if err := e.Bind(ctx, ids[1], "copy", nil, []PageID{ids[0]}); err != nil {
			t.Fatal(err)
		}
		if noLog {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"page 2: copy"}
		check := func(how string, r *Bus, err error, want []string) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s (DisableLog %v): %v", how, noLog, err)
			}
			defer func() { _ = r.Close() }()
			if got := r.Recovery().MissingFunctions; !slices.Equal(got, want) {
				t.Errorf("%s (DisableLog %v): Recovery().MissingFunctions = %q; want %q", how, noLog, got, want)
			}
		}
		r, err := Replay(ctx, dir, ReplayTarget{}, &Options{DisableLog: noLog})
		check("Replay without the function", r, err, want)
		r, err = Replay(ctx, dir, ReplayTarget{}, &Options{DisableLog: noLog, Functions: map[string]RecomputeFunc{"copy": cp}})
		check("Replay with the function", r, err, nil)
		// Bus.Replay passes the bus's own functions: take them away.
		e.opts.Functions = nil
		r, err = e.Replay(ctx, ReplayTarget{})
		check("Bus.Replay without the function", r, err, want)
	}
}
