package server_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// TestStatsStateHashOnRequest: Stats hashes every page (under the bus's
// read lock) only when the request asks for the state hash, so that
// callers that want counters (LastLSN, load tests, probes) do not pay for
// it or hold writers back; asked, the hash is the bus's own.
func TestStatsStateHashOnRequest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixOpts{})
	ids, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 3, []byte("hash me"))}); err != nil {
		t.Fatal(err)
	}
	want := f.hash(t)
	if want == 0 {
		t.Fatal("the bus's state hash is 0: the test cannot tell a hash from none")
	}
	rpc := mmsbv1connect.NewBusServiceClient(f.http.Client(), f.http.URL)

	plain, err := rpc.Stats(ctx, connect.NewRequest(&mmsbv1.StatsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.Msg.GetStateHash(); got != 0 {
		t.Fatalf("Stats without state_hash computed the state hash (%#x): it must only report counters", got)
	}
	if got := plain.Msg.GetLastLsn(); got != uint64(f.bus.LastLSN()) || plain.Msg.GetPages() != 2 {
		t.Fatalf("Stats without state_hash: last_lsn %d pages %d, want %d and 2", got, plain.Msg.GetPages(), f.bus.LastLSN())
	}
	hashed, err := rpc.Stats(ctx, connect.NewRequest(&mmsbv1.StatsRequest{StateHash: true}))
	if err != nil {
		t.Fatal(err)
	}
	if got := hashed.Msg.GetStateHash(); got != want {
		t.Fatalf("Stats with state_hash: hash %#x, want the bus's %#x", got, want)
	}

	// The client asks for the hash in StateHash only.
	if got, err := f.c.StateHash(ctx); err != nil || got != want {
		t.Fatalf("client StateHash: %#x %v, want %#x", got, err, want)
	}
	if st, err := f.c.StatsWithHash(ctx); err != nil || st.GetStateHash() != want || st.GetLastLsn() != uint64(f.bus.LastLSN()) {
		t.Fatalf("client StatsWithHash: %v %v, want hash %#x at LSN %d", st, err, want, f.bus.LastLSN())
	}
	if st, err := f.c.Stats(ctx); err != nil || st.GetStateHash() != 0 {
		t.Fatalf("client Stats: state hash %#x %v, want 0 (not asked for)", st.GetStateHash(), err)
	}
	if lsn, err := f.c.LastLSN(ctx); err != nil || lsn != f.bus.LastLSN() {
		t.Fatalf("client LastLSN: %d %v, want %d", lsn, err, f.bus.LastLSN())
	}
}
