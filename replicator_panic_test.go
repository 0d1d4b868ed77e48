package mmsb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// panickyReplicator panics in the method named by in, and is a
// fakeReplicator otherwise.
type panickyReplicator struct {
	fakeReplicator
	in string
}

func (p *panickyReplicator) MaxRecordBytes() int {
	if p.in == "MaxRecordBytes" {
		panic("replicator bug")
	}
	return p.fakeReplicator.MaxRecordBytes()
}

func (p *panickyReplicator) Replicate(rec *ReplicatedRecord) error {
	if p.in == "Replicate" {
		panic("replicator bug")
	}
	return p.fakeReplicator.Replicate(rec)
}

func (p *panickyReplicator) WaitStored(ctx context.Context, lsn LSN) error {
	if p.in == "WaitStored" {
		panic("replicator bug")
	}
	return p.fakeReplicator.WaitStored(ctx, lsn)
}

// TestReplicatorPanicFailsTheBus: a Replicator whose method panics gives
// the commit an error wrapping ErrReplication that names the method, and
// the bus stays usable to close. Replicate and MaxRecordBytes run under
// the bus's lock: their panic left it locked, and every later call of the
// bus, Close too, hung (as the clock's did before it was recovered).
func TestReplicatorPanicFailsTheBus(t *testing.T) {
	for _, method := range []string{"MaxRecordBytes", "Replicate", "WaitStored"} {
		t.Run(method, func(t *testing.T) {
			rep := &panickyReplicator{}
			e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
			rep.in = method // after Open: pages are created below through the log too
			done := make(chan error, 1)
			go func() {
				defer func() {
					if v := recover(); v != nil {
						done <- errors.New("the panic reached the caller")
					}
				}()
				_, err := e.CreatePage(context.Background(), PageSpec{Size: 8})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrReplication) || !strings.Contains(err.Error(), "Replicator."+method+" panicked") {
					t.Fatalf("CreatePage with Replicator.%s panicking: %v; want ErrReplication naming it", method, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("CreatePage with Replicator.%s panicking did not return", method)
			}
			closed := make(chan error, 1)
			go func() { closed <- e.Close() }()
			select {
			case <-closed:
			case <-time.After(30 * time.Second):
				t.Fatalf("Close after Replicator.%s panicked did not return: the bus's lock stayed held", method)
			}
		})
	}
}
