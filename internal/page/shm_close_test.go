package page

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestTryReadRacingClose closes a ShmReader from inside TryRead's fn. The
// mappings are replaced by zero pages, so nothing faults and fn sees
// zeros. The page was created with LSN 0, so its sequence word is 0 before
// and after: the sequence check cannot tell, and only TryRead's final
// check that the fast view is still published discards the attempt.
// Negative control: without that check the read is reported done over
// zero pages (run by hand: "done true").
func TestTryReadRacingClose(t *testing.T) {
	s, dir := sharedStore(t)
	if _, err := s.Create(1, 4096, base.LocationCPU); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(dir, 0); err != nil {
		t.Fatal(err)
	}
	r, err := OpenShmReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _, err := r.Read(1, func([]byte) error { return nil }, 64); err != nil || !found {
		t.Fatalf("first read (maps the chunk): found %v, %v", found, err)
	}
	sawZeros := false
	var res SlotRead
	done, _, err := r.TryRead(1, func(b []byte) error {
		if cerr := r.Close(); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		sawZeros = b[0] == 0 && b[len(b)-1] == 0
		return nil
	}, &res)
	if !sawZeros {
		t.Fatal("fn did not see the zero pages that replace the mappings at Close")
	}
	if err != nil || done {
		t.Fatalf("TryRead racing Close: done %v, err %v; want the attempt over zero pages discarded", done, err)
	}
	// After Close the fast view is gone: TryRead declines.
	if done, _, _ := r.TryRead(1, func([]byte) error { return nil }, nil); done {
		t.Fatal("TryRead after Close reported a read")
	}
}
