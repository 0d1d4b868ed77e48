package page

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestTryReadInRangeReusedByAnotherReader: a closed reader's ranges are
// reused by the next reader's mappings (shm_ranges.go), so a lock-free
// read still in flight on the closed reader can meet another region's
// file where its mappings were. Here fn closes reader 1 and opens reader
// 2 on another region, laid out the same (same page, same sequence word)
// but with other bytes, which takes over reader 1's ranges: fn then sees
// region 2's bytes through reader 1's slice, and TryRead must discard the
// attempt, not report region 2's page as reader 1's.
//
// Page 2 in slot 0 with sequence word 2 in both regions: the slot arrays
// of equal lengths are reused in the pool's order, which puts region 2's
// ID array where reader 1's sequence array was, so the sequence re-check
// reads the page ID, 2, unchanged. Only TryRead's last check, that the
// fast view is still published, discards the attempt (negative control:
// without that check the attempt is reported done, over region 2's bytes).
func TestTryReadInRangeReusedByAnotherReader(t *testing.T) {
	dir1, dir2 := pageTwoRegion(t, 0xaa), pageTwoRegion(t, 0xbb)
	r1, err := OpenShmReader(dir1)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _, err := r1.Read(2, func([]byte) error { return nil }, 64); err != nil || !found {
		t.Fatalf("first read (maps the chunk): found %v, %v", found, err)
	}
	hdr1 := unsafe.SliceData(r1.hdr)
	var r2 *ShmReader
	var first, seen byte
	done, _, err := r1.TryRead(2, func(b []byte) error {
		first = b[0]
		if cerr := r1.Close(); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		var oerr error
		if r2, oerr = OpenShmReader(dir2); oerr != nil {
			t.Errorf("open of the second region: %v", oerr)
			return nil
		}
		if _, found, _, rerr := r2.Read(2, func([]byte) error { return nil }, 64); rerr != nil || !found {
			t.Errorf("read of the second region: found %v, %v", found, rerr)
		}
		seen = b[len(b)-1]
		return nil
	}, nil)
	if r2 != nil {
		defer r2.Close()
		if unsafe.SliceData(r2.hdr) != hdr1 {
			t.Error("the second reader did not reuse the closed reader's header range")
		}
	}
	t.Logf("fn saw %#x, then %#x after the other reader opened", first, seen)
	if first != 0xaa {
		t.Fatalf("fn saw %#x before the Close, want region 1's 0xaa", first)
	}
	if err != nil || done {
		t.Fatalf("TryRead of a closed reader over a range reused by another: done %v, err %v (fn saw %#x); want the attempt discarded", done, err, seen)
	}
}

// faultSink keeps a load the test expects to fault from being optimised
// away.
var faultSink byte

// pageTwoRegion publishes a region holding page 2 (4096 bytes, every byte
// fill) in slot 0, with sequence word 2, and returns its directory.
func pageTwoRegion(t *testing.T, fill byte) string {
	t.Helper()
	s, dir := sharedStore(t)
	sl, err := s.Create(2, 4096, base.LocationCPU)
	if err != nil {
		t.Fatal(err)
	}
	s.BeginWrite(sl, 1)
	copy(s.Bytes(sl), bytes.Repeat([]byte{fill}, 4096))
	s.EndWrite(sl, 1) // sequence word 2, as the page's ID
	if sl != 0 {
		t.Fatalf("page 2 in slot %d, want 0", sl)
	}
	if err := s.Publish(dir, 0); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTryReadFaultInRangeReusedByAnotherReader: a lock-free read still in
// flight on a closed reader whose page range another reader has taken
// over (shm_ranges.go) meets that reader's file there; when its owner
// truncated it, the read faults. The fault lies in the closed reader's
// view, so TryRead used to report it as done, with ErrBadShared: a Reader
// closed or reattached under a View (the attachment replaced) failed with
// ErrSharedCorrupt for another region's file. A fault in a view no longer
// published is declined like the attempt it ends (control: "done true,
// err page: malformed shared region: .../region: read page 2: fault at
// offset 0 of its mapping of c0.1 (the file shrank under the reader)").
func TestTryReadFaultInRangeReusedByAnotherReader(t *testing.T) {
	dir1, dir2 := pageTwoRegion(t, 0xaa), pageTwoRegion(t, 0xbb)
	r1, err := OpenShmReader(dir1)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _, err := r1.Read(2, func([]byte) error { return nil }, 64); err != nil || !found {
		t.Fatalf("first read (maps the chunk): found %v, %v", found, err)
	}
	var r2 *ShmReader
	truncated := ""
	done, _, err := r1.TryRead(2, func(b []byte) error {
		if cerr := r1.Close(); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		var oerr error
		if r2, oerr = OpenShmReader(dir2); oerr != nil {
			t.Errorf("open of the second region: %v", oerr)
			return nil
		}
		if _, found, _, rerr := r2.Read(2, func([]byte) error { return nil }, 64); rerr != nil || !found {
			t.Errorf("read of the second region: found %v, %v", found, rerr)
			return nil
		}
		// The file of region 2 that reader 2 mapped where b lies.
		name, _, ok := r2.mappingAt(uintptr(unsafe.Pointer(unsafe.SliceData(b))), nil)
		if !ok {
			t.Errorf("the second reader did not reuse the range of the closed reader's page")
			return nil
		}
		truncated = name
		if terr := os.Truncate(filepath.Join(dir2, name), 0); terr != nil {
			t.Errorf("truncate %s: %v", name, terr)
			return nil
		}
		faultSink = b[0] // faults: the file behind it is gone
		t.Errorf("no fault reading truncated %s", name)
		return nil
	}, nil)
	if r2 != nil {
		defer r2.Close()
	}
	if done || err != nil {
		t.Fatalf("TryRead of a closed reader faulting in %s, which another reader mapped over its range: done %v, err %v; want the attempt declined", truncated, done, err)
	}
}
