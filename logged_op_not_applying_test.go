package mmsb

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestLoggedOpNotApplyingSaysLogged: control operations whose check
// missed something (a defect, made here by a check that accepts anything)
// are logged, and the second does not apply. The commit fails the bus
// with ErrFailed saying the batch was logged, with a CommitInfo naming its
// LSNs, as for a batch logged beside a failed pipelined apply; LastLSN
// counts it, reads of page bytes are refused (the first operation
// applied), and the log holds it: the reopened bus's recovery meets the
// same operation at the same LSN. Until 2026-12-07 the commit returned a
// zero CommitInfo, which says the batch was not logged.
func TestLoggedOpNotApplyingSaysLogged(t *testing.T) {
	o := &Options{FS: vfs.NewMem(), Clock: testClock()}
	e, err := Open("/db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { boundedCall(t, "Close", func() { _ = e.Close() }) }()
	ids := mustCreate(t, e, 1, 8)
	before := e.LastLSN()
	const missing = PageID(1 << 40)
	var info CommitInfo
	var cerr error
	if v := boundedCall(t, "commitOps", func() {
		info, cerr = e.commitOps(ctx, 2, func() error { return nil }, func(b []byte) []byte {
			b = record.AppendSetMeta(b, ids[0], nil)
			return record.AppendSetMeta(b, missing, nil)
		})
	}); v != nil {
		t.Fatalf("commitOps panicked: %v", v)
	}
	want := CommitInfo{FirstLSN: before + 1, LastLSN: before + 2}
	if info.FirstLSN != want.FirstLSN || info.LastLSN != want.LastLSN || info.Time == 0 {
		t.Errorf("commit of an op that does not apply = %+v, %v; want LSNs %d-%d named", info, cerr, want.FirstLSN, want.LastLSN)
	}
	if !errors.Is(cerr, ErrFailed) || !errors.Is(cerr, ErrPageNotFound) || !strings.Contains(cerr.Error(), "logged as LSNs") {
		t.Errorf("commit of an op that does not apply = %v; want ErrFailed saying the batch was logged", cerr)
	}
	if got := e.LastLSN(); got != want.LastLSN {
		t.Errorf("LastLSN = %d; want %d, the logged batch's", got, want.LastLSN)
	}
	if err := e.WaitDurable(ctx, want.LastLSN); err != nil {
		t.Errorf("WaitDurable(%d) of the logged batch = %v", want.LastLSN, err)
	}
	if _, _, err := e.ReadPage(ids[0], nil); !errors.Is(err, ErrFailed) {
		t.Errorf("ReadPage after a batch applied in part = %v; want ErrFailed", err)
	}
	boundedCall(t, "Close", func() { _ = e.Close() })
	o.Clock = testClock()
	e2, err := Open("/db", o)
	if err == nil {
		_ = e2.Close()
		t.Fatal("reopened a log holding an op that does not apply")
	}
	if w := fmt.Sprintf("op at LSN %d does not apply", want.LastLSN); !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), w) {
		t.Fatalf("reopen = %v; want ErrCorruption naming %q: the log holds the batch at the LSNs the commit named", err, w)
	}
}
