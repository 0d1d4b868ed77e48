package mmsb

import (
	"errors"
	"math"
	"testing"
)

// ReadPageAt of an LSN not yet committed is a bad argument, not lost
// history: ErrInvalidOption naming the last LSN, not ErrLogTruncated.
func TestReadPageAtPastLastLSN(t *testing.T) {
	e := openT(t, t.TempDir(), nil)
	defer e.Close()
	ids := mustCreate(t, e, 1, 8)
	commitT(t, e, w(ids[0], 0, "x"))
	last := e.LastLSN()
	for _, lsn := range []LSN{last + 1, last + 1000, math.MaxUint64} {
		b, ep, err := e.ReadPageAt(ctx, ids[0], lsn)
		if !errors.Is(err, ErrInvalidOption) || errors.Is(err, ErrLogTruncated) {
			t.Errorf("ReadPageAt(%d, LSN %d) with last LSN %d = %q, %d, %v; want ErrInvalidOption", ids[0], lsn, last, b, ep, err)
		}
	}
	// The last LSN itself is the current state.
	if b, ep, err := e.ReadPageAt(ctx, ids[0], last); err != nil || ep != 1 || b[0] != 'x' {
		t.Fatalf("ReadPageAt(last LSN %d) = %q, %d, %v", last, b, ep, err)
	}
}
