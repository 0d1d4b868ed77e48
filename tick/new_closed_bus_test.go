package tick_test

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// TestNewRefusesClosedBus: New over a closed bus returned an orchestrator,
// and only its first Tick said ErrClosed, far from the mistake.
func TestNewRefusesClosedBus(t *testing.T) {
	b, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	o, err := tick.New(b, nil)
	if o != nil {
		o.Close()
	}
	if !errors.Is(err, mmsb.ErrClosed) {
		t.Errorf("tick.New over a closed bus = %v, want ErrClosed", err)
	}
}
