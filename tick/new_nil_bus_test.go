package tick

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestNewNilBus: New refuses a nil bus with ErrInvalidOption; it panicked
// (nil pointer dereference) reading the bus's checkpoint failures.
func TestNewNilBus(t *testing.T) {
	for _, opts := range []*Options{nil, {SkipStartupResync: true}} {
		o, err := New(nil, opts)
		if !errors.Is(err, mmsb.ErrInvalidOption) || o != nil {
			t.Fatalf("New(nil, %+v) = %v, %v; want nil, ErrInvalidOption", opts, o, err)
		}
	}
}
