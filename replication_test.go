package mmsb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// fakeReplicator keeps every record it is handed, in order; err (when set)
// fails Replicate, storeErr fails WaitStored.
type fakeReplicator struct {
	mu       sync.Mutex
	recs     []ReplicatedRecord
	max      int
	err      error
	storeErr error
	waited   []LSN
}

func (f *fakeReplicator) MaxRecordBytes() int { return f.max }

func (f *fakeReplicator) Replicate(rec *ReplicatedRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	c := *rec
	c.Payload = bytes.Clone(rec.Payload)
	f.recs = append(f.recs, c)
	return nil
}

func (f *fakeReplicator) WaitStored(_ context.Context, lsn LSN) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waited = append(f.waited, lsn)
	return f.storeErr
}

func (f *fakeReplicator) records() []ReplicatedRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ReplicatedRecord(nil), f.recs...)
}

// leaderWorkload commits every kind of logged operation: pages, deltas,
// metadata, edges, a binding and its propagation, a free.
func leaderWorkload(t *testing.T, e *Bus) {
	t.Helper()
	ids := mustCreate(t, e, 4, 16)
	for i := 0; i < 20; i++ {
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[i%3], i%8, "abcdefgh"), w(ids[(i+1)%3], 0, fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.SetMetadata(ctx, ids[0], []MetaEntry{{Key: "k", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, ids[0], ids[3], EdgeControl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveEdge(ctx, ids[0], ids[3], EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := e.FreePage(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
}

func TestReplicatedLeaderFollowerHashesMatch(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	leaderWorkload(t, leader)
	follower := openT(t, t.TempDir(), &Options{Follower: true})
	defer follower.Close()
	recs := rep.records()
	if len(recs) == 0 {
		t.Fatal("the replicator received no records")
	}
	var next LSN = 1
	for i := range recs {
		r := &recs[i]
		if r.FirstLSN != next {
			t.Fatalf("record %d starts at LSN %d, want %d (log order)", i, r.FirstLSN, next)
		}
		next = r.LastLSN + 1
		if err := follower.ApplyReplicated(ctx, r); err != nil {
			t.Fatalf("apply record %d: %v", i, err)
		}
	}
	if got, want := hashOf(t, follower), hashOf(t, leader); got != want {
		t.Fatalf("follower state hash %#x, leader %#x", got, want)
	}
	lh, llsn, err := leader.RollingHash()
	if err != nil {
		t.Fatal(err)
	}
	fh, flsn, err := follower.RollingHash()
	if err != nil {
		t.Fatal(err)
	}
	if lh != fh || llsn != flsn {
		t.Fatalf("rolling hash leader %#x@%d, follower %#x@%d", lh, llsn, fh, flsn)
	}
	if err := follower.VerifyRollingHash(); err != nil {
		t.Fatal(err)
	}
	rep.mu.Lock()
	waited := len(rep.waited)
	rep.mu.Unlock()
	if waited < len(recs) {
		t.Fatalf("SyncReplicated waited for %d of %d records", waited, len(recs))
	}
	// A restarted follower recomputes the same rolling hash from its log.
	dir := follower.Dir()
	if err := follower.Close(); err != nil {
		t.Fatal(err)
	}
	again := openT(t, dir, &Options{Follower: true})
	defer again.Close()
	if h, lsn, _ := again.RollingHash(); h != lh || lsn != llsn {
		t.Fatalf("reopened follower rolling hash %#x@%d, want %#x@%d", h, lsn, lh, llsn)
	}
}

func TestFollowerRefusesWrites(t *testing.T) {
	f := openMem(t, &Options{Follower: true})
	_, err := f.Commit(ctx, []delta.Delta{w(1, 0, "x")})
	if !errors.Is(err, ErrFollower) {
		t.Fatalf("Commit on a follower: %v, want ErrFollower", err)
	}
	if _, err := f.CreatePage(ctx, PageSpec{Size: 8}); !errors.Is(err, ErrFollower) {
		t.Fatalf("CreatePage on a follower: %v, want ErrFollower", err)
	}
	if _, err := f.Propagate(ctx); !errors.Is(err, ErrFollower) {
		t.Fatalf("Propagate on a follower: %v, want ErrFollower", err)
	}
	if f.Err() != nil {
		t.Fatalf("a refused write must not fail the follower: %v", f.Err())
	}
}

func TestApplyReplicatedRefusesGapsAndDuplicates(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep})
	ids := mustCreate(t, leader, 1, 8)
	for i := 0; i < 3; i++ {
		if _, err := leader.Commit(ctx, []delta.Delta{w(ids[0], 0, "ab")}); err != nil {
			t.Fatal(err)
		}
	}
	recs := rep.records()
	f := openMem(t, &Options{Follower: true})
	bad := recs[0]
	bad.LastLSN = 0
	tests := []struct {
		name string
		rec  *ReplicatedRecord
	}{
		{"gap", &recs[1]},
		{"invalid range", &bad},
	}
	for _, tc := range tests {
		if err := f.ApplyReplicated(ctx, tc.rec); !errors.Is(err, ErrReplicaOrder) {
			t.Fatalf("%s: %v, want ErrReplicaOrder", tc.name, err)
		}
	}
	if err := f.ApplyReplicated(ctx, &recs[0]); err != nil {
		t.Fatal(err)
	}
	if err := f.ApplyReplicated(ctx, &recs[0]); !errors.Is(err, ErrReplicaOrder) {
		t.Fatalf("duplicate: %v, want ErrReplicaOrder", err)
	}
	if f.Err() != nil || f.LastLSN() != recs[0].LastLSN {
		t.Fatalf("refused records changed the follower: err %v, LSN %d", f.Err(), f.LastLSN())
	}
	// Not a follower: refused.
	if err := leader.ApplyReplicated(ctx, &recs[1]); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("ApplyReplicated on a leader: %v, want ErrInvalidOption", err)
	}
	// A payload that does not decode: refused, nothing applied.
	junk := ReplicatedRecord{FirstLSN: recs[1].FirstLSN, LastLSN: recs[1].LastLSN, Payload: []byte{0xff, 1, 2}}
	if err := f.ApplyReplicated(ctx, &junk); err == nil || f.LastLSN() != recs[0].LastLSN {
		t.Fatalf("junk payload: err %v, LSN %d", err, f.LastLSN())
	}
}

// The negative control of the hash check: a follower whose page was
// changed outside the log stops at the next record that writes the page,
// and VerifyRollingHash finds a corrupted page no record touches.
func TestFollowerDetectsCorruptedPage(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep})
	ids := mustCreate(t, leader, 2, 8)
	if _, err := leader.Commit(ctx, []delta.Delta{w(ids[0], 0, "ab")}); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Commit(ctx, []delta.Delta{w(ids[0], 2, "cd")}); err != nil {
		t.Fatal(err)
	}
	recs := rep.records()

	corrupt := func(f *Bus, id PageID) {
		f.mu.Lock()
		sl, _ := f.store.Lookup(id)
		f.store.Bytes(sl)[7] ^= 0x40
		f.mu.Unlock()
	}
	f := openMem(t, &Options{Follower: true})
	for _, r := range recs[:2] {
		if err := f.ApplyReplicated(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.VerifyRollingHash(); err != nil {
		t.Fatalf("clean follower: %v", err)
	}
	corrupt(f, ids[0])
	err := f.ApplyReplicated(ctx, &recs[2])
	if !errors.Is(err, ErrReplicaDiverged) || !errors.Is(f.Err(), ErrFailed) {
		t.Fatalf("corrupted page: %v (bus err %v), want ErrReplicaDiverged and a failed bus", err, f.Err())
	}

	g := openMem(t, &Options{Follower: true})
	for _, r := range recs {
		if err := g.ApplyReplicated(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	corrupt(g, ids[1]) // no record touches it
	if err := g.VerifyRollingHash(); !errors.Is(err, ErrReplicaDiverged) {
		t.Fatalf("VerifyRollingHash after corruption: %v, want ErrReplicaDiverged", err)
	}
}

func TestReplicationFailureFailsCommit(t *testing.T) {
	ids := func(e *Bus) []PageID { return mustCreate(t, e, 1, 8) }

	rep := &fakeReplicator{}
	e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	p := ids(e)
	rep.storeErr = errors.New("stream lost quorum")
	_, err := e.Commit(ctx, []delta.Delta{w(p[0], 0, "x")})
	if !errors.Is(err, ErrReplication) || !errors.Is(err, ErrFailed) {
		t.Fatalf("commit with a failed store: %v, want ErrReplication and ErrFailed", err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(p[0], 0, "y")}); !errors.Is(err, ErrFailed) {
		t.Fatalf("commit after a replication failure: %v, want sticky ErrFailed", err)
	}

	rep2 := &fakeReplicator{}
	e2 := openMem(t, &Options{Replicator: rep2, Sync: SyncReplicated})
	p2 := ids(e2)
	rep2.err = errors.New("lease lost")
	if _, err := e2.Commit(ctx, []delta.Delta{w(p2[0], 0, "x")}); !errors.Is(err, ErrReplication) {
		t.Fatalf("commit with a refused publish: %v, want ErrReplication", err)
	}

	// Asynchronous replication (group): WaitDurable does not wait for it.
	rep3 := &fakeReplicator{storeErr: errors.New("never stored")}
	e3 := openMem(t, &Options{Replicator: rep3})
	if _, err := e3.CreatePage(ctx, PageSpec{Size: 8}); err != nil {
		t.Fatalf("group mode must not wait for the store: %v", err)
	}
}

func TestRecordTooLargeRefusedBeforeLogging(t *testing.T) {
	rep := &fakeReplicator{max: 64}
	e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	p := mustCreate(t, e, 1, 256)
	before := e.LastLSN()
	_, err := e.Commit(ctx, []delta.Delta{w(p[0], 0, string(make([]byte, 200)))})
	if !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("oversized batch: %v, want ErrRecordTooLarge", err)
	}
	if e.Err() != nil || e.LastLSN() != before {
		t.Fatalf("refusal changed the bus: err %v, LSN %d -> %d", e.Err(), before, e.LastLSN())
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(p[0], 0, "ok")}); err != nil {
		t.Fatalf("a small batch after the refusal: %v", err)
	}
}

// TestRecordOverLogLimitRefused: a batch whose record is over the log's
// 256 MiB record limit is refused with ErrRecordTooLarge before it is
// logged, and the bus stays usable. Before, the log refused the append and
// the bus failed for good (a sticky ErrFailed) over one caller's batch.
// The serial batch is twice the limit: its encoding stops at the delta
// that passes the limit (it once encoded all 514 MiB first). No bus
// keeps the memory it encoded into: the bus kept its encoding buffer, and
// the parallel check its chunk buffers, for life, however large.
func TestRecordOverLogLimitRefused(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("a record over the 256 MiB limit needs more of a 32-bit address space than the test binary can spare; the 64-bit run covers it")
	}
	perLimit := func(size int) int { return tlog.MaxRecordBytes / size } // their headers pass the limit
	for _, tc := range []struct {
		name string
		opts Options
		size int // bytes a delta writes
		n    int
		stop string // where the encoding stopped, in the error
	}{
		{"serial", Options{Workers: 1}, 1 << 20, 2*perLimit(1<<20) + 2, fmt.Sprintf("by batch delta %d,", perLimit(1<<20)-1)},
		// A replicated bus does not pipeline, so its workers check and
		// encode a large batch in chunks, and the whole is measured
		// before the chunks are copied into one: chunks of 256 deltas
		// of 512 KiB are each under the limit, three together over it.
		{"parallel", Options{Workers: 2, Replicator: &fakeReplicator{}}, 512 << 10, perLimit(512<<10) + 44, " bytes, a log record holds"},
		// A chunk alone over the limit stops where it passes it.
		{"parallel chunk", Options{Workers: 2, Replicator: &fakeReplicator{}}, 1 << 20, perLimit(1<<20) + 44, fmt.Sprintf("by batch delta %d,", chunkDeltas-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			e := openMem(t, &tc.opts)
			p := mustCreate(t, e, 1, size)
			full := make([]byte, size)
			ds := make([]delta.Delta, tc.n)
			for i := range ds {
				ds[i] = delta.Delta{Page: p[0], Runs: []delta.Run{{Offset: 0, Data: full}}}
			}
			heapBefore := testutil.HeapAlloc()
			before := e.LastLSN()
			_, err := e.Commit(ctx, ds)
			if !errors.Is(err, ErrRecordTooLarge) {
				t.Fatalf("a batch over the log's record limit: %v, want ErrRecordTooLarge", err)
			}
			if !strings.Contains(err.Error(), tc.stop) {
				t.Errorf("refusal %q: want %q in it", err, tc.stop)
			}
			if grew := testutil.HeapAlloc() - heapBefore; grew > 32<<20 {
				t.Errorf("the bus holds %d more bytes of heap after the refusal", grew)
			}
			if e.Err() != nil || e.LastLSN() != before {
				t.Fatalf("refusal changed the bus: err %v, LSN %d -> %d", e.Err(), before, e.LastLSN())
			}
			if _, err := e.Commit(ctx, ds[:1]); err != nil {
				t.Fatalf("a batch under the limit after the refusal: %v", err)
			}
			if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
				t.Fatalf("replay after the refusal: %+v, %v", rep, err)
			}
		})
	}
}

// TestRecordOverLimitRefusedUncopied: an Intent or Bind params over the
// log's record limit is refused before it is copied into the record, on
// the serial check, the parallel one (a chunk's worker) and Bind. Each
// refusal once encoded its 300 MiB first: a few seconds of page faults,
// over 20 s under the race detector, to say no.
func TestRecordOverLimitRefusedUncopied(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("an Intent over the 256 MiB limit needs more of a 32-bit address space than the test binary can spare; the 64-bit run covers it")
	}
	big := make([]byte, 300<<20) // never written: its pages stay unfaulted unless copied
	const at = 270               // in the second chunk of the parallel check
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"serial", Options{Workers: 1, Functions: fuzzFuncs()}},
		// A replicated bus does not pipeline: its workers check and
		// encode chunks.
		{"parallel", Options{Workers: 2, Replicator: &fakeReplicator{}, Functions: fuzzFuncs()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openMem(t, &tc.opts)
			p := mustCreate(t, e, 2, 8)
			ds := make([]delta.Delta, parallelMin+20)
			for i := range ds {
				ds[i] = delta.Delta{Page: p[0], Runs: []delta.Run{{Offset: 0, Data: []byte("x")}}}
			}
			ds[at].Intent = big
			before := e.LastLSN()
			calls := []struct {
				name, names string
				call        func() error
			}{
				{"Commit", fmt.Sprintf("by batch delta %d,", at), func() error { _, err := e.Commit(ctx, ds); return err }},
				{"Bind", "binding page", func() error { return e.Bind(ctx, p[1], "fuzz.keep", big, []PageID{p[0]}) }},
			}
			for _, c := range calls {
				alloc0 := testutil.TotalAlloc()
				err := c.call()
				allocated := testutil.TotalAlloc() - alloc0
				if !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), c.names) {
					t.Errorf("%s with 300 MiB: %v, want ErrRecordTooLarge naming %q", c.name, err, c.names)
				}
				if allocated > 16<<20 {
					t.Errorf("%s allocated %d bytes to refuse 300 MiB: it was copied", c.name, allocated)
				}
			}
			if e.Err() != nil || e.LastLSN() != before {
				t.Fatalf("refusals changed the bus: err %v, LSN %d -> %d", e.Err(), before, e.LastLSN())
			}
			ds[at].Intent = []byte("small")
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatalf("the batch with a small intent: %v", err)
			}
			if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
				t.Fatalf("replay after the refusals: %+v, %v", rep, err)
			}
		})
	}
}

func TestReplicationOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"replicated without replicator", Options{Sync: SyncReplicated}},
		{"follower with replicator", Options{Follower: true, Replicator: &fakeReplicator{}}},
		{"follower without log", Options{Follower: true, DisableLog: true}},
	} {
		if _, err := Open("", &tc.o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", tc.name, err)
		}
	}
	m, err := ParseSyncMode("replicated")
	if err != nil || m != SyncReplicated || m.String() != "replicated" {
		t.Fatalf("ParseSyncMode(replicated) = %v, %v", m, err)
	}
	plain := openMem(t, nil)
	if _, _, err := plain.RollingHash(); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("RollingHash without replication: %v", err)
	}
}

// FuzzApplyReplicated feeds arbitrary payloads and LSN ranges to a
// follower: it must refuse or apply, never panic, and a refusal must leave
// the follower usable: not failed, still at LSN 0, and taking the leader's
// first record afterwards. Only ErrReplicaDiverged (a record that decoded
// but did not apply, or a hash mismatch) fails the follower by design; a
// record that did not apply leaves no page and no LSN behind. The
// check once excused any refusal that also failed the follower, so a
// decode error that killed the bus passed. The leader's first record must
// be accepted, so a follower that refused everything fails too.
func FuzzApplyReplicated(f *testing.F) {
	rep := &fakeReplicator{}
	leader, err := Open("", &Options{Replicator: rep})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := leader.CreatePages(ctx, []PageSpec{{Size: 8}, {Size: 8}}); err != nil {
		f.Fatal(err)
	}
	if _, err := leader.Commit(ctx, []delta.Delta{w(1, 0, "abc")}); err != nil {
		f.Fatal(err)
	}
	_ = leader.Close()
	recs := rep.records()
	if len(recs) < 2 {
		f.Fatalf("the leader replicated %d records, want 2", len(recs))
	}
	genuine := recs[0]
	for _, r := range recs {
		f.Add(uint64(r.FirstLSN), uint64(r.LastLSN), r.Payload, r.StateHash)
	}
	// The first record's range with a payload that does not decode: the
	// refusal the seed corpus must cover without fuzzing.
	f.Add(uint64(genuine.FirstLSN), uint64(genuine.LastLSN), []byte("x"), genuine.StateHash)
	f.Fuzz(func(t *testing.T, first, last uint64, payload []byte, hash uint64) {
		fo, err := Open("", &Options{Follower: true})
		if err != nil {
			t.Fatal(err)
		}
		defer fo.Close()
		rec := ReplicatedRecord{FirstLSN: LSN(first), LastLSN: LSN(last), Payload: bytes.Clone(payload), StateHash: hash}
		err = fo.ApplyReplicated(ctx, &rec)
		isGenuine := rec.FirstLSN == genuine.FirstLSN && rec.LastLSN == genuine.LastLSN &&
			bytes.Equal(payload, genuine.Payload) && rec.StateHash == genuine.StateHash
		switch {
		case err == nil:
			return
		case isGenuine:
			t.Fatalf("the leader's first record refused: %v", err)
		case errors.Is(err, ErrReplicaDiverged) && strings.Contains(err.Error(), "rolling hash"):
			return // applied, then the hash differed
		case errors.Is(err, ErrReplicaDiverged):
			// A record that does not apply changes nothing.
			if ids, perr := fo.PageIDs(); perr != nil || len(ids) != 0 || fo.LastLSN() != 0 {
				t.Fatalf("a record that does not apply (%v) left pages %v (%v) at LSN %d", err, ids, perr, fo.LastLSN())
			}
			return
		}
		if fo.Err() != nil {
			t.Fatalf("refusal (%v) failed the follower: %v", err, fo.Err())
		}
		if fo.LastLSN() != 0 {
			t.Fatalf("refused record (%v) left LSN %d", err, fo.LastLSN())
		}
		g := genuine
		g.Payload = bytes.Clone(genuine.Payload)
		if gerr := fo.ApplyReplicated(ctx, &g); gerr != nil {
			t.Fatalf("after a refusal (%v) the follower refuses the leader's first record: %v", err, gerr)
		}
	})
}
