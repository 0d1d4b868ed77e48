package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLogQueryBound: QueryLog streams running at once are bounded by
// Config.MaxLogQueries (--max-log-queries); one more is refused with
// resource_exhausted naming the bound, and a slot is given back when its
// stream ends. Unbounded, a read-role client opened as many log scans as
// it liked over as many connections, each with a buffer as large as the
// largest record it met. The held stream is a real one: its client stops
// reading after the first message of 32 MiB of deltas, so the server's
// handler waits in Send, holding its slot.
func TestLogQueryBound(t *testing.T) {
	f := newFixture(t, fixOpts{maxLogQ: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const size, writes = 16 << 10, 2048
	id, err := f.bus.CreatePage(ctx, mmsb.PageSpec{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	for i := 0; i < writes; i += 64 {
		ds := make([]mmsb.Delta, 64)
		for j := range ds {
			data[0] = byte(i + j)
			ds[j] = mmsb.Write(id, 0, data)
		}
		if _, err := f.bus.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	count := func(ctx context.Context) (int, error) {
		n := 0
		err := f.c.QueryLog(ctx, mmsb.LogQuery{Kinds: []mmsb.OpKind{mmsb.OpDelta}}, func(*mmsb.LoggedOp) bool { n++; return true })
		return n, err
	}

	first, hold, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		n := 0
		held <- f.c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool {
			if n++; n == 1 {
				close(first)
				<-hold
			}
			return false
		})
	}()
	select {
	case <-first:
	case err := <-held:
		t.Fatalf("the first query ended before its first operation: %v", err)
	}
	_, err = count(ctx)
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "1 are running") || !strings.Contains(err.Error(), "--max-log-queries") {
		t.Fatalf("a second log query with Config.MaxLogQueries 1 while one runs: %v (code %v), want resource_exhausted naming 1 and --max-log-queries", err, connect.CodeOf(err))
	}
	if !errors.Is(err, client.ErrServerBusy) {
		t.Fatalf("a second log query with Config.MaxLogQueries 1 while one runs: %v, want it to wrap client.ErrServerBusy (the refusal passes)", err)
	}
	close(hold)
	if err := recv(t, held, "end of the first query"); err != nil {
		t.Fatalf("the first query, stopped by its callback: %v", err)
	}
	// The server notices the stream's end when its Send fails: poll.
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := count(ctx)
		if err == nil {
			if n != writes {
				t.Fatalf("a log query once the slot is free found %d deltas, want %d", n, writes)
			}
			break
		}
		if connect.CodeOf(err) != connect.CodeResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("a log query after the first one ended: %v (the slot was not given back?)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 3 { // each ended query gives its slot back
		if _, err := count(ctx); err != nil {
			t.Fatalf("log query %d of 3 in turn: %v", i+1, err)
		}
	}
	if _, err := server.New(server.Config{Bus: f.bus, MaxLogQueries: -1}); err == nil || !strings.Contains(err.Error(), "MaxLogQueries is -1") {
		t.Fatalf("Config.MaxLogQueries -1: %v, want an error naming it", err)
	}
}
