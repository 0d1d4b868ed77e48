package mmsb

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// nilPanicReplicator panics with nil in the method named by in, and is a
// fakeReplicator otherwise.
type nilPanicReplicator struct {
	fakeReplicator
	in atomic.Value // string
}

func (r *nilPanicReplicator) panics(method string) {
	if s, _ := r.in.Load().(string); s == method {
		panic(nil)
	}
}

func (r *nilPanicReplicator) MaxRecordBytes() int {
	r.panics("MaxRecordBytes")
	return r.fakeReplicator.MaxRecordBytes()
}

func (r *nilPanicReplicator) Replicate(rec *ReplicatedRecord) error {
	r.panics("Replicate")
	return r.fakeReplicator.Replicate(rec)
}

func (r *nilPanicReplicator) WaitStored(ctx context.Context, lsn LSN) error {
	r.panics("WaitStored")
	return r.fakeReplicator.WaitStored(ctx, lsn)
}

// envNilPanicChild marks the run of TestReplicatorNilPanicFailsTheBus
// that its parent started under GODEBUG=panicnil=1.
const envNilPanicChild = "MMSB_TEST_PANICNIL_CHILD"

// TestReplicatorNilPanicFailsTheBus: a Replicator method that panics
// with nil is a panic like any other (a *runtime.PanicNilError): a
// MaxRecordBytes that does refuses the batch and the bus goes on, a
// Replicate or WaitStored that does fails the bus with ErrReplication
// naming the method. The same holds under GODEBUG=panicnil=1 (run in a
// child process), where recover returns nil and stops the panic: the
// guard took that for a method that ended its goroutine without
// returning, failed the bus, and returned nil, so the commit reported
// success for a record never handed on, and a MaxRecordBytes that
// panicked let any batch through.
func TestReplicatorNilPanicFailsTheBus(t *testing.T) {
	child := os.Getenv(envNilPanicChild) != ""
	recovered := func() (v any) {
		defer func() { v = recover() }()
		panic(nil)
	}()
	if child != (recovered == nil) {
		t.Fatalf("recover() of panic(nil) = %v in the child=%v run: GODEBUG=panicnil is not as the test set it", recovered, child)
	}
	for _, method := range []string{"MaxRecordBytes", "Replicate", "WaitStored"} {
		t.Run(method, func(t *testing.T) {
			rep := &nilPanicReplicator{}
			e := openMemBounded(t, &Options{Replicator: rep, Sync: SyncReplicated})
			rep.in.Store(method)
			var err error
			if p := boundedCall(t, "CreatePage", func() { _, err = e.CreatePage(ctx, PageSpec{Size: 8}) }); p != nil {
				t.Fatalf("CreatePage with Replicator.%s panicking with nil: the panic reached the caller: %v", method, p)
			}
			if !errors.Is(err, ErrReplication) || !strings.Contains(err.Error(), "Replicator."+method) {
				t.Fatalf("CreatePage with Replicator.%s panicking with nil = %v; want ErrReplication naming it", method, err)
			}
			rep.in.Store("")
			if method == "MaxRecordBytes" {
				if err := e.Err(); err != nil {
					t.Fatalf("Err() after MaxRecordBytes panicked = %v; want the bus usable (nothing was logged)", err)
				}
				return
			}
			if err := e.Err(); !errors.Is(err, ErrFailed) || !errors.Is(err, ErrReplication) {
				t.Fatalf("Err() after Replicator.%s panicked with nil = %v; want ErrFailed wrapping ErrReplication", method, err)
			}
		})
	}
	if child {
		return
	}
	if strconv.IntSize == 32 {
		// CI runs the 32-bit tests under qemu-arm, where a re-executed
		// test binary may not start; the run natively covers it.
		t.Skip("the GODEBUG=panicnil=1 run re-executes the test binary: not on 32-bit platforms")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestReplicatorNilPanicFailsTheBus$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "GODEBUG=panicnil=1", envNilPanicChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestReplicatorNilPanicFailsTheBus/WaitStored") {
		t.Fatalf("the run under GODEBUG=panicnil=1: %v\n%s", err, out)
	}
}
