package mmsb

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestOwnCheckpointContinuesLog: the check that passes over a checkpoint
// of another bus (its last commit time differs from the time of the log's
// record at its LSN) must never pass over one of the bus's own: Open then
// fell back to an older checkpoint, or to a log prefix that was trimmed,
// and the bus did not open at all. Each case ends its history at a
// checkpoint in a way that could leave the bus's last commit time apart
// from its last record's (a clock that goes back, returns 0 or panics; a
// commit refused after the clock was read; a wave, a create with
// metadata, a control op last; commits racing the checkpoint; automatic
// checkpoints; a follower's records, stamped by the leader), commits
// after it, and reopens and replays the directory: the newest checkpoint
// must be where both start, and none skipped.
func TestOwnCheckpointContinuesLog(t *testing.T) {
	type env struct {
		fs    vfs.FS
		clock func() int64 // the bus's Options.Clock
		set   func(func() int64)
	}
	for _, tc := range []struct {
		name   string
		opts   func(o *Options)
		before func(t *testing.T, e *Bus, ev *env) // the history up to the checkpoint
	}{
		{name: "clock going backwards", before: func(t *testing.T, e *Bus, ev *env) {
			id := mustCreate(t, e, 1, 16)[0]
			tm := int64(5_000_000)
			ev.set(func() int64 { tm -= 1000; return tm })
			for i := range 5 {
				commitOK(t, e, w(id, i, "b"))
			}
		}},
		{name: "clock returning 0", before: func(t *testing.T, e *Bus, ev *env) {
			id := mustCreate(t, e, 1, 16)[0]
			ev.set(func() int64 { return 0 })
			commitOK(t, e, w(id, 0, "z"))
		}},
		{name: "clock panicking on the last commit", before: func(t *testing.T, e *Bus, ev *env) {
			id := mustCreate(t, e, 1, 16)[0]
			commitOK(t, e, w(id, 0, "a"))
			ev.set(func() int64 { panic("clock") })
			if _, err := e.Commit(ctx, []Delta{w(id, 1, "b")}); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("commit with a panicking clock: %v, want ErrInvalidOption", err)
			}
			if _, err := e.CreatePages(ctx, []PageSpec{{Size: 8}}); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("create with a panicking clock: %v, want ErrInvalidOption", err)
			}
		}},
		{name: "commits refused after the clock was read", before: func(t *testing.T, e *Bus, ev *env) {
			id := mustCreate(t, e, 1, 16)[0]
			commitOK(t, e, w(id, 0, "a"))
			// Later times than the last record's, read and then refused.
			if _, err := e.Commit(ctx, []Delta{w(id, 20, "past the page")}); !errors.Is(err, ErrInvalidDelta) {
				t.Fatalf("delta past the page: %v, want ErrInvalidDelta", err)
			}
			if _, err := e.Commit(ctx, []Delta{w(id, 0, strings.Repeat("x", 600))}); err == nil {
				t.Fatal("a record over the replicator's limit was committed")
			}
		}, opts: func(o *Options) {
			o.Replicator, o.Sync = &fakeReplicator{max: 512}, SyncReplicated
		}},
		{name: "create with metadata last", before: func(t *testing.T, e *Bus, ev *env) {
			mustCreate(t, e, 1, 16)
			if _, err := e.CreatePages(ctx, []PageSpec{{Size: 8, Meta: []MetaEntry{{Key: "k", Value: []byte("v")}}}, {Size: 4}}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "control ops last", before: func(t *testing.T, e *Bus, ev *env) {
			ids := mustCreate(t, e, 3, 16)
			if err := e.SetMetadata(ctx, ids[0], []MetaEntry{{Key: "k", Value: []byte("v")}}); err != nil {
				t.Fatal(err)
			}
			if err := e.AddEdge(ctx, ids[0], ids[1], EdgeControl); err != nil {
				t.Fatal(err)
			}
			if err := e.FreePage(ctx, ids[2]); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a propagation wave last", before: func(t *testing.T, e *Bus, ev *env) {
			ids := mustCreate(t, e, 2, 16)
			if err := e.Bind(ctx, ids[1], "passthrough", nil, []PageID{ids[0]}); err != nil {
				t.Fatal(err)
			}
			commitOK(t, e, w(ids[0], 0, "wave"))
			r, err := e.Propagate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.LastLSN == 0 || r.LastLSN != e.LastLSN() {
				t.Fatalf("the wave logged LSN %d..%d, the bus is at %d: want the wave last", r.FirstLSN, r.LastLSN, e.LastLSN())
			}
		}},
		{name: "commits racing the checkpoint", before: func(t *testing.T, e *Bus, ev *env) {
			ids := mustCreate(t, e, 4, 64)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 50 {
						if _, err := e.Commit(ctx, []Delta{w(ids[g], i%60, "r")}); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			for range 3 {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Error(err)
				}
			}
			wg.Wait()
		}},
		{name: "automatic checkpoints", opts: func(o *Options) { o.CheckpointBytes = 2048 }, before: func(t *testing.T, e *Bus, ev *env) {
			id := mustCreate(t, e, 1, 256)[0]
			for i := range 200 {
				commitOK(t, e, w(id, i%200, strings.Repeat("a", 50)))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			ev := &env{fs: fs}
			var mu sync.Mutex
			cur := testClock()
			ev.set = func(c func() int64) { mu.Lock(); cur = c; mu.Unlock() }
			ev.clock = func() int64 { mu.Lock(); c := cur; mu.Unlock(); return c() }
			o := &Options{FS: fs, CheckpointBytes: -1, Clock: ev.clock}
			if tc.opts != nil {
				tc.opts(o)
			}
			e, err := Open("/d", o)
			if err != nil {
				t.Fatal(err)
			}
			tc.before(t, e, ev)
			info, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ev.set(testClock())
			extra := mustCreate(t, e, 1, 8)[0]
			commitOK(t, e, w(extra, 0, "after"))
			want := hashOf(t, e)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			checkStartedAt(t, fs, "/d", info.Path, info.LSN, want, o.Replicator != nil)
		})
	}
}

// TestFollowerCheckpointContinuesLog: a follower's own checkpoint holds
// the leader's commit time of its last record, which its log holds too:
// it loads, whatever the follower's clock says.
func TestFollowerCheckpointContinuesLog(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	leaderWorkload(t, leader)
	fs := vfs.NewMem()
	back := int64(1 << 40)
	follower, err := Open("/f", &Options{FS: fs, Follower: true, CheckpointBytes: -1, Clock: func() int64 { back -= 7; return back }})
	if err != nil {
		t.Fatal(err)
	}
	recs := rep.records()
	var path string
	var at LSN
	for i := range recs {
		if err := follower.ApplyReplicated(ctx, &recs[i]); err != nil {
			t.Fatalf("apply record %d: %v", i, err)
		}
		if i == len(recs)-3 {
			info, err := follower.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			path, at = info.Path, info.LSN
		}
	}
	want := hashOf(t, follower)
	if err := follower.Close(); err != nil {
		t.Fatal(err)
	}
	checkStartedAt(t, fs, "/f", path, at, want, false)
	e, err := Open("/f", &Options{FS: fs, Follower: true, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if rec := e.Recovery(); rec.Checkpoint != path || len(rec.SkippedCheckpoint) > 0 {
		t.Fatalf("follower reopened from %q (skipped %q), want its checkpoint %s", rec.Checkpoint, rec.SkippedCheckpoint, path)
	}
}

// checkStartedAt opens and replays dir and fails t unless both start from
// the checkpoint at path (LSN lsn) or a newer one, skip none, and reach
// state hash want.
func checkStartedAt(t *testing.T, fs vfs.FS, dir, path string, lsn LSN, want uint64, replicated bool) {
	t.Helper()
	check := func(what string, e *Bus) {
		t.Helper()
		rec := e.Recovery()
		if rec.Checkpoint == "" || rec.CheckpointLSN < lsn || len(rec.SkippedCheckpoint) > 0 {
			t.Errorf("%s started from %q (LSN %d) and skipped %q: want the newest checkpoint (%s or a newer automatic one), skipping none",
				what, rec.Checkpoint, rec.CheckpointLSN, rec.SkippedCheckpoint, path)
		}
		if got := hashOf(t, e); got != want {
			t.Errorf("%s: state hash %#x, want %#x", what, got, want)
		}
	}
	r, err := Replay(ctx, dir, ReplayTarget{}, &Options{FS: fs})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	check("Replay", r)
	r.Close()
	if replicated {
		return // Open needs the replicator; Replay read the same files
	}
	e, err := Open(dir, &Options{FS: fs, CheckpointBytes: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	check("Open", e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// commitOK commits d and fails t on an error.
func commitOK(t *testing.T, e *Bus, d Delta) {
	t.Helper()
	if _, err := e.Commit(ctx, []Delta{d}); err != nil {
		t.Fatal(err)
	}
}
