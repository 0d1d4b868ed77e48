package tick

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestRunClosedAndCancelled: a Run that finds both its context done and
// the orchestrator closed returns ErrClosed, every time. Its select chose
// between the two ready channels at random, so the same call returned nil
// about half the time: scheduling decided the result. The negative
// control: an open orchestrator with a done context returns nil.
func TestRunClosedAndCancelled(t *testing.T) {
	e := openMem(t, nil)
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := o.Run(done, time.Millisecond); err != nil {
		t.Fatalf("Run of an open orchestrator with a done context: %v, want nil", err)
	}
	o.Close()
	nils := 0
	for range 100 {
		err := o.Run(done, time.Millisecond)
		if err == nil {
			nils++
			continue
		}
		if !errors.Is(err, mmsb.ErrClosed) {
			t.Fatalf("Run closed and cancelled: %v, want ErrClosed", err)
		}
	}
	if nils > 0 {
		t.Fatalf("Run closed and cancelled returned nil %d times in 100, want ErrClosed every time", nils)
	}
}

// TestEventStringNamesError: every event type that carries an error shows
// it in String. EventCommitFailed printed "commit-failed" alone, so a log
// of events said a commit failed but never why, and EventPropagationFailed
// (added later, missing from a hand-written list here) printed
// "propagation-failed" alone: the types are enumerated now, so a new type
// that carries an error is checked too. The negative control: an overrun
// has no error and prints its duration.
func TestEventStringNamesError(t *testing.T) {
	boom := errors.New("boom: the reason")
	noErr := map[EventType]bool{EventDeltaCommitted: true, EventPageRecomputed: true, EventFlagRaised: true, EventTickOverrun: true}
	for typ := EventType(1); typ < numEventTypes; typ++ {
		if noErr[typ] {
			continue
		}
		s := Event{Type: typ, Err: boom}.String()
		if !strings.HasPrefix(s, typ.String()) || !strings.Contains(s, boom.Error()) {
			t.Errorf("%v event prints %q, want its type and error", typ, s)
		}
	}
	if s := (Event{Type: EventTickOverrun, Duration: 3 * time.Millisecond}).String(); s != "overrun 3ms" {
		t.Errorf("overrun prints %q", s)
	}
}
