// Package shmtest plays a shared-memory writer for tests of the readers
// (Go, C and Python): a real region, published under a bus directory's
// region name by the test's own process, whose operations the test
// applies and publishes one step at a time. A Bus commit cannot be
// stopped between applying its operations and publishing its LSN; this
// writer can, which is where a reader's snapshot meets a free not yet
// published.
package shmtest

import (
	"bytes"
	"os"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// PageSize is the size of every page a Writer creates.
const PageSize = 64

// Writer is a writer stand-in: a published shared store for one bus
// directory, with the store calls the bus makes, in the bus's order.
type Writer struct {
	t   testing.TB
	st  *page.Store
	lsn uint64 // the last LSN applied
}

// NewWriter publishes the region of the bus in dir under shm holding
// pages 1 and 2 (PageSize bytes, every byte 1 and 2), created at LSNs 1
// and 2, committed LSN 2. The store is closed at the end of the test.
func NewWriter(t testing.TB, dir, shm string) *Writer {
	t.Helper()
	path, err := mmsb.SharedRegionPath(dir, shm)
	if err != nil {
		t.Fatal(err)
	}
	start, err := page.ProcStartTime(os.Getpid())
	if err != nil {
		testutil.Missing(t, "no process start time (readers check the writer's): %v", err)
	}
	st, err := page.NewShared(path+".building-test", 0o600, 1, uint64(os.Getpid()), start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	w := &Writer{t: t, st: st}
	w.Create(1, 1)
	w.Create(2, 2)
	if err := st.Publish(path, w.lsn); err != nil {
		t.Fatal(err)
	}
	return w
}

// Create applies the creation of page id, every byte fill, at the next
// LSN (not published).
func (w *Writer) Create(id base.PageID, fill byte) {
	w.t.Helper()
	w.lsn++
	sl, err := w.st.CreateAt(id, PageSize, 0, w.lsn)
	if err != nil {
		w.t.Fatal(err)
	}
	w.st.BeginWrite(sl, w.lsn)
	copy(w.st.Bytes(sl), bytes.Repeat([]byte{fill}, PageSize))
	w.st.EndWrite(sl, w.lsn)
}

// Free applies the free of page id at the next LSN (not published).
func (w *Writer) Free(id base.PageID) {
	w.t.Helper()
	w.lsn++
	if err := w.st.FreeAt(id, w.lsn); err != nil {
		w.t.Fatal(err)
	}
}

// Publish publishes the last LSN applied, as a commit does last.
func (w *Writer) Publish() { w.st.PublishLSN(w.lsn) }

// LSN is the last LSN applied.
func (w *Writer) LSN() uint64 { return w.lsn }
