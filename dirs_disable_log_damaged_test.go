package mmsb

import (
	"bytes"
	"testing"
)

// TestDisableLogOverDamagedCoveredLog: a DisableLog Open of a directory
// whose log has a damaged record in a segment the loaded checkpoint wholly
// covers opens at the checkpoint's state and removes the log, as for an
// intact covered log; Open with the log opens it too (recovery reads only
// the segments that may hold operations past the checkpoint). It was
// refused with ErrInvalidOption ("cannot be read to its end ... the bus
// would ignore the operations it holds past the newest checkpoint"): the
// log was read from LSN 1, though nothing past the checkpoint was in it,
// and the way out it named (open it with its log) left the damage where
// it was.
func TestDisableLogOverDamagedCoveredLog(t *testing.T) {
	mem, id, want, lsn := coveredLogDir(t, 0)
	names, err := mem.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for _, name := range names {
		if isSegmentName(name) {
			first = "/db/wal/" + name // names sort by first LSN
			break
		}
	}
	f, err := mem.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	b[len(b)/2] ^= 0xff // inside a record: the segment holds 4 KiB of them
	writeAll(t, mem, first, b)

	// The case under test: the damage is in history the checkpoint
	// covers, which recovery with the log does not read.
	e, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatalf("Open with the log of a log damaged before its checkpoint: %v (the case under test)", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	d, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock(), DisableLog: true})
	if err != nil {
		t.Fatalf("DisableLog Open of a log damaged only before its checkpoint (LSN %d): %v", lsn, err)
	}
	if got := readPage(t, d, id); d.LastLSN() != lsn || !bytes.Equal(got, want) {
		t.Fatalf("DisableLog Open: LSN %d, page %q; want the checkpoint's LSN %d and state", d.LastLSN(), got, lsn)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if names, err := mem.List("/db/wal"); err != nil || countSegments(names) != 0 {
		t.Fatalf("wal/ after the DisableLog Open: %v, %v; want no segment (the checkpoint covers them)", names, err)
	}
	e, err = Open("/db", &Options{FS: mem, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatalf("Open with a log after the DisableLog Open: %v", err)
	}
	defer e.Close()
	if got := readPage(t, e, id); e.LastLSN() != lsn || !bytes.Equal(got, want) {
		t.Fatalf("Open with a log after: LSN %d, page %q; want LSN %d and the checkpoint's state", e.LastLSN(), got, lsn)
	}
}
