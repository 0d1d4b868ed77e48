package tick

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestRefusedWaveWithRecomputeFailureReportsBoth: a wave in which one
// function fails and whose record the log then refuses applies nothing.
// PropagateInto returns both errors joined; the tick published only the
// EventRecomputeFailed (found first by errors.As), which says that the
// rest of the wave was applied, and never the EventPropagationFailed that
// says nothing was: a subscriber (Run's caller) saw one bad function while
// no derived page was computed at all, tick after tick.
func TestRefusedWaveWithRecomputeFailureReportsBoth(t *testing.T) {
	fail := errors.New("fn fails")
	e := openMem(t, &mmsb.Options{
		Replicator: limitedReplicator{max: 4096},
		Functions: map[string]mmsb.RecomputeFunc{
			"fails": func([][]byte, []byte, []byte) error { return fail },
		},
	})
	ids := mustCreate(t, e, 4, 3000)
	for _, child := range ids[1:3] {
		if err := e.Bind(ctx, child, "passthrough", nil, []mmsb.PageID{ids[0]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Bind(ctx, ids[3], "fails", nil, []mmsb.PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventPropagationFailed, EventRecomputeFailed}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	// The two passthrough children's deltas (3000 bytes each) do not fit
	// in one 4 KiB record.
	submitAll(t, o, mmsb.Write(ids[0], 0, bytes.Repeat([]byte{1}, 3000)))
	_, terr := o.Tick(ctx)
	if !errors.Is(terr, mmsb.ErrRecordTooLarge) || !errors.Is(terr, mmsb.ErrRecompute) {
		t.Fatalf("Tick = %v, want the refusal and the recompute failure", terr)
	}
	var got []Event
	for len(sub.C) > 0 {
		got = append(got, <-sub.C)
	}
	if len(got) != 2 {
		t.Fatalf("events %v, want recompute-failed then propagation-failed", got)
	}
	if ev := got[0]; ev.Type != EventRecomputeFailed || ev.Page != ids[3] || !errors.Is(ev.Err, fail) {
		t.Fatalf("first event %v, want recompute-failed for page %d", ev, ids[3])
	}
	ev := got[1]
	if ev.Type != EventPropagationFailed || !errors.Is(ev.Err, mmsb.ErrRecordTooLarge) {
		t.Fatalf("second event %v, want propagation-failed wrapping ErrRecordTooLarge", ev)
	}
	if errors.Is(ev.Err, mmsb.ErrRecompute) {
		t.Fatalf("propagation-failed event %v repeats the recompute failure", ev.Err)
	}

	// FlushPropagation publishes the same pair.
	if _, err := o.FlushPropagation(ctx); !errors.Is(err, mmsb.ErrRecordTooLarge) {
		t.Fatalf("FlushPropagation = %v, want ErrRecordTooLarge", err)
	}
	got = got[:0]
	for len(sub.C) > 0 {
		got = append(got, <-sub.C)
	}
	if len(got) != 2 || got[0].Type != EventRecomputeFailed || got[1].Type != EventPropagationFailed {
		t.Fatalf("FlushPropagation events %v, want recompute-failed then propagation-failed", got)
	}
}

// TestEveryFailedFunctionReported: a wave in which two functions fail
// publishes an EventRecomputeFailed for each failed page, in the wave's
// order, the first with the function's error. Only the first failure had
// an event: a subscriber following the second page (EventFilter.Pages)
// never heard that its function failed, tick after tick.
func TestEveryFailedFunctionReported(t *testing.T) {
	failA, failB := errors.New("a fails"), errors.New("b fails")
	e := openMem(t, &mmsb.Options{Functions: map[string]mmsb.RecomputeFunc{
		"failsA": func([][]byte, []byte, []byte) error { return failA },
		"failsB": func([][]byte, []byte, []byte) error { return failB },
	}})
	ids := mustCreate(t, e, 3, 8)
	if err := e.Bind(ctx, ids[1], "failsA", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[2], "failsB", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	all, err := o.Subscribe(EventFilter{Types: []EventType{EventRecomputeFailed}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	second, err := o.Subscribe(EventFilter{Pages: []mmsb.PageID{ids[2]}, Types: []EventType{EventRecomputeFailed}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	r, terr := o.Tick(ctx)
	if !errors.Is(terr, mmsb.ErrRecompute) || len(r.Propagation.Failed) != 2 {
		t.Fatalf("Tick = %v, failed %v, want both functions failed", terr, r.Propagation.Failed)
	}
	var got []Event
	for len(all.C) > 0 {
		got = append(got, <-all.C)
	}
	if len(got) != 2 || got[0].Page != ids[1] || got[1].Page != ids[2] {
		t.Fatalf("events %v, want recompute-failed for pages %d then %d", got, ids[1], ids[2])
	}
	if !errors.Is(got[0].Err, failA) || got[0].Name != "failsA" {
		t.Fatalf("first event %v, want failsA's error", got[0])
	}
	if !errors.Is(got[1].Err, mmsb.ErrRecompute) || got[1].Name != "failsB" {
		t.Fatalf("second event %v (%v), want failsB named and ErrRecompute", got[1], got[1].Err)
	}
	if n := len(second.C); n != 1 {
		t.Fatalf("the subscriber of page %d got %d events, want 1", ids[2], n)
	}
}
