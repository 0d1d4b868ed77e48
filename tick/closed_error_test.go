package tick

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestOrchestratorClosedErrors: every method refused because the
// orchestrator is closed returns an error that is mmsb.ErrClosed for
// errors.Is and whose text names the orchestrator. It was the bare
// mmsb.ErrClosed, "mmsb: bus closed", although the bus was still open.
func TestOrchestratorClosedErrors(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	d := mmsb.Write(id, 0, []byte{1})
	calls := []struct {
		name string
		call func() error
	}{
		{"Submit", func() error { return o.Submit(ctx, &d) }},
		{"SubmitNoCopy", func() error { return o.SubmitNoCopy(ctx, &d) }},
		{"Tick", func() error { _, err := o.Tick(ctx); return err }},
		{"FlushPropagation", func() error { _, err := o.FlushPropagation(ctx); return err }},
		{"Subscribe", func() error { _, err := o.Subscribe(EventFilter{}, 1, false); return err }},
		{"Run", func() error { return o.Run(ctx, time.Hour) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, mmsb.ErrClosed) || !strings.Contains(err.Error(), "orchestrator closed") {
				t.Fatalf("%s after Close: %v; want ErrClosed naming the orchestrator", c.name, err)
			}
		})
	}
	if err := e.Err(); err != nil {
		t.Fatalf("the bus itself: %v, want open", err)
	}
}
