package server_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestQueryLogMessageSize: QueryLog sends large deltas in messages of
// bounded size (4 MiB of delta data plus one delta), not 256 operations
// per message whatever their size: 48 deltas of 1 MiB came as one 48 MiB
// message, and 256 deltas of 16 MiB would not fit a message's 4 GiB
// frame at all. A client with a 16 MiB read limit gets every operation.
func TestQueryLogMessageSize(t *testing.T) {
	const (
		deltaSize = 1 << 20
		commits   = 48
		readMax   = 16 << 20
	)
	f := newFixture(t, fixOpts{dir: t.TempDir(), clientO: []client.Option{client.WithConnectOptions(connect.WithReadMaxBytes(readMax))}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: deltaSize})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, deltaSize)
	for i := range commits {
		payload[0] = byte(i)
		if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, payload)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []mmsb.LSN
	err = f.c.QueryLog(ctx, mmsb.LogQuery{Kinds: []mmsb.OpKind{mmsb.OpDelta}}, func(lo *mmsb.LoggedOp) bool {
		got = append(got, lo.LSN)
		return true
	})
	if err != nil {
		t.Fatalf("QueryLog: %v (%d operations delivered)", err, len(got))
	}
	if len(got) != commits {
		t.Fatalf("QueryLog delivered %d deltas, want %d", len(got), commits)
	}
}
