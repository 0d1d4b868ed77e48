package replicate

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// TestForeignByHashNeverSkipsOwnCheckpoint: the bucket holds a checkpoint
// object at every LSN of the stream's own history, records of one to
// three operations each. Where a record ends, the object's metadata
// names the leader's rolling hash there (in lower or upper case
// hexadecimal); inside a record, where no record ends, any hash. No
// object is found foreign (foreignByHash skips one without downloading
// it, and one wrongly skipped may leave a follower nothing to start
// from): not before and not after the stream is purged below a record
// in its middle (objects before the stream's first record, and the one
// at the LSN its first record ends at). A wrong hash where a record ends
// is found foreign: the check can fail.
func TestForeignByHashNeverSkipsOwnCheckpoint(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	// A lease longer than testConfig's 3 s (renewed every 750 ms, lost
	// 2 s after a renewal that did not answer): this test leads without
	// failover, and on a loaded 2-core CI machine it lost the 3 s lease
	// once ("leader lease lost: not renewed within its TTL").
	cfg := testConfig(1)
	cfg.LeaseTTL = 10 * time.Second
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Dir: filepath.Join(t.TempDir(), "a"), CheckpointEvery: -1})
	_, bus := waitLeader(t, a)
	hashAt := map[mmsb.LSN]uint64{} // the rolling hash where each record ends
	note := func() {
		t.Helper()
		h, lsn, err := bus.RollingHash()
		if err != nil {
			t.Fatal(err)
		}
		hashAt[lsn] = h
	}
	pages := createPages(t, bus, 3)
	note()
	for i := range 9 {
		ds := make([]mmsb.Delta, i%3+1) // records of 1, 2 and 3 operations
		for k := range ds {
			ds[k] = mmsb.Write(pages[k], uint32(i), []byte{byte(i), byte(k)})
		}
		if _, err := bus.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
		note()
	}
	last := bus.LastLSN()
	if len(hashAt) >= int(last) {
		t.Fatalf("records end at %d of %d LSNs: none spans several (the case under test)", len(hashAt), last)
	}
	r := a.res
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok, err := r.recordEndingAt(ctx, last); err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds no record ending at LSN %d after 30 s", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for lsn := mmsb.LSN(1); lsn <= last; lsn++ {
		hash := fmt.Sprintf("%016x", uint64(lsn)*0x9e3779b97f4a7c15) // inside a record: any
		if h, ok := hashAt[lsn]; ok {
			hash = fmt.Sprintf("%016x", h)
			if lsn%2 == 0 {
				hash = fmt.Sprintf("%016X", h)
			}
		}
		if _, err := r.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(lsn), Metadata: map[string]string{ckptHashKey: hash}}, bytes.NewReader([]byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		stored, err := r.storedCheckpoints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != int(last) {
			t.Fatalf("%d stored checkpoints listed, want %d", len(stored), last)
		}
		for lsn := mmsb.LSN(1); lsn <= last; lsn++ {
			if err := r.foreignByHash(ctx, lsn, stored); err != nil {
				t.Errorf("%s: the checkpoint at LSN %d (a record ends there: %v) found foreign: %v", when, lsn, hashAt[lsn] != 0, err)
			}
		}
	}
	check("whole stream")

	// Purged below the record in the middle of the stream: a record
	// ending at the LSN of its new first one.
	info, err := r.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mid := info.State.FirstSeq + (info.State.LastSeq-info.State.FirstSeq)/2
	if err := r.stream.Purge(ctx, jetstream.WithPurgeSequence(mid)); err != nil {
		t.Fatal(err)
	}
	f := &Follower{res: r, metrics: &Metrics{}}
	head, err := f.getMsg(ctx, mid)
	if err != nil {
		t.Fatal(err)
	}
	check(fmt.Sprintf("the stream purged below its record of LSN %d..%d", head.First, head.Last))

	// The control: a wrong hash where a record ends is foreign.
	wrong := hashAt[last] ^ 1
	stored := []storedCheckpoint{{lsn: last, hash: wrong, hasHash: true}}
	if err := r.foreignByHash(ctx, last, stored); err == nil {
		t.Errorf("the checkpoint at LSN %d with state hash %016x (the stream's record carries %016x) not found foreign", last, wrong, hashAt[last])
	}
}
