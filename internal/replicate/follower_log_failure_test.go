package replicate

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// captureReplicator keeps the records a leader bus replicates.
type captureReplicator struct {
	mu   sync.Mutex
	recs []mmsb.ReplicatedRecord
}

func (c *captureReplicator) MaxRecordBytes() int { return 0 }

func (c *captureReplicator) Replicate(rec *mmsb.ReplicatedRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := *rec
	r.Payload = bytes.Clone(rec.Payload)
	c.recs = append(c.recs, r)
	return nil
}

func (c *captureReplicator) WaitStored(context.Context, mmsb.LSN) error { return nil }

// A record that applies on the follower but that its own log cannot take
// (the log's file cannot be made: a disk error, a full disk) fails the
// bus, and the follower reports that failure: not ErrBadMessage, which
// says the message is bad and stops Node.Run for good. The message is
// sound; a node that reopens its bus recovers the logged prefix and takes
// the record again (ApplyReplicated's contract). Before, every
// ErrReplication from ApplyReplicated was taken for a payload that does
// not decode.
func TestFollowerLogFailureIsNotBadMessage(t *testing.T) {
	ctx := context.Background()
	rep := &captureReplicator{}
	leader, err := mmsb.Open("", &mmsb.Options{Replicator: rep})
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Close()
	ids, err := leader.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []byte("xy") {
		if _, err := leader.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{b})}); err != nil {
			t.Fatal(err)
		}
	}
	var broken atomic.Bool
	fail := errors.New("injected: no space left on device")
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if broken.Load() && op.Kind == errorfs.OpCreate {
			return fail
		}
		return nil
	}))
	// The smallest segments (64 bytes): two records (with their frame
	// headers, 20 bytes each) fill the segment the log keeps from Open
	// past its 24-byte header, and the third goes to a new segment, whose
	// file cannot be made (a default-sized segment would take the record
	// in memory and meet the disk only at its sync).
	bus, err := mmsb.Open("/f", &mmsb.Options{Follower: true, FS: fs, SegmentBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	f := &Follower{bus: bus, metrics: &Metrics{}}
	for i, rec := range rep.recs[:2] {
		if err := f.apply(ctx, uint64(i+1), rec.Payload, recordMeta{First: rec.FirstLSN, Last: rec.LastLSN, Term: 1, Hash: rec.StateHash}); err != nil {
			t.Fatal(err)
		}
	}
	broken.Store(true)
	rec := rep.recs[2]
	err = f.apply(ctx, 3, rec.Payload, recordMeta{First: rec.FirstLSN, Last: rec.LastLSN, Term: 1, Hash: rec.StateHash})
	if !errors.Is(err, fail) || !errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("apply with a log that cannot be written: %v, want the injected error (bus failed)", err)
	}
	if errors.Is(err, ErrBadMessage) || stopsNode(err) {
		t.Fatalf("apply with a log that cannot be written: %v: taken for a bad message, or it stops the node", err)
	}
}
