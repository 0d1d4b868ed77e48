package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestRootHelpersRefuseBadInput pins issue 7 item 3 for the root helpers:
// Merge of two pages and Diff of unequal lengths return errors testable
// against the root sentinels (and the delta package's reasons) instead of a
// wrong delta or a panic. Write's offset is a uint32, so an offset of 2^32 or
// more can no longer be passed in and silently wrap.
func TestRootHelpersRefuseBadInput(t *testing.T) {
	a, b := Write(1, 0, []byte{1}), Write(2, 4, []byte{2})
	if _, err := Merge(&a, &b); !errors.Is(err, ErrInvalidDelta) || !errors.Is(err, delta.ErrPageMismatch) {
		t.Fatalf("Merge of pages 1 and 2: %v; want ErrInvalidDelta and delta.ErrPageMismatch", err)
	}
	if _, err := Diff(1, make([]byte, 2), make([]byte, 5)); !errors.Is(err, ErrInvalidOption) || !errors.Is(err, delta.ErrLengthMismatch) {
		t.Fatalf("Diff of 2 and 5 bytes: %v; want ErrInvalidOption and delta.ErrLengthMismatch", err)
	}
	c := Write(1, 2, []byte{3})
	m, err := Merge(&a, &c)
	if err != nil || m.Page != 1 || len(m.Runs) != 2 {
		t.Fatalf("Merge of two writes to page 1 = %+v, %v", m, err)
	}
}
