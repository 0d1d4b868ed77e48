package page

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestTryReadRacingClose closes a ShmReader from inside TryRead's fn. The
// mappings are replaced by zero pages, so nothing faults and fn sees
// zeros. The page was created with LSN 0, so its sequence word is 0 before
// and after: TryRead cannot tell and reports the read as done. That is
// the case the root package's Reader covers by checking, after TryRead,
// that the attachment was not retired (TestReaderCloseInsideView); this
// test keeps the case real, so that check has something to catch.
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
	_, done, _, err := r.TryRead(1, func(b []byte) error {
		if cerr := r.Close(); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		sawZeros = b[0] == 0 && b[len(b)-1] == 0
		return nil
	}, true)
	if err != nil || !done || !sawZeros {
		t.Fatalf("TryRead racing Close: done %v, err %v, saw zeros %v; want a read reported done over zero pages", done, err, sawZeros)
	}
	// After Close the fast view is gone: TryRead declines.
	if _, done, _, _ := r.TryRead(1, func([]byte) error { return nil }, false); done {
		t.Fatal("TryRead after Close reported a read")
	}
}
