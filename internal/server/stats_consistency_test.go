package server_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// hashAt is the state hash of the bus as of lsn (a replay of its log).
func hashAt(t *testing.T, bus *mmsb.Bus, lsn mmsb.LSN) uint64 {
	t.Helper()
	r, err := bus.Replay(context.Background(), mmsb.ReplayTarget{ToLSN: lsn})
	if err != nil {
		t.Fatalf("replay to LSN %d: %v", lsn, err)
	}
	defer func() { _ = r.Close() }()
	h, err := r.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestStatsHashMatchesLSN: the state hash Stats answers is the state's at
// the last_lsn it answers with. A commit lands as Stats starts (the hook,
// once); the answer must not pair the old LSN with the new state's hash
// (it did until 2026-12-04, when the counters and the hash were read by
// two calls and the hook ran between them).
func TestStatsHashMatchesLSN(t *testing.T) {
	ctx := context.Background()
	var f *fixture
	var id mmsb.PageID
	var once atomic.Bool
	f = newFixture(t, fixOpts{dir: t.TempDir(), setup: func(s *server.Server) {
		server.SetStatsHook(s, func() {
			if once.CompareAndSwap(false, true) {
				if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("in between"))}); err != nil {
					t.Error(err)
				}
			}
		})
	}})
	var err error
	if id, err = f.bus.CreatePage(ctx, mmsb.PageSpec{Size: 32}); err != nil {
		t.Fatal(err)
	}
	rpc := mmsbv1connect.NewBusServiceClient(f.http.Client(), f.http.URL)
	resp, err := rpc.Stats(ctx, connect.NewRequest(&mmsbv1.StatsRequest{StateHash: true}))
	if err != nil {
		t.Fatal(err)
	}
	if !once.Load() {
		t.Fatal("negative control: the hook never committed")
	}
	lsn := mmsb.LSN(resp.Msg.GetLastLsn())
	if want := hashAt(t, f.bus, lsn); resp.Msg.GetStateHash() != want {
		t.Fatalf("Stats: state hash %#x with last_lsn %d, but the state at LSN %d hashes to %#x (the bus is at LSN %d)",
			resp.Msg.GetStateHash(), lsn, lsn, want, f.bus.LastLSN())
	}
}

// TestLongCallsUnderCommits runs Stats, Stats with the state hash,
// VerifyReplay and Checkpoint while clients commit (run it with -race):
// each Stats answer is consistent in itself (durable_lsn <= last_lsn, the
// hash the state's at last_lsn) and no counter goes back between two
// answers; every VerifyReplay finds the replay equal to the live state;
// every Checkpoint succeeds at an LSN the bus had reached.
func TestLongCallsUnderCommits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixOpts{dir: t.TempDir()})
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 256}, {Size: 256}, {Size: 256}})
	if err != nil {
		t.Fatal(err)
	}
	rpc := mmsbv1connect.NewBusServiceClient(f.http.Client(), f.http.URL)

	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[(i+w)%len(ids)], uint32(i%200), []byte{byte(i), byte(w)})}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}

	type answer struct{ lsn, hash uint64 }
	var hashedAnswers []answer
	var prev *mmsbv1.StatsResponse
	for i := range 60 {
		msg := &mmsbv1.StatsRequest{StateHash: i%3 == 0}
		resp, err := rpc.Stats(ctx, connect.NewRequest(msg))
		if err != nil {
			t.Fatal(err)
		}
		st := resp.Msg
		if st.GetDurableLsn() > st.GetLastLsn() {
			t.Fatalf("Stats: durable_lsn %d after last_lsn %d", st.GetDurableLsn(), st.GetLastLsn())
		}
		if prev != nil {
			if st.GetLastLsn() < prev.GetLastLsn() || st.GetDurableLsn() < prev.GetDurableLsn() ||
				st.GetCheckpoints() < prev.GetCheckpoints() || st.GetLastCheckpoint() < prev.GetLastCheckpoint() {
				t.Fatalf("Stats went back: last_lsn %d -> %d, durable_lsn %d -> %d, checkpoints %d -> %d, last_checkpoint %d -> %d",
					prev.GetLastLsn(), st.GetLastLsn(), prev.GetDurableLsn(), st.GetDurableLsn(),
					prev.GetCheckpoints(), st.GetCheckpoints(), prev.GetLastCheckpoint(), st.GetLastCheckpoint())
			}
		}
		prev = st
		if msg.StateHash {
			hashedAnswers = append(hashedAnswers, answer{st.GetLastLsn(), st.GetStateHash()})
		}
		switch i % 10 {
		case 4:
			rep, err := f.c.VerifyReplay(ctx, i%20 == 4)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Equal() {
				t.Fatalf("VerifyReplay under commits at LSN %d: %+v", rep.LSN, rep)
			}
		case 7:
			info, err := f.c.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if last := f.bus.LastLSN(); info.LSN > last || info.LSN == 0 {
				t.Fatalf("Checkpoint at LSN %d; the bus is at %d", info.LSN, last)
			}
		}
	}
	close(stop)
	writers.Wait()
	if prev == nil || prev.GetCheckpoints() == 0 {
		t.Fatal("negative control: no Stats answer, or no checkpoint counted")
	}
	if len(hashedAnswers) != 20 {
		t.Fatalf("%d answers with the state hash, want 20: nothing may be refused", len(hashedAnswers))
	}
	for _, a := range hashedAnswers {
		if want := hashAt(t, f.bus, mmsb.LSN(a.lsn)); a.hash != want {
			t.Fatalf("Stats under commits: state hash %#x with last_lsn %d; the state at that LSN hashes to %#x", a.hash, a.lsn, want)
		}
	}
	t.Logf("%d hashed answers checked, bus at LSN %d", len(hashedAnswers), f.bus.LastLSN())
}
