package validate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
	"github.com/mmsb-go/mmsb/vfs"
)

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// withDeadline runs f in a goroutine and fails the test if it has not
// returned within a generous bound (the machine is loaded: this catches a
// validator that never stops, not a slow one).
func withDeadline(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: still running 60s after its context was cancelled", what)
		return nil
	}
}

// cancelTargets returns a live bus with pages, bindings and a checkpoint,
// and an offline target for a copy of the same history.
func cancelTargets(t *testing.T) (live Target, offline Target) {
	t.Helper()
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	populate(t, e, 40, 4)
	t.Cleanup(func() { _ = e.Close() })
	fs2 := vfs.NewMem()
	e2 := openBus(t, fs2, nil)
	populate(t, e2, 40, 4)
	mustNil(t, e2.Close())
	return Live(e), Offline(fs2, busDir, nil)
}

// TestValidatorsEndOnCancelledContext: every validator, online and
// offline, and RunAll, given a cancelled context, returns an error that
// is context.Canceled (wrapped), and returns it (bounded wait). The graph
// validator ran to the end and passed (nil error) on a cancelled context.
func TestValidatorsEndOnCancelledContext(t *testing.T) {
	live, offline := cancelTargets(t)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tg := range []struct {
		name string
		t    Target
	}{{"live", live}, {"offline", offline}} {
		for _, v := range All() {
			what := tg.name + " " + v.Name
			err := withDeadline(t, what, func() error {
				_, err := v.Fn(cctx, tg.t, Options{})
				return err
			})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: cancelled context gave error %v, want context.Canceled", what, err)
			}
		}
		err := withDeadline(t, tg.name+" RunAll", func() error {
			_, err := RunAll(cctx, tg.t, Options{})
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s RunAll: cancelled context gave error %v, want context.Canceled", tg.name, err)
		}
	}
	e := live.Engine
	err := withDeadline(t, "Invariants.Check", func() error {
		_, err := NewInvariants().Check(cctx, e, Options{})
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Invariants.Check: cancelled context gave error %v, want context.Canceled", err)
	}
	err = withDeadline(t, "ProvenanceWith", func() error {
		_, err := ProvenanceWith(cctx, e, Options{}, func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
			return e.Provenance(ctx, id, off, n, 0)
		})
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ProvenanceWith: cancelled context gave error %v, want context.Canceled", err)
	}
}

// TestValidatorsStopWhenCancelledMidRun: a context cancelled while a
// validator runs (by the code it calls) ends it before its next step. A
// purity check of MaxPurityRuns runs called its function every one of
// them (the per-binding loop never looked at ctx); the provenance loop
// asked every sample of an answer function that ignores ctx; invariants
// ran every user invariant.
func TestValidatorsStopWhenCancelledMidRun(t *testing.T) {
	var cancel context.CancelFunc
	calls := 0
	funcs := map[string]mmsb.RecomputeFunc{
		"cancels": func(in [][]byte, _ []byte, out []byte) error {
			calls++
			cancel()
			copy(out, in[0])
			return nil
		},
	}
	e := openBus(t, vfs.NewMem(), funcs)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	mustNil(t, err)
	mustNil(t, e.Bind(ctx, ids[1], "cancels", nil, ids[:1]))
	mustNil(t, e.Bind(ctx, ids[2], "cancels", nil, ids[:1]))

	t.Run("purity", func(t *testing.T) {
		var cctx context.Context
		cctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		calls = 0
		err := withDeadline(t, "purity", func() error {
			_, err := Purity(cctx, Live(e), Options{Runs: MaxPurityRuns})
			return err
		})
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Fatalf("purity cancelled by its first call: error %v after %d call(s), want context.Canceled after 1", err, calls)
		}
	})
	t.Run("invariants", func(t *testing.T) {
		var cctx context.Context
		cctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		iv := NewInvariants()
		iv.Disable(InvDerivedConsistent)
		ran := []string{}
		for _, name := range []string{"a", "b", "c"} {
			mustNil(t, iv.Register(name, func(*mmsb.Bus) error { ran = append(ran, name); cancel(); return nil }))
		}
		_, err := iv.Check(cctx, e, Options{})
		if !errors.Is(err, context.Canceled) || len(ran) != 1 {
			t.Fatalf("invariants cancelled by the first user invariant: error %v, ran %v, want context.Canceled after [a]", err, ran)
		}
	})
	t.Run("derived-consistent", func(t *testing.T) {
		var cctx context.Context
		cctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		calls = 0
		_, err := NewInvariants().Check(cctx, e, Options{})
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Fatalf("derived-consistent cancelled by its first call: error %v after %d call(s), want context.Canceled after 1", err, calls)
		}
	})
	t.Run("provenance", func(t *testing.T) {
		cctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		asked := 0
		_, err := ProvenanceWith(cctx, e, Options{Samples: -1}, func(_ context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
			asked++
			cancel()
			return e.Provenance(context.Background(), id, off, n, 0) // ignores the cancelled ctx
		})
		if !errors.Is(err, context.Canceled) || asked != 1 {
			t.Fatalf("provenance cancelled by its first answer: error %v after %d answer(s) of %d pages, want context.Canceled after 1", err, asked, len(ids))
		}
	})
}

// TestOptionsCheckBoundsRuns: Options.Runs is bounded in one place
// (Options.Check), which every validator, RunAll, Attach and Strict call:
// a negative or too large count is mmsb.ErrInvalidOption naming the value
// and the bound, before any work (even before a cancelled context is
// looked at). A Go caller could pass Runs 1<<30 and Purity called every
// function that many times (a negative one ran the default 3 silently).
func TestOptionsCheckBoundsRuns(t *testing.T) {
	for _, ok := range []int{0, 1, 2, MaxPurityRuns} {
		mustNil(t, Options{Runs: ok}.Check())
	}
	live, offline := cancelTargets(t)
	// Cancelled: without the bound a huge Runs would run for hours here;
	// with it, the options are refused before ctx is looked at.
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, runs := range []int{-1, MaxPurityRuns + 1, 1 << 30} {
		want := fmt.Sprintf("Runs is %d", runs)
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprint(MaxPurityRuns)) {
				t.Errorf("%s with Runs %d: error %v, want ErrInvalidOption naming %q and the bound %d", what, runs, err, want, MaxPurityRuns)
			}
		}
		o := Options{Runs: runs}
		check("Check", o.Check())
		for _, tg := range []Target{live, offline} {
			for _, v := range All() {
				_, err := v.Fn(cctx, tg, o)
				check(v.Name, err)
			}
			if runs < 1<<20 { // a count the unbounded code ran through in a moment
				_, err := Purity(ctx, tg, o)
				check("purity, live context", err)
			}
			reps, err := RunAll(cctx, tg, o)
			check("RunAll", err)
			if len(reps) != 0 {
				t.Errorf("RunAll with Runs %d ran %d validator(s) before refusing", runs, len(reps))
			}
		}
		_, err := NewInvariants().Check(cctx, live.Engine, o)
		check("Invariants.Check", err)
		orch := newOrchestrator(t, live.Engine)
		check("Attach", NewInvariants().Attach(orch, 1, o, nil))
		check("Strict", Strict(orch, o, nil, "purity"))
	}
}

func newOrchestrator(t *testing.T, e *mmsb.Bus) *tick.Orchestrator {
	t.Helper()
	o, err := tick.New(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

// TestValidatorsRefuseHostileTargets: a nil bus, a missing directory, a
// closed bus, a nil orchestrator or answer function give an error naming
// the problem, never a panic or a pass. Purity on a closed bus passed when it had no bindings
// and reported one "failed" problem per binding otherwise (Bindings
// answers after Close); Invariants.Check, ProvenanceWith, Attach and
// Strict panicked on nil; a zero Invariants panicked in Disable.
func TestValidatorsRefuseHostileTargets(t *testing.T) {
	for _, v := range All() {
		if _, err := v.Fn(ctx, Live(nil), Options{}); !errors.Is(err, ErrNoTarget) {
			t.Errorf("%s on Live(nil): error %v, want ErrNoTarget", v.Name, err)
		}
		// A directory that does not exist: integrity passed it as an
		// empty bus; the others failed with mmsb.ErrInvalidOption.
		rep, err := v.Fn(ctx, Offline(vfs.NewMem(), "/missing", nil), Options{})
		if !errors.Is(err, ErrNoTarget) || !strings.Contains(err.Error(), "/missing") {
			t.Errorf("%s on a missing directory: error %v, outcome %s, want ErrNoTarget naming /missing", v.Name, err, rep.Outcome())
		}
	}
	for _, bindings := range []bool{false, true} {
		e := openBus(t, vfs.NewMem(), nil)
		ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
		mustNil(t, err)
		if bindings {
			mustNil(t, e.Bind(ctx, ids[1], "passthrough", nil, ids[:1]))
		}
		mustNil(t, e.Close())
		for _, v := range All() {
			rep, err := v.Fn(ctx, Live(e), Options{})
			if !errors.Is(err, mmsb.ErrClosed) {
				t.Errorf("%s on a closed bus (bindings %v): error %v, outcome %s, want mmsb.ErrClosed", v.Name, bindings, err, rep.Outcome())
			}
		}
		if _, err := NewInvariants().Check(ctx, e, Options{}); !errors.Is(err, mmsb.ErrClosed) {
			t.Errorf("Invariants.Check on a closed bus: error %v, want mmsb.ErrClosed", err)
		}
	}
	if _, err := NewInvariants().Check(ctx, nil, Options{}); !errors.Is(err, ErrNoTarget) {
		t.Errorf("Invariants.Check(nil bus): error %v, want ErrNoTarget", err)
	}
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	if _, err := ProvenanceWith(ctx, nil, Options{}, nil); !errors.Is(err, ErrNoTarget) {
		t.Errorf("ProvenanceWith(nil bus): error %v, want ErrNoTarget", err)
	}
	if _, err := ProvenanceWith(ctx, e, Options{}, nil); !errors.Is(err, ErrNoTarget) {
		t.Errorf("ProvenanceWith(nil function): error %v, want ErrNoTarget", err)
	}
	if err := NewInvariants().Attach(nil, 1, Options{}, nil); !errors.Is(err, ErrNoTarget) {
		t.Errorf("Attach(nil orchestrator): error %v, want ErrNoTarget", err)
	}
	if err := Strict(nil, Options{}, nil, "graph"); !errors.Is(err, ErrNoTarget) {
		t.Errorf("Strict(nil orchestrator): error %v, want ErrNoTarget", err)
	}
	var iv Invariants // the zero value
	iv.Disable(InvFiniteF64)
	if _, err := iv.Check(ctx, e, Options{}); err != nil {
		t.Errorf("zero Invariants: %v", err)
	}
}
